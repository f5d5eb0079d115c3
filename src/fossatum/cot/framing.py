"""TAK stream framing. Pure byte handling: feed what the socket gave, take whole frames.

v0 (XML): messages are concatenated; one ends after `</event>` (or `</auth>`, the plain-TCP
auth message). Whatever precedes `<` (whitespace, XML headers) is skipped. A frame longer
than the limit, or bytes that cannot start an XML message, raise FrameError.

v1 (protobuf, after the in-band t-x-takp negotiation): `0xbf <unsigned varint length>
<TakMessage>`. Conversion to and from XML goes through the safe XML codec, so a device
speaking v1 is handled exactly like one speaking v0.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

import takproto
from takproto.proto import TakMessage

MAGIC = 0xBF
_ENDS = re.compile(rb"</event\s*>|</auth\s*>")
_START = re.compile(rb"<(?!\?)")


class FrameError(ValueError):
    """The stream cannot be framed any more (the reason is the text); close the connection."""


class XmlFramer:
    """TAK protocol v0: split a byte stream after `</event>`, tolerating any split of reads."""

    protocol = "xml"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf already searched for an end tag

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        return len(self._buf)

    @property
    def partial(self) -> bool:
        """Whether part of a message is buffered (not just whitespace between events)."""
        return bool(self._buf.strip(b" \t\r\n\x00"))

    def next(self) -> bytes | None:
        """The next whole frame, or None until more bytes arrive."""
        start = _START.search(self._buf)
        if start is None:
            if self._buf.strip(b" \t\r\n\x00") and not self._buf.lstrip().startswith(b"<"):
                raise FrameError(f"not XML: {bytes(self._buf[:16])!r}")
            if len(self._buf) > self.max_bytes:
                raise FrameError(f"no event in {len(self._buf)} bytes")
            return None
        if self._buf[: start.start()].strip(b" \t\r\n\x00") and not _header_only(self._buf[: start.start()]):
            raise FrameError(f"not XML: {bytes(self._buf[:16])!r}")
        end = _ENDS.search(self._buf, max(start.start(), self._scanned - 10))
        if end is None:
            self._scanned = len(self._buf)
            if len(self._buf) - start.start() > self.max_bytes:
                raise FrameError(f"event larger than {self.max_bytes} bytes")
            return None
        frame = bytes(self._buf[start.start(): end.end()])
        del self._buf[: end.end()]
        self._scanned = 0
        if len(frame) > self.max_bytes:
            raise FrameError(f"event larger than {self.max_bytes} bytes")
        return frame

    def rest(self) -> bytes:
        """Bytes received after the last frame (handed to the v1 framer on a switch)."""
        rest, self._buf = bytes(self._buf), bytearray()
        return rest


def _header_only(prefix: bytearray) -> bool:
    text = bytes(prefix).strip()
    return text.startswith(b"<?xml") and text.endswith(b"?>")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class ProtoFramer:
    """TAK protocol v1 stream framing: `0xbf <varint length> <TakMessage>`."""

    protocol = "protobuf"

    def __init__(self, max_bytes: int, initial: bytes = b"") -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray(initial)

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        return len(self._buf)

    @property
    def partial(self) -> bool:
        return bool(self._buf)

    def next(self) -> bytes | None:
        """The next frame converted to v0 XML (so one codec handles both), or None."""
        if not self._buf:
            return None
        if self._buf[0] != MAGIC:
            raise FrameError(f"expected 0xbf, got 0x{self._buf[0]:02x}")
        length = shift = 0
        i = 1
        while True:
            if i >= len(self._buf):
                return None
            if i > 5:
                raise FrameError("length varint too long")
            byte = self._buf[i]
            length |= (byte & 0x7F) << shift
            shift += 7
            i += 1
            if not byte & 0x80:
                break
        if length > self.max_bytes:
            raise FrameError(f"event larger than {self.max_bytes} bytes")
        if len(self._buf) < i + length:
            return None
        payload = bytes(self._buf[i: i + length])
        del self._buf[: i + length]
        message = TakMessage()
        try:
            message.ParseFromString(payload)
        except Exception as exc:  # protobuf's DecodeError and friends
            raise FrameError(f"malformed protobuf: {exc}") from None
        return message_to_xml(message)


def message_to_xml(message: TakMessage) -> bytes:
    """A v1 TakMessage as the v0 XML event it stands for (typed detail fields re-expanded)."""
    e = message.cotEvent
    d = e.detail
    parts = [d.xmlDetail]
    if d.HasField("contact"):
        parts.append(f"<contact callsign={quoteattr(d.contact.callsign)} endpoint={quoteattr(d.contact.endpoint)}/>")
    if d.HasField("group"):
        parts.append(f"<__group name={quoteattr(d.group.name)} role={quoteattr(d.group.role)}/>")
    if d.HasField("status"):
        parts.append(f'<status battery="{int(d.status.battery)}"/>')
    if d.HasField("track"):
        parts.append(f'<track speed="{d.track.speed}" course="{d.track.course}"/>')
    if d.HasField("takv"):
        parts.append(f"<takv device={quoteattr(d.takv.device)} platform={quoteattr(d.takv.platform)}"
                     f" os={quoteattr(d.takv.os)} version={quoteattr(d.takv.version)}/>")
    return (
        f"<event version=\"2.0\" uid={quoteattr(e.uid)} type={quoteattr(e.type)} how={quoteattr(e.how)}"
        f' time="{_ms(e.sendTime)}" start="{_ms(e.startTime)}" stale="{_ms(e.staleTime)}">'
        f'<point lat="{e.lat!r}" lon="{e.lon!r}" hae="{e.hae!r}" ce="{e.ce!r}" le="{e.le!r}"/>'
        f"<detail>{''.join(parts)}</detail></event>"
    ).encode()


def _ms(value: int) -> str:
    """A v1 time (ms since 1970) as CoT XML time text. One out of timeutil's range is passed
    on as the bare number, which is no ISO 8601 time: the gateway then refuses that event
    alone (naming `time`) instead of the conversion failing the whole connection."""
    from ..domain import timeutil
    from ..errors import InvalidInput

    try:
        instant = timeutil.from_epoch_ms(value, field="time")
    except InvalidInput:
        return str(value)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def to_proto(xml: bytes) -> bytes:
    """One of our own rendered v0 messages as a v1 stream frame (takproto does the mapping)."""
    return bytes(takproto.xml2proto(xml, takproto.TAKProtoVer.STREAM))


def frame_proto(message: TakMessage) -> bytes:
    payload: bytes = message.SerializeToString()
    return bytes([MAGIC]) + _varint(len(payload)) + payload

