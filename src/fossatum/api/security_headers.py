"""Browser-facing hardening headers on every HTTP response and websocket handshake.

The Content-Security-Policy is sent as a header, not as a `<meta>` tag: `frame-ancestors`
(no framing, so no click-jacking or fake prompt over the map) is honoured only in a header,
and a header also covers the API's JSON and error documents. The page builds every element
with DOM calls and styles only from its own stylesheet, so the policy allows no inline
script or style and no form posting anywhere but the node itself.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",          # no 'unsafe-inline': injected style attributes stay inert
    "img-src 'self' data:",      # map symbols are drawn to canvases and used as data: URLs
    "connect-src 'self'",        # the REST API and the live websocket of this node only
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",        # an injected <form> cannot post a password elsewhere
    "frame-ancestors 'none'",    # no other site may frame the page
))

HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),              # frame-ancestors for browsers that predate it
    ("x-content-type-options", "nosniff"),    # a JSON or text answer is never run as a script
    ("referrer-policy", "no-referrer"),       # report ids in the URL fragment/path stay home
    ("cross-origin-opener-policy", "same-origin"),
)


class SecurityHeaders:
    """ASGI middleware: adds `HEADERS` (replacing any of the same name) to each response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.names = {name.encode() for name, _ in HEADERS}
        self.headers = [(name.encode(), value.encode()) for name, value in HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept", "websocket.http.response.start"):
                kept: list[Any] = [(k, v) for k, v in message.get("headers") or [] if k.lower() not in self.names]
                message = {**message, "headers": [*kept, *self.headers]}
            await send(message)

        await self.app(scope, receive, send_hardened)
