"""The node: commands that change the log, and need-to-know reads, over one store.

Every command runs in one write transaction: check the rule, append the signed entry,
project it — all or nothing. Service methods take keyword arguments and the acting user;
`actor=None` is the node administrator at the command line (file access to the node).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import auth, datadir, sessions
from .changes import ChangeFeed
from .domain import audience as aud
from .domain import report as rules
from .domain.audience import Audience, Scope
from .domain.field import Alert, ChatMessage
from .domain.geo import Position
from .domain.ids import client_object_id
from .domain.org import Role, User, check_agency_code, check_username, parse_roles
from .domain.report import Report
from .domain.section import Section, check_geometry
from .domain.text import as_name, name_problem
from .domain.timeutil import normalise, to_text, utcnow
from .domain.unit import Unit
from .errors import Conflict, Forbidden, FossatumError, InvalidInput, NotFound, Unauthorized
from .federation.service import Federation
from .federation.transport import Connect
from .log import kinds
from .log.chain import ChainReport, verify_chain, verify_entries
from .log.signing import NodeKey
from .policy import actions
from .policy.actions import Action, Target, new_target, node_target, object_target
from .policy.visibility import Facts, may_view
from .schemas import AudienceIn, ReportIn, ReportPatch
from .settings import Settings, load
from .store.contract import Store, Transaction
from .store.query import ReportQuery, encode_cursor
from .store.sqlite import DB_FILE, SQLiteStore
from .throttle import LoginThrottle

if TYPE_CHECKING:
    from types import TracebackType

KEY_FILE = "node.key"
CLI_ACTOR = "node-admin"

Clock = Callable[[], datetime]


def open_store(data_dir: Path, database_url: str | None, *, key: NodeKey | None = None,
               pool_size: int = 10) -> Store:
    """The node's store: PostgreSQL when a database URL is given, else the SQLite file in `data_dir`."""
    if not database_url:
        return SQLiteStore(data_dir, key=key)
    if not database_url.startswith(("postgresql://", "postgres://")):
        raise InvalidInput("expected postgresql://user@host:port/database", field="FOSSATUM_DATABASE_URL")
    try:
        from .store.postgres import PostgresStore
    except ImportError:
        raise FossatumError("PostgreSQL needs psycopg: pip install 'fossatum[postgres]'") from None
    return PostgresStore(database_url, data_dir, key=key, max_connections=pool_size)


def init_node(data_dir: Path, *, country: str, name: str, clock: Clock = utcnow,
              database_url: str | None = None) -> Node:
    """Create a node: its key (a file in `data_dir`), its database and the first entry of its log."""
    aud.check_country(country, field="country")
    data_dir = Path(data_dir)
    if (data_dir / KEY_FILE).exists() or (data_dir / DB_FILE).exists():
        raise Conflict(f"{data_dir} already holds a node; use another folder")
    datadir.secure(data_dir)
    store = open_store(data_dir, database_url)
    if store.origin is not None:
        store.close()
        raise Conflict(f"the database already holds node {store.origin}; use another database")
    key = NodeKey.generate()
    key.save(data_dir / KEY_FILE)
    node_id = f"{country}-{key.public_raw.hex()[:8]}"
    store.set_key(key, node_id)
    with store.transaction() as tx:
        tx.append(ts=to_text(clock()), author=CLI_ACTOR, kind=kinds.NODE_INIT,
                  payload={"node_id": node_id, "country": country, "name": name, "public_key": key.public},
                  audience=_local(country))
    return Node(store, key, clock=clock)


def open_node(data_dir: Path, *, settings: Settings | None = None, clock: Clock = utcnow,
              database_url: str | None = None, connect: Connect | None = None) -> Node:
    """Open a node; its database is PostgreSQL if `database_url` (or the setting) names one.
    `connect` makes the transport its federation reaches partners with (none: it only serves)."""
    data_dir = Path(data_dir)
    database_url = database_url or (settings.database_url if settings else None)
    if not database_url and not (data_dir / DB_FILE).exists():
        raise NotFound(f"no node in {data_dir}; run 'fossatum init --data {data_dir} …' first")
    if not (data_dir / KEY_FILE).exists():
        raise NotFound(f"no node key in {data_dir}; run 'fossatum init --data {data_dir} …' first")
    datadir.secure(data_dir)  # also a folder made by an older version, or copied with other modes
    key = NodeKey.load(data_dir / KEY_FILE)
    store = open_store(data_dir, database_url, key=key,
                       pool_size=settings.database_pool_size if settings else 10)
    if store.origin is None:
        store.close()
        raise FossatumError(f"{'the database' if database_url else data_dir} holds no initialised node")
    if store.meta("public_key") != key.public:
        store.close()
        raise Conflict(f"the database holds node {store.origin}, whose key is not the one in {data_dir}")
    return Node(store, key, settings=settings, clock=clock, connect=connect)


def _held(doc: dict[str, Any] | None, missing: str) -> dict[str, Any]:
    """A document the command saw a moment ago, before its transaction (gone meanwhile: a
    partner's tombstone purged it)."""
    if doc is None:
        raise NotFound(missing)
    return doc


def _local(country: str) -> dict[str, Any]:
    """Audience of node-internal entries (accounts, settings): never released."""
    return {"owner_agency": "", "owner_country": country, "scope": "agency", "releasable_to": [country],
            "local": True}


def _facts_doc(report: Report) -> dict[str, Any]:
    """The signed need-to-know facts of a report entry. `releasable_to` names the owner and
    the partners that hold a released version; `release_version` which version they hold —
    only the entry of that version may cross (policy/release.py)."""
    facts = Facts.of_report(report)
    return {**report.audience.to_doc(), "releasable_to": sorted(facts.releasable_to),
            "state": report.state.value, "released": report.released, "author": report.author,
            "release_version": report.release.version if report.release and report.released else None}


@dataclass
class Page:
    items: list[str]
    next: str | None


class Node:
    """Closed by `close()`, or at the end of `with open_node(...) as node:`."""

    def __init__(self, store: Store, key: NodeKey, *, settings: Settings | None = None,
                 clock: Clock = utcnow, connect: Connect | None = None) -> None:
        self.store = store
        self.key = key
        self.settings = settings or load({})
        self.clock = clock
        self.throttle = LoginThrottle(store, free=self.settings.login_free_failures,
                                      first_wait=self.settings.login_first_wait)
        # The federation sees this node through a narrow interface (federation/host.py).
        self.federation = Federation(self, connect(key, self.node_id) if connect else None)
        self._sessions: sessions.SessionWatcher | None = None
        self._changes: ChangeFeed | None = None

    @property
    def sessions(self) -> sessions.SessionWatcher:
        """This process's watcher of ended sessions (websockets and TAK devices subscribe)."""
        if self._sessions is None:
            self._sessions = sessions.SessionWatcher(self.store)
        return self._sessions

    @property
    def changes(self) -> ChangeFeed:
        """This process's feed of committed changes (the live hub and the TAK fan-out subscribe)."""
        if self._changes is None:
            self._changes = ChangeFeed(self.store)
        return self._changes

    # --- identity ----------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """The node's folder (key, TLS certificate; the SQLite database)."""
        return Path(self.store.path).parent

    @property
    def node_id(self) -> str:
        return self.store.origin or ""

    @property
    def country(self) -> str:
        return self.store.meta("country") or ""

    @property
    def name(self) -> str:
        return self.store.meta("name") or ""

    def info(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "country": self.country, "name": self.name,
                "public_key": self.key.public, "fingerprint": self.key.fingerprint,
                "roster": self.store.roster()}

    def close(self) -> None:
        if self._sessions is not None:
            self._sessions.stop()
        self.store.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _now(self) -> str:
        return to_text(self.clock())

    def allow(self, actor: User | None, action: Action, target: Target) -> str:
        """Ask the one write-side policy (`policy.actions`); returns the author name of the
        entry to write (the CLI administrator when `actor` is None), or raises Forbidden."""
        reason = actions.authorize(actor, action, target)
        if reason is not None:
            raise Forbidden(reason)
        return actor.username if actor is not None else CLI_ACTOR

    def _admin(self, actor: User | None, action: Action, **target: Any) -> str:
        return self.allow(actor, action, node_target(self.country, **target))

    def _target(self, tx: Transaction, kind: str, object_id: str, doc: dict[str, Any], **extra: Any) -> Target:
        """The target of a change to a stored object: its owner, and whether it is a partner's copy."""
        origin = tx.object_origin(kind, object_id) or self.node_id
        return object_target(kind, doc, node_id=self.node_id, node_country=self.country, origin=origin, **extra)

    # --- administration ----------------------------------------------------------------
    def add_agency(self, *, actor: User | None, code: str, name: str, country: str) -> dict[str, Any]:
        """Register an agency; an agency of another country puts that country on the roster."""
        author = self._admin(actor, Action.AGENCY_ADD, kind="agency")
        check_agency_code(code)
        aud.check_country(country, field="country")
        if not name.strip():
            raise InvalidInput("a name is required", field="name")
        now = self._now()
        with self.store.transaction() as tx:
            if tx.agency_exists(code):
                raise Conflict(f"agency {code} exists already")
            if not tx.on_roster(country):
                tx.append(ts=now, author=author, kind=kinds.ROSTER_ADDED, payload={"country": country},
                          audience=_local(self.country))
            doc = {"code": code, "name": name.strip(), "country": country}
            tx.append(ts=now, author=author, kind=kinds.AGENCY_ADDED, payload=doc, audience=_local(self.country))
        return doc

    def add_user(self, *, actor: User | None, username: str, agency: str, roles: list[str] | frozenset[Role],
                 password: str, full_name: str = "") -> User:
        author = self._admin(actor, Action.USER_CREATE, kind="user", owner_agency=agency, creator=username)
        check_username(username)
        role_set = parse_roles(list(roles))
        if len(password) < 8:
            raise InvalidInput("a password needs at least 8 characters", field="password")
        agency_doc = self.store.agency(agency)
        if agency_doc is None:
            raise InvalidInput(f"unknown agency {agency!r}", field="agency")
        user = User(username, agency, agency_doc["country"], role_set, full_name)
        password_hash = auth.hash_password(password)
        now = self._now()
        with self.store.transaction() as tx:
            if tx.user_exists(username):
                raise Conflict(f"user {username} exists already")
            tx.append(ts=now, author=author, kind=kinds.USER_ADDED, payload=user.to_doc(), audience=_local(self.country))
            tx.append(ts=now, author=author, kind=kinds.USER_PASSWORD_SET, payload={"username": username},
                      audience=_local(self.country))
            tx.set_password_hash(username, password_hash, now)
        return user

    def set_password(self, *, actor: User | None, username: str, password: str) -> None:
        self._admin(actor, Action.USER_PASSWD, kind="user", creator=username)
        if len(password) < 8:
            raise InvalidInput("a password needs at least 8 characters", field="password")
        if self.store.user(username) is None:
            raise NotFound(f"no user {username}")
        password_hash = auth.hash_password(password)
        now = self._now()
        with self.store.transaction() as tx:
            tx.append(ts=now, author=actor.username if actor else CLI_ACTOR, kind=kinds.USER_PASSWORD_SET,
                      payload={"username": username}, audience=_local(self.country))
            tx.set_password_hash(username, password_hash, now)
            # Every session, websocket and password-logged TAK device of the user ends.
            tx.revoke_sessions(username, reason=sessions.PASSWORD_CHANGED, at=now)
        self._sessions_ended()

    def _sessions_ended(self) -> None:
        """A revocation was recorded: this process's live channels learn of it now (sessions.py)."""
        if self._sessions is not None:
            self._sessions.tick()

    def change_own_password(self, *, actor: User, current: str, new: str, client: str = "") -> tuple[str, str]:
        """Self-service: the current password again (throttled like a login), then the new one;
        every session of the user ends, and a fresh token for this one is returned."""
        self.throttle.check(actor.username, client)
        if not auth.check_password(self.store.password_hash(actor.username), current):
            self.throttle.failed(actor.username, client)
            raise Unauthorized("the current password is wrong")
        self.throttle.succeeded(actor.username, client)
        if new == current:
            raise InvalidInput("the new password is the current one", field="new_password")
        self.set_password(actor=actor, username=actor.username, password=new)
        return self._new_session(actor.username)

    def set_user_active(self, *, actor: User | None, username: str, active: bool) -> User:
        author = self._admin(actor, Action.USER_ENABLE if active else Action.USER_DISABLE, kind="user",
                             creator=username)
        user = self.store.user(username)
        if user is None:
            raise NotFound(f"no user {username}")
        if actor is not None and actor.username == username and not active:
            raise Conflict("an administrator cannot disable their own account")
        updated = User(user.username, user.agency, user.country, user.roles, user.full_name, active)
        now = self._now()
        with self.store.transaction() as tx:
            tx.append(ts=now, author=author, kind=kinds.USER_UPDATED, payload=updated.to_doc(),
                      audience=_local(self.country))
            if not active:  # every session and live channel, certificate devices too
                tx.revoke_sessions(username, reason=sessions.DISABLED, at=now)
        self._sessions_ended()
        return updated

    def _resolve(self, *, owner_agency: str, owner_country: str, requested: Any, tlp: Any = None,
                 default_scope: Scope | None = None) -> Audience:
        """Resolve an `AudienceIn` (or the default scope, or deny-by-default) against the roster."""
        scope = requested.scope if requested is not None else default_scope
        partners = requested.partners if requested is not None else ()
        return aud.resolve(owner_agency=owner_agency, owner_country=owner_country,
                           scope=scope.value if scope else None, partners=partners,
                           roster=self.store.roster(), tlp=tlp.value if tlp is not None else None)

    def add_unit(self, *, actor: User | None, spec: Any) -> dict[str, Any]:
        self._admin(actor, Action.UNIT_CREATE, kind="unit")
        agency_doc = self.store.agency(spec.agency)
        if agency_doc is None:
            raise InvalidInput(f"unknown agency {spec.agency!r}", field="agency")
        author = self.allow(actor, Action.UNIT_CREATE, new_target(
            "unit", actor, node_country=self.country, owner_agency=spec.agency, owner_country=agency_doc["country"]))
        audience = self._resolve(owner_agency=spec.agency, owner_country=agency_doc["country"],
                                 requested=spec.audience, tlp=None, default_scope=Scope.NATIONAL)
        now = self._now()
        position = spec.location.position() if spec.location else None
        unit = Unit(id=spec.id or f"unit-{uuid.uuid4().hex[:12]}", name=spec.name, kind=spec.kind.value,
                    callsign=spec.callsign, owner_agency=spec.agency, owner_country=agency_doc["country"],
                    audience=audience.to_doc(), position=position.to_doc() if position else None,
                    position_at=now if position else None, updated_at=now)
        with self.store.transaction() as tx:
            if tx.holds_object("unit", unit.id):
                raise Conflict(f"unit {unit.id} exists already")
            tx.append(ts=now, author=author, kind=kinds.UNIT_ADDED, payload=unit.to_doc(), audience=audience.to_doc())
        return unit.to_doc()

    def move_unit(self, *, actor: User, unit_id: str, position: Position, at: str | None = None) -> dict[str, Any]:
        """A new last-known position (blue force); older fixes arriving late go to history only."""
        now = self._now()
        with self.store.transaction() as tx:
            return self._move(tx, actor, unit_id, position, at or now, now)

    def move_units(self, *, fixes: list[tuple[User, str, Position, str]]) -> list[dict[str, Any] | FossatumError]:
        """Several `(actor, unit, position, at)` fixes in one transaction (a TAK gateway's batch);
        a fix that breaks a rule is returned as its error and the others are kept."""
        now = self._now()
        results: list[dict[str, Any] | FossatumError] = []
        with self.store.transaction() as tx:
            for actor, unit_id, position, at in fixes:
                try:
                    results.append(self._move(tx, actor, unit_id, position, at, now))
                except FossatumError as exc:
                    results.append(exc)
        return results

    def _move(self, tx: Transaction, actor: User, unit_id: str, position: Position, fix_at: str,
              now: str) -> dict[str, Any]:
        if self.store.unit_doc(actor, unit_id) is None:
            raise NotFound(f"no unit {unit_id}")
        current = _held(tx.object_doc("unit", unit_id), f"no unit {unit_id}")
        self.allow(actor, Action.UNIT_MOVE, self._target(tx, "unit", unit_id, current))
        # The stored form, whoever calls: times compare as text, and partners refuse any other form.
        fix_at = normalise(fix_at, field="at")
        if fix_at > now:
            raise InvalidInput("the position time is in the future", field="at")
        moved, late_fix = Unit.from_doc(current).moved(position.to_doc(), fix_at, now=now)
        new = moved.to_doc()
        payload = new if late_fix is None else {**new, "fix": late_fix}
        tx.append(ts=now, author=actor.username, kind=kinds.UNIT_MOVED, payload=payload, audience=current["audience"])
        return new

    # --- field devices (TAK gateway) ---------------------------------------------------
    def register_device(self, *, actor: User, uid: str, callsign: str = "") -> str:
        """The unit of a TAK device (one per device uid, of its user's agency); created on first use."""
        uid = uid.strip()
        if not uid or name_problem(uid):
            raise InvalidInput("a device uid of 1-200 characters (no control characters) is required", field="uid")
        callsign = as_name(callsign)  # the device's own text: made a valid name, as partners check (domain/text.py)
        found = self.store.device(uid)
        if found is not None and found["username"] == actor.username:
            return found["unit_id"]
        now = self._now()
        with self.store.transaction() as tx:
            row = tx.device_binding(uid)
            if row is not None:
                bound = _held(tx.object_doc("unit", row[1]), f"no unit {row[1]}")
                reason = actions.authorize(actor, Action.DEVICE_REGISTER, self._target(tx, "unit", row[1], bound))
                if reason is not None:
                    raise Forbidden(f"device {uid} belongs to a unit of {bound['owner_agency']}: {reason}")
                unit_id = row[1]
            else:
                self.allow(actor, Action.DEVICE_REGISTER, new_target("unit", actor, node_country=self.country))
                unit_id = "dev-" + re.sub(r"[^A-Za-z0-9_.-]", "-", uid)[:56]
                if tx.holds_object("unit", unit_id):
                    unit_id = f"dev-{uuid.uuid5(uuid.NAMESPACE_URL, uid).hex[:16]}"
                audience = self._resolve(owner_agency=actor.agency, owner_country=actor.country, requested=None,
                                         default_scope=Scope.NATIONAL)
                unit = Unit(id=unit_id, name=callsign or uid, kind="patrol", callsign=callsign,
                            owner_agency=actor.agency, owner_country=actor.country, audience=audience.to_doc(),
                            position=None, position_at=None, updated_at=now, device_uid=uid)
                tx.append(ts=now, author=actor.username, kind=kinds.UNIT_ADDED, payload=unit.to_doc(),
                          audience=audience.to_doc())
            tx.append(ts=now, author=actor.username, kind=kinds.DEVICE_REGISTERED,
                      payload={"uid": uid, "username": actor.username, "unit_id": unit_id, "callsign": callsign},
                      audience=_local(self.country))
        return unit_id

    def _field_audience(self, actor: User, scope: str) -> Audience:
        return aud.resolve(owner_agency=actor.agency, owner_country=actor.country, scope=scope,
                           roster=self.store.roster())

    def set_field_audience(self, *, actor: User | None, agency: str, scope: str | None,
                           partners: list[str] | tuple[str, ...] = (), tlp: str | None = None) -> dict[str, Any]:
        """Set (scope None: clear) the default audience of reports an agency's field devices file."""
        author = self._admin(actor, Action.AGENCY_FIELD_AUDIENCE, kind="agency", owner_agency=agency)
        agency_doc = self.store.agency(agency)
        if agency_doc is None:
            raise NotFound(f"no agency {agency}")
        setting: dict[str, Any] | None = None
        if scope is not None:
            # Checked now against the roster, so that an admin's typo fails here and not
            # later on a patrol's marker.
            try:
                resolved = aud.resolve(owner_agency=agency, owner_country=agency_doc["country"], scope=scope,
                                       partners=partners, roster=self.store.roster(), tlp=tlp)
            except InvalidInput as exc:  # the fields are top-level here, not under `audience.`
                raise InvalidInput(exc.message, field=(exc.field or "").removeprefix("audience.") or None) from None
            setting = {"scope": resolved.scope.value, "partners": list(resolved.partners), "tlp": resolved.tlp.value}
        elif partners or tlp is not None:
            raise InvalidInput("partners and TLP need a scope", field="scope")
        with self.store.transaction() as tx:
            tx.append(ts=self._now(), author=author, kind=kinds.AGENCY_FIELD_AUDIENCE_SET,
                      payload={"code": agency, "field_audience": setting}, audience=_local(self.country))
        return {**agency_doc, "field_audience": setting}

    def field_report_audience(self, agency: str, default_scope: str) -> tuple[AudienceIn, str | None]:
        """(audience, TLP) of a report filed from the field by `agency`: the agency's setting,
        else the node's `default_scope`. Partners that left the roster since are dropped (a
        patrol's marker is never refused for it); if none remain, the country keeps it."""
        doc = self.store.agency(agency)
        setting = (doc or {}).get("field_audience")
        if not setting:
            return AudienceIn(scope=Scope(default_scope)), None
        scope, partners = Scope(setting["scope"]), list(setting.get("partners") or [])
        if scope is Scope.PARTNERS:
            partners = [p for p in partners if p in set(self.store.roster())]
            if not partners:
                scope = Scope.NATIONAL
        return AudienceIn(scope=scope, partners=partners), setting.get("tlp")

    def _alert_audience(self, actor: User) -> Audience:
        """An alert follows its agency's field audience, but never narrower than national:
        every duty officer of the country must see an emergency at once."""
        requested, _ = self.field_report_audience(actor.agency, Scope.NATIONAL.value)
        if requested.scope is Scope.AGENCY:
            requested = AudienceIn(scope=Scope.NATIONAL)
        return aud.resolve(owner_agency=actor.agency, owner_country=actor.country, scope=requested.scope.value,
                           partners=requested.partners, roster=self.store.roster())

    @staticmethod
    def alert_id(device_uid: str, uid: str) -> str:
        """An alert's id: namespaced by the raising device, so that raising with the uid of
        another device's alert makes a separate alert (ATAK uids are `<device uid>-9-1-1`, and
        anyone can type one). '%' and '/' in the device uid are escaped: one id, one device."""
        if not device_uid:
            return uid
        return device_uid.replace("%", "%25").replace("/", "%2F") + "/" + uid

    def _alert_target(self, doc: dict[str, Any]) -> Target:
        return object_target("alert", doc, node_id=self.node_id, node_country=self.country, origin=self.node_id,
                             creator=str(doc.get("raised_by", "")), state=str(doc.get("state", "")))

    def raise_alert(self, *, actor: User, uid: str, kind: str, position: Position, callsign: str = "",
                    text: str = "", at: str | None = None, device_uid: str = "") -> dict[str, Any]:
        """An emergency from the field (911, troops in contact): seen by the user's country at
        least, and by the partners of its agency's field audience. Raised again (the same
        device re-sends it), it is updated — by its raiser or an officer of its agency only."""
        now = self._now()
        audience = self._alert_audience(actor)
        alert_id = self.alert_id(device_uid, uid)
        alert = Alert(uid=alert_id, claimed_uid=uid, device_uid=device_uid, kind=kind, state="raised",
                      position=position.to_doc(), callsign=callsign, text=text[:2000], at=min(at or now, now),
                      raised_by=actor.username, owner_agency=actor.agency, owner_country=actor.country,
                      audience=audience.to_doc())
        with self.store.transaction() as tx:
            held = tx.object_doc("alert", alert_id)
            if held is None:
                self.allow(actor, Action.ALERT_RAISE, new_target("alert", actor, node_country=self.country))
            else:
                self.allow(actor, Action.ALERT_RAISE, self._alert_target(held))
                alert = alert.kept_by(Alert.from_doc(held))
            doc = alert.to_doc()
            tx.append(ts=now, author=actor.username, kind=kinds.ALERT_RAISED, payload=doc, audience=doc["audience"])
        return doc

    def cancel_alert(self, *, actor: User, uid: str, device_uid: str = "") -> dict[str, Any]:
        """Cancel an alert: the device's own alert of that uid, else the alert of that id as
        devices were sent it; by its raiser or a duty officer or commander of its agency."""
        now = self._now()
        with self.store.transaction() as tx:
            doc = None
            for candidate in dict.fromkeys((self.alert_id(device_uid, uid), uid)):
                doc = tx.object_doc("alert", candidate)
                if doc is not None:
                    break
            if doc is None or not may_view(actor, self._alert_facts(doc)):
                raise NotFound(f"no alert {uid}")
            self.allow(actor, Action.ALERT_CANCEL, self._alert_target(doc))
            if doc["state"] == "cancelled":
                raise Conflict("the alert is already cancelled")
            doc = Alert.from_doc(doc).cancelled(by=actor.username, at=now).to_doc()
            tx.append(ts=now, author=actor.username, kind=kinds.ALERT_CANCELLED, payload=doc, audience=doc["audience"])
        return doc

    @staticmethod
    def _alert_facts(doc: dict[str, Any]) -> Facts:
        a = aud.from_doc(doc.get("audience"), owner_agency=doc["owner_agency"], owner_country=doc["owner_country"])
        return Facts(a.owner_agency, a.owner_country, a.scope, a.releasable_to, "active", True,
                     str(doc.get("raised_by", "")))

    def post_chat(self, *, actor: User, message_id: str, room: str, text: str, position: Position,
                  sender_uid: str, callsign: str = "", at: str | None = None) -> dict[str, Any]:
        """A GeoChat message into the chat log: the all-rooms chat is national, others the agency's."""
        self.allow(actor, Action.CHAT_POST, new_target("chat", actor, node_country=self.country))
        now = self._now()
        audience = self._field_audience(actor, "national" if room == "All Chat Rooms" else "agency")
        doc = ChatMessage(
            id=f"{sender_uid}:{message_id}"[:300], message_id=message_id, room=room[:200], text=text[:4000],
            sender_uid=sender_uid, callsign=callsign, position=position.to_doc(), at=min(at or now, now),
            author=actor.username, owner_agency=actor.agency, owner_country=actor.country, audience=audience.to_doc(),
        ).to_doc()
        with self.store.transaction() as tx:
            if tx.holds_object("chat", doc["id"]):
                raise Conflict("this chat message is logged already")
            tx.append(ts=now, author=actor.username, kind=kinds.CHAT_POSTED, payload=doc, audience=audience.to_doc())
        return doc

    def add_section(self, *, actor: User | None, spec: Any, owner_agency: str | None = None) -> dict[str, Any]:
        self._admin(actor, Action.SECTION_CREATE, kind="section")
        geometry = check_geometry(spec.geometry)
        agency = owner_agency or (actor.agency if actor else "")
        agency_doc = self.store.agency(agency)
        if agency_doc is None or agency_doc["country"] != self.country:
            raise InvalidInput(f"a section is owned by an agency of {self.country}, not {agency!r}", field="owner_agency")
        author = self.allow(actor, Action.SECTION_CREATE, new_target("section", actor, node_country=self.country,
                                                                     owner_agency=agency))
        audience = self._resolve(owner_agency=agency, owner_country=self.country, requested=spec.audience,
                                 tlp=None, default_scope=Scope.ALL_PARTNERS)
        now = self._now()
        doc = Section(id=spec.id, name=spec.name, terrain=spec.terrain, geometry=geometry, responsible={},
                      impact=spec.impact.value, impact_set_by=author, impact_set_at=now, impact_reason="",
                      owner_agency=agency, owner_country=self.country, audience=audience.to_doc(), created_by=author,
                      updated_at=now).to_doc()
        with self.store.transaction() as tx:
            if tx.holds_object("section", spec.id):
                raise Conflict(f"section {spec.id} exists already")
            tx.append(ts=now, author=author, kind=kinds.SECTION_ADDED, payload=doc, audience=audience.to_doc())
            if spec.responsible:
                self._note_section(tx, author, now, spec.id, responsible=spec.responsible)
        return {**doc, "responsible": spec.responsible}

    def _note_section(self, tx: Transaction, author: str, now: str, section_id: str, **notes: Any) -> None:
        """The owner's notes on a section (`section.OWNER_NOTES`: responsible units, the impact's
        reason) go in a node-internal entry: never replicated, shown by the read paths only to
        whom they concern (policy/redact.py), while the section itself crosses the border."""
        tx.append(ts=now, author=author, kind=kinds.SECTION_NOTES_SET, payload={"id": section_id, **notes},
                  audience=_local(self.country))

    def set_section_impact(self, *, actor: User, section_id: str, impact: str, reason: str) -> dict[str, Any]:
        if self.store.section_doc(actor, section_id) is None:
            raise NotFound(f"no section {section_id}")
        now = self._now()
        with self.store.transaction() as tx:
            doc = _held(tx.object_doc("section", section_id), f"no section {section_id}")
            self.allow(actor, Action.SECTION_SET, self._target(tx, "section", section_id, doc))
            new = Section.from_doc(doc).with_impact(impact, by=actor.username, now=now)
            tx.append(ts=now, author=actor.username, kind=kinds.SECTION_IMPACT_SET, payload=new.public().to_doc(),
                      audience=doc["audience"])
            self._note_section(tx, actor.username, now, section_id, impact_reason=reason)
        return {**new.to_doc(), "impact_reason": reason}

    # --- reports -----------------------------------------------------------------------
    def _check_links(self, actor: User, links: tuple[str, ...], own_id: str) -> None:
        if own_id in links:
            raise InvalidInput("a report cannot link to itself", field="links")
        missing = set(links) - self.store.visible_report_ids(actor, list(links))
        if missing:
            raise InvalidInput(f"unknown report(s): {', '.join(sorted(missing))}", field="links")

    def prepare_report(self, *, actor: User, spec: ReportIn, now: datetime,
                       batch_ids: frozenset[str] = frozenset(), action: Action = Action.REPORT_FILE) -> Report:
        """Check a new report against every rule without writing it (links may point into `batch_ids`)."""
        self.allow(actor, action, new_target("report", actor, node_country=self.country))
        content = spec.content(default_observed_at=to_text(now))
        audience = self._resolve(owner_agency=actor.agency, owner_country=actor.country,
                                 requested=spec.audience, tlp=spec.tlp)
        report_id = spec.id or str(uuid.uuid4())
        self._check_links(actor, tuple(link for link in content.links if link not in batch_ids), report_id)
        return rules.file(report_id=report_id, origin=self.node_id, author=actor, audience=audience,
                          content=content, draft=spec.state == "draft", now=now)

    def file_report(self, *, actor: User, spec: ReportIn) -> dict[str, Any]:
        report = self.prepare_report(actor=actor, spec=spec, now=self.clock())
        with self.store.transaction() as tx:
            if tx.report_doc(report.id) is not None:
                raise Conflict(f"report {report.id} exists already")
            self._record(tx, report, kinds.REPORT_FILED, {})
        return report.to_doc()

    def file_client_report(self, *, actor: User, spec: ReportIn) -> tuple[dict[str, Any], bool]:
        """(report, created) for a report filed through the API. A given `id` is the client's
        key (domain/ids.py): the report's id is derived from this node, the author and the key,
        so the answer never depends on whether someone else's report exists; the author's
        retry with the same key returns that report as it is now (created False)."""
        if spec.id is None:
            return self.file_report(actor=actor, spec=spec), True
        report_id = client_object_id(origin=self.node_id, author=actor.username, key=spec.id)
        try:
            return self.file_report(actor=actor, spec=spec.model_copy(update={"id": report_id})), True
        except Conflict:
            raw = self.store.report_doc(actor, report_id)
            doc = json.loads(raw) if raw is not None else None
            if doc is None or doc.get("author") != actor.username:  # a 122-bit collision, in theory
                raise Conflict("this client id cannot be used; choose another") from None
            return doc, False

    def file_reports(self, *, actor: User, specs: list[ReportIn]) -> tuple[int, int]:
        now = self.clock()
        ids = frozenset(s.id for s in specs if s.id)
        return self.file_prepared([self.prepare_report(actor=actor, spec=s, now=now, batch_ids=ids,
                                                       action=Action.REPORT_IMPORT) for s in specs])

    def file_prepared(self, reports: list[Report]) -> tuple[int, int]:
        """File checked reports in one transaction (all or nothing); ids already present are
        skipped, so that an import can be run again. Returns (filed, skipped)."""
        filed = skipped = 0
        with self.store.transaction() as tx:
            for report in reports:
                if tx.report_doc(report.id) is not None:
                    skipped += 1
                    continue
                self._record(tx, report, kinds.REPORT_FILED, {})
                filed += 1
        return filed, skipped

    def _record(self, tx: Transaction, report: Report, kind: str, extra: dict[str, Any]) -> None:
        tx.append(ts=report.updated_at, author=report.updated_by, kind=kind,
                  payload={"report": report.to_doc(), **extra}, audience=_facts_doc(report))

    def _load_for_change(self, tx: Transaction, actor: User, report_id: str, action: Action) -> Report:
        raw = tx.report_doc(report_id)
        if raw is None:
            raise NotFound(f"no report {report_id}")
        report = rules.from_doc(json.loads(raw))
        if not may_view(actor, Facts.of_report(report)):
            raise NotFound(f"no report {report_id}")
        self.allow(actor, action, self.report_target(report))
        return report

    def report_target(self, report: Report) -> Target:
        return Target(kind="report", owner_country=report.audience.owner_country, node_country=self.country,
                      owner_agency=report.audience.owner_agency, creator=report.author,
                      replicated=report.origin != self.node_id, state=report.state.value,
                      handler=report.handler or "")

    def amend_report(self, *, actor: User, report_id: str, patch: ReportPatch) -> dict[str, Any]:
        now = self.clock()
        with self.store.transaction() as tx:
            report = self._load_for_change(tx, actor, report_id, Action.REPORT_AMEND)
            content = patch.apply(report.content)
            audience = report.audience
            if patch.audience is not None:
                # A new scope is resolved against today's roster; a wider audience than the
                # released one only reaches partners through a release decision.
                audience = self._resolve(owner_agency=audience.owner_agency, owner_country=audience.owner_country,
                                         requested=patch.audience, tlp=patch.tlp or audience.tlp)
            elif patch.tlp is not None:
                # A TLP change alone never re-resolves `all_partners` against today's roster.
                audience = dataclasses.replace(audience, tlp=aud.TLP(patch.tlp.value))
            if content.links != report.content.links:
                self._check_links(actor, content.links, report_id)
            amended = rules.amend(report, actor=actor, content=content, audience=audience, now=now)
            self._record(tx, amended, kinds.REPORT_AMENDED, {"fields": sorted(patch.model_fields_set)})
        return amended.to_doc()

    def flag_report(self, *, actor: User, report_id: str, urgent: bool, note: str = "") -> dict[str, Any]:
        now = self.clock()
        with self.store.transaction() as tx:
            report = self._load_for_change(tx, actor, report_id, Action.REPORT_FLAG)
            new = rules.flag(report, actor=actor, urgent=urgent, note=note, now=now)
            self._record(tx, new, kinds.REPORT_FLAGGED, {"urgent": urgent, "note": new.urgent_note})
        return new.to_doc()

    def transition(self, *, actor: User, report_id: str, action: str, reason: str = "") -> dict[str, Any]:
        now = self.clock()
        with self.store.transaction() as tx:
            try:
                checked = Action(f"report.{action}")
            except ValueError:
                raise NotFound(f"no action {action!r}") from None
            report = self._load_for_change(tx, actor, report_id, checked)
            if action == "submit":
                new = rules.submit(report, actor=actor, now=now)
            elif action == "validate":
                new = rules.validate(report, actor=actor, now=now,
                                     release=self._release_refusal(actor, report) is None)
            elif action == "return":
                new = rules.return_(report, actor=actor, reason=reason, now=now)
            elif action == "close":
                new = rules.close(report, actor=actor, reason=reason, now=now)
            elif action == "retract":
                new = rules.retract(report, actor=actor, reason=reason, now=now)
            elif action == "claim":
                new = rules.claim(report, actor=actor, now=now)
            elif action == "unclaim":
                new = rules.unclaim(report, actor=actor, now=now)
            else:
                raise NotFound(f"no action {action!r}")
            kind = {"submit": kinds.REPORT_SUBMITTED, "validate": kinds.REPORT_VALIDATED,
                    "return": kinds.REPORT_RETURNED, "close": kinds.REPORT_CLOSED, "retract": kinds.REPORT_RETRACTED,
                    "claim": kinds.REPORT_CLAIMED, "unclaim": kinds.REPORT_UNCLAIMED}[action]
            self._record(tx, new, kind, {"reason": reason} if reason else {})
        return new.to_doc()

    def _release_refusal(self, actor: User, report: Report) -> str | None:
        """Why `actor` may not make a release decision on `report` (policy/actions.py)."""
        refusal = actions.authorize(actor, Action.REPORT_RELEASE, self.report_target(report))
        if refusal is None and self.settings.four_eyes_release:
            refusal = actions.four_eyes(actor, author=report.author, last_editor=report.updated_by)
        return refusal

    def release_report(self, *, actor: User, report_id: str, version: int | None = None) -> dict[str, Any]:
        """A release decision: the current version goes to the partners its audience names now."""
        now = self.clock()
        with self.store.transaction() as tx:
            report = self._load_for_change(tx, actor, report_id, Action.REPORT_RELEASE)
            refusal = self._release_refusal(actor, report)
            if refusal is not None:
                raise Forbidden(refusal)
            new = rules.release(report, actor=actor, now=now, version=version)
            self._record(tx, new, kinds.REPORT_RELEASED, {"release": new.release.to_doc() if new.release else None})
        return new.to_doc()

    def report(self, *, viewer: User, report_id: str) -> str:
        raw = self.store.report_doc(viewer, report_id)
        if raw is None:
            raise NotFound(f"no report {report_id}")
        return raw

    def reports(self, *, viewer: User, query: ReportQuery) -> Page:
        docs = self.store.list_reports(viewer, query)
        if len(docs) > query.limit:
            docs = docs[: query.limit]
            last = json.loads(docs[-1])
            return Page(docs, encode_cursor(last["observed_at"], last["id"]))
        return Page(docs, None)

    # --- authentication ----------------------------------------------------------------
    def login(self, *, username: str, password: str, client: str = "") -> tuple[str, str, User]:
        """Check a password; returns (token, expires_at, user). `client` is the source address
        (throttle.py: per address and per account and address, never per account alone)."""
        self.throttle.check(username, client)
        user = self.store.user(username)
        ok = auth.check_password(self.store.password_hash(username), password)
        if not ok or user is None or not user.active:
            self.throttle.failed(username, client)
            # A disabled account is refused like a wrong password (nothing to learn by guessing).
            raise Unauthorized("wrong username or password")
        self.throttle.succeeded(username, client)
        token, expires = self._new_session(username)
        return token, expires, user

    def _new_session(self, username: str) -> tuple[str, str]:
        token = auth.new_token()
        now = self.clock()
        expires = to_text(now + timedelta(hours=self.settings.session_hours))
        self.store.add_session(auth.token_hash(token), username, to_text(now), expires)
        return token, expires

    def session_for_token(self, token: str) -> tuple[User, str]:
        """The active user of a live token, and when the token expires."""
        found = self.store.session(auth.token_hash(token), self._now())
        user = self.store.user(found[0]) if found else None
        if found is None or user is None or not user.active:
            raise Unauthorized("the token is unknown or expired; log in again")
        return user, found[1]

    def user_for_token(self, token: str) -> User:
        return self.session_for_token(token)[0]

    def logout(self, token: str, *, everywhere: bool = False) -> None:
        """End this token's session, or (`everywhere`) every session and live channel of its user."""
        found = self.store.session(auth.token_hash(token), self._now())
        if found is None:
            return
        with self.store.transaction() as tx:
            if everywhere:
                tx.revoke_sessions(found[0], reason=sessions.LOGOUT_EVERYWHERE, at=self._now())
            else:
                tx.revoke_sessions(found[0], reason=sessions.LOGOUT, at=self._now(),
                                   token_hash=auth.token_hash(token))
        self._sessions_ended()

    # --- integrity ---------------------------------------------------------------------
    def verify(self) -> list[ChainReport]:
        """Check every origin's chain and signatures (own key; partners' keys once federated)."""
        partner_keys = {p.node_id: p.public_key for p in self.federation.partners(include_inactive=True)}
        results = []
        for origin in sorted(self.store.origins()):
            entries = self.store.entries(origin, strict=False)
            if origin == self.node_id:
                results.append(verify_chain(origin, self.key.public, entries))
            elif origin in partner_keys:
                # A partner's entries arrive as the subset released to this country: each is
                # checked on its own (hash, signature, increasing sequence), not as a chain.
                results.append(verify_entries(origin, partner_keys[origin], entries))
            else:
                report = ChainReport(origin)
                report.problems.append(f"{origin}: no public key known for this origin")
                results.append(report)
        by_origin = {r.origin: r for r in results}
        for origin, problem in self._ownership_problems():
            if origin in by_origin:
                by_origin[origin].problems.append(problem)
        return results

    def _ownership_problems(self) -> list[tuple[str, str]]:
        """(origin, problem) for every object whose row names another origin than an entry of
        it in the log: a partner's copy changed here (it would refuse every later entry from
        its origin), or an own object written by a partner. Never true while the store's
        backstop holds; a node that ran an earlier version may show it."""
        return [(entry_origin, f"{entry_origin}: {kind} {object_id} is held as {held_as}'s "
                               f"though {entry_origin} wrote it: a partner's copy was changed locally")
                for kind, entry_origin, object_id, held_as in self.store.ownership_mismatches()]
