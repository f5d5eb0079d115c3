"""`fossatum …`: set up, run, check and move data of a node.

Errors are one readable line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import click
from pydantic import ValidationError

from . import datadir
from . import settings as settings_mod
from .domain.audience import TLP, Scope
from .domain.org import User
from .errors import FossatumError, InvalidInput, NotFound
from .node import Node, init_node, open_node
from .policy.actions import Action, node_target, require
from .schemas import first_error
from .store.query import ReportQuery, decode_cursor

DATA = click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
                    envvar="FOSSATUM_DATA", default="./fossatum-data", show_default=True,
                    help="Data folder of the node.")


DATABASE_URL = click.option("--database-url", default=None, metavar="URL",
                            help="PostgreSQL database of the node (postgresql://USER@HOST:PORT/DB); "
                                 "default: FOSSATUM_DATABASE_URL, else SQLite in --data.")


def _open(data_dir: Path, database_url: str | None = None) -> Node:
    return open_node(data_dir, settings=settings_mod.load(database_url=database_url))


def _pydantic_line(exc: ValidationError) -> str:
    field, message = first_error(exc)
    return f"{field}: {message}" if field else message


@click.group()
@click.version_option(package_name="fossatum")
def cli() -> None:
    """Fossatum: a national coordination centre of a federated border-security network."""


@cli.command()
@DATA
@click.option("--country", required=True, help="ISO 3166 alpha-3 code of this node's country, e.g. TUN.")
@click.option("--name", required=True, help='Name of the centre, e.g. "Tunisia NCC".')
@DATABASE_URL
def init(data_dir: Path, country: str, name: str, database_url: str | None) -> None:
    """Create a node: key, database and the first log entry."""
    conf = settings_mod.load(database_url=database_url)
    with init_node(data_dir, country=country.upper(), name=name, database_url=conf.database_url or None) as node:
        where = ""
        if conf.database_url:
            from .store.postgres import redact

            where = f" (database {redact(conf.database_url)})"
        click.echo(f"initialised node {node.node_id} ({name}) in {data_dir}{where}")
        click.echo(f"public key: {node.key.public}")


@cli.group()
def agency() -> None:
    """Agencies (of this country and of partners' liaison officers)."""


@agency.command("add")
@DATA
@click.option("--code", required=True, help="Agency code, e.g. TN-GN.")
@click.option("--name", required=True)
@click.option("--country", required=True, help="ISO 3166 alpha-3 code.")
def agency_add(data_dir: Path, code: str, name: str, country: str) -> None:
    """Register an agency."""
    with _open(data_dir) as node:
        doc = node.add_agency(actor=None, code=code, name=name, country=country.upper())
        click.echo(f"added agency {doc['code']} ({doc['country']})")


@agency.command("list")
@DATA
def agency_list(data_dir: Path) -> None:
    with _open(data_dir) as node:
        for a in node.store.agencies():
            click.echo(f"{a['code']}\t{a['country']}\t{a['name']}\tfield: {_field_audience_text(a['field_audience'])}")


def _field_audience_text(setting: dict[str, Any] | None) -> str:
    if not setting:
        return "node default"
    partners = f" {','.join(setting['partners'])}" if setting.get("partners") else ""
    return f"{setting['scope']}{partners} TLP:{setting['tlp']}"


@agency.command("set-field-audience")
@DATA
@click.argument("code")
@click.option("--scope", type=click.Choice([s.value for s in Scope]),
              help="Who sees the reports the agency's TAK devices file (until a duty officer changes it).")
@click.option("--partner", "partners", multiple=True, help="Partner country with --scope partners; repeat for several.")
@click.option("--tlp", type=click.Choice([t.value for t in TLP]), default=None, help="TLP marking (default AMBER).")
@click.option("--clear", is_flag=True, help="Remove the setting: the node's cot_report_scope applies.")
def agency_set_field_audience(data_dir: Path, code: str, scope: str | None, partners: tuple[str, ...],
                              tlp: str | None, clear: bool) -> None:
    """Set the default audience of reports filed from an agency's field devices."""
    if clear == (scope is not None):
        raise click.UsageError("give either --scope or --clear")
    with _open(data_dir) as node:
        doc = node.set_field_audience(actor=None, agency=code, scope=scope,
                                      partners=[p.upper() for p in partners], tlp=tlp)
    click.echo(f"field audience of {doc['code']}: {_field_audience_text(doc['field_audience'])}")


@cli.group()
def user() -> None:
    """User accounts."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InvalidInput("an empty password", field="password")
    return password


@user.command("add")
@DATA
@click.option("--username", required=True)
@click.option("--agency", "agency_code", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              help="field, duty_officer, analyst, commander or admin; repeat for several.")
@click.option("--full-name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def user_add(data_dir: Path, username: str, agency_code: str, roles: tuple[str, ...], full_name: str,
             password_stdin: bool) -> None:
    """Create an account."""
    with _open(data_dir) as node:
        password = _read_password(password_stdin)
        created = node.add_user(actor=None, username=username, agency=agency_code, roles=list(roles),
                                password=password, full_name=full_name)
        click.echo(f"added user {created.username} ({created.agency}, {', '.join(sorted(created.roles))})")


@user.command("passwd")
@DATA
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True)
def user_passwd(data_dir: Path, username: str, password_stdin: bool) -> None:
    """Set a new password: the user's sessions, websockets and password-logged TAK devices end."""
    with _open(data_dir) as node:
        node.set_password(actor=None, username=username, password=_read_password(password_stdin))
        click.echo(f"password set for {username}")


@user.command("disable")
@DATA
@click.option("--username", required=True)
def user_disable(data_dir: Path, username: str) -> None:
    """Disable an account: logins refused; its sessions, websockets and TAK devices end within seconds."""
    with _open(data_dir) as node:
        node.set_user_active(actor=None, username=username, active=False)
    click.echo(f"disabled {username}; its sessions and live connections are ended")


@user.command("enable")
@DATA
@click.option("--username", required=True)
def user_enable(data_dir: Path, username: str) -> None:
    """Enable a disabled account again (it logs in anew)."""
    with _open(data_dir) as node:
        node.set_user_active(actor=None, username=username, active=True)
    click.echo(f"enabled {username}")


@user.command("list")
@DATA
def user_list(data_dir: Path) -> None:
    with _open(data_dir) as node:
        for u in node.store.users():
            click.echo(f"{u.username}\t{u.agency}\t{u.country}\t{','.join(sorted(u.roles))}\t{'active' if u.active else 'disabled'}")


@cli.command()
@DATA
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8000).")
@click.option("--cot", "cot_urls", multiple=True,
              help="Also serve TAK devices (CoT) at this URL: tcp://127.0.0.1:8087 (auth message), "
                   "tls://127.0.0.1:8089 (client certificates, see 'fossatum device add'), "
                   "tcp://HOST:PORT?anonymous_unit=UNIT_ID (no auth: every device there is that unit), "
                   "https://127.0.0.1:8446 (TAK certificate enrolment with 'fossatum device add' tokens); repeatable.")
@DATABASE_URL
@click.option("--workers", default=None, type=int, metavar="N",
              help="API worker processes sharing the port (default: FOSSATUM_WORKERS, else 1); "
                   "more than one needs PostgreSQL.")
@click.option("--tls", "tls_mode", type=click.Choice(["auto", "off"]), default=None,
              help="auto: HTTPS with a certificate bound to the node's key, which partners check against the key "
                   "they registered (no CA); off: plain HTTP. Default: FOSSATUM_TLS, else off.")
@click.option("--tls-cert", default=None, metavar="FILE", help="Serve HTTPS with this CA-issued certificate (PEM).")
@click.option("--tls-key", default=None, metavar="FILE", help="The private key (PEM) of --tls-cert.")
def serve(data_dir: Path, host: str | None, port: int | None, cot_urls: tuple[str, ...], database_url: str | None,
          workers: int | None, tls_mode: str | None, tls_cert: str | None, tls_key: str | None) -> None:
    """Run the node's HTTP API (and its TAK gateway with --cot)."""
    conf = settings_mod.load(host=host, port=port, cot=",".join(cot_urls) or None, database_url=database_url,
                             workers=workers, tls=tls_mode, tls_cert=tls_cert, tls_key=tls_key)
    cot = [u for u in conf.cot.split(",") if u.strip()]
    # Imported here: the other commands do without the web server's modules (a quicker start).
    from . import runtime
    from .supervisor import Supervisor

    if conf.workers > 1:
        Supervisor(data_dir, conf, cot=cot).run()
    else:
        runtime.serve_node(data_dir, conf, cot=cot)


@cli.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default="./demo-data",
              show_default=True, help="Demo folder (created or reused): one node folder per country.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True,
              help="Port of the Tunisian node; the Algerian and Libyan nodes take the next two, "
                   "and the three after those are the nodes' TLS ports for each other.")
@click.option("--setup-only", is_flag=True, help="Create the demo data, do not serve.")
@click.option("--fresh", is_flag=True, help="Start again from an empty demo folder.")
@click.option("--cot", "cot_urls", multiple=True, metavar="URL",
              help="TAK gateway of the Tunisian node, e.g. tcp://127.0.0.1:8087 (repeatable).")
@click.option("--database-url", default=None, metavar="URL",
              help="Keep the demo nodes in PostgreSQL: databases <name>_tun, _dza, _lby beside the one named "
                   "(created if absent); default: FOSSATUM_DATABASE_URL, else SQLite.")
def demo(data_dir: Path, host: str, port: int, setup_only: bool, fresh: bool, cot_urls: tuple[str, ...],
         database_url: str | None) -> None:
    """Create (or reuse) three federated demo nodes — Tunisia, Algeria, Libya — and serve them."""
    from . import runtime  # (see serve)
    from .demo import PASSWORD

    if not 0 < port <= 65530:
        raise InvalidInput("expected a port from 1 to 65530 (the next five are used too)", field="port")
    database_url = settings_mod.load(database_url=database_url).database_url or None
    ready = runtime.open_demo(data_dir, fresh=fresh, host=host, port=port, database_url=database_url)
    lines = [f"Demo logins (password for all: {PASSWORD}):"]
    for country, node in ready.nodes.items():
        lines.append(f"  {node.name} — {ready.urls[country]}/")
        lines += [f"    {name:<16} {what}" for name, what in ready.logins[country]]
    lines += [
        "Try it: log in at the Tunisian node as amira, file and validate a report with the audience",
        '  {"scope": "partners", "partners": ["DZA"]}: within a second nadia sees it at the Algerian node,',
        "  and no one sees it at the Libyan node.",
    ]
    if setup_only:
        for country, node in ready.nodes.items():
            click.echo(f"demo node {node.node_id} ready in {data_dir / country}")
        for line in lines:
            click.echo(line)
        ready.close()
        return
    runtime.serve_demo(ready, host, port, banner=lines, cot=list(cot_urls))


@cli.group()
def key() -> None:
    """This node's signing key."""


@key.command("show")
@DATA
def key_show(data_dir: Path) -> None:
    """Print the public key (first line, alone) and its fingerprint."""
    with _open(data_dir) as node:
        click.echo(node.key.public)
        click.echo(f"fingerprint {node.key.fingerprint}  node {node.node_id}")


@cli.group()
def partner() -> None:
    """Partner nodes this node replicates with."""


@partner.command("add")
@DATA
@click.option("--country", required=True, help="The partner's ISO 3166 alpha-3 code.")
@click.option("--url", required=True, help="The partner node's base URL.")
@click.option("--key", "public_key", required=True, help="The partner's public key ('fossatum key show' there).")
@click.option("--tls-verify", "verify", type=click.Choice(["pin", "ca"]), default="pin", show_default=True,
              help="pin: the partner's certificate must be bound to --key (it serves with --tls auto); "
                   "ca: it must chain to a trusted CA (FOSSATUM_TLS_CA) and name the host.")
@click.option("--insecure", is_flag=True,
              help="Accept a plain http:// URL that is not on loopback (clear text between centres; flagged).")
def partner_add(data_dir: Path, country: str, url: str, public_key: str, verify: str, insecure: bool) -> None:
    """Register a partner node (puts its country on the roster)."""
    with _open(data_dir) as node:
        added = node.federation.add_partner(country=country.upper(), url=url, key=public_key, actor=None,
                                            insecure=insecure, verify=verify)
    click.echo(f"added partner {added.country} (node {added.node_id}) at {added.url} ({_link_text(added.link)})")
    if added.link == "insecure":
        click.echo(f"warning: the link to {added.country} is plain HTTP across the network (--insecure)", err=True)


_LINKS = {"pinned": "TLS, pinned to its key", "ca": "TLS, CA-verified", "loopback": "plain HTTP on loopback",
          "insecure": "INSECURE: plain HTTP"}


def _link_text(link: str) -> str:
    return _LINKS.get(link, link)


@partner.command("list")
@DATA
def partner_list(data_dir: Path) -> None:
    with _open(data_dir) as node:
        for p in node.federation.partners(include_inactive=True):
            click.echo(f"{p.country}\t{p.node_id}\t{p.url}\t{'active' if p.active else 'removed'}\t{_link_text(p.link)}")


@partner.command("remove")
@DATA
@click.option("--country", required=True)
def partner_remove(data_dir: Path, country: str) -> None:
    """Stop replicating with a partner (what it released here stays, read-only)."""
    with _open(data_dir) as node:
        node.federation.remove_partner(country.upper(), actor=None)
        click.echo(f"removed partner {country.upper()}")


@cli.group()
def sync() -> None:
    """Replication with partners."""


@sync.command("status")
@DATA
def sync_status(data_dir: Path) -> None:
    """Per partner: last sent / acknowledged stream item, lag, last contact, last error."""
    with _open(data_dir) as node:
        node.federation.release_all()
        rows = node.federation.status()
    if not rows:
        click.echo("no partners")
        return
    click.echo("partner  sent  acked  lag  received  last contact                 last error")
    for r in rows:
        click.echo(f"{r['country']:<8} {r['last_sent']:>4} {r['acknowledged']:>6} {r['lag']:>4} {r['received']:>9}"
                   f"  {r['last_contact'] or '-':<28} {r['last_error'] or '-'}"
                   + ("" if r["active"] else "  (removed)")
                   + ("  INSECURE: plain HTTP (--insecure)" if r["insecure"] else ""))


@sync.command("audit")
@DATA
@click.option("--partner", "country", default=None)
@click.option("--limit", default=50, show_default=True)
def sync_audit(data_dir: Path, country: str | None, limit: int) -> None:
    """Release decisions and received batches, newest first."""
    with _open(data_dir) as node:
        for a in node.federation.audit(partner=country, limit=limit):
            click.echo(f"{a['at']} {a['direction']:<3} {a['partner']} {a['decision']:<8} {a['rule']:<24} "
                       f"{a['object_id'] or '-'} {a['detail']}")


@cli.group()
def cot() -> None:
    """The TAK gateway (field devices speaking Cursor-on-Target)."""


@cot.command("status")
@DATA
def cot_status(data_dir: Path) -> None:
    """Connected devices: user, unit, protocol, last seen, messages in/out, drops (from the running server)."""
    from .cot.server import STATUS_FILE

    path = Path(data_dir) / STATUS_FILE
    if not path.exists():
        raise NotFound(f"no TAK gateway has run for {data_dir} (start it with 'fossatum serve --cot tcp://…')")
    status = json.loads(path.read_text())
    click.echo(f"node {status['node']}  listening {', '.join(status['listening']) or '-'}  as of {status['at']}")
    click.echo("counters: " + (", ".join(f"{k}={v}" for k, v in sorted(status["counters"].items())) or "-"))
    click.echo("ingest:   " + (", ".join(f"{k}={v}" for k, v in sorted(status["ingest"].items())) or "-"))
    click.echo(f"{'user':<12} {'unit':<24} {'callsign':<14} {'proto':<14} {'last seen':<20} {'in':>6} {'out':>6}"
               f" {'queued':>6} {'dropped':>7}  peer")
    for d in status["devices"]:
        click.echo(f"{d['user'] or '-':<12} {d['unit'] or '-':<24} {d['callsign'] or '-':<14} {d['protocol'] + '/' + d.get('transport', 'tcp'):<14}"
                   f" {d['last_seen']:<20} {d['messages_in']:>6} {d['messages_out']:>6} {d['queued']:>6}"
                   f" {d['dropped']:>7}  {d['peer']}")
    if not status["devices"]:
        click.echo("no devices connected")


@cli.group()
def device() -> None:
    """TAK devices with client certificates of the node's own CA (for tls:// listeners)."""


@device.command("add")
@DATA
@click.option("--username", required=True, help="Node user the device acts as (its agency, its need-to-know).")
@click.option("--callsign", default="", help="Callsign shown for the device (also names its files).")
@click.option("--uid", default="", help="Device uid (e.g. ANDROID-…): binds its unit now; else at its first self-SA.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address devices use to reach the node.")
@click.option("--port", default=8089, type=int, show_default=True, help="Port of the tls:// listener.")
@click.option("--enrol-port", default=8446, type=click.IntRange(1, 65535), show_default=True,
              help="Port of the https:// enrolment listener the link points at.")
@click.option("--enrol-hours", default=24.0, type=click.FloatRange(0, 720, min_open=True), show_default=True,
              help="Lifetime of the one-time enrolment token (at most 720).")
def device_add(data_dir: Path, username: str, callsign: str, uid: str, host: str, port: int, enrol_port: int,
               enrol_hours: float) -> None:
    """Issue a client certificate: PKCS#12 bundle, trust store, ATAK data package, and a one-time
    enrolment link (for a TAK client to get a certificate of its own key over HTTPS)."""
    from .cot.pki import Authority

    with _open(data_dir) as node:
        node.allow(None, Action.DEVICE_ENROL, node_target(node.country, "device", creator=username))
        user = node.store.user(username)
        if user is None or not user.active:
            raise NotFound(f"no active user {username!r} (see 'fossatum user list')")
        unit_id = node.register_device(actor=user, uid=uid, callsign=callsign) if uid else None
        issued = Authority(data_dir, node_name=node.name).add_device(
            username=username, callsign=callsign, uid=uid, unit_id=unit_id, host=host, port=port,
            enrol_port=enrol_port, enrol_hours=enrol_hours)
    r = issued.record
    click.echo(f"device {r['name']}: certificate {r['serial']} for user {username}"
               + (f", unit {unit_id}" if unit_id else "") + f", valid until {r['expires_at'][:10]}")
    click.echo(f"  client bundle (PKCS#12): {issued.bundle}")
    click.echo(f"  trust store (PKCS#12):   {issued.truststore}")
    click.echo(f"  CA certificate (PEM):    {issued.folder / 'ca.pem'}")
    click.echo(f"  ATAK data package:       {issued.package}  (import it in ATAK; holds the password)")
    click.echo(f"  bundle password:         {issued.password}")
    click.echo("  (shown once, not stored: hand it over with the bundle)")
    click.echo(f"  enrolment link:          {issued.link}")
    click.echo(f"  enrolment token:         {issued.token}  (user {username}; one-time, until "
               f"{r['enrolment']['expires_at'][:16].replace('T', ' ')} UTC)")
    click.echo(f"  (the link and token work where 'fossatum serve --cot https://HOST:{enrol_port}' runs)")


@device.command("list")
@DATA
def device_list(data_dir: Path) -> None:
    """Device certificates issued by this node's CA."""
    from .cot.pki import Authority

    devices = Authority(data_dir).devices()
    if not devices:
        click.echo("no device certificates (add one with 'fossatum device add')")
        return
    click.echo(f"{'name':<20} {'serial':<40} {'user':<12} {'callsign':<14} {'uid':<20} {'issued':<11} status")
    names = {d["serial"]: d["name"] for d in devices}
    for d in devices:
        status = f"revoked {d['revoked_at'][:19]}" if d["revoked_at"] else f"valid until {d['expires_at'][:10]}"
        enrolment = d.get("enrolment")
        if enrolment and enrolment["used_at"]:
            status += f"; enrolled {names.get(enrolment['serial'], enrolment['serial'])}"
        elif enrolment and not d["revoked_at"]:
            status += f"; enrolment token until {enrolment['expires_at'][:16].replace('T', ' ')}"
        click.echo(f"{d['name']:<20} {d['serial']:<40} {d['username']:<12} {d['callsign'] or '-':<14}"
                   f" {d['uid'] or '-':<20} {d['issued_at'][:10]:<11} {status}")


@device.command("revoke")
@DATA
@click.argument("which")
def device_revoke(data_dir: Path, which: str) -> None:
    """Revoke a device certificate (by name or serial): refused from now on, disconnected if connected."""
    from .cot.pki import Authority

    require(None, Action.DEVICE_REVOKE, node_target("", "device"))  # the CLI administrator (file access)
    named, *enrolled = Authority(data_dir).revoke(which)
    for record in (named, *enrolled):
        how = f", enrolled with the token of {named['name']}" if record is not named else ""
        click.echo(f"revoked device {record['name']} (certificate {record['serial']}, user {record['username']}{how})")


@cli.command()
@DATA
@DATABASE_URL
def verify(data_dir: Path, database_url: str | None) -> None:
    """Check the whole log: sequence, hash chain and signatures."""
    with _open(data_dir, database_url) as node:
        node.store.check_integrity()
        results = node.verify()
    bad = [p for r in results for p in r.problems]
    for r in results:
        click.echo(f"{r.origin}: {r.entries} entries, {'ok' if r.ok else f'{len(r.problems)} problem(s)'}")
    if bad:
        for problem in bad[:20]:
            click.echo(problem, err=True)
        raise click.exceptions.Exit(1)


@cli.command()
@DATA
@DATABASE_URL
def migrate(data_dir: Path, database_url: str | None) -> None:
    """Apply the schema migrations the node's database lacks (every start does it too)."""
    with _open(data_dir, database_url) as node:
        version = node.store.migrate()
        backend = node.store.backend
    click.echo(f"{backend} schema at version {version}")


@cli.command()
@DATA
@DATABASE_URL
def rebuild(data_dir: Path, database_url: str | None) -> None:
    """Recreate every table from the log."""
    with _open(data_dir, database_url) as node:
        total = node.store.log_size()
        with click.progressbar(length=total, label="replaying log", file=sys.stderr) as bar:
            replayed = node.store.rebuild(progress=bar.update)
    click.echo(f"rebuilt from {replayed} entries")


def _as_user(node: Node, username: str) -> User:
    found = node.store.user(username)
    if found is None:
        raise NotFound(f"no user {username}")
    return found


@cli.command("export")
@DATA
@click.option("--as", "as_user", default=None, help="Export what this user may see (default: all of the node's own reports).")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@DATABASE_URL
def export_cmd(data_dir: Path, as_user: str | None, output: TextIO, database_url: str | None) -> None:
    """Export reports as JSON lines (one report document a line)."""
    with _open(data_dir, database_url) as node:
        count = 0
        if as_user:
            viewer = _as_user(node, as_user)
            query = ReportQuery(limit=node.settings.page_max)
            while True:
                page = node.reports(viewer=viewer, query=query)
                for doc in page.items:
                    output.write(doc + "\n")
                    count += 1
                if page.next is None:
                    break
                query = ReportQuery(after=decode_cursor(page.next), limit=query.limit)
        else:
            for doc in node.store.own_report_docs():
                output.write(doc + "\n")
                count += 1
    click.echo(f"exported {count} reports", err=True)


@cli.command("import")
@DATA
@click.option("--as", "as_user", required=True, help="The author the imported reports are filed by.")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@DATABASE_URL
def import_cmd(data_dir: Path, as_user: str, source: TextIO, database_url: str | None) -> None:
    """Import reports from JSON lines (the API's report shape); all or nothing."""
    from . import transfer

    with _open(data_dir, database_url) as node:
        author = _as_user(node, as_user)
        imported, skipped = transfer.import_lines(node, author=author, lines=source)
    click.echo(f"imported {imported} reports" + (f", skipped {skipped} already present" if skipped else ""))


# --- joint operations (issue 12): operational verbs act as a named user ------------------------
AS_USER = click.option("--as-user", "--as", "as_user", required=True, metavar="USER",
                       help="The user the command acts as (operational commands are theirs, not the node's).")


@cli.group()
def operation() -> None:
    """Joint operations: list, show, create, change status, write in the journal, export as EMSI."""


@operation.command("list")
@DATA
@AS_USER
@DATABASE_URL
def operation_list(data_dir: Path, as_user: str, database_url: str | None) -> None:
    """The operations the user may see: id, status, code, lead, participants, name."""
    with _open(data_dir, database_url) as node:
        for op in node.operations(viewer=_as_user(node, as_user)):
            click.echo(f"{op['id']}\t{op['status']}\t{op['code']}\t{op['lead_country']}\t"
                       f"{','.join(op['participants'])}\t{op['name']}")


@operation.command("show")
@DATA
@AS_USER
@click.argument("operation_id")
@DATABASE_URL
def operation_show(data_dir: Path, as_user: str, operation_id: str, database_url: str | None) -> None:
    """The operation as the user may see it, with its journal (JSON)."""
    with _open(data_dir, database_url) as node:
        viewer = _as_user(node, as_user)
        doc = node.operation(viewer=viewer, operation_id=operation_id)
        doc["journal"] = node.journal(viewer=viewer, operation_id=operation_id)
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True))


@operation.command("create")
@DATA
@AS_USER
@click.option("--file", "source", type=click.File("r", encoding="utf-8"), required=True,
              help="The operation as JSON (the API's POST /api/v1/operations body); - reads stdin.")
@DATABASE_URL
def operation_create(data_dir: Path, as_user: str, source: TextIO, database_url: str | None) -> None:
    """Plan an operation led by this node's country."""
    from .schemas import OperationIn

    spec = OperationIn.model_validate(json.load(source))
    with _open(data_dir, database_url) as node:
        doc = node.create_operation(actor=_as_user(node, as_user), spec=spec)
    click.echo(f"created operation {doc['id']} ({doc['code']}), released to {', '.join(doc['participants'])}")


@operation.command("status")
@DATA
@AS_USER
@click.argument("operation_id")
@click.argument("status")
@DATABASE_URL
def operation_status(data_dir: Path, as_user: str, operation_id: str, status: str, database_url: str | None) -> None:
    """Change the EMSI status: NST, IPR, PAU, COM, CANCLD (journaled)."""
    with _open(data_dir, database_url) as node:
        doc = node.set_operation_status(actor=_as_user(node, as_user), operation_id=operation_id,
                                        status=status.upper())
    click.echo(f"operation {doc['id']} is {doc['status']}")


@operation.command("journal")
@DATA
@AS_USER
@click.argument("operation_id")
@click.argument("text", required=False)
@click.option("--kind", type=click.Choice(["note", "decision"]), default="note", show_default=True)
@DATABASE_URL
def operation_journal(data_dir: Path, as_user: str, operation_id: str, text: str | None, kind: str,
                      database_url: str | None) -> None:
    """Write TEXT in the journal as this node's country; without TEXT, list the journal."""
    from .schemas import JournalIn

    with _open(data_dir, database_url) as node:
        actor = _as_user(node, as_user)
        if text is None:
            for line in node.journal(viewer=actor, operation_id=operation_id):
                what = line["text"] or ", ".join(f"{k}={v}" for k, v in sorted(line["details"].items()))
                click.echo(f"{line['at']}\t{line['country']}\t{line['author']}\t{line['kind']}\t{what}")
            return
        line = node.write_journal(actor=actor, operation_id=operation_id,
                                  spec=JournalIn.model_validate({"kind": kind, "text": text}))
    click.echo(f"journal line {line['id']} written ({line['country']}, {line['kind']})")


@operation.command("export")
@DATA
@AS_USER
@click.argument("operation_id")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@DATABASE_URL
def operation_export(data_dir: Path, as_user: str, operation_id: str, output: TextIO,
                     database_url: str | None) -> None:
    """The operation as an EMSI message (ISO/TR 22351, JSON) of what the user may see."""
    with _open(data_dir, database_url) as node:
        doc = node.operation_emsi(viewer=_as_user(node, as_user), operation_id=operation_id)
    output.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    click.echo(f"exported operation {operation_id} as EMSI ({len(doc['MISSION'])} missions, "
               f"{len(doc['RESOURCE'])} resources, mode {doc['CONTEXT']['MODE']})", err=True)


def main() -> None:
    # Whatever this process creates (database files, certificates, exports) is private to
    # the account unless a file is made public on purpose.
    os.umask(datadir.UMASK)
    try:
        # Without standalone mode click returns (not raises) the code of `ctx.exit(n)`.
        code = cli.main(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except FossatumError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ValidationError as exc:
        click.echo(f"error: {_pydantic_line(exc)}", err=True)
        sys.exit(1)
    except json.JSONDecodeError as exc:
        click.echo(f"error: malformed JSON: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
