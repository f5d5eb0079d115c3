"""What a document shown to a viewer may name: never an object the viewer may not see.

`may_view` decides whether a viewer sees an object at all; a document it may see can still
name other objects — a report's `links` (its parents), a section's `responsible` units — and
carry notes meant for the owner country only (a section's `impact_reason`). `redact` is the
one function every read path passes documents through (the store's reads for a viewer, the
websocket, the TAK fan-out, the API's answers to writes), so a follow-up never reveals a
hidden parent and a section never names a unit the viewer may not see. Federation applies
the same containment at release (`release.release_decision`).

Every object kind the store holds for viewers has a shape in `SHAPES`, taken from its
declaration in log/kinds.py (what it references, its owner's notes), even with nothing to
redact: tests/test_architecture.py fails for a kind whose table is read without one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..domain.org import User
from ..log.kinds import OBJECT_KINDS, ObjectKind
from .visibility import Facts, may_view

# (kind, ids) -> facts of those that exist on this node (absent ids are simply not returned)
FactsOf = Callable[[str, frozenset[str]], Mapping[str, Facts]]


@dataclass(frozen=True, slots=True)
class Shape:
    """The fields of a kind's document that name other objects or are the owner's own notes.

    `references`: field -> kind it names; the value is a list of ids, or a mapping of lists
    (a section's `responsible`: country -> unit ids or free-text names).
    `owner_only`: field -> the empty value a viewer outside the owner country gets.
    `free_text`: a name in a reference field that is no object of this node (a unit written
    down by hand) is the owner's note: shown in the owner country only."""

    references: Mapping[str, str] = field(default_factory=dict)
    owner_only: Mapping[str, Any] = field(default_factory=dict)
    free_text: bool = False


def _shape_of(obj: ObjectKind) -> Shape:
    """What an object kind's declaration (log/kinds.py) says its documents name: its references,
    and its owner's notes that are no reference (text, emptied outside the owner country)."""
    return Shape(references=dict(obj.references),
                 owner_only={name: "" for name in obj.owner_notes if name not in obj.references},
                 free_text=obj.free_text)


SHAPES: dict[str, Shape] = {obj.name: _shape_of(obj) for obj in OBJECT_KINDS}

# The tables the store reads these kinds from, and their key column.
TABLES: dict[str, tuple[str, str]] = {obj.name: (obj.table, obj.key) for obj in OBJECT_KINDS}


# Tables of earlier versions of a kind's documents (read for a viewer as that kind).
HISTORY: dict[str, str] = {"report_versions": "report"}


def shape(kind: str) -> Shape:
    try:
        return SHAPES[kind]
    except KeyError:
        raise KeyError(f"no redaction shape for object kind {kind!r} (declare it in log/kinds.py)") from None


def _ids(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, dict):
        return [v for names in value.values() if isinstance(names, list) for v in names if isinstance(v, str)]
    return []


def needs(kind: str, doc: Mapping[str, Any]) -> bool:
    """Whether `doc` names anything or carries an owner-only note (else it is shown as is)."""
    s = shape(kind)
    return any(_ids(doc.get(f)) for f in s.references) or any(doc.get(f) for f in s.owner_only)


def raw_needs(kind: str, raw: str) -> bool:
    """`needs` on stored JSON text without parsing it where the text shows there is nothing:
    every occurrence of a field's quoted name is followed by an empty value. (A quote inside
    a JSON string is escaped, so a quoted name found is a key.) Unsure means parse."""
    s = shape(kind)
    for name in s.references:
        key = f'"{name}"'
        n = raw.count(key)
        if n and raw.count(f"{key}:[]") + raw.count(f"{key}:{{}}") != n:
            return True
    for name in s.owner_only:
        key = f'"{name}"'
        n = raw.count(key)
        if n and raw.count(f'{key}:""') + raw.count(f"{key}:null") != n:
            return True
    return False


def memo(facts_of: FactsOf) -> FactsOf:
    """`facts_of` asked once per (kind, id): several viewers of one document cost one read."""
    known: dict[str, dict[str, Facts | None]] = {}

    def cached(kind: str, ids: frozenset[str]) -> Mapping[str, Facts]:
        seen = known.setdefault(kind, {})
        missing = frozenset(i for i in ids if i not in seen)
        if missing:
            found = facts_of(kind, missing)
            for i in missing:
                seen[i] = found.get(i)
        return {i: f for i in ids if (f := seen.get(i)) is not None}

    return cached


def redact(viewer: User, kind: str, docs: Sequence[dict[str, Any]], facts_of: FactsOf) -> list[dict[str, Any]]:
    """`docs` (of objects `viewer` may see) as `viewer` may see them: references to objects
    the viewer may not see (or that this node does not hold) left out, owner-only notes
    emptied outside the owner country. Documents with nothing to redact are returned as they are."""
    s = shape(kind)
    todo = [d for d in docs if needs(kind, d)]
    if not todo:
        return list(docs)
    wanted: dict[str, set[str]] = {}
    for doc in todo:
        for name, named_kind in s.references.items():
            wanted.setdefault(named_kind, set()).update(_ids(doc.get(name)))
    facts = {k: facts_of(k, frozenset(ids)) for k, ids in wanted.items() if ids}
    out = []
    for doc in docs:
        if not needs(kind, doc):
            out.append(doc)
            continue
        own = viewer.country == doc.get("owner_country")
        new = dict(doc)
        for name, named_kind in s.references.items():
            known = facts.get(named_kind, {})

            def shown(ref: str) -> bool:  # called only within this iteration
                f = known.get(ref)  # noqa: B023 (called before the loop moves on)
                if f is None:  # names nothing on this node: a free-text note of the owner, or unknown
                    return s.free_text and own  # noqa: B023 (called before the loop moves on)
                return may_view(viewer, f)

            value = doc.get(name)
            if isinstance(value, list):
                new[name] = [r for r in value if isinstance(r, str) and shown(r)]
            elif isinstance(value, dict):
                kept = {c: [r for r in names if isinstance(r, str) and shown(r)]
                        for c, names in value.items() if isinstance(names, list)}
                new[name] = {c: names for c, names in kept.items() if names}
        if not own:
            for name, empty in s.owner_only.items():
                if name in new:
                    new[name] = empty
        out.append(new)
    return out


def dumps(doc: Mapping[str, Any]) -> str:
    """The stored JSON form (sorted keys, no spaces), as the API serves stored documents."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def redact_raw(viewer: User, kind: str, raws: Iterable[str], facts_of: FactsOf) -> list[str]:
    """`redact` over stored JSON texts; only those that name something are parsed."""
    raws = list(raws)
    todo = [n for n, raw in enumerate(raws) if raw_needs(kind, raw)]
    if not todo:
        return raws
    docs = redact(viewer, kind, [json.loads(raws[n]) for n in todo], facts_of)
    for n, doc in zip(todo, docs):
        raws[n] = dumps(doc)
    return raws
