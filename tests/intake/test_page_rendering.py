"""The public pages render the same HTML whether GOV.UK's components come from the kept
shapes of vigil.web.components or straight from the macros: every journey page, the thread,
an error page, in English and Welsh, with answers full of markup, quotes, line breaks and
Welsh letters, on SQLite and PostgreSQL. And nothing the visitor typed is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from vigil.intake import journey_guard
from vigil.web import templating
from vigil.web.runtime import Runtime

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
MARKER = "QUOKKA"
TRICKY = f"{MARKER} <b>bold</b> & \"double\" 'single' – ŵ ŷ 👀 {{{{ 7*7 }}}} %(n)s"
LINES = f"{TRICKY}\nsecond line\n\nthird paragraph after a blank line"
ANSWERS: dict[str, list[dict[str, str]]] = {
    "/report/what": [{"kind": "vehicle", "description": LINES}],
    "/report/when": [{"when": "date", "description": LINES}],
    "/report/when-date": [
        {"date-day": "14", "date-month": "3", "date-year": "2025", "time": "14:30"}
    ],
    "/report/where": [{"address": LINES, "postcode": "ls6 2qt", "description": TRICKY}],
    "/report/people": [{"add": "yes"}, {"add": "no"}],
    "/report/people/add": [
        {"name": TRICKY, "age": "30s", "appearance": LINES, "clothing": TRICKY, "behaviour": LINES}
    ],
    "/report/vehicles": [{"add": "yes"}, {"add": "no"}],
    "/report/vehicles/add": [{"registration": "AB12 CDE", "make": TRICKY, "colour": "white"}],
    "/report/online": [
        {"rows": "1", "url-1": 'https://example.org/a?b=<c>&d="e"', "where-1": TRICKY}
    ],
    "/report/files": [{"action": "continue"}],
    "/report/about-you": [{"choice": "contact"}],
    "/report/contact": [
        {
            "name": TRICKY,
            "phone": "07700 900123",
            "email": "jo@example.org",
            "contact_preference": LINES,
        }
    ],
    "/online/links": [
        {"rows": "1", "url-1": "https://example.org/v/1?x=<y>", "action": "continue"}
    ],
    "/online/platform": [{"platform": "video", "name": TRICKY}],
    "/online/shows": [{"description": LINES}],
    "/online/about-you": [{"choice": "anonymous"}],
}
ITEM_PAGES = [
    "/report/people/1",
    "/report/people/1/remove",
    "/report/vehicles/1",
    "/report/vehicles/1/remove",
    "/report/where?return=check",
    "/online/links?rows=3",
]


@pytest.fixture
def visitor(client: TestClient, rt: Runtime) -> Iterator[TestClient]:
    rt.settings.form_min_fill_s = 0
    journey_guard.forget_answers()
    templating.components.clear()
    yield client
    journey_guard.forget_answers()


def token(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[-1000:]
    return found.group(1)


def walk(client: TestClient, start: str, stop: str) -> list[str]:
    """Answer each page from ``start`` until ``stop``; the pages seen."""
    seen: list[str] = []
    used: dict[str, int] = {}
    path = start
    for _ in range(40):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 200, (path, page.status_code)
        seen.append(path)
        if path == stop:
            return seen
        answers = ANSWERS[path]
        data = dict(answers[min(used.get(path, 0), len(answers) - 1)])
        used[path] = used.get(path, 0) + 1
        sent = client.post(path, data={**data, "csrf_token": token(page)}, follow_redirects=False)
        assert sent.status_code == 303, (path, sent.status_code, sent.text[-2000:])
        path = sent.headers["location"].split("#")[0]
    raise AssertionError(f"{start} did not reach {stop}")


def both_ways(client: TestClient, monkeypatch: pytest.MonkeyPatch, path: str) -> tuple[str, str]:
    """The page through the kept shapes, then straight from the macros."""
    kept = client.get(path, follow_redirects=False)
    monkeypatch.setattr(templating.components, "enabled", False)
    direct = client.get(path, follow_redirects=False)
    monkeypatch.setattr(templating.components, "enabled", True)
    assert kept.status_code == direct.status_code == 200, (path, kept.status_code)
    return kept.text, direct.text


def test_every_journey_page_renders_as_the_macros_would_with_awkward_answers(
    visitor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = walk(visitor, "/report/what", "/report/check")
    pages += walk(visitor, "/online/links", "/online/check")
    pages += ITEM_PAGES
    for lang in ("en", "cy"):
        visitor.get(f"/?lang={lang}")
        for path in dict.fromkeys(pages):
            kept, direct = both_ways(visitor, monkeypatch, path)
            assert kept == direct, (lang, path)
    check = visitor.get("/report/check").text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;double&#34;" in check  # escaped, once
    assert "<b>bold</b>" not in check
    assert templating.components.hits > 0
    assert MARKER not in repr(templating.components.shapes)


def test_a_page_shown_again_with_errors_renders_as_the_macros_would(
    visitor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    walk(visitor, "/report/what", "/report/when")
    form = visitor.get("/report/where")
    data = {"address": LINES, "postcode": f"not a postcode {MARKER}", "csrf_token": token(form)}
    kept = visitor.post("/report/where", data=data)
    monkeypatch.setattr(templating.components, "enabled", False)
    direct = visitor.post("/report/where", data=data)
    assert kept.status_code == direct.status_code == 400
    assert kept.text == direct.text
    assert MARKER in kept.text
    assert MARKER not in repr(templating.components.shapes)


def test_the_follow_up_thread_renders_as_the_macros_would(
    visitor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = visitor.post(
        "/api/v1/reports", json={"kind": "behaviour", "description": "Someone photographing CCTV."}
    ).json()
    form = visitor.get("/follow-up")
    signed = visitor.post(
        "/follow-up",
        data={
            "csrf_token": token(form),
            "reference": accepted["reference"],
            "code": accepted["followup_code"],
        },
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/follow-up/thread"
    thread = visitor.get("/follow-up/thread")
    sent = visitor.post(
        "/follow-up/thread",
        data={"csrf_token": token(thread), "text": LINES},
        files=[("files", ("", b"", "application/octet-stream"))],
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text[-2000:]
    for lang in ("en", "cy"):
        visitor.get(f"/follow-up/thread?lang={lang}")
        kept, direct = both_ways(visitor, monkeypatch, "/follow-up/thread")
        assert kept == direct, lang
        assert MARKER in kept
    assert accepted["reference"] not in repr(templating.components.shapes)
    assert MARKER not in repr(templating.components.shapes)
