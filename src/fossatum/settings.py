"""Node settings: one table of name, default and help, read from `FOSSATUM_*` variables.

An unknown `FOSSATUM_` variable or a malformed value stops start-up with one clear line;
`FOSSATUM_TEST_*` variables belong to the test suite (e.g. FOSSATUM_TEST_DATABASE_URL) and are
not node settings.
docs/settings.md documents every setting (a test checks it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import FossatumError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    minimum: int | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("data", "./fossatum-data", "Data folder of the node (database and node key)."),
    Setting("database_url", "", "PostgreSQL (+PostGIS) database of the node, e.g. postgresql://fossatum@db:5432/fossatum; empty: SQLite in the data folder."),
    Setting("database_owner_url", "", "Role that owns the PostgreSQL tables and runs the migrations (granting database_url's role its rows); without a database name: database_url's. Empty: database_url's role migrates (and owns the tables)."),
    Setting("database_rls", "auto", "When database_url's role is a superuser, BYPASSRLS or owns the tables (row-level security would be no wall) — auto: without database_owner_url, migrate as that role and work as the role fossatum_node (SET ROLE), with a warning; enforce: refuse to start; warn: only log it (development)."),
    Setting("database_pool_size", 10, "PostgreSQL connections each API worker process keeps at most (its pool).", minimum=1),
    Setting("workers", 1, "API worker processes of `fossatum serve` (more than one needs PostgreSQL).", minimum=1),
    Setting("host", "127.0.0.1", "Address the HTTP server binds to."),
    Setting("port", 8000, "Port of the HTTP server.", minimum=1),
    Setting("max_body_bytes", 1_048_576, "Largest request body accepted, in bytes (larger: 413).", minimum=1024),
    Setting("session_hours", 12, "How long a login lasts (one shift), in hours.", minimum=1),
    Setting("login_free_failures", 5, "Failed logins allowed before each further one doubles a wait.", minimum=1),
    Setting("login_first_wait", 1, "Seconds of the first throttled wait after the free failures (then doubling).",
            minimum=1),
    Setting("page_max", 10_000, "Largest page size a client may ask for when listing reports.", minimum=10),
    Setting("sync_interval", 5, "Seconds between two federation rounds when no partner announced anything.", minimum=1),
    Setting("cot", "", "TAK listeners, comma-separated: tcp://, tls:// (CoT) and https:// (certificate enrolment), "
                       "e.g. tcp://127.0.0.1:8087; empty: off."),
    Setting("cot_max_event_bytes", 262_144, "Largest CoT event accepted from a device, in bytes.", minimum=1024),
    Setting("cot_queue", 5000, "Messages waiting for one device before the oldest are dropped (counted).", minimum=10),
    Setting("cot_auth_seconds", 10, "Seconds a new TAK connection has to send its auth message.", minimum=1),
    Setting("cot_idle_seconds", 300, "Seconds without a complete event before a TAK connection is closed.", minimum=5),
    Setting("cot_frame_seconds", 30, "Seconds a started event has to finish (slow senders are closed).", minimum=1),
    Setting("cot_write_seconds", 30, "Seconds a device may leave sent data unread before it is disconnected.", minimum=1),
    Setting("cot_report_scope", "national", "Audience of reports filed from TAK markers (agency or national)."),
    Setting("cot_unit_stale_minutes", 15, "Minutes after its last fix that a unit disappears from devices.", minimum=1),
    Setting("cot_report_stale_hours", 24, "Hours after its observation that a report disappears from devices.", minimum=1),
    Setting("cot_snapshot_max", 5000, "Most reports sent to a device when it connects (newest first).", minimum=10),
    Setting("trusted_proxies", "", "Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or "
                                   "networks, e.g. 10.0.0.5,192.168.7.0/24); empty: none, the peer's address counts."),
    Setting("tls", "off", "HTTPS for `fossatum serve`: auto — a certificate made by the node and bound to its key "
                          "(tls-auto.pem in the data folder), which partners check against the key they registered "
                          "(no CA needed); off — plain HTTP (only sensible on loopback or behind a TLS proxy)."),
    Setting("tls_cert", "", "Certificate (PEM, with its chain) for HTTPS issued by a CA, instead of tls=auto; "
                            "with tls_key. Partners register such a node with `partner add --tls-verify ca`."),
    Setting("tls_key", "", "Private key (PEM) of tls_cert."),
    Setting("tls_ca", "", "CA certificates (PEM) that partners registered with --tls-verify ca are checked "
                          "against; empty: the system's trust store."),
    Setting("four_eyes_release", False, "Four-eyes release: a report crosses the border only when released by a duty "
                                        "officer of its owner agency other than its author and its last editor "
                                        "(true/false)."),
    Setting("http_header_seconds", 10, "Seconds a connection to the API or enrolment port has for its TLS handshake and a request's head (slowloris).", minimum=1),
    Setting("http_body_seconds", 60, "Seconds a request's body has to arrive, from the end of its head.", minimum=1),
    Setting("http_idle_seconds", 5, "Seconds a kept-alive HTTP connection may wait for its next request.", minimum=1),
    Setting("http_per_address", 256, "Open connections one client address may hold on the API or enrolment port.", minimum=1),
    Setting("cot_per_address", 64, "Open TAK connections one client address may hold on a CoT listener (devices behind one NAT share one).", minimum=1),
)

_BY_NAME = {s.name: s for s in SETTINGS}
PREFIX = "FOSSATUM_"
TEST_PREFIX = "test_"


class SettingsError(FossatumError):
    pass


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then `FOSSATUM_*` variables, then explicit overrides (e.g. CLI options)."""
    environ = os.environ if environ is None else environ
    values = {s.name: s.default for s in SETTINGS}
    for key, raw in environ.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX):].lower()
        if name.startswith(TEST_PREFIX):
            continue
        if name not in _BY_NAME:
            raise SettingsError(f"unknown setting {key}; known: {', '.join(PREFIX + n.upper() for n in _BY_NAME)}")
        values[name] = _coerce(_BY_NAME[name], raw, key)
    for name, value in overrides.items():
        if value is not None:
            values[name] = _coerce(_BY_NAME[name], value, f"--{name.replace('_', '-')}")
    return Settings(values)


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _coerce(setting: Setting, raw: Any, origin: str) -> Any:
    if isinstance(setting.default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text not in _TRUE | _FALSE:
            raise SettingsError(f"{origin} must be true or false, got {raw!r}")
        return text in _TRUE
    if isinstance(setting.default, int):
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{origin} must be a whole number, got {raw!r}") from None
        if setting.minimum is not None and value < setting.minimum:
            raise SettingsError(f"{origin} must be at least {setting.minimum}, got {value}")
        return value
    return str(raw)
