"""TAK Server's certificate-enrolment API over HTTPS (`fossatum serve --cot https://HOST:8446`).

What ATAK / iTAK do with a `tak://…/enroll?host=…&username=…&token=…` link, and what is served:

    GET  /Marti/api/tls/config                 the subject names the client should request
                                               (XML `certificateConfig` with O and OU)
    POST /Marti/api/tls/signClient/v2?clientUid=UID&version=V
                                               body: the CSR (base64 DER as ATAK sends it, or PEM);
                                               → JSON {"signedCert": …, "ca0": …} (base64 DER), or
                                               `<enrollment><signedCert/><ca/></enrollment>` when the
                                               client asks for application/xml only
    GET  /Marti/api/tls/profile/enrollment     204: this node has no enrolment profile to hand out

Both calls take HTTP Basic credentials: the node user name and the one-time enrolment token
that `fossatum device add` printed (never the user's node password: a password alone must not
mint a two-year device certificate that outlives a password change, so enrolment stays an
administrator's act). `config` checks the token without spending it; `signClient/v2` spends it
in the same register write that records the new certificate. Failures count in the node's
login throttle (per user name and per client address), as API logins do.

The certificate is the node's: subject `O=Fossatum, CN=<device>-enrolled` whatever the CSR
asked, client-auth only, for the CSR's key (EC P-256/P-384 or RSA ≥ 2048, see csr.py). With
`clientUid` the device is registered to the user (its unit, as on its first self-SA), so the
certificate names it at once. Served by uvicorn on the gateway's event loop, with the server
certificate of the node's CA (the one the TLS CoT listener presents).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api.guard import GuardedServer, Limits
from ..api.limits import BodyLimit
from ..api.problems import problem
from ..api.security_headers import SecurityHeaders
from ..api.text import RefuseNul
from ..domain.org import User
from ..errors import FossatumError, TooManyRequests, Unauthorized
from .csr import BadCsr, accepted_key, read_csr
from .pki import DEVICE_DAYS

if TYPE_CHECKING:
    from .server import CotServer

log = logging.getLogger("fossatum.cot")
MAX_BODY = 64 * 1024
REALM = 'Basic realm="Fossatum TAK enrolment", charset="UTF-8"'


def _der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise Unauthorized("HTTP Basic credentials required: the node user name and the enrolment token "
                           "printed by 'fossatum device add'")
    try:
        username, sep, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials (expected base64 of user:token)") from None
    if not sep or not username or not token or "\x00" in username or "\x00" in token:
        # (a NUL would reach the throttle's and the register's PostgreSQL text: refused here)
        raise Unauthorized("malformed Basic credentials (expected base64 of user:token)")
    return username, token


class Enrolment:
    """The enrolment endpoints of one gateway (its node, CA, throttle and writer thread)."""

    def __init__(self, gateway: CotServer) -> None:
        self.gateway = gateway
        self.node = gateway.node
        self.authority = gateway.authority

    def app(self) -> Starlette:
        routes = [Route("/Marti/api/tls/config", self.config, methods=["GET"]),
                  Route("/Marti/api/tls/signClient/v2", self.sign, methods=["POST"]),
                  Route("/Marti/api/tls/profile/enrollment", self.profile, methods=["GET"])]
        return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit, max_bytes=MAX_BODY),
                                                    Middleware(RefuseNul)],
                         exception_handlers={FossatumError: self._error, HTTPException: self._http_error})

    # --- credentials ------------------------------------------------------------------------
    def _check(self, username: str, token: str, client: str) -> tuple[User, dict[str, Any]]:
        """The user and the register entry of a usable token; failures count in the login throttle."""
        throttle = self.node.throttle
        throttle.check(username, client)
        try:
            record = self.authority.check_enrolment(username, token)
            user = self.node.user(username)
            if user is None or not user.active:
                raise Unauthorized(f"user {username!r} is unknown or disabled")
        except Unauthorized:
            throttle.failed(username, client)
            raise
        throttle.succeeded(username, client)
        return user, record

    async def _authenticate(self, request: Request) -> tuple[User, dict[str, Any], str]:
        username, token = _credentials(request)
        client = request.client.host if request.client else ""
        user, record = await asyncio.to_thread(self._check, username, token, client)
        return user, record, token

    # --- endpoints ----------------------------------------------------------------------------
    async def config(self, request: Request) -> Response:
        await self._authenticate(request)
        body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<ns2:certificateConfig xmlns="http://bbn.com/marti/xml/config" xmlns:ns2="com.bbn.marti.config"'
                f' validityDays="{DEVICE_DAYS}">'
                '<nameEntries><nameEntry name="O" value="Fossatum"/>'
                f'<nameEntry name="OU" value={quoteattr(self.authority.node_name)}/></nameEntries>'
                '</ns2:certificateConfig>')
        return Response(body, media_type="application/xml")

    async def sign(self, request: Request) -> Response:
        user, record, token = await self._authenticate(request)
        key = accepted_key(read_csr(await request.body()))
        asked = (request.query_params.get("clientUid") or request.query_params.get("clientUID") or "").strip()
        uid = record["uid"]
        if uid and asked and asked != uid:
            raise BadCsr(f"this enrolment token is for device {uid}, not {asked}", field="clientUid")
        uid = uid or asked or None
        unit_id = record["unit_id"] if uid == record["uid"] else None
        if uid and unit_id is None:  # the user's device (its unit) before the certificate names it
            unit_id = await self.gateway.ingest.call(self.node.register_device, actor=user, uid=uid,
                                                     callsign=record["callsign"] or "")
        issued, cert = await asyncio.to_thread(self.authority.enrol, username=user.username, token=token,
                                               public_key=key, uid=uid, unit_id=unit_id)
        self.gateway.counters["enrolled"] += 1
        peer = request.client.host if request.client else "?"
        log.info("cot: %s enrolled device %s (certificate %s, user %s, uid %s, unit %s)", peer, issued["name"],
                 issued["serial"], user.username, uid, unit_id)
        signed, ca = _der_b64(cert), _der_b64(await asyncio.to_thread(self.authority.ca_certificate))
        accept = request.headers.get("accept", "")
        if "application/xml" in accept and "json" not in accept:
            xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<enrollment><signedCert>{escape(signed)}</signedCert>'
                   f'<ca>{escape(ca)}</ca></enrollment>')
            return Response(xml, media_type="application/xml")
        body = {"signedCert": signed, "ca0": ca}
        if accept.strip() == "text/plain":  # iTAK asks for text/plain and parses the JSON in it
            return JSONResponse(body, media_type="text/plain")
        return JSONResponse(body)

    async def profile(self, request: Request) -> Response:
        # Asked after enrolment, with the (now spent) token: nothing to hand out and nothing
        # disclosed, so no credentials are checked here.
        return Response(status_code=204)

    # --- errors -------------------------------------------------------------------------------
    async def _error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FossatumError)
        headers = None
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": REALM}
        elif isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        self.gateway.counters["enrol_refused"] += 1
        peer = request.client.host if request.client else "?"
        log.warning("cot: enrolment from %s refused (%d): %s", peer, exc.status, exc)
        return problem(exc.status, exc.title, str(exc), field=exc.field, headers=headers)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return problem(exc.status_code, str(exc.detail), f"{exc.detail}: {request.method} {request.url.path}",
                       headers=exc.headers)


class EnrolListener:
    """One HTTPS enrolment port: uvicorn on a socket bound here, on the running loop."""

    def __init__(self, app: Starlette, host: str, port: int, tak_dir: Path, limits: Limits) -> None:
        self.app, self.host, self.port, self.tak_dir, self.limits = app, host, port, tak_dir, limits
        self.server: GuardedServer | None = None
        self.task: asyncio.Task[None] | None = None
        self.sock: socket.socket | None = None
        self.address: tuple[str, int] = (host, port)

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)  # OSError: the caller says which port
        self.sock, self.address = sock, sock.getsockname()[:2]
        # No server-wide connection limit (64 trickling connections used to take it all): the
        # guard caps each address and bounds the TLS handshake, head, body and idle time.
        config = uvicorn.Config(self.app, ssl_certfile=self.tak_dir / "server.pem",
                                ssl_keyfile=self.tak_dir / "server.key", log_config=None, access_log=False,
                                lifespan="off")
        self.server = GuardedServer(config, self.limits)
        self.task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[sock]))
        while not self.server.started:
            if self.task.done():
                await self.stop()
                raise OSError(f"the enrolment server on {self.host}:{self.port} did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await asyncio.gather(self.task, return_exceptions=True)
        if self.sock is not None:
            self.sock.close()
            self.sock = None
