"""`fossatum demo`: three federated national centres — Tunisia, Algeria, Libya — with a
living picture of the last 48 hours.

The demo folder holds one node folder per country (`TUN/`, `DZA/`, `LBY/`), each with its
own key, database, agencies and users. The pages are at `http://HOST:PORT`, `PORT+1`,
`PORT+2`; the nodes talk to each other over TLS (each registered as a partner of the two
others at `https://HOST:PORT+3`, `+4`, `+5`, with a certificate bound to its node key). The Tunisian node is the one of issue
2 (`demo.tun`), the Algerian and Libyan ones are in `demo.partners`. After setting up, the
nodes replicate once in-process, so each already holds what the others released to it
before any server starts. Built in a side folder and renamed into place, so a demo
folder is either complete or absent.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import settings as settings_mod
from ..domain.timeutil import utcnow
from ..errors import FossatumError
from ..federation.service import Federation
from ..federation.transport import Connect, LocalTransport
from ..node import KEY_FILE, Node, init_node, open_node
from ..store.sqlite import DB_FILE

# The public names of the demo (`X as X`: re-exported for the CLI and the tests).
from .common import PASSWORD as PASSWORD
from .common import border_lon as border_lon
from .common import inside as inside
from .common import load_border as load_border
from .partners import SIDES, populate
from .tun import COUNTRY, NAME, logins  # noqa: F401
from .tun import build as build_tun

COUNTRIES = ("TUN", "DZA", "LBY")
NAMES = {"TUN": NAME, **{c: s.name for c, s in SIDES.items()}}
CITIES = {"TUN": "Tunis", "DZA": "Algiers", "LBY": "Tripoli"}


def all_logins() -> dict[str, list[tuple[str, str]]]:
    """Per country, (username, who they are); usernames are unique across the three nodes."""
    return {"TUN": logins(), **{c: s.logins() for c, s in SIDES.items()}}


def urls(host: str, port: int) -> dict[str, str]:
    """Where each node listens: the first port for TUN, the next ones for DZA and LBY."""
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"  # a wildcard bind is reached on loopback
    if ":" in host:
        host = f"[{host}]"
    return {c: f"http://{host}:{port + i}" for i, c in enumerate(COUNTRIES)}


def ports(port: int) -> dict[str, int]:
    return {c: port + i for i, c in enumerate(COUNTRIES)}


def tls_ports(port: int) -> dict[str, int]:
    """Where each node listens for its partners, over TLS: the three ports after the pages'."""
    return {c: port + len(COUNTRIES) + i for i, c in enumerate(COUNTRIES)}


def partner_urls(host: str, port: int) -> dict[str, str]:
    """The URLs the nodes register each other at (https, pinned to the node keys)."""
    pages = urls(host, port)
    return {c: pages[c].replace("http://", "https://").rsplit(":", 1)[0] + f":{p}" for c, p in tls_ports(port).items()}


@dataclass
class Demo:
    nodes: dict[str, Node]   # TUN, DZA, LBY
    urls: dict[str, str]
    logins: dict[str, list[tuple[str, str]]] = field(default_factory=all_logins)

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()


def node_databases(database_url: str | None, *, fresh: bool = False) -> dict[str, str | None]:
    """Each demo node's PostgreSQL database: `<database>_tun`, `_dza`, `_lby` beside the one
    `database_url` names, created if absent (emptied with `fresh`); None each on SQLite."""
    if not database_url:
        return dict.fromkeys(COUNTRIES)
    from ..settings import load
    from ..store.postgres import sibling_database

    owner = load().database_owner_url or None  # creates the databases when the node's role may not
    return {c: sibling_database(database_url, f"_{c.lower()}", fresh=fresh, owner_url=owner) for c in COUNTRIES}


def _has_node(folder: Path, database_url: str | None) -> bool:
    return (folder / (KEY_FILE if database_url else DB_FILE)).exists()


def ensure(data_dir: Path, *, fresh: bool = False, host: str = "127.0.0.1", port: int = 8000,
           database_url: str | None = None, connect: Connect | None = None) -> Demo:
    """Open the three demo nodes in `data_dir`, creating them first if the folder is empty or absent.

    An existing demo is reused (its partner URLs follow `host` and `port`); a folder of the
    earlier one-node demo is moved into `TUN/` and the two partners are added beside it.
    With `database_url` the nodes keep their data in PostgreSQL (see `node_databases`).
    `connect` makes the transport each node's federation reaches the others with once served.
    """
    data_dir = Path(data_dir)
    where = urls(host, port)
    links = partner_urls(host, port)
    dbs = node_databases(database_url)
    if fresh and (data_dir.exists() or database_url):
        _remove_demo(data_dir, dbs)
        dbs = node_databases(database_url, fresh=True)
    if not database_url and _is_old_demo(data_dir):
        _build(data_dir, links, dbs, migrate=True)
    elif any((data_dir / c).exists() for c in COUNTRIES):
        missing = [c for c in COUNTRIES if not _has_node(data_dir / c, dbs[c])]
        if missing:
            raise FossatumError(f"{data_dir} holds an incomplete demo (no {', '.join(missing)} node); "
                                "start again with --fresh")
    elif data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise FossatumError(f"{data_dir} is not empty and holds no demo node; use another folder")
    else:
        _build(data_dir, links, dbs)
    nodes: dict[str, Node] = {}
    try:
        for c in COUNTRIES:
            nodes[c] = open_node(data_dir / c, settings=settings_mod.load(), database_url=dbs[c], connect=connect)
            if nodes[c].name != NAMES[c] or nodes[c].country != c:
                raise FossatumError(f"{data_dir / c} holds the node {nodes[c].name!r}, not the demo; "
                                    "use another folder")
        _wire(nodes, links)
        replicate(nodes)
    except BaseException:
        for node in nodes.values():
            node.close()
        raise
    return Demo(nodes, where)


def _is_old_demo(data_dir: Path) -> bool:
    """The one-node demo of before: the Tunisian node right in the demo folder."""
    if not (data_dir / DB_FILE).is_file():
        return False
    node = open_node(data_dir)
    name = node.name
    node.close()
    if name != NAME:
        raise FossatumError(f"{data_dir} holds the node {name!r}, not the demo; use another folder")
    return True


def _build(data_dir: Path, where: dict[str, str], dbs: dict[str, str | None], *, migrate: bool = False,
           now: datetime | None = None) -> None:
    """Create the three nodes in a side folder, then rename it into place."""
    now = now or utcnow()
    building = data_dir.parent / f".{data_dir.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    nodes: dict[str, Node] = {}
    try:
        building.mkdir(parents=True)
        t0 = now - timedelta(hours=49)
        for c, side in SIDES.items():
            nodes[c] = init_node(building / c, country=c, name=side.name, clock=lambda: t0, database_url=dbs[c])
        if migrate:  # the earlier one-node demo becomes the Tunisian node, as it is
            (building / "TUN").mkdir()
            for item in list(data_dir.iterdir()):
                os.replace(item, building / "TUN" / item.name)
            nodes["TUN"] = open_node(building / "TUN")
        else:
            nodes["TUN"] = build_tun(building / "TUN", now=now, database_url=dbs["TUN"])
        nodes = {c: nodes[c] for c in COUNTRIES}
        _wire(nodes, where)
        for c, side in SIDES.items():
            populate(nodes[c], side, now)
            nodes[c].clock = utcnow
        replicate(nodes)
        for node in nodes.values():
            node.close()
        nodes = {}
        if data_dir.exists():
            data_dir.rmdir()
        os.replace(building, data_dir)
    except BaseException:
        for node in nodes.values():
            node.close()
        if migrate and (building / "TUN").is_dir() and data_dir.is_dir() and not any(data_dir.iterdir()):
            for item in list((building / "TUN").iterdir()):  # put the old demo back where it was
                os.replace(item, data_dir / item.name)
        raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _wire(nodes: dict[str, Node], where: dict[str, str]) -> None:
    """Register every node as a partner of the others, at its URL (updated if it moved)."""
    for c, node in nodes.items():
        current = {p.country: p for p in node.federation.partners()}
        for other, peer in nodes.items():
            if other == c:
                continue
            known = current.get(other)
            if known is not None and known.url == where[other] and known.public_key == peer.key.public:
                continue
            if known is not None:
                node.federation.remove_partner(other)
            node.federation.add_partner(country=other, url=where[other], key=peer.key.public)


def replicate(nodes: dict[str, Node], rounds: int = 2) -> None:
    """Sync the nodes in-process (no server needed): each pulls from each partner, twice."""
    def serve(caller: str, partner: str, after: int, limit: int) -> dict[str, Any]:
        return nodes[partner].federation.serve_stream(nodes[caller].node_id, after=after, limit=limit)

    # A federation of each node of its own for these rounds: the nodes' own (and their
    # transports, if any) stay as they are.
    local = [Federation(node, LocalTransport(c, serve)) for c, node in nodes.items()]
    for _ in range(rounds):
        for federation in local:
            federation.sync()


def _remove_demo(data_dir: Path, dbs: dict[str, str | None]) -> None:
    """Delete a demo folder; anything that does not look like one is refused."""
    if any(dbs.values()):
        _check_databases(dbs)
    if not data_dir.exists() or (data_dir.is_dir() and not any(data_dir.iterdir())):
        return
    if (data_dir / DB_FILE).exists():  # the earlier one-node demo
        _check_node(data_dir, NAME)
        shutil.rmtree(data_dir)
        return
    entries = list(data_dir.iterdir()) if data_dir.is_dir() else [data_dir]
    if not entries or any(e.name not in COUNTRIES or not e.is_dir() for e in entries):
        raise FossatumError(f"refusing to delete {data_dir}: it does not look like a demo folder "
                            f"(expected only {', '.join(COUNTRIES)} node folders)")
    for e in entries:
        if any(e.iterdir()) and not dbs[e.name]:
            _check_node(e, NAMES[e.name])
    shutil.rmtree(data_dir)


def _check_databases(dbs: dict[str, str | None]) -> None:
    """Refuse to empty a database that holds a node other than the demo's."""
    from ..store.postgres import PostgresStore

    for c, url in dbs.items():
        store = PostgresStore(url or "", Path("."))
        try:
            found = store.meta("name")
        finally:
            store.close()
        if found not in (None, NAMES[c]):
            raise FossatumError(f"refusing to empty the {c} demo database: it holds the node {found!r}, not the demo")


def _check_node(folder: Path, name: str) -> None:
    if not ((folder / DB_FILE).is_file() and (folder / KEY_FILE).is_file()):
        raise FossatumError(f"refusing to delete {folder}: it does not look like a demo folder "
                            f"(no {DB_FILE} and {KEY_FILE})")
    node = open_node(folder)
    found = node.name
    node.close()
    if found != name:
        raise FossatumError(f"refusing to delete {folder}: it holds the node {found!r}, not the demo")
