"""The receiver: verify a partner's stream item by item, store its entries read-only,
purge on tombstones. The good prefix of a batch is kept; the first bad item stops it,
is audited, and is reported back to the caller (never silently accepted).

An authentic entry of a malformed object (`shapes.problem`: a name too long or with control
characters, an unknown kind, a broken geometry) is not stored: it is skipped and audited as
refused, and the stream goes on, so one bad object cannot stall a partner's whole stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain.timeutil import parse, to_text, utcnow
from ..errors import InvalidInput
from ..log.entry import GENESIS, Entry
from ..log.kinds import REPORT, object_of
from ..log.signing import verify_signature
from ..policy.release import facts_of_entry, partner_may_see
from ..schemas import nul_field
from ..store.contract import Store, Transaction
from . import shapes
from .outbound import audit
from .stream import check_seal, item_hash


@dataclass(frozen=True)
class Partner:
    country: str
    node_id: str
    url: str
    public_key: str
    active: bool = True
    # how the link is secured: "pinned" (https, certificate bound to public_key), "ca"
    # (https, CA chain and host name), "loopback" (http on this machine), "insecure" (http
    # elsewhere, registered with --insecure: flagged wherever partners are listed)
    link: str = "pinned"


@dataclass
class Applied:
    stored: int = 0
    purged: int = 0
    duplicates: int = 0
    rejected: str | None = None
    refused: list[str] = field(default_factory=list)  # authentic entries skipped for their shape
    cursor: int = 0
    purged_ids: list[str] = field(default_factory=list)


def _problem_with_entry(tx: Transaction, doc: Any, partner: Partner, own_country: str) -> str | None:
    try:
        entry = Entry.from_doc(doc)
    except (KeyError, TypeError, ValueError):
        return "malformed entry"
    if entry.origin != partner.node_id:
        return f"entry of {entry.origin} relayed by {partner.node_id} (only the originator may send)"
    if entry.compute_hash() != entry.hash:
        return f"{entry.origin}#{entry.seq}: entry does not match its hash"
    if not verify_signature(partner.public_key, entry.hash, entry.sig):
        return f"{entry.origin}#{entry.seq}: bad entry signature"
    obj = object_of(entry.kind)
    if obj is None or not obj.federates:
        return f"{entry.origin}#{entry.seq}: kind {entry.kind} is never replicated"
    owner = entry.audience.get("owner_country") if isinstance(entry.audience, dict) else None
    if owner != partner.country:
        return f"{entry.origin}#{entry.seq}: owned by {owner!r}, not by the sending partner {partner.country}"
    mismatch = _payload_mismatch(entry) or _bad_instant(entry) or _nul(entry)
    if mismatch:
        return f"{entry.origin}#{entry.seq}: {mismatch}"
    if not partner_may_see(facts_of_entry(entry), own_country):
        return f"{entry.origin}#{entry.seq}: not released to {own_country}"
    released = _not_a_released_version(entry)
    if released:
        return f"{entry.origin}#{entry.seq}: {released}"
    # The stream's own chain orders and de-duplicates items; an entry may come later than a
    # newer one of another object (held back for containment), never twice, never older
    # than the version of its object already held.
    if tx.holds_entry(entry.origin, entry.seq):
        return f"{entry.origin}#{entry.seq}: replayed (already held)"
    newer = tx.newest_seq_of_object(entry.origin, entry.object_id)
    if newer is not None and newer > entry.seq:
        return f"{entry.origin}#{entry.seq}: older than #{newer} of {entry.object_id}, already held"
    held_as = None if entry.object_id is None else tx.object_origin(obj.name, entry.object_id)
    if held_as is not None and held_as != entry.origin:
        return f"{entry.origin}#{entry.seq}: object {entry.object_id} belongs to {held_as}"
    return None


def _agency_problem(tx: Transaction, entry: Entry, partner: Partner) -> str | None:
    """An object belongs to an agency of its origin's country: an agency this node knows as
    another country's (its own, or a third partner's) is never the sender's to write for —
    its members here would take the object for their own agency's."""
    agency = entry.audience.get("owner_agency") if isinstance(entry.audience, dict) else None
    if not isinstance(agency, str) or not agency:
        return "no owner agency"
    known = tx.agency_country(agency)
    if known is not None and known != partner.country:
        return f"owner agency {agency} is an agency of {known}, not of the sending partner {partner.country}"
    return None


def _dict_or_empty(value: object) -> dict[str, Any]:
    """A partner's nested document where one is expected, else an empty one (then every
    comparison with the signed audience fails as it should)."""
    return value if isinstance(value, dict) else {}


def _payload_mismatch(entry: Entry) -> str | None:
    """The projected document must say what the signed audience says: same origin, owner
    and release, so that a partner cannot plant an object the receiver takes for another's."""
    audience = entry.audience if isinstance(entry.audience, dict) else {}
    obj = object_of(entry.kind)
    doc = obj.document(entry.payload) if obj is not None else None
    if obj is None or not isinstance(doc, dict):
        return "malformed payload"
    if obj.workflow and doc.get("origin") != entry.origin:
        return f"payload claims origin {doc.get('origin')!r}"
    doc_audience = _dict_or_empty(doc.get("audience"))
    for name in ("owner_agency", "owner_country"):
        if doc.get(name) != audience.get(name) or doc_audience.get(name) != audience.get(name):
            return f"payload {name} differs from the signed audience"
    # A report's signed `releasable_to` names who holds a released version; it is compared
    # with the document once the receiver knows it is one of them (`_not_a_released_version`).
    for name in ("scope",) if obj.workflow else ("scope", "releasable_to"):
        if doc_audience.get(name) != audience.get(name):
            return f"payload audience {name} differs from the signed audience"
    if obj.workflow and (doc.get("state") != audience.get("state")
                                             or doc.get("released") != audience.get("released")):
        return "payload state differs from the signed audience"
    return None


def _instants(doc: Any, path: str) -> list[tuple[str, Any]]:
    """Every (field path, value) of `doc` that holds an instant by the naming rule of every
    object kind (`ts`, `at`, `*_at`), nested documents included, so new kinds are covered."""
    found: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, (dict, list)):
                found += _instants(value, where)
            elif key in ("ts", "at") or str(key).endswith("_at"):
                found.append((where, value))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _instants(value, f"{path}[{index}]")
    return found


def _bad_instant(entry: Entry) -> str | None:
    """Instants a partner sends must be ones this node would write itself: in timeutil's range
    and in its stored form (fixed-width UTC text, which every query compares bytewise)."""
    for where, value in [("ts", entry.ts), *_instants(entry.payload, "payload")]:
        if value is None and where != "ts":
            continue  # an instant not set yet (e.g. validated_at of a draft)
        try:
            instant = parse(value, field=where)
        except InvalidInput as exc:
            return f"{where}: {exc.message}"
        if to_text(instant) != value:
            return f"{where}: not in the stored form ({value!r})"
    return None


def _nul(entry: Entry) -> str | None:
    """A NUL character is refused in every input of this node (an error in PostgreSQL text)."""
    where = nul_field(entry.body())
    return f"{where}: NUL characters are not allowed" if where else None


def _not_a_released_version(entry: Entry) -> str | None:
    """Only a released version of a report crosses, to the countries its release decision names."""
    audience = entry.audience if isinstance(entry.audience, dict) else {}
    doc = entry.payload.get("report")
    if object_of(entry.kind) is not REPORT or not isinstance(doc, dict):
        return None
    doc_audience = _dict_or_empty(doc.get("audience"))
    if doc_audience.get("releasable_to") != audience.get("releasable_to"):
        return "payload audience releasable_to differs from the signed audience"
    if "release" in doc:
        release = doc.get("release")
        if not isinstance(release, dict) or not (release.get("version") == doc.get("version")
                                                 == audience.get("release_version")):
            return "not a released version of the report"
        named = sorted({*(release.get("countries") or []), str(audience.get("owner_country"))})
        if named != audience.get("releasable_to"):
            return "the release decision differs from the signed audience"
    return None


def purge(tx: Transaction, origin: str, object_id: str) -> int:
    """Remove every trace of a partner's object: its rows and its entries in this log."""
    return tx.purge_partner_object(origin, object_id)


def authenticated_prefix(public_key: str, items: list[Any], seq: int, prev: str) -> int:
    """How many leading items are authentic, checking one signature instead of one per item:
    items hash-linked from the cursor are vouched for by the signature of the last of them
    (each hash covers its predecessor's). If that signature fails, walk back to the last
    item whose signature holds. Items after the returned count get the full per-item check."""
    linked: list[int] = []  # indexes of new (not yet held) items in an unbroken chain
    for index, wire in enumerate(items):
        item = wire.get("item") if isinstance(wire, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("seq"), int) or item_hash(item) != wire.get("hash"):
            break
        if item["seq"] <= seq:
            continue  # already held; skipped by the caller
        if item["seq"] != seq + 1 or item.get("prev") != prev:
            break
        linked.append(index)
        seq, prev = item["seq"], wire["hash"]
    for index in reversed(linked):
        sig = items[index].get("sig")
        if isinstance(sig, str) and verify_signature(public_key, items[index]["hash"], sig):
            return index + 1
    return 0


def apply(store: Store, partner: Partner, own_country: str, items: list[Any]) -> Applied:
    result = Applied()
    with store.transaction() as tx:
        seq, prev = tx.inbound_position(partner.node_id) or (0, GENESIS)
        trusted = authenticated_prefix(partner.public_key, items, seq, prev)
        for index, wire in enumerate(items):
            problem = None if index < trusted else check_seal(partner.public_key, wire)
            item = wire.get("item", {}) if isinstance(wire, dict) else {}
            if problem is None and item.get("from") != partner.node_id:
                problem = f"stream of {item.get('from')} delivered as {partner.node_id}'s"
            if problem is None and item.get("to") != own_country:
                problem = f"stream item addressed to {item.get('to')}"
            if problem is None and isinstance(item.get("seq"), int) and item["seq"] <= seq:
                result.duplicates += 1  # already held: resent after a lost acknowledgement
                continue
            if problem is None and (item.get("seq") != seq + 1 or item.get("prev") != prev):
                problem = f"stream gap or fork: expected #{seq + 1} after {prev[:12]}, got #{item.get('seq')}"
            if problem is None and item.get("kind") == "entry":
                problem = _problem_with_entry(tx, item.get("entry"), partner, own_country)
                if problem is None:
                    entry = Entry.from_doc(item["entry"])
                    # Authentic but not acceptable: skipped and audited, the stream goes on.
                    shape, rule = shapes.problem(entry), "shape"
                    if shape is None:
                        shape, rule = _agency_problem(tx, entry, partner), "ownership"
                    if shape is None:
                        tx.insert_received(entry)
                        result.stored += 1
                    else:
                        where = f"{entry.origin}#{entry.seq}: {shape}"
                        result.refused.append(where)
                        audit(tx, direction="in", partner=partner.country, decision="refused", rule=rule,
                              object_id=entry.object_id, entry_origin=entry.origin, entry_seq=entry.seq, detail=where)
            elif problem is None and item.get("kind") == "tombstone":
                object_id = (item.get("tombstone") or {}).get("object_id")
                if not isinstance(object_id, str):
                    problem = "malformed tombstone"
                else:
                    removed = purge(tx, partner.node_id, object_id)
                    audit(tx, direction="in", partner=partner.country, decision="purged",
                          rule=str(item["tombstone"].get("reason", "")), object_id=object_id,
                          entry_origin=partner.node_id, detail=f"{removed} entries removed")
                    result.purged += 1
                    result.purged_ids.append(object_id)
            elif problem is None:
                problem = f"unknown item kind {item.get('kind')!r}"
            if problem is not None:
                result.rejected = problem
                audit(tx, direction="in", partner=partner.country, decision="rejected", rule="verification",
                      entry_origin=partner.node_id, entry_seq=item.get("seq") if isinstance(item.get("seq"), int) else None,
                      detail=problem)
                break
            seq, prev = item["seq"], wire["hash"]
        tx.set_inbound_position(partner.node_id, seq, prev, to_text(utcnow()))
        if result.stored or result.purged or result.refused:
            audit(tx, direction="in", partner=partner.country, decision="verified", rule="batch",
                  entry_origin=partner.node_id, detail=f"{result.stored} stored, {result.purged} purged, "
                                                       f"{len(result.refused)} refused, up to #{seq}")
        result.cursor = seq
    return result
