"""The COP page end to end, in headless Chromium against a real three-node demo (issue 4)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import PASSWORD, ROOT, Demo, Page, shot

pytestmark = pytest.mark.slow


def assert_clean(rec: Page, demo: Demo) -> None:
    """No request leaves for any host but the node, and the console shows no error."""
    assert rec.requests, "no requests recorded"
    assert rec.foreign_requests(demo.url) == []
    assert rec.console_errors == []


def rendered_total(page: Any) -> int:
    """Reports drawn on the map: clusters count their members, single symbols count one."""
    return page.evaluate("""() => {
        let n = 0;
        document.querySelectorAll('#map .rep-cluster').forEach(e => n += Number(e.dataset.count || 0));
        return n + document.querySelectorAll('#map img.rep-sym').length;
    }""")


def file_report(page: Any, *, lat: float, lon: float, scope: str, description: str, type_: str = "armed_group_sighting") -> str:
    page.click("[data-testid=new-report]")
    form = page.locator("[data-testid=report-form]")
    form.wait_for()
    page.evaluate(f"location.hash = '#at/{lat}/{lon}/13'")
    page.wait_for_timeout(400)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # pick the point on the map
    assert form.locator("input[name=mgrs]").input_value() != ""
    form.locator("select[name=type]").select_option(type_)
    form.locator("input[name=size]").fill("5")
    form.locator("textarea[name=activity]").fill("moving west on foot")
    form.locator("select[name=grade_source]").select_option("B")
    form.locator("select[name=grade_info]").select_option("2")
    form.locator("select[name=impact]").select_option("high")
    form.locator("textarea[name=description]").fill(description)
    form.locator("select[name=scope]").select_option(scope)
    form.locator("select[name=tlp]").select_option("AMBER")
    form.locator("[data-testid=file-submit]").click()
    panel = page.locator("[data-testid=report-panel]")
    panel.wait_for(timeout=10_000)
    return panel.get_attribute("data-id")


def test_login_shows_the_demo_reports_on_the_map(open_page: Any, demo: Demo) -> None:
    rec = open_page("amira")
    page = rec.page
    since = (datetime.now(UTC) - timedelta(hours=24)).isoformat()
    expected = demo.api("GET", "/reports/count", "amira", params={"since": since}).json()["total"]
    page.wait_for_function("Number(document.querySelector('#map').dataset.rendered) > 0")
    shown = int(page.get_attribute("#map", "data-shown"))
    assert expected > 50
    assert abs(shown - expected) <= 2  # the page's window started a moment earlier
    page.evaluate("location.hash = '#at/33.5/9.5/6'")  # the whole strip, Libya included
    page.wait_for_timeout(500)
    assert rendered_total(page) == shown  # every report is on the map, as a symbol or in a cluster
    page.evaluate("location.hash = ''")
    # units (blue force), border sections, scale bar and cursor position in degrees and MGRS
    assert page.locator("#map img.unit-sym").count() > 0
    assert page.locator(".leaflet-control-scale-line").count() == 1
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    cursor = page.inner_text("[data-testid=cursor]")
    assert "," in cursor and "·" in cursor and cursor.split("·")[1].strip()[:3].isalnum()
    page.evaluate("location.hash = '#at/35.3/8.6/8'")
    page.wait_for_timeout(800)
    picture = shot(page, "cop-map")
    if os.environ.get("FOSSATUM_UPDATE_README_SHOT") == "1":  # refresh the README's screenshot on purpose only
        shutil.copy(picture, ROOT / "docs" / "cop.png")
    # zoomed in: single symbols with their type
    page.evaluate("location.hash = '#at/35.3/8.5/12'")
    page.wait_for_timeout(500)
    assert page.locator("#map img.rep-sym").count() > 0
    # open one: the panel shows every field, its audience plainly and its versions
    point = page.evaluate("""() => {
        const m = document.querySelector('#map').getBoundingClientRect();
        for (const e of document.querySelectorAll('#map img.rep-sym')) {
            const r = e.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
            if (x > m.x + 60 && x < m.right - 60 && y > m.y + 60 && y < m.bottom - 60 && document.elementFromPoint(x, y) === e) return [x, y];
        }
        return null;
    }""")
    assert point, "no report symbol clickable in view"
    page.mouse.click(*point)
    panel = page.locator("[data-testid=report-panel]")
    panel.wait_for()
    assert "visible to:" in panel.locator("[data-testid=visible-to]").inner_text()
    assert "TLP:" in panel.inner_text()
    page.wait_for_function("document.querySelectorAll('.versions li').length >= 1 && !document.querySelector('.versions').innerText.startsWith('…')")
    shot(page, "cop-report-panel")
    assert_clean(rec, demo)


def test_the_initial_picture_is_requested_once(open_page: Any, demo: Demo) -> None:
    # One catch-up path: when the live feed first answers, the page asks only for what changed
    # since it loaded (it used to load the whole picture a second time).
    rec = open_page("amira")
    rec.page.wait_for_timeout(1500)
    paths = [urlsplit(u) for u in rec.requests if "/api/v1/" in u]
    window = [u for u in paths if u.path == "/api/v1/reports" and "updated_since" not in u.query]
    assert len(window) == 1, window
    assert [u.path for u in paths].count("/api/v1/units") == 1
    assert [u.path for u in paths].count("/api/v1/sections") == 1
    assert_clean(rec, demo)


def test_the_controls_follow_the_store(open_page: Any, demo: Demo) -> None:
    """Filters, time window, playback, search, feed, triage and the report form, each through the store."""
    rec = open_page("amira")
    p = rec.page
    shown0 = int(p.get_attribute("#status", "data-shown"))
    p.keyboard.press("f")
    assert p.is_visible("[data-testid=filters]")
    p.locator("[data-filter=layer] input").first.check()
    p.wait_for_timeout(800)
    assert "1" in p.inner_text("#topbar button[aria-keyshortcuts=f]")
    shown1 = int(p.get_attribute("#status", "data-shown"))
    assert shown1 < shown0, (shown0, shown1)
    assert p.locator("[data-filter=layer] input").first.is_checked()
    p.click("#filters header button")
    p.wait_for_timeout(800)
    assert not p.locator("[data-filter=layer] input").first.is_checked()
    assert int(p.get_attribute("#status", "data-shown")) == shown0
    p.keyboard.press("Escape")
    assert not p.is_visible("[data-testid=filters]")
    p.keyboard.press("1")
    p.wait_for_timeout(800)
    assert p.get_attribute("[data-preset='6h']", "class") == "on"
    assert int(p.get_attribute("#status", "data-shown")) <= shown0
    p.keyboard.press("2")
    p.wait_for_timeout(500)
    p.click("[data-testid=play]")
    p.wait_for_timeout(1200)
    assert "⏸" in p.inner_text("#play")
    assert p.locator("#status .dot.play").count() == 1
    assert "–" in p.inner_text("#slider-label")
    p.click("[data-testid=play]")
    p.wait_for_timeout(800)
    assert "▶" in p.inner_text("#play")
    assert p.locator("#status .dot.live").count() == 1
    # search keeps focus while the query reloads
    p.click("[data-testid=search]")
    p.keyboard.type("zzzznotthere", delay=50)
    p.wait_for_timeout(1200)
    assert p.evaluate("document.activeElement.id") == "search"
    assert int(p.get_attribute("#status", "data-shown")) == 0
    p.fill("[data-testid=search]", "")
    p.wait_for_timeout(1200)
    p.keyboard.press("Escape")
    p.keyboard.press("c")
    assert p.is_visible("[data-testid=feed]")
    p.keyboard.press("c")
    assert not p.is_visible("[data-testid=feed]")
    p.keyboard.press("t")
    p.locator("[data-col=new]").wait_for()
    p.keyboard.press("Escape")
    assert not p.is_visible("[data-testid=triage]")
    p.keyboard.press("n")
    p.locator("[data-testid=report-form]").wait_for()
    box = p.locator("#map").bounding_box()
    p.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert p.locator("input[name=mgrs]").input_value() != ""
    p.fill("input[name=lat]", "35.1")
    p.fill("input[name=lon]", "8.5")
    p.locator("input[name=lon]").dispatch_event("change")
    assert p.locator("input[name=mgrs]").input_value().startswith("32S")
    p.keyboard.press("Escape")
    p.select_option("[data-testid=lang]", "fr")
    p.select_option("[data-testid=lang]", "en")
    assert_clean(rec, demo)


def test_filed_report_reaches_exactly_its_audience(open_page: Any, demo: Demo) -> None:
    amira = open_page("amira")            # TN national guard
    youssef = open_page("youssef")        # TN army: another agency of the same country
    lat, lon = 35.21, 8.41
    # Centred on where the national report will be, zoomed in far enough that no nearby demo
    # report can gather it into a cluster (a cluster is not an `img.rep-sym`).
    youssef.page.evaluate(f"location.hash = '#at/{lat + 0.004}/{lon + 0.004}/16'")

    agency_only = file_report(amira.page, lat=lat, lon=lon, scope="agency", description="agency-only test report")
    amira.page.locator(f"#map img.rep-sym[data-id='{agency_only}']").wait_for(timeout=5_000)
    shot(amira.page, "cop-filed-report")

    national = file_report(amira.page, lat=lat + 0.004, lon=lon + 0.004, scope="national", description="national test report")
    amira.page.locator(f"#map img.rep-sym[data-id='{national}']").wait_for(timeout=5_000)

    # the other agency's officer sees the national one appear by itself, and never the agency-only one
    youssef.page.locator(f"#map img.rep-sym[data-id='{national}']").wait_for(timeout=20_000)  # another page, maybe a loaded machine
    youssef.page.wait_for_timeout(1500)
    assert youssef.page.locator(f"#map img.rep-sym[data-id='{agency_only}']").count() == 0
    assert demo.api("GET", f"/reports/{agency_only}", "youssef").status_code == 404
    # the panel says who may see it
    amira.page.evaluate(f"location.hash = '#report/{agency_only}'")
    amira.page.wait_for_function(f"document.querySelector('[data-testid=report-panel]')?.dataset.id === '{agency_only}'")
    assert "TN-GN" in amira.page.inner_text("[data-testid=visible-to]")
    assert_clean(amira, demo)
    assert_clean(youssef, demo)


def test_a_link_to_a_place_opens_the_map_there(open_page: Any, demo: Demo) -> None:
    # The page frames the border strip when it starts; a link's jump made before the page's first
    # animation frame must not be undone by that framing (it was, when the framing was animated).
    page = open_page("youssef").page
    for _ in range(3):
        page.goto(demo.url + "/#at/35.214/8.414/16")
        page.wait_for_selector("#map[data-shown]", timeout=20_000)
        page.wait_for_timeout(800)
        assert page.inner_text(".leaflet-control-scale-line").endswith(" m")  # zoom 16: a scale in metres
        assert page.locator("#map .rep-cluster").count() == 0  # no clusters from zoom 12 up
        page.goto("about:blank")


def test_arabic_is_right_to_left(open_page: Any, demo: Demo) -> None:
    rec = open_page("amira")
    page = rec.page
    assert page.evaluate("document.dir") == "ltr"
    page.select_option("[data-testid=lang]", "ar")
    assert page.evaluate("document.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "ar"
    assert "بلاغ جديد" in page.inner_text("[data-testid=new-report]")
    # the layout mirrors: the zoom buttons move to the right-hand side
    zoom = page.locator(".leaflet-control-zoom").bounding_box()
    assert zoom["x"] > 1440 / 2
    # Arabic-Indic digits when the user prefers them
    page.select_option("[data-testid=digits]", "arab")
    page.wait_for_function("/[٠-٩]/.test(document.querySelector('[data-testid=status]').innerText)")
    shot(page, "cop-arabic")
    page.select_option("[data-testid=lang]", "fr")
    assert page.evaluate("document.dir") == "ltr"
    assert page.evaluate("localStorage.getItem('fossatum.lang')") == "fr"
    page.select_option("[data-testid=lang]", "en")
    assert_clean(rec, demo)


def test_urgent_flag_reaches_the_other_duty_officer(open_page: Any, demo: Demo) -> None:
    amira = open_page("amira")
    youssef = open_page("youssef")
    report = file_report(amira.page, lat=35.05, lon=8.33, scope="national", description="urgent test report")
    panel = amira.page.locator("[data-testid=report-panel]")
    panel.locator("input[data-act=urgent-note]").fill("group heading for the post")
    panel.locator("button[data-act=urgent]").click()
    alert = youssef.page.locator(f"[data-testid=alert][data-id='{report}']")
    alert.wait_for(timeout=20_000)  # another page: see the note above
    assert "group heading for the post" in alert.inner_text()
    shot(youssef.page, "cop-urgent-alert")
    # triage: the flagged report is in the "new" column of the queue, claimed it moves to "in progress"
    youssef.page.keyboard.press("Escape")
    amira.page.keyboard.press("Escape")
    amira.page.keyboard.press("t")
    card = amira.page.locator(f"[data-col=new] li.card[data-id='{report}']")
    card.wait_for(timeout=10_000)
    assert "urgent" in (card.get_attribute("class") or "")
    card.locator("button[data-act=claim]").click()
    amira.page.locator(f"[data-col=progress] li.card[data-id='{report}']").wait_for(timeout=5_000)
    shot(amira.page, "cop-triage")
    # validate in one step
    amira.page.locator(f"[data-col=progress] li.card[data-id='{report}'] button[data-act=validate]").click()
    amira.page.locator(f"[data-col=validated] li.card[data-id='{report}']").wait_for(timeout=5_000)
    assert demo.api("GET", f"/reports/{report}", "amira").json()["state"] == "validated"
    assert_clean(amira, demo)
    assert_clean(youssef, demo)


class TakDevice:
    """A field team's TAK device on the demo's gateway: a plain CoT-over-TCP client."""

    def __init__(self, demo: Demo, username: str, uid: str, callsign: str) -> None:
        import socket

        self.uid, self.callsign = uid, callsign
        self.sock = socket.create_connection(("127.0.0.1", demo.cot_port), timeout=10)
        self.sock.sendall(f'<auth><cot username="{username}" password="{PASSWORD}" uid="{uid}" '
                          f'callsign="{callsign}"/></auth>'.encode())

    def send(self, uid: str, type_: str, lat: float, lon: float, detail: str = "") -> None:
        from fossatum.cot.codec import event_xml

        now = datetime.now(UTC)
        self.sock.sendall(event_xml(uid=uid, type_=type_, time=now, stale=now + timedelta(minutes=5), lat=lat, lon=lon,
                                    how="m-g", detail=detail))

    def close(self) -> None:
        self.sock.close()


def test_a_field_alert_reaches_the_officer_live_and_not_the_foreign_liaison(open_page: Any, demo: Demo) -> None:
    amira = open_page("amira")            # TN duty officer
    karim = open_page("karim")            # the Algerian liaison officer at the Tunisian centre
    device = TakDevice(demo, "patrol.chaambi", "ANDROID-E2E-CHAAMBI", "FAUCON-E2E")
    uid = f"ANDROID-E2E-CHAAMBI-9-1-1-{datetime.now(UTC):%H%M%S%f}"
    lat, lon = 35.2211, 8.6502
    try:
        device.send(uid, "b-a-o-tbl", lat, lon, detail='<emergency type="911 Alert">FAUCON-E2E</emergency>'
                                                       "<remarks>under fire at the ridge</remarks>")
        shown = f"ANDROID-E2E-CHAAMBI/{uid}"  # the node namespaces an alert by its raising device
        banner = amira.page.locator(f"[data-testid=field-alert][data-uid='{shown}']")
        banner.wait_for(timeout=20_000)  # another page than the sender's: see the note above
        text = banner.inner_text()
        assert "911" in text and "FAUCON-E2E" in text and "under fire at the ridge" in text and "35.22" in text
        marker = amira.page.locator(f".field-alert-marker [data-uid='{shown}']")
        assert marker.count() == 1
        banner.click()  # centres the map on the alert
        amira.page.wait_for_timeout(600)
        box, spot = amira.page.locator("#map").bounding_box(), marker.bounding_box()
        assert abs(spot["x"] + spot["width"] / 2 - (box["x"] + box["width"] / 2)) < 30
        assert abs(spot["y"] + spot["height"] / 2 - (box["y"] + box["height"] / 2)) < 30
        shot(amira.page, "cop-field-alert")
        # GeoChat to the whole country lands in the feed
        chat = ('<__chat parent="RootContactGroup" groupOwner="false" messageId="e2e-1" chatroom="All Chat Rooms" '
                'id="All Chat Rooms" senderCallsign="FAUCON-E2E"/><remarks>need medevac at the ridge</remarks>')
        device.send("GeoChat.ANDROID-E2E-CHAAMBI.All Chat Rooms.e2e-1", "b-t-f", lat, lon, detail=chat)
        amira.page.locator("[data-testid=chat-unread]").wait_for(timeout=20_000)
        amira.page.click("[data-testid=chat-button]")
        message = amira.page.locator("[data-testid=feed] [data-testid=chat-message]", has_text="need medevac")
        message.wait_for(timeout=5_000)
        # Karim's page got neither: the node never sent them (a national alert and chat).
        karim.page.wait_for_timeout(1500)
        assert karim.page.locator("[data-testid=field-alert]").count() == 0
        assert karim.page.locator(".field-alert-marker").count() == 0
        karim.page.click("[data-testid=chat-button]")
        karim.page.locator("[data-testid=feed]").wait_for()
        assert "need medevac" not in karim.page.inner_text("[data-testid=feed]")
        assert uid not in demo.api("GET", "/alerts", "karim").text
        # cancelled on the device: it leaves the officer's page
        device.send(uid, "b-a-o-can", lat, lon, detail='<emergency cancel="true"/>')
        banner.wait_for(state="detached", timeout=20_000)
        assert marker.count() == 0
    finally:
        device.close()
    assert_clean(amira, demo)
    assert_clean(karim, demo)
