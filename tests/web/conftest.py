"""End-to-end fixtures for the COP page: a real three-node demo (`fossatum demo`) and headless
Chromium driven by Playwright for Python.

Chromium is the system one (`/usr/bin/chromium`, from apt); no browser is ever downloaded.
The tests skip, saying why, when Chromium, Playwright or the built page is missing — except
under CI=true, where that is an error.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "src" / "fossatum" / "web" / "dist"
CHROMIUM = os.environ.get("FOSSATUM_CHROMIUM", "/usr/bin/chromium")
ARTEFACTS = ROOT / "test-artefacts"
PASSWORD = "fossatum-demo"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--metrics-recording-only", "--no-default-browser-check", "--disable-domain-reliability",
]


def _why_skip() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (CI installs it: apt-get install -y chromium)"
    if not (DIST / "index.html").exists():
        return f"the COP page is not built ({DIST}); run: cd web && npm ci && npm run build"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright; never `playwright install`)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _why_skip()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        # CI installs Chromium and builds the page: a skip there would hide a broken set-up.
        raise pytest.UsageError(f"the COP end-to-end tests cannot run in CI: {reason}")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_ports(n: int) -> int:
    """A first port with the n-1 following ones free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65535:
            continue
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free run of ports")


@dataclass
class Demo:
    url: str                  # the Tunisian node, which serves the page
    urls: dict[str, str]
    proc: subprocess.Popen[bytes]
    cot_port: int             # the Tunisian node's TAK gateway (plain TCP, loopback)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = httpx.post(f"{self.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
            r.raise_for_status()
            self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def api(self, method: str, path: str, username: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v1{path}", headers={"authorization": f"Bearer {self.token(username)}"},
                             timeout=30, **kw)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    reason = _why_skip()
    if reason:
        pytest.skip(reason)
    data = tmp_path_factory.mktemp("webdemo")
    port = _free_ports(7)  # the pages, the nodes' TLS ports for each other (+3..+5), the TAK gateway
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOSSATUM_")}
    log = open(data / "demo.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "fossatum.cli", "demo", "--data", str(data / "d"), "--port", str(port),
                             "--cot", f"tcp://127.0.0.1:{port + 6}"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    urls = {c: f"http://127.0.0.1:{port + i}" for i, c in enumerate(("TUN", "DZA", "LBY"))}
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"fossatum demo exited: {(data / 'demo.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{urls['TUN']}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("fossatum demo did not come up within 180 s")
            time.sleep(0.5)
        yield Demo(url=urls["TUN"], urls=urls, proc=proc, cot_port=port + 6)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Page:
    """A logged-in page, with its network and console log recorded."""
    page: Any
    context: Any
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def foreign_requests(self, node_url: str) -> list[str]:
        allowed = urlsplit(node_url).netloc
        return [u for u in self.requests if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != allowed]


@pytest.fixture
def open_page(browser: Any, demo: Demo) -> Iterator[Callable[..., Page]]:
    pages: list[Page] = []

    def open_(username: str, *, lang: str = "en", viewport: tuple[int, int] = (1440, 900)) -> Page:
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="en-GB", bypass_csp=True,  # Playwright evaluates test predicates with eval
                                      service_workers="block")
        context.add_init_script(f"localStorage.setItem('fossatum.lang', '{lang}')")
        page = context.new_page()
        rec = Page(page=page, context=context)
        page.on("request", lambda r: rec.requests.append(r.url))
        page.on("websocket", lambda ws: rec.requests.append(ws.url))
        page.on("console", lambda m: rec.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: rec.console_errors.append(f"page error: {e}"))
        page.goto(demo.url + "/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_selector("#map[data-shown]", timeout=20_000)
        page.wait_for_function("document.querySelector('#status .dot.live') !== null", timeout=15_000)
        pages.append(rec)
        return rec

    yield open_
    for rec in pages:
        rec.context.close()


def shot(page: Any, name: str) -> Path:
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
