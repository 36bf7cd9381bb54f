"""The whole journey by keyboard alone (WCAG 2.1.1): Tab, Shift+Tab, arrows, Space, Enter
and typing. No mouse clicks and no ``fill()``: every field is reached by tabbing to it and
typed into, every radio chosen with the arrow keys or Space, every button pressed with Enter.
A control that cannot be reached by Tab fails the test with the page it is on.

Browser tests run on SQLite only; the server-side page tests cover both engines.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import FileChooser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import Shot
from tests.browser.journey import PRIMARY, expect_path, stored
from tests.browser.live import LiveServer

FOCUSED = "(selector) => !!document.activeElement && document.activeElement.matches(selector)"


def tab_to(page: Page, selector: str, *, backwards: bool = False, limit: int = 120) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(FOCUSED, selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the keyboard on {page.url}")


def press_to_go(page: Page, selector: str = PRIMARY, key: str = "Enter") -> None:
    """Tab to a link or button and press it; wait for the page it leads to."""
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press(key)


def open_file_chooser_by_keyboard(page: Page, attempts: int = 3) -> FileChooser:
    """Space on the focused file input opens the chooser; on a loaded machine the first
    press can land before Chromium is ready, so press again (still keyboard only)."""
    for attempt in range(attempts):
        try:
            with page.expect_file_chooser(timeout=5000) as chooser:
                page.keyboard.press("Space")
            return chooser.value
        except PlaywrightTimeoutError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def type_into(page: Page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def choose_radio(page: Page, name: str, value: str) -> None:
    """Tab into a radio group, then arrow down to the wanted option (arrows select)."""
    tab_to(page, f"input[type=radio][name='{name}']")
    for _ in range(12):
        if page.evaluate(FOCUSED, f"input[name='{name}'][value='{value}']"):
            page.keyboard.press("Space")
            expect(page.locator(f"input[name='{name}'][value='{value}']")).to_be_checked()
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no radio {name}={value} reached with the arrow keys on {page.url}")


def test_the_whole_journey_can_be_completed_by_keyboard_alone(
    page: Page, live_server: LiveServer, shot: Shot, photo: Path
) -> None:
    page.goto("/")
    press_to_go(page, "a.govuk-button--start")

    expect_path(page, "/report/what")
    choose_radio(page, "kind", "behaviour")
    type_into(page, "#description", "Someone filming the entrances of the stadium for an hour.")
    # changing one's mind: Shift+Tab back to the radios and pick another
    tab_to(page, "input[name=kind]:checked", backwards=True)
    page.keyboard.press("ArrowDown")
    expect(page.locator("input[name=kind][value=item]")).to_be_checked()
    shot(page, "what")
    press_to_go(page)

    expect_path(page, "/report/when")
    choose_radio(page, "when", "date")
    press_to_go(page)
    expect_path(page, "/report/when-date")
    type_into(page, "#date-day", "3")
    type_into(page, "#date-month", "4")
    type_into(page, "#date-year", "2025")
    type_into(page, "#time", "18:05")
    shot(page, "when")
    press_to_go(page)

    expect_path(page, "/report/where")
    type_into(page, "#postcode", "M1 1AE")
    press_to_go(page)

    expect_path(page, "/report/people")
    choose_radio(page, "add", "yes")
    press_to_go(page)
    expect_path(page, "/report/people/add")
    type_into(page, "#age", "About 40")
    type_into(page, "#clothing", "Dark jacket")
    press_to_go(page)
    expect_path(page, "/report/people")
    shot(page, "people")
    choose_radio(page, "add", "no")
    press_to_go(page)

    expect_path(page, "/report/vehicles")
    choose_radio(page, "add", "no")
    press_to_go(page)

    expect_path(page, "/report/online")
    type_into(page, "#url-1", "https://example.org/stadium-video")
    press_to_go(page, "main form button[name=action][value=continue]")

    expect_path(page, "/report/files")
    page.wait_for_load_state("load")  # GOV.UK Frontend has enhanced the file input
    tab_to(page, "input#files")
    open_file_chooser_by_keyboard(page).set_files(str(photo))
    tab_to(page, "main form button[name=action][value=upload]")
    page.keyboard.press("Enter")
    expect(page.locator(".vigil-filename", has_text=photo.name)).to_have_count(1)
    shot(page, "files")
    press_to_go(page, "main form button[name=action][value=continue]")

    expect_path(page, "/report/about-you")
    choose_radio(page, "choice", "contact")
    press_to_go(page)
    expect_path(page, "/report/contact")
    type_into(page, "#name", "Sam Keys")
    type_into(page, "#email", "sam.keys@example.org")
    shot(page, "contact")
    press_to_go(page)

    expect_path(page, "/report/check")
    shot(page, "check")
    press_to_go(page)
    expect(page.locator(".govuk-panel--confirmation")).to_be_visible()
    shot(page, "confirmation")

    reference = page.locator(".vigil-reference").inner_text().strip()
    report = stored(live_server, reference)
    assert report.kind == "item"
    assert report.postcode == "M1 1AE"
    assert report.people == 1
    assert report.urls == ["https://example.org/stadium-video"]
    assert report.files == [(photo.name, "image/jpeg")]
    assert report.anonymous is False
