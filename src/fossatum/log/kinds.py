"""Every kind of entry the log holds, and every kind of object those entries change: declared once.

An entry kind is named `<object>.<event>` ("report.validated", "unit.moved"); node-internal
kinds (accounts, roster, partners, devices, a section's owner notes) change no shared object.
An `ObjectKind` says what the rest of the code needs to know about an object without asking
its name: its table and key, whether it crosses to partners, where its document sits in an
entry's payload, how need-to-know reads its facts from an entry (`workflow`), which of its
fields name other objects and which are the owner's own notes. `policy/release.py` derives
Facts and the release rule from this, `store/projector.py` registers one projection per
object kind, `policy/redact.py` takes its shapes from it, the receiver its checks.

Nothing else spells an entry kind: modules import the constants below (tests/test_kinds.py
checks). `federation/egress.py` alone keeps its own reading of the raw entry, on purpose:
it is the second, independent check before bytes leave.

A new object kind (a checkpoint, an operation): its `ObjectKind` and entry kinds here; its
frozen type in `domain/`; its projection in `store/projector.py:OBJECT_PROJECTIONS` with its
table (`store/schema.py`, `store/pg_schema.py`) and viewer reads (`store/base.py`, `@shown`);
its actions in `policy/actions.py`; its command, input schema and API route. Release rule,
facts, receiver checks, purge, redaction shape and partner-copy backstop follow from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ..domain import section


class UnknownKind(ValueError):
    """An entry kind this node does not know (never projected, never accepted)."""


@dataclass(frozen=True, slots=True)
class ObjectKind:
    """A kind of shared object (report, unit, section, alert, chat message)."""

    name: str
    table: str
    federates: bool  # crosses to partners under the release rule; else seen on this node only
    key: str = "id"  # the object's id: this field of its document, this column of `table`
    envelope: str | None = None  # payload key holding the document; None: the payload is the document
    # Facts from the signed audience (state, released, author): a workflow decides the release.
    # Else the audience is the release: active, released, the entry's author.
    workflow: bool = False
    # Fields naming other objects: field -> the object kind it names (a list of ids, or a
    # mapping of lists). Links to reports are containment: a child never travels wider than them.
    references: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The owner's notes: node-internal, entries that cross carry them empty.
    owner_notes: tuple[str, ...] = ()
    free_text: bool = False  # a reference that names no object here is an owner's note
    # Containment in a parent object: (field of the document naming it, the parent's kind). The
    # child is released only to partners that may hold the parent, shown only to viewers that may
    # see it, and purged with it (a journal entry and its operation).
    contained_in: tuple[str, str] | None = None

    def document(self, payload: Any) -> Any:
        """The object's document in an entry payload (not checked: partner input may be anything)."""
        if not isinstance(payload, dict):
            return None
        return payload.get(self.envelope) if self.envelope else payload

    def object_id(self, payload: Any) -> str | None:
        doc = self.document(payload)
        value = doc.get(self.key) if isinstance(doc, dict) else None
        return value if isinstance(value, str) else None

    def links(self, payload: Any) -> list[str]:
        """The reports an entry's document links to (containment at release)."""
        doc = self.document(payload)
        if not isinstance(doc, dict):
            return []
        return [link for name, kind in self.references.items() if kind == REPORT.name
                for link in (doc.get(name) or [])]

    def parent(self, payload: Any) -> tuple[str, str] | None:
        """(parent kind, parent id) of a contained object's entry; None if it names none."""
        if self.contained_in is None:
            return None
        doc = self.document(payload)
        value = doc.get(self.contained_in[0]) if isinstance(doc, dict) else None
        return (self.contained_in[1], value) if isinstance(value, str) else None

    def carries_notes(self, payload: Any) -> bool:
        doc = self.document(payload)
        return isinstance(doc, dict) and any(doc.get(name) for name in self.owner_notes)


@dataclass(frozen=True, slots=True)
class EntryKind:
    name: str
    object: ObjectKind | None  # None: node-internal (never federated, no shared object)


REPORT: Final = ObjectKind("report", "reports", federates=True, envelope="report", workflow=True,
                           references=MappingProxyType({"links": "report"}))
UNIT: Final = ObjectKind("unit", "units", federates=True)
SECTION: Final = ObjectKind("section", "sections", federates=True,
                            references=MappingProxyType({"responsible": "unit"}),
                            owner_notes=section.OWNER_NOTES, free_text=True)
ALERT: Final = ObjectKind("alert", "alerts", federates=False, key="uid")
CHAT: Final = ObjectKind("chat", "chat", federates=False)
# Joint operations (issue 12): the lead country's document, and each participant's journal lines
# written on its own node. The units they name are redacted like a section's.
OPERATION: Final = ObjectKind("operation", "operations", federates=True,
                              references=MappingProxyType({"units": "unit"}))
JOURNAL: Final = ObjectKind("journal", "operation_journal", federates=True,
                            contained_in=("operation", "operation"))
PATROL: Final = ObjectKind("patrol", "patrols", federates=True, references=MappingProxyType({"units": "unit"}))
CHECKPOINT: Final = ObjectKind("checkpoint", "checkpoints", federates=True,
                               references=MappingProxyType({"units": "unit"}))

OBJECT_KINDS: Final[tuple[ObjectKind, ...]] = (REPORT, UNIT, SECTION, ALERT, CHAT, OPERATION, JOURNAL, PATROL,
                                               CHECKPOINT)

_ENTRY_KINDS: dict[str, EntryKind] = {}


def _declare(name: str, obj: ObjectKind | None = None) -> str:
    if name in _ENTRY_KINDS:
        raise ValueError(f"entry kind {name} declared twice")
    if (obj is not None) != (name.partition(".")[0] in {o.name for o in OBJECT_KINDS}):
        raise ValueError(f"entry kind {name}: its name must start with its object kind, and only then")
    if obj is not None and not name.startswith(obj.name + "."):
        raise ValueError(f"entry kind {name} is not named after its object kind {obj.name}")
    _ENTRY_KINDS[name] = EntryKind(name, obj)
    return name


# --- node-internal ---------------------------------------------------------------------
NODE_INIT: Final = _declare("node.init")
ROSTER_ADDED: Final = _declare("roster.added")
AGENCY_ADDED: Final = _declare("agency.added")
AGENCY_FIELD_AUDIENCE_SET: Final = _declare("agency.field_audience_set")
USER_ADDED: Final = _declare("user.added")
USER_UPDATED: Final = _declare("user.updated")
USER_PASSWORD_SET: Final = _declare("user.password_set")
PARTNER_ADDED: Final = _declare("partner.added")
PARTNER_UPDATED: Final = _declare("partner.updated")
DEVICE_REGISTERED: Final = _declare("device.registered")
SECTION_NOTES_SET: Final = _declare("section_notes.set")  # the owner's notes on a section (SECTION.owner_notes)

# --- shared objects ----------------------------------------------------------------------
UNIT_ADDED: Final = _declare("unit.added", UNIT)
UNIT_UPDATED: Final = _declare("unit.updated", UNIT)
UNIT_MOVED: Final = _declare("unit.moved", UNIT)
SECTION_ADDED: Final = _declare("section.added", SECTION)
SECTION_UPDATED: Final = _declare("section.updated", SECTION)
SECTION_IMPACT_SET: Final = _declare("section.impact_set", SECTION)
REPORT_FILED: Final = _declare("report.filed", REPORT)
REPORT_AMENDED: Final = _declare("report.amended", REPORT)
REPORT_SUBMITTED: Final = _declare("report.submitted", REPORT)
REPORT_VALIDATED: Final = _declare("report.validated", REPORT)
REPORT_RETURNED: Final = _declare("report.returned", REPORT)
REPORT_CLOSED: Final = _declare("report.closed", REPORT)
REPORT_RETRACTED: Final = _declare("report.retracted", REPORT)
REPORT_CLAIMED: Final = _declare("report.claimed", REPORT)
REPORT_UNCLAIMED: Final = _declare("report.unclaimed", REPORT)
REPORT_FLAGGED: Final = _declare("report.flagged", REPORT)
REPORT_RELEASED: Final = _declare("report.released", REPORT)
ALERT_RAISED: Final = _declare("alert.raised", ALERT)
ALERT_CANCELLED: Final = _declare("alert.cancelled", ALERT)
CHAT_POSTED: Final = _declare("chat.posted", CHAT)
OPERATION_CREATED: Final = _declare("operation.created", OPERATION)
OPERATION_UPDATED: Final = _declare("operation.updated", OPERATION)
OPERATION_STATUS_SET: Final = _declare("operation.status_set", OPERATION)
OPERATION_SECTORS_SET: Final = _declare("operation.sectors_set", OPERATION)
JOURNAL_WRITTEN: Final = _declare("journal.written", JOURNAL)
PATROL_CREATED: Final = _declare("patrol.created", PATROL)
PATROL_UPDATED: Final = _declare("patrol.updated", PATROL)
PATROL_STATUS_SET: Final = _declare("patrol.status_set", PATROL)
CHECKPOINT_CREATED: Final = _declare("checkpoint.created", CHECKPOINT)
CHECKPOINT_UPDATED: Final = _declare("checkpoint.updated", CHECKPOINT)
CHECKPOINT_STATUS_SET: Final = _declare("checkpoint.status_set", CHECKPOINT)

ENTRY_KINDS: Final[Mapping[str, EntryKind]] = MappingProxyType(_ENTRY_KINDS)
_OBJECTS_BY_NAME: Final = {o.name: o for o in OBJECT_KINDS}


def kind_of(name: str) -> EntryKind:
    """The declared entry kind `name`; UnknownKind for any other."""
    try:
        return _ENTRY_KINDS[name]
    except KeyError:
        raise UnknownKind(f"unknown entry kind {name!r} (declared kinds: log/kinds.py)") from None


def object_kind(name: str) -> ObjectKind:
    """The object kind called `name` ("report", "unit" …)."""
    try:
        return _OBJECTS_BY_NAME[name]
    except KeyError:
        raise UnknownKind(f"unknown object kind {name!r} (declared kinds: log/kinds.py)") from None


def object_of(name: str) -> ObjectKind | None:
    """The object an entry of kind `name` changes; None for node-internal kinds.

    Read from the name (`<object>.<event>`), so that an event this node does not know, of an
    object it knows ("section.exploded" from a partner), is still about that object: the
    receiver refuses it as a bad shape and goes on, rather than stopping the stream."""
    known = _ENTRY_KINDS.get(name)
    if known is not None:
        return known.object
    return _OBJECTS_BY_NAME.get(name.partition(".")[0])


def entry_kinds_of(obj: ObjectKind) -> tuple[str, ...]:
    return tuple(k.name for k in _ENTRY_KINDS.values() if k.object is obj)
