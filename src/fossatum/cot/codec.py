"""Cursor-on-Target XML ⇄ plain values, and node objects → CoT events. Pure: no I/O.

Parsing uses defusedxml (no DTDs, no entities, no external references); the framer has
already bounded the size. Rendering builds text with escaping, so nothing a user typed
can break out of an attribute or element.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from ..domain import timeutil
from ..errors import InvalidInput

XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'
UNKNOWN = 9999999.0
PONG_UID = "takPong"
ALL_CHAT = "All Chat Rooms"


class CotError(ValueError):
    """A frame that is not a well-formed CoT event or auth message (the reason is the text)."""


@dataclass(frozen=True, slots=True)
class Auth:
    """TAK Server's plain-TCP auth message: `<auth><cot username password uid callsign/></auth>`."""

    username: str
    password: str
    uid: str = ""
    callsign: str = ""


@dataclass(frozen=True, slots=True)
class Chat:
    room: str
    sender_callsign: str
    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class CotEvent:
    uid: str
    type: str
    how: str
    time: str
    start: str
    stale: str
    lat: float
    lon: float
    hae: float = UNKNOWN
    ce: float = UNKNOWN
    le: float = UNKNOWN
    callsign: str = ""
    remarks: str = ""
    chat: Chat | None = None
    emergency: str = ""
    takp_request: str = ""          # t-x-takp-q: the protocol version asked for
    attrs: dict[str, str] = field(default_factory=dict)


# --- parsing -------------------------------------------------------------------------

def parse_frame(data: bytes) -> CotEvent | Auth:
    """One framed message (an `<event>` or an `<auth>`) → its values; CotError if malformed."""
    try:
        root = safe_xml.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as exc:
        raise CotError(f"malformed XML: {exc}") from None
    if root.tag == "auth":
        cot = root.find("cot")
        if cot is None or not cot.get("username"):
            raise CotError("an auth message needs <cot username=… password=…/>")
        return Auth(cot.get("username", ""), cot.get("password", ""), cot.get("uid", ""), cot.get("callsign", ""))
    if root.tag != "event":
        raise CotError(f"expected <event> or <auth>, got <{root.tag[:40]}>")
    return _event(root)


def _number(value: str | None, name: str, default: float | None = None) -> float:
    if value is None or value == "":
        if default is None:
            raise CotError(f"point@{name} is missing")
        return default
    try:
        number = float(value)
    except ValueError:
        raise CotError(f"point@{name} is not a number: {value[:30]!r}") from None
    if not math.isfinite(number):
        raise CotError(f"point@{name} is not finite")
    return number


def _event(root: Element) -> CotEvent:
    uid, type_ = root.get("uid", ""), root.get("type", "")
    if not uid or not type_:
        raise CotError("an event needs uid and type")
    point = root.find("point")
    if point is None:
        raise CotError("an event needs a <point>")
    lat, lon = _number(point.get("lat"), "lat"), _number(point.get("lon"), "lon")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CotError(f"point out of range: {lat}, {lon}")
    detail = root.find("detail")
    callsign = remarks = emergency = takp = ""
    chat = None
    if detail is not None:
        contact = detail.find("contact")
        callsign = contact.get("callsign", "") if contact is not None else ""
        remarks_el = detail.find("remarks")
        remarks = (remarks_el.text or "").strip() if remarks_el is not None else ""
        emergency_el = detail.find("emergency")
        if emergency_el is not None:
            emergency = "cancel" if emergency_el.get("cancel") == "true" else (emergency_el.get("type") or "alert")
        request = detail.find("TakControl/TakRequest")
        takp = request.get("version", "") if request is not None else ""
        chat_el = detail.find("__chat")
        if chat_el is not None:
            chat = Chat(room=chat_el.get("chatroom") or chat_el.get("id") or ALL_CHAT,
                        sender_callsign=chat_el.get("senderCallsign", ""),
                        message_id=chat_el.get("messageId") or uid, text=remarks)
    return CotEvent(uid=uid, type=type_, how=root.get("how", ""), time=root.get("time", ""),
                    start=root.get("start", ""), stale=root.get("stale", ""), lat=lat, lon=lon,
                    hae=_number(point.get("hae"), "hae", UNKNOWN), ce=_number(point.get("ce"), "ce", UNKNOWN),
                    le=_number(point.get("le"), "le", UNKNOWN), callsign=callsign, remarks=remarks,
                    chat=chat, emergency=emergency, takp_request=takp)


# --- what an inbound event means --------------------------------------------------------

MARKER_PREFIXES = ("a-h-G", "a-u-G", "a-s-G", "b-m-p-s-m", "b-m-p-s-p-i")
ALERT_TYPES = {"b-a-o-tbl": "911", "b-a-o-opn": "troops_in_contact", "b-a-o-pan": "ring_the_bell",
               "b-a-o-can": "cancel"}


def _is(type_: str, prefix: str) -> bool:
    return type_ == prefix or type_.startswith(prefix + "-")


def kind_of(event: CotEvent) -> str:
    """sa, marker, alert, chat, ping, takp_request, or other (ignored)."""
    t = event.type
    if t == "t-x-c-t":
        return "ping"
    if t == "t-x-takp-q":
        return "takp_request"
    if t in ALERT_TYPES:
        return "alert"
    if t == "b-t-f" and event.chat is not None:
        return "chat"
    if _is(t, "a-f-G") or _is(t, "a-a-G"):
        return "sa"
    if any(_is(t, p) for p in MARKER_PREFIXES):
        return "marker"
    return "other"


# Words in a marker's remarks that say what was seen (first match wins), then the CoT type.
_REMARK_TYPES: tuple[tuple[str, str], ...] = (
    (r"#(\w+)", ""),  # an explicit tag: "#smuggling_fuel"
    (r"\b(ied|explosive|mine|bomb|عبوة)\b", "explosive_device"),
    (r"\b(clash|contact|firefight|shots?|tirs?|اشتباك)\b", "clash"),
    (r"\battack", "attack_on_post"),
    (r"\b(fuel|carburant|essence|petrol|diesel|وقود)\b", "smuggling_fuel"),
    (r"(smuggl\w* (of )?(weapons?|arms)|arms traffick|trafic d'armes|تهريب سلاح)", "smuggling_weapons"),
    (r"\b(drugs?|cannabis|kif|drogues?|مخدرات)\b", "smuggling_drugs"),
    (r"\b(smuggl\w*|contrebande|تهريب)\b", "smuggling_goods"),
    (r"\b(seiz\w*|saisie)\b", "seizure"),
    (r"\b(arrest\w*|interpell\w*)\b", "arrest"),
    (r"\b(crossing|migrants?|franchissement)\b", "illegal_crossing"),
    (r"\b(vehicle|truck|pick-?up|car|4x4|véhicule)\b", "suspicious_vehicle"),
)


def report_type_of(event: CotEvent, known: frozenset[str] | set[str]) -> str:
    """The node's report type for a dropped marker: an explicit #tag or a word in its
    remarks, else from the affiliation (hostile → armed group, suspect → vehicle)."""
    text = event.remarks.lower()
    for pattern, mapped in _REMARK_TYPES:
        found = re.search(pattern, text)
        if found is None:
            continue
        if not mapped:
            if found.group(1) in known:
                return found.group(1)
            continue
        return mapped
    if _is(event.type, "a-h-G"):
        return "armed_group_sighting"
    if _is(event.type, "a-s-G"):
        return "suspicious_vehicle"
    return "other"


def report_id_of(device_uid: str, marker_uid: str) -> str:
    """A stable report id for a marker: re-sent markers update the same report."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cot:{device_uid}:{marker_uid}"))


def observed_at(event: CotEvent, now: datetime) -> datetime:
    """The event's time, never in the future (device clocks run ahead); none given: now.

    A malformed time, or one outside the accepted range, raises InvalidInput naming `time`:
    the gateway refuses that one event (logged and counted) and keeps the connection."""
    if not event.time:
        return now
    return min(timeutil.parse(event.time, field="time"), now)


def parse_time(text: str) -> datetime | None:
    """A time we rendered or stored (timeutil.parse's rules); None if empty or refused."""
    if not text:
        return None
    try:
        return timeutil.parse(text, field="time")
    except InvalidInput:
        return None


# --- rendering -----------------------------------------------------------------------------

def cot_time(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _stored(text: str | None, default: datetime) -> datetime:
    return parse_time(text or "") or default


def event_xml(*, uid: str, type_: str, time: datetime, stale: datetime, lat: float, lon: float,
              detail: str = "", how: str = "h-g-i-g-o", ce: float = UNKNOWN, start: datetime | None = None) -> bytes:
    """A complete v0 message: XML header, newline and one event."""
    return (
        f'{XML_HEADER}<event version="2.0" uid={quoteattr(uid)} type={quoteattr(type_)} how={quoteattr(how)}'
        f' time="{cot_time(time)}" start="{cot_time(start or time)}" stale="{cot_time(stale)}">'
        f'<point lat="{lat:.7f}" lon="{lon:.7f}" hae="{UNKNOWN}" ce="{ce:.1f}" le="{UNKNOWN}"/>'
        f"<detail>{detail}</detail></event>"
    ).encode()


def pong(now: datetime) -> bytes:
    return event_xml(uid=PONG_UID, type_="t-x-c-t-r", time=now, stale=now + timedelta(seconds=20), lat=0, lon=0, how="h-g-i-g-o")


def takp_offer(now: datetime) -> bytes:
    """t-x-takp-v: the server supports TAK protocol version 1."""
    return event_xml(uid="protouid", type_="t-x-takp-v", time=now, stale=now + timedelta(minutes=1), lat=0, lon=0,
                     how="m-g", detail='<TakControl><TakProtocolSupport version="1"/></TakControl>')


def takp_response(now: datetime, accepted: bool) -> bytes:
    return event_xml(uid="protouid", type_="t-x-takp-r", time=now, stale=now + timedelta(minutes=1), lat=0, lon=0,
                     how="m-g", detail=f'<TakControl><TakResponse status="{"true" if accepted else "false"}"/></TakControl>')


def delete(uid: str, now: datetime) -> bytes:
    """t-x-d-d: tell devices to drop an item (retracted, narrowed, no longer visible)."""
    return event_xml(uid=str(uuid.uuid4()), type_="t-x-d-d", time=now, stale=now + timedelta(minutes=1), lat=0, lon=0,
                     detail=f'<link uid={quoteattr(uid)} relation="p-p" type="none"/><__forcedelete/>')


# APP-6-ish CoT types of the node's report types: hostile people and their acts,
# suspect vehicles and goods, neutral law-enforcement events.
REPORT_COT_TYPES = {
    "armed_group_sighting": "a-h-G-U-C-I",
    "armed_group_movement": "a-h-G-U-C-I",
    "clash": "a-h-G-U-C",
    "explosive_device": "a-h-G-E-X-M",
    "attack_on_post": "a-h-G-U-C",
    "smuggling_weapons": "a-h-G-E-V-C",
    "smuggling_fuel": "a-s-G-E-V-C",
    "smuggling_drugs": "a-s-G-E-V-C",
    "smuggling_goods": "a-s-G-E-V-C",
    "seizure": "a-n-G",
    "arrest": "a-n-G",
    "illegal_crossing": "a-u-G",
    "suspicious_vehicle": "a-s-G-E-V-C",
    "other": "a-u-G",
}
UNIT_COT_TYPES = {
    "patrol": "a-f-G-U-U-L",
    "checkpoint": "a-f-G-U-U-L-C",
    "observation_post": "a-f-G-U-U-L-O",
    "rapid_intervention": "a-f-G-U-C",
    "hq": "a-f-G-U-H",
}
IMPACT_COLOURS = {"low": -16711936, "medium": -256, "high": -32768, "critical": -65536}  # ARGB ints, as ATAK


def report_uid(report_id: str) -> str:
    return f"fossatum.report.{report_id}"


def unit_uid(unit_id: str) -> str:
    return f"fossatum.unit.{unit_id}"


def section_uid(section_id: str) -> str:
    return f"fossatum.section.{section_id}"


def report_event(doc: dict[str, Any], now: datetime, *, stale_hours: int) -> bytes:
    """A validated report as a CoT atom with its APP-6 type, stale after `stale_hours`."""
    seen = _stored(doc.get("observed_at"), now)
    salute = doc.get("salute") or {}
    grade = (doc.get("grade") or {}).get("code") or "-"
    lines = [f"{doc['type']} ({doc['owner_agency']}, {doc['state']}, grade {grade}, TLP:{doc.get('tlp', 'AMBER')})"]
    for label, value in (("size", salute.get("size")), ("activity", salute.get("activity")),
                         ("unit", salute.get("unit")), ("equipment", salute.get("equipment"))):
        if value not in (None, ""):
            lines.append(f"{label}: {value}")
    if doc.get("description"):
        lines.append(str(doc["description"]))
    callsign = f"{doc['type'].replace('_', ' ')} {seen.strftime('%d %H%MZ')}"
    detail = (f"<contact callsign={quoteattr(callsign)}/><remarks>{escape(chr(10).join(lines))}</remarks>"
              f'<archive/><link uid={quoteattr(doc["id"])} relation="p-p" type="fossatum-report"/>')
    return event_xml(uid=report_uid(doc["id"]), type_=REPORT_COT_TYPES.get(doc["type"], "a-u-G"), time=now,
                     start=seen, stale=max(seen + timedelta(hours=stale_hours), now + timedelta(minutes=1)),
                     lat=doc["location"]["lat"], lon=doc["location"]["lon"], how="h-e",
                     ce=float(doc.get("uncertainty_m") or UNKNOWN), detail=detail)


def unit_event(doc: dict[str, Any], now: datetime, *, stale_minutes: int) -> bytes | None:
    """A unit's last known position as a friendly atom; None without a position."""
    position = doc.get("position")
    if not position:
        return None
    at = _stored(doc.get("position_at"), now)
    callsign = doc.get("callsign") or doc.get("name") or doc["id"]
    label = f"{doc.get('name', '')} ({doc.get('owner_agency', '')}, {doc.get('kind', '')})"
    detail = (f"<contact callsign={quoteattr(callsign)}/>"
              f'<__group name="{"Cyan" if doc.get("owner_country") else "White"}" role="Team Member"/>'
              f"<remarks>{escape(label)}</remarks>")
    return event_xml(uid=unit_uid(doc["id"]), type_=UNIT_COT_TYPES.get(doc.get("kind", ""), "a-f-G-U-U-L"), time=now,
                     start=at, stale=at + timedelta(minutes=stale_minutes), lat=position["lat"], lon=position["lon"],
                     how="m-g", detail=detail)


def section_event(doc: dict[str, Any], now: datetime, *, stale_hours: int) -> bytes:
    """A border section as a drawn shape (u-d-f), coloured and remarked by its impact level."""
    geometry = doc["geometry"]
    ring = geometry["coordinates"] if geometry["type"] == "LineString" else geometry["coordinates"][0]
    points = "".join(f'<link point="{lat:.7f},{lon:.7f}"/>' for lon, lat, *_ in ring)
    colour = IMPACT_COLOURS.get(doc.get("impact", "low"), -1)
    remarks = f"Impact: {doc.get('impact', '')}" + (f" — {doc['impact_reason']}" if doc.get("impact_reason") else "")
    detail = (f"{points}<contact callsign={quoteattr(doc.get('name') or doc['id'])}/>"
              f'<strokeColor value="{colour}"/><strokeWeight value="4.0"/>'
              f'<fillColor value="{colour & 0x40FFFFFF if colour < 0 else colour}"/>'
              f"<remarks>{escape(remarks)}</remarks><labels_on value=\"true\"/>")
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return event_xml(uid=section_uid(doc["id"]), type_="u-d-f", time=now, stale=now + timedelta(hours=stale_hours),
                     lat=(min(lats) + max(lats)) / 2, lon=(min(lons) + max(lons)) / 2, how="h-e", detail=detail)


def alert_event(doc: dict[str, Any], now: datetime) -> bytes:
    """An alert raised by a device, relayed to devices that may see it (cancel → b-a-o-can)."""
    at = _stored(doc.get("at"), now)
    cancelled = doc.get("state") == "cancelled"
    type_ = "b-a-o-can" if cancelled else {v: k for k, v in ALERT_TYPES.items()}.get(doc.get("kind", ""), "b-a-o-tbl")
    emergency = ('<emergency cancel="true"/>' if cancelled
                 else f"<emergency type={quoteattr(doc.get('kind', 'alert'))}>{escape(doc.get('callsign', ''))}</emergency>")
    detail = (f"<contact callsign={quoteattr(doc.get('callsign', '') + '-Alert')}/>{emergency}"
              f"<remarks>{escape(doc.get('text', ''))}</remarks>")
    return event_xml(uid=doc["uid"], type_=type_, time=now, start=at, stale=at + timedelta(hours=1),
                     lat=doc["position"]["lat"], lon=doc["position"]["lon"], how="h-e", detail=detail)


def chat_event(doc: dict[str, Any], now: datetime) -> bytes:
    """A GeoChat message as ATAK shows it (rendered from the stored message, not echoed)."""
    at = _stored(doc.get("at"), now)
    sender, room, message_id = doc["sender_uid"], doc["room"], doc["message_id"]
    detail = (f"<__chat parent=\"RootContactGroup\" groupOwner=\"false\" messageId={quoteattr(message_id)}"
              f" chatroom={quoteattr(room)} id={quoteattr(room)} senderCallsign={quoteattr(doc.get('callsign', ''))}>"
              f"<chatgrp uid0={quoteattr(sender)} uid1={quoteattr(room)} id={quoteattr(room)}/></__chat>"
              f'<link uid={quoteattr(sender)} type="a-f-G-U-C" relation="p-p"/>'
              f"<remarks source={quoteattr('BAO.F.ATAK.' + sender)} to={quoteattr(room)} time=\"{cot_time(at)}\">"
              f"{escape(doc.get('text', ''))}</remarks>")
    return event_xml(uid=f"GeoChat.{sender}.{room}.{message_id}", type_="b-t-f", time=now, start=at,
                     stale=at + timedelta(days=1), lat=doc["position"]["lat"], lon=doc["position"]["lon"], detail=detail)
