"""HTML in every text of every object kind stays text on every path of the page (finding 15).

A border section named `<img …><form action=//evil…>` was put into the map tooltip as HTML; the
old CSP (a `<meta>` tag) let the styled fake form through. Here every text field of reports
(own and a partner's), units (registered, a partner's, and a TAK device's callsign), sections
(own and a partner's, arriving by federation), field alerts and chat carries markup, and the
page is walked in real Chromium with the node's own Content-Security-Policy in force (no
`bypass_csp`): map tooltips and popups, report panel and versions, triage cards, the urgent
alert, the field-alert banner and marker, the chat feed. A MutationObserver installed before the
page's own scripts records every element ever created from the markup, and every CSP violation.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import httpx
import pytest

from .conftest import PASSWORD, Demo

pytestmark = pytest.mark.slow

RUN = datetime.now(UTC).strftime("%H%M%S")


def html(tag: str) -> str:
    """Markup that, parsed as HTML, creates elements marked `data-inj` (and would post a form off-site)."""
    return (f'<b data-inj="{tag}" style="position:fixed">{tag}</b><img src=x data-inj="{tag}">'
            f'<form action=//evil.example data-inj="{tag}"></form>')


WATCH = """
window.__inj = []; window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) {
    if (n.nodeType !== 1) continue;
    const found = n.matches('[data-inj]') ? [n] : [];
    found.push(...n.querySelectorAll('[data-inj]'));
    for (const e of found) window.__inj.push(`${e.tagName} ${e.getAttribute('data-inj')}`);
  }
}).observe(document, { childList: true, subtree: true });
"""


def api(demo: Demo, country: str, method: str, path: str, username: str, **kw: Any) -> httpx.Response:
    base = demo.urls[country]
    token = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
    token.raise_for_status()
    r = httpx.request(method, f"{base}/api/v1{path}", headers={"authorization": f"Bearer {token.json()['access_token']}"},
                      timeout=30, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r


def square(lat: float, lon: float, d: float = 0.03) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                                                [lon - d, lat + d], [lon - d, lat - d]]]}


def report_body(tag: str, lat: float, lon: float, scope: str) -> dict[str, Any]:
    return {"type": "armed_group_sighting", "location": {"lat": lat, "lon": lon}, "uncertainty_m": 50,
            "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "salute": {"size": html(f"{tag}-size"), "activity": html(f"{tag}-activity"), "unit": html(f"{tag}-unit"),
                       "equipment": html(f"{tag}-equipment")},
            "reaction": html(f"{tag}-reaction"), "description": html(f"{tag}-description"),
            "audience": {"scope": scope}, "tlp": "GREEN"}


class Device:
    """A TAK device on the demo's gateway whose callsign, alert and chat texts carry markup."""

    def __init__(self, demo: Demo, username: str, uid: str, callsign: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", demo.cot_port), timeout=10)
        self.sock.sendall(f"<auth><cot username={quoteattr(username)} password={quoteattr(PASSWORD)} uid={quoteattr(uid)} "
                          f"callsign={quoteattr(callsign)}/></auth>".encode())

    def send(self, uid: str, type_: str, lat: float, lon: float, detail: str) -> None:
        from fossatum.cot.codec import event_xml

        now = datetime.now(UTC)
        self.sock.sendall(event_xml(uid=uid, type_=type_, time=now, stale=now + timedelta(minutes=5), lat=lat, lon=lon,
                                    how="m-g", detail=detail))

    def close(self) -> None:
        self.sock.close()


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture
def planted(demo: Demo) -> Iterator[dict[str, Any]]:
    """Every object kind with markup in every text field, on the Tunisian node (some from Algeria)."""
    ids: dict[str, Any] = {}
    # sections: one of Tunisia's, one of Algeria's that reaches Tunisia by federation
    ids["section_tun"] = f"inj-tun-{RUN}"
    api(demo, "TUN", "POST", "/sections", "admin", json={
        "id": ids["section_tun"], "name": html("sec-tun-name"), "terrain": html("sec-tun-terrain"),
        "geometry": square(36.30, 9.60), "impact": "medium", "audience": {"scope": "all_partners"}})
    api(demo, "TUN", "POST", f"/sections/{ids['section_tun']}/impact", "amira",
        json={"impact": "high", "reason": html("sec-tun-reason")})
    ids["section_dza"] = f"inj-dza-{RUN}"
    api(demo, "DZA", "POST", "/sections", "admin.dza", json={
        "id": ids["section_dza"], "name": html("sec-dza-name"), "terrain": html("sec-dza-terrain"),
        "geometry": square(36.30, 9.80), "impact": "low", "audience": {"scope": "all_partners"}})
    api(demo, "DZA", "POST", f"/sections/{ids['section_dza']}/impact", "nadia",
        json={"impact": "critical", "reason": html("sec-dza-reason")})
    # units: one of Tunisia's, one of Algeria's (replicated)
    ids["unit_tun"] = f"inj-unit-tun-{RUN}"
    api(demo, "TUN", "POST", "/units", "admin", json={
        "id": ids["unit_tun"], "name": html("unit-tun-name"), "callsign": html("unit-tun-call"), "kind": "patrol",
        "agency": "TN-GN", "location": {"lat": 36.10, "lon": 9.60}})
    ids["unit_dza"] = f"inj-unit-dza-{RUN}"
    api(demo, "DZA", "POST", "/units", "admin.dza", json={
        "id": ids["unit_dza"], "name": html("unit-dza-name"), "callsign": html("unit-dza-call"), "kind": "patrol",
        "agency": "DZ-GN", "location": {"lat": 36.10, "lon": 9.80}, "audience": {"scope": "all_partners"}})
    # reports: returned (reason), closed (reason), urgent (note), and an Algerian one released to Tunisia
    ids["report_returned"] = api(demo, "TUN", "POST", "/reports", "amira", json=report_body("rep-ret", 35.95, 9.55, "national")).json()["id"]
    api(demo, "TUN", "POST", f"/reports/{ids['report_returned']}/return", "amira", json={"reason": html("rep-ret-reason")})
    ids["report_closed"] = api(demo, "TUN", "POST", "/reports", "amira", json=report_body("rep-close", 35.95, 9.65, "national")).json()["id"]
    api(demo, "TUN", "POST", f"/reports/{ids['report_closed']}/validate", "amira")
    api(demo, "TUN", "POST", f"/reports/{ids['report_closed']}/close", "amira", json={"reason": html("rep-close-reason")})
    ids["report_urgent"] = api(demo, "TUN", "POST", "/reports", "amira", json=report_body("rep-urg", 35.95, 9.75, "national")).json()["id"]
    api(demo, "TUN", "POST", f"/reports/{ids['report_urgent']}/urgent", "amira", json={"urgent": True, "note": html("rep-urg-note")})
    ids["report_dza"] = api(demo, "DZA", "POST", "/reports", "nadia", json=report_body("rep-dza", 35.90, 8.30, "all_partners")).json()["id"]
    api(demo, "DZA", "POST", f"/reports/{ids['report_dza']}/validate", "nadia")
    # what Algeria sent has arrived
    for kind, key in (("sections", "section_dza"), ("units", "unit_dza")):
        wait_until(f"the Algerian {kind} at the Tunisian node",
                   lambda: ids[key] in api(demo, "TUN", "GET", f"/{kind}", "amira").text)  # noqa: B023 (called before the loop moves on)
    wait_until("the Algerian report at the Tunisian node",
               lambda: httpx.get(f"{demo.url}/api/v1/reports/{ids['report_dza']}", timeout=10,
                                 headers={"authorization": f"Bearer {demo.token('amira')}"}).status_code == 200)
    yield ids


def open_hardened(browser: Any, demo: Demo, username: str) -> tuple[Any, Any, list[str]]:
    """A logged-in page with the node's CSP in force and the injection watch installed first."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB", service_workers="block")
    context.add_init_script("localStorage.setItem('fossatum.lang', 'en')")
    context.add_init_script(WATCH)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(demo.url + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.locator("#map[data-shown]").wait_for(timeout=20_000)
    page.locator("#status .dot.live").wait_for(timeout=15_000)
    return context, page, requests


def injected(page: Any) -> list[str]:
    return page.evaluate("() => window.__inj")


def go(page: Any, lat: float, lon: float, zoom: int = 13) -> None:
    page.evaluate(f"() => {{ location.hash = '#at/{lat}/{lon}/{zoom}'; }}")
    page.wait_for_timeout(700)


def map_centre(page: Any) -> tuple[float, float]:
    box = page.locator("#map").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def literal(tag: str) -> str:
    """How the markup reads when shown as the text it is."""
    return f'<b data-inj="{tag}"'


def test_markup_in_every_text_of_every_object_stays_text(browser: Any, demo: Demo, planted: dict[str, Any]) -> None:
    device_uid = f"ANDROID-INJ-{RUN}"
    device = Device(demo, "patrol.chaambi", device_uid, html("dev-call"))
    try:
        # raised and said before the page opens: the page loads them (GET /alerts, /chat) and
        # draws them with the same code as when the websocket brings them
        device.send(f"{device_uid}-9-1-1", "b-a-o-tbl", 36.20, 9.70,
                    f"<contact callsign={quoteattr(html('alert-call'))}/><emergency type=\"911 Alert\">{escape(html('alert-call'))}"
                    f"</emergency><remarks>{escape(html('alert-text'))}</remarks>")
        room = html("chat-room")
        device.send(f"GeoChat.{device_uid}.room.inj-1", "b-t-f", 36.20, 9.70,
                    f"<__chat parent=\"RootContactGroup\" groupOwner=\"false\" messageId=\"inj-1\" chatroom={quoteattr(room)} "
                    f"id={quoteattr(room)} senderCallsign={quoteattr(html('chat-call'))}/>"
                    f"<remarks>{escape(html('chat-text'))}</remarks>")
        wait_until("the field alert and the chat message at the node",
                   lambda: "alert-text" in api(demo, "TUN", "GET", "/alerts", "amira").text
                   and "chat-text" in api(demo, "TUN", "GET", "/chat", "amira").text, timeout=30)
    finally:
        device.close()
    context, page, requests = open_hardened(browser, demo, "amira")
    try:
        # the field alert: banner and map marker with its tooltip
        banner = page.locator("[data-testid=field-alert]", has_text="alert-text")  # the node namespaces the uid
        banner.wait_for(timeout=20_000)
        assert literal("alert-text") in banner.inner_text()
        page.locator(f".field-alert-marker [data-uid='{banner.get_attribute('data-uid')}']").hover()
        page.locator("[data-testid=alert-tip]").wait_for(timeout=5_000)
        assert literal("alert-text") in page.inner_text("[data-testid=alert-tip]")
        # the chat feed
        page.click("[data-testid=chat-button]")
        message = page.locator("[data-testid=feed] [data-testid=chat-message]", has_text="chat-text")
        message.wait_for(timeout=5_000)
        assert literal("chat-text") in message.inner_text() and literal("chat-room") in message.inner_text()
        page.keyboard.press("Escape")
        # sections: tooltip on hover, popup on click, for Tunisia's and Algeria's
        for key, lon in (("section_tun", 9.60), ("section_dza", 9.80)):
            tag = "sec-tun" if key == "section_tun" else "sec-dza"
            go(page, 36.30, lon)
            x, y = map_centre(page)
            page.mouse.move(x - 5, y - 5)
            page.mouse.move(x, y)
            tip = page.locator(".leaflet-tooltip-pane .leaflet-tooltip", has_text=f"{tag}-name")
            tip.wait_for(timeout=5_000)
            assert literal(f"{tag}-name") in tip.inner_text()
            page.mouse.click(x, y)
            pop = page.locator("[data-testid=section-popup]")
            pop.wait_for(timeout=5_000)
            text = pop.inner_text()
            assert literal(f"{tag}-name") in text
            if key == "section_tun":  # a partner's impact reason is not shown to this node's users (finding 12)
                assert literal(f"{tag}-reason") in text
            page.keyboard.press("Escape")
            pop.wait_for(state="detached", timeout=5_000)
        # units: the tooltip of Tunisia's, Algeria's, and of the TAK device's own unit
        for tag, lon in (("unit-tun", 9.60), ("unit-dza", 9.80)):
            go(page, 36.10, lon)
            x, y = map_centre(page)
            page.mouse.move(x - 30, y - 30)
            page.mouse.move(x, y - 3)
            tip = page.locator("[data-testid=unit-tip]", has_text=f"{tag}-name")
            tip.wait_for(timeout=5_000)
            assert literal(f"{tag}-call") in tip.inner_text() and literal(f"{tag}-name") in tip.inner_text()
        # the report panel (every field, the versions) of each report, a partner's included
        for key, tag in (("report_returned", "rep-ret"), ("report_closed", "rep-close"), ("report_urgent", "rep-urg"),
                         ("report_dza", "rep-dza")):
            rid = planted[key]
            page.evaluate(f"() => {{ location.hash = '#report/{rid}'; }}")
            panel = page.locator(f"[data-testid=report-panel][data-id='{rid}']")
            panel.wait_for(timeout=10_000)
            page.locator(f"[data-testid=report-panel][data-id='{rid}'] .versions li >> nth=0").wait_for(timeout=10_000)
            text = panel.inner_text()
            for field in ("description", "reaction", "activity", "unit", "equipment", "size"):
                assert literal(f"{tag}-{field}") in text, (key, field)
            page.keyboard.press("Escape")
        # triage: the returned reason and the urgent note on the cards
        page.keyboard.press("t")
        page.locator(f"[data-testid=triage] li.card[data-id='{planted['report_returned']}']").wait_for(timeout=10_000)
        triage = page.inner_text("[data-testid=triage]")
        assert literal("rep-ret-reason") in triage and literal("rep-urg-note") in triage
        page.keyboard.press("Escape")
        # the urgent alert, raised while the page is open
        api(demo, "TUN", "POST", f"/reports/{planted['report_closed']}/urgent", "amira",
            json={"urgent": True, "note": html("alert-note")})
        alert = page.locator(f"[data-testid=alert][data-id='{planted['report_closed']}']")
        alert.wait_for(timeout=20_000)
        assert literal("alert-note") in alert.inner_text()
        page.wait_for_timeout(500)
        # nothing was ever parsed into an element, nothing was blocked, nothing left for another host
        assert injected(page) == []
        assert page.evaluate("() => window.__csp") == []
        assert page.locator("[data-inj]").count() == 0
        assert not [u for u in requests if "evil.example" in u or u.endswith("/x")]
    finally:
        context.close()


def test_the_watch_sees_markup_that_is_parsed(browser: Any, demo: Demo) -> None:
    """The observer the test above relies on does catch an element made from markup."""
    context = browser.new_context(service_workers="block")
    context.add_init_script(WATCH)
    page = context.new_page()
    try:
        page.goto(demo.url + "/")
        page.locator("form.login").wait_for()
        page.evaluate(f"() => {{ const d = document.createElement('div'); document.body.append(d); d.innerHTML = {html('probe')!r}; }}")
        page.wait_for_timeout(200)
        assert set(injected(page)) == {"B probe", "FORM probe", "IMG probe"}
        violations = page.evaluate("() => window.__csp")
        assert any("style-src" in v for v in violations), violations  # the node's policy refuses the inline style
    finally:
        context.close()


def test_the_page_cannot_be_framed(browser: Any, demo: Demo) -> None:
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    try:
        page.set_content(f'<iframe id=f src="{demo.url}/"></iframe>')
        page.wait_for_timeout(1500)
        frame = page.frame_locator("#f")
        assert frame.locator("form.login").count() == 0  # refused by frame-ancestors 'none' / X-Frame-Options
    finally:
        context.close()
