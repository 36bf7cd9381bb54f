"""The search page, on both databases: hits and facet counts only from what the reader may
see (another force's report is never shown, counted or hinted at), facets as links that
narrow the search, snippets escaped, a next page, and the permission enforced."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from fastapi.testclient import TestClient

from tests.console_more import Staff, html, page, staff
from tests.console_more import web as web  # fixture
from tests.search import OTHER_FORCE, move_report, submit, triage
from vigil.access.permissions import Role
from vigil.search import pages as search_pages
from vigil.web.runtime import Runtime

SEARCH = "/console/search"


def two_forces(web: TestClient, rt: Runtime) -> tuple[Staff, Staff, list[str], str]:
    hub = staff(rt, "analyst@example.org")
    other = staff(rt, "north@example.org", org=OTHER_FORCE, teams=("North",))
    where = {"postcode": "LS6 2QT", "address": "Mill Lane"}
    refs = [
        submit(web, "Two men filming the scaffolding by the depot.", where=where),
        submit(web, "A drone over the scaffolding at dusk."),
        submit(web, "Someone asked about scaffolding access at the stadium."),
    ]
    triage(rt, refs[0], "P1", "photography")
    triage(rt, refs[1], "P2", "drones")
    theirs = submit(web, "Scaffolding keys left in a van at the station.", where=where)
    triage(rt, theirs, "P1", "photography")
    move_report(rt, theirs, OTHER_FORCE)
    return hub, other, refs, theirs


def facet_counts(text: str, name: str) -> dict[str, int]:
    block = text.split(f'id="facet-{name}"', 1)[1].split("</ul>", 1)[0]
    found = re.findall(r">\s*([^<>()]+?) \((\d+)\)", block)
    return {value.strip(): int(n) for value, n in found}


def links(text: str, name: str) -> dict[str, str]:
    block = text.split(f'id="facet-{name}"', 1)[1].split("</ul>", 1)[0]
    found = re.findall(r'href="([^"]+)"[^>]*>([^<(]+) \(', block)
    return {value.strip(): htmllib.unescape(href) for href, value in found}


def test_hits_and_facets_count_only_what_the_reader_may_see(web: TestClient, rt: Runtime) -> None:
    hub, other, refs, theirs = two_forces(web, rt)
    mine = html(web, hub, SEARCH, q="scaffolding")
    assert all(ref in mine for ref in refs) and theirs not in mine
    assert "3 results" in mine
    assert facet_counts(mine, "type") == {"report": 3}
    assert facet_counts(mine, "priority") == {"P1": 1, "P2": 1, "Not yet scored": 1}
    assert facet_counts(mine, "place") == {"LS6": 1}  # the other force's LS6 is not counted
    assert OTHER_FORCE not in mine

    seen = html(web, other, SEARCH, q="scaffolding")
    assert theirs in seen and not any(ref in seen for ref in refs)
    assert "1 result" in seen and facet_counts(seen, "priority") == {"P1": 1}
    nothing = html(web, other, SEARCH, q="drone")
    assert "0 results" in nothing and "No results that you may see" in nothing


def test_a_facet_link_narrows_the_search_and_the_filter_can_be_removed(
    web: TestClient, rt: Runtime
) -> None:
    hub, _, refs, _ = two_forces(web, rt)
    first = html(web, hub, SEARCH, q="scaffolding")
    narrowed = html(web, hub, links(first, "priority")["P1"])
    assert refs[0] in narrowed and refs[1] not in narrowed and refs[2] not in narrowed
    assert "1 result" in narrowed and "Priority: P1" in narrowed
    drones = html(web, hub, links(first, "category")["Drones"])
    assert refs[1] in drones and refs[0] not in drones
    # the chosen value's link removes it again
    widened = html(web, hub, links(narrowed, "priority")["P1"])
    assert "3 results" in widened
    recent = html(web, hub, links(first, "time")["day"])
    assert "3 results" in recent


def test_snippets_are_escaped_with_the_matches_marked(web: TestClient, rt: Runtime) -> None:
    hub = staff(rt, "analyst@example.org")
    ref = submit(web, 'He wrote <script>alert("x")</script> on the scaffolding sign.')
    shown = html(web, hub, SEARCH, q="scaffolding")
    assert ref in shown
    assert "<script>alert" not in shown
    assert "&lt;script&gt;" in shown and "<mark>" in shown


def test_results_page_on_with_a_next_link(
    web: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_pages, "PAGE_SIZE", 2)
    hub = staff(rt, "analyst@example.org")
    refs = [submit(web, f"Scaffolding report number {i}.") for i in range(3)]
    first = html(web, hub, SEARCH, q="scaffolding")
    assert refs[2] in first and refs[1] in first and refs[0] not in first
    assert "3 results" in first
    href = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = html(web, hub, htmllib.unescape(href))
    assert refs[0] in second and refs[1] not in second and 'rel="next"' not in second


def test_a_search_that_cannot_run_says_why(web: TestClient, rt: Runtime) -> None:
    hub = staff(rt, "analyst@example.org")
    empty = html(web, hub, SEARCH)
    assert 'id="q"' in empty and "results" not in empty
    for params in (
        {"q": "", "priority": "P1"},
        {"q": "x", "priority": "P9"},
        {"q": "x", "time": "soon"},
    ):
        refused = page(web, hub, SEARCH, **params)
        assert refused.status_code == 400, params
        assert "There is a problem" in refused.text and 'href="#q"' in refused.text


def test_only_roles_that_search_may_open_the_page(web: TestClient, rt: Runtime) -> None:
    auditor = staff(rt, "auditor@example.org", Role.auditor)
    assert page(web, auditor, SEARCH, q="scaffolding").status_code == 403
    web.cookies.clear()
    assert web.get(SEARCH).headers["location"] == "/staff/sign-in"
