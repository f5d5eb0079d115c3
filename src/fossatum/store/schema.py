"""Ordered schema migrations, recorded in the database and safe to run twice.

Projection tables (everything but `log`, `meta`, `credentials`, `sessions`) are views of
the log: `PROJECTION_TABLES` lists them so `rebuild` can empty and replay them.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "log, node state and first projections", [
        """CREATE TABLE IF NOT EXISTS meta (
            name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS log (
            lsn INTEGER PRIMARY KEY,
            origin TEXT NOT NULL, seq INTEGER NOT NULL, ts TEXT NOT NULL, author TEXT NOT NULL,
            kind TEXT NOT NULL, payload TEXT NOT NULL, audience TEXT NOT NULL,
            prev TEXT NOT NULL, hash TEXT NOT NULL, sig TEXT NOT NULL,
            UNIQUE (origin, seq))""",
        """CREATE TABLE IF NOT EXISTS credentials (
            username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS sessions (
            token_hash TEXT PRIMARY KEY, username TEXT NOT NULL,
            created_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS roster (
            country TEXT PRIMARY KEY, added_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS agencies (
            code TEXT PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS users (
            username TEXT PRIMARY KEY, agency TEXT NOT NULL, country TEXT NOT NULL,
            roles TEXT NOT NULL, full_name TEXT NOT NULL, active INTEGER NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS units (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
            owner_agency TEXT NOT NULL, owner_country TEXT NOT NULL, scope TEXT NOT NULL,
            releasable_to TEXT NOT NULL, state TEXT NOT NULL, released INTEGER NOT NULL,
            author TEXT NOT NULL, lat REAL, lon REAL, position_at TEXT, doc TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS unit_positions (
            unit_id TEXT NOT NULL, at TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
            PRIMARY KEY (unit_id, at))""",
        """CREATE TABLE IF NOT EXISTS sections (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, impact TEXT NOT NULL,
            owner_agency TEXT NOT NULL, owner_country TEXT NOT NULL, scope TEXT NOT NULL,
            releasable_to TEXT NOT NULL, state TEXT NOT NULL, released INTEGER NOT NULL,
            author TEXT NOT NULL, min_lon REAL NOT NULL, min_lat REAL NOT NULL,
            max_lon REAL NOT NULL, max_lat REAL NOT NULL, doc TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS reports (
            rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, origin TEXT NOT NULL,
            owner_agency TEXT NOT NULL, owner_country TEXT NOT NULL, scope TEXT NOT NULL,
            releasable_to TEXT NOT NULL, tlp TEXT NOT NULL, state TEXT NOT NULL,
            released INTEGER NOT NULL, author TEXT NOT NULL, type TEXT NOT NULL,
            layer TEXT NOT NULL, observed_at TEXT NOT NULL, reported_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
            grade_source TEXT, grade_info INTEGER, impact TEXT, version INTEGER NOT NULL,
            doc TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS reports_observed ON reports (observed_at)",
        "CREATE INDEX IF NOT EXISTS reports_owner ON reports (owner_country, owner_agency)",
        """CREATE VIRTUAL TABLE IF NOT EXISTS reports_rtree USING rtree (
            rid, min_lon, max_lon, min_lat, max_lat)""",
        """CREATE TABLE IF NOT EXISTS report_versions (
            report_id TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL,
            origin TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (report_id, version))""",
    ]),
]

PROJECTION_TABLES: tuple[str, ...] = (
    "roster", "agencies", "users", "units", "unit_positions", "sections",
    "reports", "reports_rtree", "report_versions",
)

LATEST = MIGRATIONS[-1][0]

MIGRATIONS.append((2, "federation: partners, per-partner streams, inbound cursors, audit", [
    "ALTER TABLE log ADD COLUMN object_id TEXT",
    "CREATE INDEX IF NOT EXISTS log_object ON log (object_id)",
    "ALTER TABLE units ADD COLUMN origin TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE sections ADD COLUMN origin TEXT NOT NULL DEFAULT ''",
    # projection of partner.added / partner.removed (node-local entries)
    """CREATE TABLE IF NOT EXISTS partners (
        country TEXT PRIMARY KEY, node_id TEXT NOT NULL UNIQUE, url TEXT NOT NULL,
        public_key TEXT NOT NULL, active INTEGER NOT NULL, added_at TEXT NOT NULL)""",
    # what this node sent or will send to each partner: a signed, gap-free stream per partner
    """CREATE TABLE IF NOT EXISTS outbox (
        partner TEXT NOT NULL, stream_seq INTEGER NOT NULL, kind TEXT NOT NULL,
        object_id TEXT, entry_seq INTEGER, item TEXT NOT NULL, hash TEXT NOT NULL, sig TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (partner, stream_seq))""",
    """CREATE TABLE IF NOT EXISTS peer_state (
        partner TEXT PRIMARY KEY, released_through INTEGER NOT NULL DEFAULT 0,
        acked INTEGER NOT NULL DEFAULT 0, last_contact TEXT, last_error TEXT, last_error_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS sent_objects (
        partner TEXT NOT NULL, object_id TEXT NOT NULL, PRIMARY KEY (partner, object_id))""",
    # what this node received from each partner's stream
    """CREATE TABLE IF NOT EXISTS inbound (
        origin TEXT PRIMARY KEY, stream_seq INTEGER NOT NULL, stream_hash TEXT NOT NULL,
        received_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY, at TEXT NOT NULL, direction TEXT NOT NULL, partner TEXT NOT NULL,
        decision TEXT NOT NULL, rule TEXT NOT NULL, object_id TEXT, entry_origin TEXT,
        entry_seq INTEGER, detail TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS audit_partner ON audit (partner, id)",
]))

MIGRATIONS.append((3, "space-time index for the COP query; errors per direction; containment re-checks", [
    # (lon, lat, time in days since 1970): a COP query is a box AND a time window, and a box
    # on the border strip alone matches months of reports.
    """CREATE VIRTUAL TABLE IF NOT EXISTS reports_space_time USING rtree (
        rid, min_lon, max_lon, min_lat, max_lat, min_t, max_t)""",
    """INSERT INTO reports_space_time (rid, min_lon, max_lon, min_lat, max_lat, min_t, max_t)
        SELECT rid, lon, lon, lat, lat, julianday(observed_at) - 2440587.5, julianday(observed_at) - 2440587.5
        FROM reports""",
    "DROP TABLE IF EXISTS reports_rtree",
    "ALTER TABLE peer_state ADD COLUMN send_error TEXT",
    "ALTER TABLE peer_state ADD COLUMN send_error_at TEXT",
    "ALTER TABLE peer_state ADD COLUMN receive_error TEXT",
    "ALTER TABLE peer_state ADD COLUMN receive_error_at TEXT",
    "UPDATE peer_state SET send_error = last_error, send_error_at = last_error_at WHERE last_error IS NOT NULL",
    # objects held back from a partner because they link to a report it may not see (yet)
    """CREATE TABLE IF NOT EXISTS withheld_links (
        partner TEXT NOT NULL, object_id TEXT NOT NULL, PRIMARY KEY (partner, object_id))""",
]))

PROJECTION_TABLES = tuple(t for t in PROJECTION_TABLES if t != "reports_rtree") + ("partners", "reports_space_time")
LATEST = MIGRATIONS[-1][0]

MIGRATIONS.append((4, "TAK gateway: devices, alerts raised from the field, GeoChat log", [
    # projection of device.registered (node-local): a TAK device uid is a unit of its user's agency
    """CREATE TABLE IF NOT EXISTS devices (
        uid TEXT PRIMARY KEY, username TEXT NOT NULL, unit_id TEXT NOT NULL, callsign TEXT NOT NULL,
        registered_at TEXT NOT NULL)""",
    # alert.raised / alert.cancelled: an emergency from a device (911, troops in contact)
    """CREATE TABLE IF NOT EXISTS alerts (
        uid TEXT PRIMARY KEY, kind TEXT NOT NULL, owner_agency TEXT NOT NULL, owner_country TEXT NOT NULL,
        scope TEXT NOT NULL, releasable_to TEXT NOT NULL, state TEXT NOT NULL, released INTEGER NOT NULL,
        author TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, at TEXT NOT NULL, doc TEXT NOT NULL)""",
    # chat.posted: GeoChat messages
    """CREATE TABLE IF NOT EXISTS chat (
        id TEXT PRIMARY KEY, room TEXT NOT NULL, owner_agency TEXT NOT NULL, owner_country TEXT NOT NULL,
        scope TEXT NOT NULL, releasable_to TEXT NOT NULL, state TEXT NOT NULL, released INTEGER NOT NULL,
        author TEXT NOT NULL, at TEXT NOT NULL, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS chat_at ON chat (at)",
]))

PROJECTION_TABLES = PROJECTION_TABLES + ("devices", "alerts", "chat")
LATEST = MIGRATIONS[-1][0]

MIGRATIONS.append((5, "index one origin's entries of one object (receiver checks, containment re-checks)", [
    # Without it, "the newest entry of this object from that origin" walks every entry of
    # the origin: a catch-up of N entries became quadratic.
    "CREATE INDEX IF NOT EXISTS log_origin_object ON log (origin, object_id, seq)",
    "DROP INDEX IF EXISTS log_object",
]))
LATEST = MIGRATIONS[-1][0]

MIGRATIONS.append((6, "per-agency default audience of reports filed from the field (TAK markers)", [
    # projection of agency.field_audience_set (node-local): {"scope", "partners", "tlp"} as
    # an admin set it, resolved against the roster each time a report is filed; NULL: the
    # node's cot_report_scope applies.
    "ALTER TABLE agencies ADD COLUMN field_audience TEXT",
]))
LATEST = MIGRATIONS[-1][0]

MIGRATIONS.append((9, "sessions: revocations every worker watches; login throttle shared by the workers", [
    # One row per ended session (token_hash) or per ended account-wide set of sessions
    # (token_hash NULL: logout everywhere, password changed, account disabled). Every
    # process serving the node polls it (seq > last seen) to close websockets and TAK
    # devices; node-local, not in the log.
    """CREATE TABLE IF NOT EXISTS session_revocations (
        seq INTEGER PRIMARY KEY, username TEXT NOT NULL, token_hash TEXT, reason TEXT NOT NULL,
        at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sessions_username ON sessions (username)",
    # Failed logins per (account, address), and per address (account ''), in wall-clock seconds.
    """CREATE TABLE IF NOT EXISTS login_throttle (
        account TEXT NOT NULL, address TEXT NOT NULL, failures INTEGER NOT NULL,
        blocked_until REAL NOT NULL, last_failure REAL NOT NULL, last_success REAL NOT NULL,
        PRIMARY KEY (account, address))""",
]))

MIGRATIONS.append((8, "TLS between nodes: how each partner link is secured; single-use request nonces", [
    # federation/links.py: pinned, ca, loopback or insecure (plain http, flagged); existing
    # partners as federation.links.legacy_link decides (the projection does the same on rebuild)
    "ALTER TABLE partners ADD COLUMN link TEXT NOT NULL DEFAULT ''",
    """UPDATE partners SET link = CASE
        WHEN url LIKE 'https://%' THEN 'ca'
        WHEN url LIKE 'http://127.%' OR url LIKE 'http://localhost:%' OR url LIKE 'http://localhost'
             OR url LIKE 'http://[::1]%' THEN 'loopback'
        ELSE 'insecure' END""",
    # nonces of signed federation requests seen, kept until their date + the clock skew
    # window (requests outside it are refused anyway); a second use is a replay
    """CREATE TABLE IF NOT EXISTS federation_nonces (
        node_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (node_id, nonce))""",
    "CREATE INDEX IF NOT EXISTS federation_nonces_expiry ON federation_nonces (expires_at)",
]))
# Per-version visibility: a version is shown only to its own audience and release state.
_VERSION_COLUMNS = ("owner_agency", "owner_country", "scope", "releasable_to", "state", "author")
MIGRATIONS.append((7, "release decisions: what partners hold, and each version's own audience", [
    # The version a partner viewer reads (the last released one); NULL while nothing is released.
    "ALTER TABLE reports ADD COLUMN released_doc TEXT",
    *(f"ALTER TABLE report_versions ADD COLUMN {c} TEXT NOT NULL DEFAULT ''" for c in _VERSION_COLUMNS),
    "ALTER TABLE report_versions ADD COLUMN released INTEGER NOT NULL DEFAULT 0",
    # Documents written before releases were recorded: each validated version of a
    # cross-border report went to its audience as it stood (domain/report.py reads them so).
    "UPDATE reports SET released_doc = doc WHERE released = 1 AND scope IN ('partners', 'all_partners')",
    """UPDATE report_versions SET
        owner_agency = json_extract(doc, '$.owner_agency'), owner_country = json_extract(doc, '$.owner_country'),
        scope = COALESCE(json_extract(doc, '$.audience.scope'), 'agency'), state = json_extract(doc, '$.state'),
        author = json_extract(doc, '$.author'),
        released = CASE WHEN json_extract(doc, '$.released') AND json_extract(doc, '$.audience.scope')
                        IN ('partners', 'all_partners') THEN 1 ELSE 0 END,
        releasable_to = CASE WHEN json_extract(doc, '$.released') AND json_extract(doc, '$.audience.scope')
                        IN ('partners', 'all_partners')
            THEN ',' || (SELECT group_concat(value, ',') FROM json_each(doc, '$.audience.releasable_to')) || ','
            ELSE ',' || json_extract(doc, '$.owner_country') || ',' END""",
]))
_VISIBLE = ("owner_agency TEXT NOT NULL, owner_country TEXT NOT NULL, scope TEXT NOT NULL, "
            "releasable_to TEXT NOT NULL, state TEXT NOT NULL, released INTEGER NOT NULL, author TEXT NOT NULL")
# Issue 12: joint operations with their journals, joint patrols, checkpoints. Each row carries the
# need-to-know columns; `origin` tells a partner's copy (read-only here) from this node's own.
OPERATIONS_TABLES = [
    f"""CREATE TABLE IF NOT EXISTS operations (
        id TEXT PRIMARY KEY, origin TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
        status TEXT NOT NULL, lead_country TEXT NOT NULL, {_VISIBLE}, updated_at TEXT NOT NULL, doc TEXT NOT NULL)""",
    # one row per journal line, whatever node wrote it; read per operation in time order
    f"""CREATE TABLE IF NOT EXISTS operation_journal (
        id TEXT PRIMARY KEY, origin TEXT NOT NULL, operation TEXT NOT NULL, kind TEXT NOT NULL,
        country TEXT NOT NULL, at TEXT NOT NULL, {_VISIBLE}, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS operation_journal_operation ON operation_journal (operation, at)",
    f"""CREATE TABLE IF NOT EXISTS patrols (
        id TEXT PRIMARY KEY, origin TEXT NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, operation TEXT,
        status TEXT NOT NULL, planned_start TEXT NOT NULL, planned_end TEXT NOT NULL, {_VISIBLE},
        doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS patrols_operation ON patrols (operation)",
]
MIGRATIONS.append((10, "joint operations, their journals, joint patrols and checkpoints (issue 12)", [
    *OPERATIONS_TABLES,
    f"""CREATE TABLE IF NOT EXISTS checkpoints (
        id TEXT PRIMARY KEY, origin TEXT NOT NULL, name TEXT NOT NULL, section TEXT NOT NULL,
        operator TEXT NOT NULL, status TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, {_VISIBLE},
        updated_at TEXT NOT NULL, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS checkpoints_section ON checkpoints (section)",
]))
PROJECTION_TABLES = PROJECTION_TABLES + ("operations", "operation_journal", "patrols", "checkpoints")

# Helpers land their migrations in any order: kept sorted by version (the runner applies the
# missing ones in that order; "the previous version" is the one before the last).
MIGRATIONS.sort(key=lambda m: m[0])
LATEST = max(version for version, _, _ in MIGRATIONS)
