"""The composition root: builds a serving node and wires its parts together.

A node (node.py) with its federation and the transport to its partners (given at
construction), the API app (api/app.py) with its live hub, the federation worker (or, in an
API worker process without the federation, the relay of partners' notices), the TAK gateway
(cot/server.py), TLS and the uvicorn servers. `fossatum serve` and `fossatum demo` (cli.py)
and each worker process of `fossatum serve --workers N` (supervisor.py) start here; this
module imports neither of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import click
import uvicorn
from fastapi import FastAPI

from . import demo
from . import settings as settings_mod
from .api.app import create_app
from .api.guard import GuardedServer, Limits
from .cot.server import CotServer
from .demo import Demo
from .errors import FossatumError
from .federation import tls
from .federation.links import is_loopback
from .federation.tls import ServingTls
from .federation.transport import Connect, HttpTransport
from .federation.worker import Relay, Worker
from .node import Node, open_node
from .settings import Settings

TLS_STOP_SECONDS = 5


def connect_over_http(settings: Settings) -> Connect:
    """How a serving node reaches its partners: signed HTTPS requests (see federation/tls.py for
    how their certificates are checked against FOSSATUM_TLS_CA or their keys)."""
    return partial(HttpTransport, ca_file=settings.tls_ca)


def open_serving_node(data_dir: Path, settings: Settings) -> Node:
    """Open the node at `data_dir` to serve it: its federation reaches partners over HTTP(S)."""
    return open_node(data_dir, settings=settings, connect=connect_over_http(settings))


def build_app(node: Node, *, worker: int = 1, federation: bool = True) -> tuple[FastAPI, Worker | None]:
    """The node's API app, with the federation worker that runs beside it (`federation`), or
    else a relay that passes partners' notices on to the process that runs it."""
    if federation:
        sync = Worker(node.federation, interval=node.settings.sync_interval)
        return create_app(node, worker=worker, sync=sync), sync
    return create_app(node, worker=worker, sync=Relay(node.federation)), None


def serve_node(data_dir: Path, settings: Settings, *, cot: list[str]) -> None:
    """`fossatum serve` with one process: the node's API, federation and TAK gateway."""
    with open_serving_node(data_dir, settings) as node:
        serve(node, settings.host, settings.port, cot=cot)


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn; a port in use is one clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # proto says TCP; with proto 0 every small response waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise FossatumError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def base_url(host: str, port: int, tls: bool = False) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


def _tls_of(node: Node, host: str, *, auto: bool = False) -> ServingTls | None:
    """The node's TLS from its settings (--tls auto, --tls-cert/--tls-key), or with `auto`
    its node-key-bound certificate regardless (the demo's partner listeners)."""
    settings = settings_mod.load(tls="auto", tls_cert="", tls_key="") if auto else node.settings
    return tls.serving_tls(settings, node.data_dir, node.key, node.node_id, host)


class _Server(GuardedServer):  # header/body/idle deadlines and a per-address cap (api/guard.py)
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the signals are handled once for all the servers, in serve()


def serve(node: Node, host: str, port: int, banner: list[str] | None = None, *,
          also: list[tuple[Node, int]] | None = None, cot: list[str] | None = None,
          sock: socket.socket | None = None, worker: int = 1, federation: bool = True,
          ready: Callable[[], None] | None = None, tls_also: list[tuple[Node, int]] | None = None) -> None:
    """Serve `node` on `port` — and each `(node, port)` of `also` beside it, in the same process.

    One uvicorn server per node on one event loop, each node with its own federation
    worker; each node reaches its partners with the transport it was opened with
    (`open_serving_node`). Ctrl-C (or SIGTERM) stops them all; a second one forces it.
    As worker `worker` of `fossatum serve --workers N` (see supervisor.py) it serves on the
    supervisor's socket `sock`, prints no banner, calls `ready` once it accepts, and runs the
    federation only if `federation` (partners' notices are passed on to the process that does).
    Each node serves TLS as its settings say; `tls_also` adds, per `(node, port)`, a listener
    with the node's key-bound certificate (the demo: pages on HTTP, partners over TLS).
    The nodes stay open: whoever opened them closes them.
    """
    served = [(node, port), *(also or [])]
    listeners = [(each, each_port, _tls_of(each, host)) for each, each_port in served]
    listeners += [(each, each_port, _tls_of(each, host, auto=True)) for each, each_port in tls_also or []]
    sockets: list[socket.socket] = []
    workers: list[Worker] = []
    servers: list[_Server] = []
    try:
        for _, each_port, _ in listeners:  # bind every port first: a port in use is one clear line
            sockets.append(sock if sock is not None else listening_socket(host, each_port))
        apps: dict[str, FastAPI] = {}
        for each, _ in served:
            apps[each.node_id], sync = build_app(each, worker=worker, federation=federation)
            if sync is not None:
                workers.append(sync)
        for index, (each, each_port, served_tls) in enumerate(listeners):
            context = served_tls.context if served_tls else None
            factory = None if context is None else (lambda config, default, context=context: context)
            # proxy_headers off: uvicorn would believe X-Forwarded-For from any local peer; the
            # login throttle believes it only from FOSSATUM_TRUSTED_PROXIES (api/client_address.py).
            # A TLS connection closes with an exchange of close_notify: a partner that keeps an
            # idle connection and does not answer would hold the stop for ever; bounded here.
            servers.append(_Server(uvicorn.Config(
                apps[each.node_id], host=host, port=each_port, log_level="warning", access_log=False,
                proxy_headers=False, ssl_context_factory=factory, timeout_graceful_shutdown=TLS_STOP_SECONDS if context else None),
                Limits.of(each.settings)))
            if sock is not None:
                continue
            if index < len(served):
                click.echo(f"Fossatum node {each.node_id} ({each.name}) at {base_url(host, each_port, context is not None)}")
                if context is None and not is_loopback(host):
                    click.echo(f"warning: {each.node_id} serves plain HTTP on {host}: partners and browsers reach it "
                               "unencrypted; serve it with --tls auto or --tls-cert/--tls-key", err=True)
            else:
                click.echo(f"Partners reach {each.node_id} over TLS (pinned to its key) at {base_url(host, each_port, True)}")
        for line in banner or []:
            click.echo(line)
        sys.stdout.flush()

        def stop(signum: int, frame: object) -> None:
            for server in servers:
                if server.should_exit:
                    server.force_exit = True
                server.should_exit = True

        def stop_federation() -> None:
            for each_worker in workers:
                each_worker.request_stop()
            for each_worker in workers:
                each_worker.stop()
            for each, _ in served:
                if isinstance(each.federation.transport, HttpTransport):
                    each.federation.transport.close()

        async def let_partners_go() -> None:
            """Once asked to stop: end the federation first, so that the partner clients in this
            process (the demo) close their TLS connections and each server stops at once."""
            while not any(server.should_exit for server in servers):
                await asyncio.sleep(0.1)
            await asyncio.get_running_loop().run_in_executor(None, stop_federation)

        async def refresh_certificates() -> None:
            """Renew tls-auto.pem before it expires, take up a replaced CA-issued certificate."""
            loop = asyncio.get_running_loop()
            renewing = [t for _, _, t in listeners if t is not None]
            while renewing:
                await asyncio.sleep(ServingTls.REFRESH_SECONDS)
                for served_tls in renewing:
                    try:
                        await loop.run_in_executor(None, served_tls.renew_files)
                        if served_tls.reload_if_changed():
                            click.echo("TLS certificate renewed: " + served_tls.files[0], err=True)
                    except (OSError, ssl.SSLError, FossatumError) as exc:  # keep serving the current one
                        click.echo(f"warning: TLS certificate not renewed: {exc}", err=True)

        async def run_all() -> None:
            gateway = None
            if cot:  # the TAK gateway of the first node, on the same loop
                gateway = CotServer(node)
                await gateway.start(cot)
                click.echo("TAK gateway at " + ", ".join(gateway.listening))
                sys.stdout.flush()
            tasks = [asyncio.ensure_future(server.serve(sockets=[sock])) for server, sock in zip(servers, sockets)]
            stopping = asyncio.ensure_future(let_partners_go())
            renewing = asyncio.ensure_future(refresh_certificates())
            try:
                while not all(server.started for server in servers) and not any(t.done() for t in tasks):
                    await asyncio.sleep(0.02)
                for each_worker in workers:  # once every node listens: no "unreachable" at start-up
                    each_worker.start()
                if ready is not None and all(server.started for server in servers):
                    ready()
                await asyncio.gather(*tasks)
            finally:
                stopping.cancel()
                renewing.cancel()
                if gateway is not None:
                    await gateway.stop()

        # A worker of several stops on the supervisor's SIGTERM; the terminal's Ctrl-C (sent to
        # the whole process group) is the supervisor's to handle, so that each stop is graceful.
        handled = (signal.SIGINT, signal.SIGTERM) if sock is None else (signal.SIGTERM,)
        previous = {sig: signal.signal(sig, stop) for sig in handled}
        try:
            asyncio.run(run_all())
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        for each_worker in workers:
            each_worker.stop()
        for each, _ in served:
            transport = each.federation.transport
            if isinstance(transport, HttpTransport):
                transport.close()
        for each_sock in sockets:
            each_sock.close()


def open_demo(data_dir: Path, *, fresh: bool, host: str, port: int, database_url: str | None) -> Demo:
    """The three demo nodes (created or reused), each opened to be served (see `serve_demo`)."""
    return demo.ensure(data_dir, fresh=fresh, host=host, port=port, database_url=database_url,
                       connect=connect_over_http(settings_mod.load()))


def serve_demo(nodes: Demo, host: str, port: int, *, banner: list[str], cot: list[str]) -> None:
    """`fossatum demo`: the three nodes in this process, their pages on HTTP from `port` on,
    each node's listener for its partners on TLS (pinned to its key) after those; closes them."""
    pages, partners = demo.ports(port), demo.tls_ports(port)
    try:
        serve(nodes.nodes["TUN"], host, pages["TUN"], banner=banner,
              also=[(nodes.nodes[c], pages[c]) for c in demo.COUNTRIES[1:]], cot=cot,
              tls_also=[(nodes.nodes[c], partners[c]) for c in demo.COUNTRIES])
    finally:
        nodes.close()
