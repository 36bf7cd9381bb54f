"""What every page with errors must do, checked the same way everywhere (GOV.UK pattern).

* the answer is 400 (or what the caller expects), the page is shown again, not a new one;
* the title starts "Error:" (in English), so screen reader users hear it first;
* the error summary lists exactly the expected problems, each linking to a field on the page,
  and each of those fields shows its inline error message;
* with JavaScript on, focus has moved to the error summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from playwright.sync_api import Page, expect
from playwright.sync_api import Response as PwResponse

FOCUSED_SUMMARY = (
    "() => !!document.activeElement && "
    "document.activeElement.classList.contains('govuk-error-summary')"
)


def js_enabled(page: Page) -> bool:
    """GOV.UK's inline script marks <body> when JavaScript runs."""
    return "govuk-frontend-supported" in (page.locator("body").get_attribute("class") or "")


def assert_error_page(
    page: Page,
    response: PwResponse | None,
    anchors: Sequence[str],
    *,
    status: int = 400,
    english: bool = True,
) -> None:
    """The page shows the errors for ``anchors`` (the ids the summary links to), in order."""
    assert response is not None, "the form did not load a new page"
    assert response.status == status, f"{page.url} answered {response.status}, not {status}"
    if english:
        expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    links = summary.locator(".govuk-error-summary__list a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs == [f"#{a}" for a in anchors], f"error summary links {hrefs} on {page.url}"
    for anchor in anchors:
        target = page.locator(f"[id='{anchor}']")
        expect(target, f"the summary links to #{anchor}, which is not on the page").to_have_count(1)
        group = page.locator(".govuk-form-group--error", has=target)
        expect(group.locator(".govuk-error-message").first).to_be_visible()
    for i in range(links.count()):
        assert links.nth(i).inner_text().strip(), "an error summary link has no text"
    if js_enabled(page):
        page.wait_for_function(FOCUSED_SUMMARY, timeout=5_000)
