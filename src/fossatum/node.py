"""The node: its identity, opening and closing, and the one front every interface calls.

The work is done by one service per aggregate (services/: reports, units, sections,
operations, checkpoints, patrols, field, admin, auth, integrity) over a shared context; the write-side rules they ask are in policy/.
`Node` builds the services and *delegates*: every command and read the API, the CLI, the TAK
gateway and the tests call is a method of `Node` with the name and signature it always had
(`name = Delegate("_service", Service.name)`: the service's method, bound to this node's
service, its signature seen by mypy). The services are private attributes: interfaces call
`Node`, never a service or the store (tests/test_architecture_front.py). Commands take keyword arguments and the acting
user; `actor=None` is the node administrator at the command line (file access to the node).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import datadir, sessions
from .changes import ChangeFeed
from .domain import audience as aud
from .domain.org import User
from .domain.timeutil import to_text, utcnow
from .errors import Conflict, FossatumError, NotFound
from .federation.service import Federation
from .federation.transport import Connect
from .log import kinds
from .log.signing import NodeKey
from .policy.actions import Action, Target
from .services import field
from .services.admin import Admin
from .services.auth import Auth
from .services.checkpoints import Checkpoints
from .services.context import CLI_ACTOR, Clock, Context, local_audience
from .services.coverage import Coverage
from .services.delegate import Delegate
from .services.exports import Exports
from .services.field import Field
from .services.integrity import Integrity
from .services.operations import Operations
from .services.patrols import Patrols
from .services.reports import Page, Reports
from .services.sections import Sections
from .services.units import Units
from .settings import Settings, load
from .store.contract import Store
from .store.opening import open_store
from .store.sqlite import DB_FILE
from .throttle import LoginThrottle

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["CLI_ACTOR", "KEY_FILE", "Clock", "Node", "Page", "init_node", "open_node", "open_store"]

KEY_FILE = "node.key"


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
                  audience=local_audience(country))
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



class Node:
    """Closed by `close()`, or at the end of `with open_node(...) as node:`."""

    def __init__(self, store: Store, key: NodeKey, *, settings: Settings | None = None,
                 clock: Clock = utcnow, connect: Connect | None = None) -> None:
        self.ctx = Context(store, key, settings or load({}), clock, self._sessions_ended)
        self._reports = Reports(self.ctx)
        self._units = Units(self.ctx)
        self._sections = Sections(self.ctx)
        self._coverage = Coverage(self.ctx)
        self._field = Field(self.ctx)
        self._admin = Admin(self.ctx)
        self._operations = Operations(self.ctx)
        self._checkpoints = Checkpoints(self.ctx)
        self._patrols = Patrols(self.ctx)
        self._exports = Exports(self.ctx, self._operations)
        self._auth = Auth(self.ctx)
        self._integrity = Integrity(self.ctx, self._partner_keys)
        # The federation sees this node through a narrow interface (federation/host.py).
        self.federation = Federation(self, connect(key, self.node_id) if connect else None)
        self._sessions: sessions.SessionWatcher | None = None
        self._changes: ChangeFeed | None = None

    # --- identity, settings, lifecycle ----------------------------------------------------
    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def key(self) -> NodeKey:
        return self.ctx.key

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.ctx.settings = settings

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.ctx.clock = clock

    @property
    def throttle(self) -> LoginThrottle:
        return self._auth.throttle

    @property
    def data_dir(self) -> Path:
        """The node's folder (key, TLS certificate; the SQLite database)."""
        return Path(self.store.path).parent

    @property
    def node_id(self) -> str:
        return self.ctx.node_id

    @property
    def country(self) -> str:
        return self.ctx.country

    @property
    def name(self) -> str:
        return self.store.meta("name") or ""

    def info(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "country": self.country, "name": self.name,
                "public_key": self.key.public, "fingerprint": self.key.fingerprint,
                "roster": self.store.roster()}

    @property
    def sessions(self) -> sessions.SessionWatcher:
        """This process's watcher of ended sessions (websockets and TAK devices subscribe)."""
        if self._sessions is None:
            self._sessions = sessions.SessionWatcher(self.store)
        return self._sessions

    def _sessions_ended(self) -> None:
        """A revocation was recorded: this process's live channels learn of it now (sessions.py)."""
        if self._sessions is not None:
            self._sessions.tick()

    @property
    def changes(self) -> ChangeFeed:
        """This process's feed of committed changes (the live hub and the TAK fan-out subscribe)."""
        if self._changes is None:
            self._changes = ChangeFeed(self.store)
        return self._changes

    def _partner_keys(self) -> Mapping[str, str]:
        return {p.node_id: p.public_key for p in self.federation.partners(include_inactive=True)}

    def close(self) -> None:
        if self._sessions is not None:
            self._sessions.stop()
        self.store.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def allow(self, actor: User | None, action: Action, target: Target) -> str:
        """The one write-side policy (policy/actions.py): the author name of the entry to write, or Forbidden."""
        return self.ctx.allow(actor, action, target)

    def shown_doc(self, viewer: User, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
        """A document a command returned, as `viewer` may see it (policy/redact.py)."""
        return self.store.shown_doc(viewer, kind, doc)

    verify = Delegate("_integrity", Integrity.verify)

    # --- administration (services/admin.py) ------------------------------------------------
    add_agency = Delegate("_admin", Admin.add_agency)
    add_user = Delegate("_admin", Admin.add_user)
    set_user_active = Delegate("_admin", Admin.set_user_active)
    agencies = Delegate("_admin", Admin.agencies)
    users = Delegate("_admin", Admin.users)
    user = Delegate("_admin", Admin.user)

    # --- authentication (services/auth.py) -------------------------------------------------
    login = Delegate("_auth", Auth.login)
    session_for_token = Delegate("_auth", Auth.session_for_token)
    user_for_token = Delegate("_auth", Auth.user_for_token)
    logout = Delegate("_auth", Auth.logout)
    set_password = Delegate("_auth", Auth.set_password)
    change_own_password = Delegate("_auth", Auth.change_own_password)
    password_hash = Delegate("_auth", Auth.password_hash)

    # --- units (services/units.py) ----------------------------------------------------------
    add_unit = Delegate("_units", Units.add_unit)
    move_unit = Delegate("_units", Units.move_unit)
    move_units = Delegate("_units", Units.move_units)
    units = Delegate("_units", Units.units)
    unit = Delegate("_units", Units.unit)
    unit_track = Delegate("_units", Units.unit_track)
    unit_doc = Delegate("_units", Units.unit_doc)

    # --- sections (services/sections.py; their coverage gaps: services/coverage.py) ----------
    add_section = Delegate("_sections", Sections.add_section)
    set_section_impact = Delegate("_sections", Sections.set_section_impact)
    sections = Delegate("_sections", Sections.sections)
    section = Delegate("_sections", Sections.section)
    section_coverage = Delegate("_coverage", Coverage.section_coverage)

    # --- field devices, alerts, chat (services/field.py) ------------------------------------
    alert_id = staticmethod(field.alert_id)
    register_device = Delegate("_field", Field.register_device)
    set_field_audience = Delegate("_field", Field.set_field_audience)
    field_report_audience = Delegate("_field", Field.field_report_audience)
    raise_alert = Delegate("_field", Field.raise_alert)
    cancel_alert = Delegate("_field", Field.cancel_alert)
    post_chat = Delegate("_field", Field.post_chat)
    alerts = Delegate("_field", Field.alerts)
    chat = Delegate("_field", Field.chat)

    # --- joint operations and their journals (services/operations.py) -------------------------
    create_operation = Delegate("_operations", Operations.create_operation)
    update_operation = Delegate("_operations", Operations.update_operation)
    set_operation_status = Delegate("_operations", Operations.set_operation_status)
    set_sectors = Delegate("_operations", Operations.set_sectors)
    write_journal = Delegate("_operations", Operations.write_journal)
    operations = Delegate("_operations", Operations.operations)
    operation = Delegate("_operations", Operations.operation)
    journal = Delegate("_operations", Operations.journal)
    sectors = Delegate("_operations", Operations.sectors)
    operation_doc = Delegate("_operations", Operations.operation_doc)
    operation_emsi = Delegate("_exports", Exports.operation_emsi)

    # --- checkpoints (services/checkpoints.py) -------------------------------------------------
    create_checkpoint = Delegate("_checkpoints", Checkpoints.create_checkpoint)
    update_checkpoint = Delegate("_checkpoints", Checkpoints.update_checkpoint)
    set_checkpoint_status = Delegate("_checkpoints", Checkpoints.set_checkpoint_status)
    checkpoints = Delegate("_checkpoints", Checkpoints.checkpoints)
    checkpoint = Delegate("_checkpoints", Checkpoints.checkpoint)
    checkpoint_doc = Delegate("_checkpoints", Checkpoints.checkpoint_doc)

    # --- joint patrols (services/patrols.py) ---------------------------------------------------
    create_patrol = Delegate("_patrols", Patrols.create_patrol)
    update_patrol = Delegate("_patrols", Patrols.update_patrol)
    patrols = Delegate("_patrols", Patrols.patrols)
    patrol = Delegate("_patrols", Patrols.patrol)
    patrol_doc = Delegate("_patrols", Patrols.patrol_doc)

    # --- reports (services/reports.py) --------------------------------------------------------
    prepare_report = Delegate("_reports", Reports.prepare_report)
    file_report = Delegate("_reports", Reports.file_report)
    file_client_report = Delegate("_reports", Reports.file_client_report)
    file_reports = Delegate("_reports", Reports.file_reports)
    file_prepared = Delegate("_reports", Reports.file_prepared)
    report_target = Delegate("_reports", Reports.report_target)
    amend_report = Delegate("_reports", Reports.amend_report)
    flag_report = Delegate("_reports", Reports.flag_report)
    transition = Delegate("_reports", Reports.transition)
    release_report = Delegate("_reports", Reports.release_report)
    report = Delegate("_reports", Reports.report)
    reports = Delegate("_reports", Reports.reports)
    report_versions = Delegate("_reports", Reports.report_versions)
    count_reports = Delegate("_reports", Reports.count_reports)
