"""Real-browser ground: one Vigil served over HTTP and one headless Chromium for all the
browser tests (a fresh browser context, so no cookies, for each test). They are marked slow.

Browser tests run on SQLite only: the database behaviour of every page is covered on both
engines by the server-side page tests; here the subject is what a person's browser does
(JavaScript on and off, keyboard, focus, CSP, accessibility).

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make browser``); nothing is ever
downloaded. Without it the tests are skipped with a visible reason, except under ``CI=true``
where a missing browser is a failure.

Every context is watched: a request to anywhere but the test server (a third-party asset),
a Content-Security-Policy violation, an uncaught script error or an asset that fails to load
fails the test at teardown, so the pages are checked under their real CSP on every step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    sync_playwright,
)

from tests.browser.live import LiveServer, browser_settings, migrate_sqlite, start_live_server

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1024, "height": 768}
IN_PAGE_REQUESTS = {"document", "xhr", "fetch"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)


# Package scope: the server and the browser are released after the last browser test, so
# the rest of the suite runs without them (and without Playwright's event loop).
@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The Vigil every browser test talks to, on a fresh migrated SQLite file."""
    root = tmp_path_factory.mktemp("browser-server")
    db_path = root / "vigil.db"
    migrate_sqlite(db_path)
    server = start_live_server(browser_settings(db_path, root / "var"))
    yield server
    server.stop()
    assert not server.errors, f"the live server failed: {server.errors!r}"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (run `make browser`: apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


class Watch:
    """What went wrong in a context that a page's own assertions would not notice."""

    def __init__(self, base_url: str) -> None:
        self.host = urlsplit(base_url).netloc
        self.foreign: list[str] = []
        self.csp: list[str] = []
        self.script_errors: list[str] = []
        self.broken: list[str] = []

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.script_errors.append(str(error.error)))

    def _on_request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in {"http", "https", "ws", "wss"} and parts.netloc != self.host:
            self.foreign.append(request.url)

    def _on_response(self, response: Response) -> None:
        # documents and the upload script's XMLHttpRequest may rightly be 400 (a form with
        # errors); a stylesheet, script, image or font never may
        if response.status >= 400 and response.request.resource_type not in IN_PAGE_REQUESTS:
            self.broken.append(f"{response.status} {response.url}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp.append(message.text)

    def problems(self) -> list[str]:
        found = [f"request to another host: {url}" for url in self.foreign]
        found += [f"CSP violation: {text}" for text in self.csp]
        found += [f"uncaught script error: {text}" for text in self.script_errors]
        found += [f"asset failed to load: {text}" for text in self.broken]
        return found


ContextFactory = Callable[..., BrowserContext]


@pytest.fixture
def new_context(browser: Browser, live_server: LiveServer) -> Iterator[ContextFactory]:
    """Make browser contexts (closed after the test): ``new_context(java_script_enabled=False)``.

    Each context starts with no cookies, uses British English and the server's base URL,
    and is watched for foreign requests, CSP violations and script errors.
    """
    made: list[tuple[BrowserContext, Watch]] = []

    def make(**options: Any) -> BrowserContext:
        settings: dict[str, Any] = {
            "base_url": live_server.base_url,
            "locale": "en-GB",
            "viewport": VIEWPORT,
            "service_workers": "block",
        }
        settings.update(options)
        context = browser.new_context(**settings)
        context.set_default_timeout(10_000)
        watch = Watch(settings["base_url"])
        watch.attach(context)
        made.append((context, watch))
        return context

    yield make
    problems: list[str] = []
    for context, watch in made:
        problems += watch.problems()
        context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


@pytest.fixture
def page(new_context: ContextFactory) -> Page:
    """A page in a fresh JavaScript-on context."""
    return new_context().new_page()


Shot = Callable[[Page, str], Path]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """``shot(page, "step")`` saves a full-page screenshot as
    ``test-artifacts/<module>__<test>__<nn>-<step>.png`` (numbered in the order taken)."""
    ARTIFACTS.mkdir(exist_ok=True)
    module = Path(str(request.node.fspath)).stem
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    taken = 0

    def take(target: Page, step: str) -> Path:
        nonlocal taken
        taken += 1
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", step).strip("-")
        path = ARTIFACTS / f"{module}__{test}__{taken:02d}-{name}.png"
        target.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A small synthetic JPEG photo (a gradient), as a phone camera would upload."""
    from PIL import Image

    path = tmp_path / "station-photo.jpg"
    image = Image.linear_gradient("L").resize((320, 240)).convert("RGB")
    image.save(path, "JPEG", quality=80)
    return path
