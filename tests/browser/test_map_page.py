"""The map page in a real Chromium under its real CSP. With tiles from a local test tile
server (another origin, which only this page's CSP admits for images), Leaflet draws a
keyboard-reachable marker per report whose popup links to the report, with no CSP violation;
with a tile server that cannot be reached, the map gives way to a message and the table
stays; without JavaScript the table is the page. axe-core finds no WCAG 2.2 A/AA violation
in any of these states. Screenshots go to test-artifacts/. The server-side rules (need to
know, counts, filters, the CSP header) are in tests/console_more/test_map_page.py.

These tests make their own browser contexts rather than using ``new_context``: its watch
counts any request to another host as a failure, and talking to a tile server on another
origin is the point here. The CSP and script-error watch is kept.
"""

from __future__ import annotations

import io
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.browser.axe import assert_accessible
from tests.browser.conftest import VIEWPORT, Shot
from tests.browser.live import LOOPBACK, LiveServer
from tests.factories import minimal_report, staff_token
from vigil.access import pages, signin
from vigil.access.models import User

EMAIL = "map.reader@example.org"
PLACES = [
    {"lat": 53.800755, "lon": -1.549077, "postcode": "LS1 4AP", "address": "1 Park Row"},
    {"lat": 53.808, "lon": -1.53, "postcode": "LS2 7HY"},
    {"lat": 53.79, "lon": -1.56, "description": "behind the bus station"},
]


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (256, 256), (221, 232, 221)).save(out, "PNG")
    return out.getvalue()


class TileServer:
    """A tile server on another loopback port: the same small PNG for every tile asked."""

    def __init__(self) -> None:
        tile = _png()
        self.asked: list[str] = []
        asked = self.asked

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(tile)))
                self.end_headers()
                self.wfile.write(tile)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.origin = f"http://{LOOPBACK}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tile_server() -> Iterator[TileServer]:
    server = TileServer()
    yield server
    server.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def references(live_server: LiveServer) -> list[str]:
    """Three located reports in the receiving hub, and a reader there."""
    staff_token(live_server.rt, EMAIL)
    made = []
    for i, where in enumerate(PLACES):
        text = f"Someone photographing the station's CCTV cameras, sighting {i + 1}."
        sent = httpx.post(
            live_server.url("/api/v1/reports"), json=minimal_report(description=text, where=where)
        )
        assert sent.status_code == 201, sent.text
        made.append(str(sent.json()["reference"]))
    return made


class Problems:
    """CSP violations and script errors seen by one context."""

    def __init__(self) -> None:
        self.csp: list[str] = []
        self.script: list[str] = []

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp.append(message.text)


def reader(
    browser: Browser, server: LiveServer, **options: Any
) -> tuple[BrowserContext, Page, Problems]:
    """A context holding the reader's staff session (as single sign-on would start one)."""

    def work(session: Session) -> str:
        user_id = session.scalar(select(User.id).where(User.email == EMAIL))
        assert user_id is not None
        return signin.start_signed_in_session(session, user_id)

    cookie = server.rt.db.write_sync(work)
    context = browser.new_context(
        base_url=server.base_url,
        locale="en-GB",
        viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
        **options,
    )
    context.set_default_timeout(10_000)
    context.add_cookies([{"name": pages.COOKIE, "value": cookie, "url": server.base_url}])
    problems = Problems()
    context.on("console", problems.on_console)
    context.on("weberror", lambda error: problems.script.append(str(error.error)))
    return context, context.new_page(), problems


def test_markers_are_drawn_over_tiles_from_the_configured_tile_server(
    browser: Browser,
    live_server: LiveServer,
    tile_server: TileServer,
    references: list[str],
    monkeypatch: pytest.MonkeyPatch,
    shot: Shot,
) -> None:
    monkeypatch.setattr(
        live_server.settings, "map_tile_url", tile_server.origin + "/{z}/{x}/{y}.png"
    )
    monkeypatch.setattr(live_server.settings, "map_tile_attribution", "Test tiles <synthetic>")
    context, page, problems = reader(browser, live_server)
    try:
        page.goto("/console/map")
        expect(page.locator("#map.leaflet-container")).to_be_visible()
        markers = page.locator("#map .leaflet-marker-icon")
        table = page.get_by_role("table", name="Reports with a place, newest first")
        for reference in references:
            expect(table.get_by_role("link", name=reference)).to_be_visible()
            # every report is on a marker (nearby ones share one, listed in its popup)
            expect(markers.and_(page.locator(f'[alt*="{reference}"]'))).to_have_count(1)
        expect(page.locator("#map .leaflet-tile-loaded").first).to_be_attached()
        assert tile_server.asked, "no tile was asked of the tile server"
        expect(page.get_by_text("The map needs JavaScript")).to_have_count(0)
        expect(page.locator("#map-unreachable")).to_be_hidden()
        expect(page.locator(".leaflet-control-attribution")).to_contain_text(
            "Test tiles <synthetic>"
        )
        assert markers.count() == markers.and_(page.locator("[tabindex='0']")).count()

        assert_accessible(page, "map with markers")

        # Keyboard: a marker takes focus, Enter opens its popup, whose link is the report's.
        newest = page.get_by_role("button", name=re.compile(references[-1]))
        newest.focus()
        expect(newest).to_be_focused()
        page.keyboard.press("Enter")
        link = page.locator(f'.leaflet-popup-content a[href="/console/reports/{references[-1]}"]')
        expect(link).to_be_visible()
        expect(page.locator(".leaflet-popup-content a").first).to_be_focused()
        expect(page.locator(".leaflet-popup-content")).to_contain_text("behind the bus station")
        shot(page, "map-with-a-popup-open")
        page.keyboard.press("Escape")
        expect(page.locator(".leaflet-popup")).to_have_count(0)
        expect(newest).to_be_focused()
        assert problems.csp == [] and problems.script == [], (problems.csp, problems.script)
    finally:
        context.close()


def test_unreachable_tiles_hide_the_map_and_say_so_and_the_table_stays(
    browser: Browser,
    live_server: LiveServer,
    references: list[str],
    monkeypatch: pytest.MonkeyPatch,
    shot: Shot,
) -> None:
    url = f"http://{LOOPBACK}:{closed_port()}/{{z}}/{{x}}/{{y}}.png"
    monkeypatch.setattr(live_server.settings, "map_tile_url", url)
    context, page, problems = reader(browser, live_server)
    try:
        page.goto("/console/map")
        expect(page.locator("#map-unreachable")).to_be_visible()
        expect(page.locator("#map-unreachable")).to_contain_text("Map tiles are unreachable")
        expect(page.locator("#map")).to_be_hidden()
        table = page.get_by_role("table", name="Reports with a place, newest first")
        expect(table).to_be_visible()
        for reference in references:
            expect(table.get_by_role("link", name=reference)).to_be_visible()
        assert_accessible(page, "map with unreachable tiles")
        shot(page, "tiles-unreachable")
        assert problems.csp == [] and problems.script == [], (problems.csp, problems.script)
    finally:
        context.close()


def test_without_javascript_the_table_is_the_page(
    browser: Browser,
    live_server: LiveServer,
    tile_server: TileServer,
    references: list[str],
    monkeypatch: pytest.MonkeyPatch,
    shot: Shot,
) -> None:
    monkeypatch.setattr(
        live_server.settings, "map_tile_url", tile_server.origin + "/{z}/{x}/{y}.png"
    )
    context, page, problems = reader(browser, live_server, java_script_enabled=False)
    try:
        page.goto("/console/map")
        expect(page.get_by_text("The map needs JavaScript.")).to_be_visible()
        expect(page.locator("#map")).to_be_hidden()
        table = page.get_by_role("table", name="Reports with a place, newest first")
        for reference in references:
            expect(table.get_by_role("link", name=reference)).to_be_visible()
        shot(page, "no-javascript")
        assert problems.csp == []
    finally:
        context.close()


def test_with_no_tile_server_configured_the_page_says_so(
    browser: Browser, live_server: LiveServer, references: list[str], shot: Shot
) -> None:
    assert live_server.settings.map_tile_url == ""
    context, page, problems = reader(browser, live_server)
    try:
        page.goto("/console/map")
        expect(page.locator("#map-not-configured")).to_contain_text("No map tiles are configured")
        expect(page.locator("#map")).to_have_count(0)
        expect(page.get_by_role("link", name=references[0])).to_be_visible()
        assert_accessible(page, "map with no tile server")
        shot(page, "no-tile-server")
        assert problems.csp == [] and problems.script == [], (problems.csp, problems.script)
    finally:
        context.close()
