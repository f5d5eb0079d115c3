"""What may leave this node for a partner country: the release rule for log entries.

An entry is released to partner P when its object may be released to P (`may_release`)
and, for containment, every report it links to is one P may already see (P's own, or
released to P): a child never reaches a wider audience than its parents. Only objects owned
by this node's own country leave it. Of a report, only the entry of a *released version*
crosses (a release decision, domain/report.py): later versions stay home, and P keeps the
version it holds ("kept") until the next release, or loses it when narrowed or retracted.
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain import audience as aud
from ..log.entry import Entry
from ..log.kinds import REPORT, ObjectKind, object_of
from .visibility import Facts, may_release


def _facts(entry: Entry, obj: ObjectKind) -> Facts:
    a = entry.audience
    audience = aud.from_doc(a, owner_agency=str(a.get("owner_agency", "")), owner_country=str(a.get("owner_country", "")))
    if obj.workflow:  # the signed audience carries the workflow's state, release and author
        state, released, author = str(a.get("state", "draft")), a.get("released") is True, str(a.get("author", ""))
    else:  # no workflow: the audience is the release
        state, released, author = "active", True, entry.author
    return Facts(audience.owner_agency, audience.owner_country, audience.scope, audience.releasable_to,
                 state, released, author)


def _object(entry: Entry, *, federated: bool) -> ObjectKind | None:
    if not isinstance(entry.audience, dict) or entry.audience.get("local"):
        return None
    obj = object_of(entry.kind)
    return obj if obj is not None and obj.federates is federated else None


def facts_of_field_entry(entry: Entry) -> Facts | None:
    """Need-to-know facts of a field alert or chat message (seen by this node's viewers only:
    not federated). No workflow: the audience is the release, as in their tables."""
    obj = _object(entry, federated=False)
    return _facts(entry, obj) if obj is not None else None


def facts_of_entry(entry: Entry) -> Facts | None:
    """Need-to-know facts carried by an entry of a federated object; None for node-internal entries."""
    obj = _object(entry, federated=True)
    return _facts(entry, obj) if obj is not None else None


def links_of_entry(entry: Entry) -> list[str]:
    obj = object_of(entry.kind)
    return obj.links(entry.payload) if obj is not None else []


def partner_may_see(facts: Facts | None, country: str) -> bool:
    """Whether `country`'s node may hold the object: its own, or released to it."""
    return facts is not None and (facts.owner_country == country or may_release(facts, country))


def release_decision(entry: Entry, country: str, linked: Callable[[str], Facts | None], *,
                     origin_country: str,
                     parent: Callable[[str, str], Facts | None] | None = None) -> tuple[bool, str]:
    """(release?, rule) for sending `entry` to partner `country`. `parent(kind, id)`: the facts
    of the object a contained one lies in (an operation's journal line), as this node holds it."""
    facts = facts_of_entry(entry)
    if facts is None:
        return False, "node-internal"
    obj = object_of(entry.kind)
    if obj is not None and obj.carries_notes(entry.payload):
        # Written before the notes moved to node-internal entries: the reason and the units stay home.
        return False, "section carries node-internal notes (impact reason, responsible units)"
    if facts.owner_country != origin_country:
        # Filed here by a visiting liaison officer: a receiver could not tell such an entry
        # from a partner impersonating one of its own agencies, so it stays on this node.
        return False, "owned by another country"
    if facts.state == "draft" or not facts.released:
        return False, "not validated"
    if facts.scope.value not in ("partners", "all_partners"):
        return False, f"scope {facts.scope.value}"
    if country not in facts.releasable_to:
        return False, "not in releasable_to"
    if not may_release(facts, country):
        return False, "audience"
    if obj is REPORT:
        version = (entry.payload.get("report") or {}).get("version")
        held = entry.audience.get("release_version", version)  # older entries: each version crossed
        if held != version:
            return False, f"kept: {country} holds released version {held}, this version awaits a release"
    for link in links_of_entry(entry):
        if not partner_may_see(linked(link), country):
            return False, "containment: links a report the partner may not see"
    within = obj.parent(entry.payload) if obj is not None else None
    if within is not None and not partner_may_see(parent(*within) if parent else None, country):
        # A journal line never travels wider than its operation does now (narrowed, cancelled).
        return False, f"containment: its {within[0]} is not released to the partner"
    return True, "released"
