"""The search page, the supervisors' dashboard and the audit pages read in Welsh on a Welsh
page, on both databases: headings, labels, captions, facet and table words, durations and the
chain's verdict, while data (references, priorities, action codes, dates) stays as it is.

Each page is opened with ``?lang=cy`` (then remembered by the session) over real data, and
the test checks Welsh words are shown and their English is not. The Welsh here is the
translation handed in with the change; until it is merged into the catalogue these
assertions fail, showing the English the page said instead. The English pages are checked by
the other tests of these pages, which compare them with the JSON API.
"""

from __future__ import annotations

import ast
import html as htmllib
import inspect
import re

import pytest
from fastapi.testclient import TestClient

from tests.console_more import Staff, be, csrf, html, staff
from tests.console_more import web as web  # fixture
from tests.console_more.test_audit_pages import (
    LOG,
    VERIFY,
    auditor,
    shown_actions,
    tampered_log,
    viewed_case,
)
from tests.console_more.test_dashboard_page import DASHBOARD, supervisor
from tests.console_more.test_search_page import SEARCH, facet_counts, links
from tests.search import submit, triage
from vigil.audit import chain
from vigil.intake.schemas import ReportKind
from vigil.search import pages as search_pages
from vigil.search.schemas import RecordType
from vigil.stats import pages as stats_pages
from vigil.stats import services as stats_services
from vigil.triage.schemas import Outcome
from vigil.web.runtime import Runtime
from vigil.web.templating import gettext_for

WELSH = {"lang": "cy"}


def welsh_page(web: TestClient, who: Staff, path: str, **params: str) -> str:
    """The page's words as a reader sees them (entities undone, spacing folded)."""
    shown = html(web, who, path, **params)
    assert 'lang="cy"' in shown  # the page itself is the Welsh one
    return re.sub(r"\s+", " ", htmllib.unescape(shown))


def says_in_welsh(shown: str, pairs: dict[str, str]) -> None:
    """Each Welsh text is shown and its English is not."""
    for welsh, english in pairs.items():
        assert english not in shown, f"English shown on a Welsh page: {english!r}"
        assert welsh in shown, f"not shown in Welsh: {welsh!r}"


def table_rows(shown: str, caption: str) -> dict[str, int]:
    """A dashboard table's rows, found by its Welsh caption ("…: tabl")."""
    block = shown.split(f"{caption}: tabl<", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<th scope="row"[^>]*>([^<]+)</th>\s*<td[^>]*>(\d+)</td>', block)
    return {label: int(n) for label, n in rows}


# --- the search page -----------------------------------------------------------------------


def test_the_search_page_speaks_welsh_and_keeps_the_data(web: TestClient, rt: Runtime) -> None:
    analyst = staff(rt, "analyst@example.org")
    refs = [
        submit(web, "Two men filming the scaffolding by the depot."),
        submit(web, "A drone over the scaffolding at dusk."),
    ]
    triage(rt, refs[0], "P1", "photography")
    raw = html(web, analyst, SEARCH, q="scaffolding", **WELSH)
    shown = welsh_page(web, analyst, SEARCH, q="scaffolding")
    assert all(ref in shown for ref in refs)
    says_in_welsh(
        shown,
        {
            "Chwilio adroddiadau, endidau ac achosion": "Search reports, entities and cases",
            "Rhaid i bob gair gyfateb.": "All words must match.",
            "Culhau'r chwiliad": "Narrow the search",
            "Pa mor bell yn ôl": "How long ago",
            "2 canlyniad": "2 results",
            "Chwilio: scaffolding": "Search: scaffolding",
        },
    )
    # words among the facets are Welsh; priorities are data; categories keep the rules' labels
    assert facet_counts(raw, "type") == {"adroddiad": 2}
    assert facet_counts(raw, "priority") == {"P1": 1, "Heb ei sgorio eto": 1}
    assert facet_counts(raw, "time") == {"diwrnod": 2}
    assert facet_counts(raw, "category") == {"Photography": 1}
    assert f"adroddiad {refs[0]}" in shown and f"report {refs[0]}" not in shown

    narrowed = welsh_page(web, analyst, links(raw, "priority")["P1"])  # the session says cy
    says_in_welsh(
        narrowed,
        {
            "Hidlwyr sy'n weithredol:": "Filters in force:",
            "Blaenoriaeth: P1": "Priority: P1",
            "(dileu'r hidlydd hwn)": "(remove this filter)",
            "1 canlyniad": "1 result",
        },
    )
    nothing = welsh_page(web, analyst, SEARCH, q="zeppelin")
    says_in_welsh(
        nothing,
        {"Does dim canlyniadau y cewch eu gweld.": "No results that you may see."},
    )


# --- the dashboard -------------------------------------------------------------------------


def test_the_dashboard_names_its_figures_in_welsh(web: TestClient, rt: Runtime) -> None:
    boss = supervisor(rt)
    refs = [submit(web, f"Someone photographing the depot gates, visit {i}.") for i in range(2)]
    triage(rt, refs[0], "P1", "photography")
    shown = welsh_page(web, boss, DASHBOARD, **WELSH)
    says_in_welsh(
        shown,
        {
            "Grwpio adroddiadau dros amser fesul": "Group reports over time by",
            "Dangos y ffigurau": "Show figures",
            "Adroddiadau a ddaeth i law fesul wythnos": "Reports received by week",
            "Wythnos yn dechrau": "Week starting",
            "Adroddiadau fesul math: tabl": "Reports by kind: table",
            "Adroddiadau fesul blaenoriaeth: barrau": "Reports by priority: bars",
            "Rhybuddion fesul cyflwr": "Alerts by state",
            "Lefelau gwasanaeth": "Service levels",
            "Targed (munudau)": "Target (minutes)",
            "Amser rhwng dod i law a brysbennu": "Time from receipt to triage",
            "Canolrif": "Median",
            "Dim adroddiadau": "No reports",  # nothing triaged by the pipeline yet
            "Dim un wedi'i benderfynu": "None decided",
            "y cewch eu gweld:": "that you may see",
        },
    )
    assert '<strong id="reports-total">2</strong>' in shown
    # the labels that are words are Welsh; priorities are data; categories keep the rules' labels
    by_priority = table_rows(shown, "Adroddiadau fesul blaenoriaeth")
    assert by_priority["P1"] == 1 and by_priority["Heb ei sgorio eto"] == 1
    assert table_rows(shown, "Adroddiadau fesul deilliant")["heb benderfynu eto"] == 2
    assert "Dim camau pellach" in table_rows(shown, "Adroddiadau fesul deilliant")
    by_category = "Adroddiadau fesul categori ymddygiad (gall fod sawl un ar adroddiad)"
    assert table_rows(shown, by_category)["Photography"] == 1
    assert table_rows(shown, "Rhybuddion fesul cyflwr") == {
        "newydd": 0,
        "adolygwyd": 0,
        "gweithredwyd": 0,
        "diystyrwyd": 0,
    }
    assert ">pob un<" in shown and ">all<" not in shown

    by_day = welsh_page(web, boss, DASHBOARD, bucket="day")
    says_in_welsh(
        by_day,
        {"Adroddiadau a ddaeth i law fesul diwrnod": "Reports received by day"},
    )
    assert '<option value="day" selected>diwrnod</option>' in by_day


def test_durations_are_said_in_the_pages_language() -> None:
    english, welsh = gettext_for("en"), gettext_for("cy")
    cases = {
        None: ("No reports", "Dim adroddiadau"),
        30: ("30 s", "30 eiliad"),
        45 * 60: ("45 min", "45 mun"),
        2 * 3600 + 5 * 60: ("2 h 5 min", "2 awr 5 mun"),
        3 * 86400 + 2 * 3600: ("3 days 2 h", "3 diwrnod 2 awr"),
    }
    for seconds, (in_english, in_welsh) in cases.items():
        assert stats_pages.duration(seconds, english) == in_english
        assert stats_pages.duration(seconds, welsh) == in_welsh


# --- the audit pages -----------------------------------------------------------------------


def test_the_audit_log_and_a_records_history_speak_welsh(web: TestClient, rt: Runtime) -> None:
    _, case = viewed_case(web, rt)
    who = auditor(rt)
    log = welsh_page(web, who, LOG, action="case.viewed", **WELSH)
    says_in_welsh(
        log,
        {
            "Dilysu'r gadwyn": "Verify the chain",
            "Rhif defnyddiwr": "User number",
            "Fel y'i dangosir yn y golofn Pwy": "As shown in the Who column",
            "Blwyddyn-mis-diwrnod": "Year-month-day",
            "Chwilio'r log": "Search the log",
            "Digwyddiadau, yr hynaf yn gyntaf": "Events, oldest first",
            "Pryd (UTC)": "When (UTC)",
            ">llwyddiant<": ">success<",
        },
    )
    assert re.search(r">defnyddiwr \d+</a>", log) and not re.search(r">user \d+</a>", log)
    assert shown_actions(log) == ["case.viewed", "case.viewed"]  # action codes stay as they are

    history = welsh_page(web, who, f"{LOG}/records/{case}")
    says_in_welsh(
        history,
        {
            f"Hanes {case}": f"History of {case}",
            f"Digwyddiadau sy'n enwi {case}, yr hynaf yn gyntaf": f"Events naming {case}",
            "Log archwilio": "Audit log",
        },
    )
    assert shown_actions(history)[0] == "case.opened"
    none = welsh_page(web, who, LOG, action="nothing.ever")
    says_in_welsh(none, {"Nid oes unrhyw ddigwyddiadau'n cyfateb.": "No events match."})


def test_verifying_the_chain_says_the_verdict_in_welsh(web: TestClient, rt: Runtime) -> None:
    viewed_case(web, rt)
    who = auditor(rt)
    form = welsh_page(web, who, VERIFY, **WELSH)
    says_in_welsh(
        form,
        {
            "Dilysu'r gadwyn archwilio": "Verify the audit chain",
            "stwnsh yr un o'i flaen": "the hash of the one before",
        },
    )
    be(web, who).post(VERIFY, data={"csrf_token": csrf(html(web, who, VERIFY))})
    verdict = welsh_page(web, who, VERIFY)
    says_in_welsh(
        verdict,
        {
            "Mae'r gadwyn archwilio yn gyfan": "The audit chain is intact",
            "pwynt gwirio wedi'": "signed checkpoint",  # wedi'i lofnodi, wedi'u llofnodi
            "Dilysu eto": "Verify again",
        },
    )
    assert re.search(r"Gwiriwyd \d+ digwyddiad", verdict)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_broken_chain_is_explained_in_welsh(web: TestClient, rt: Runtime) -> None:
    """SQLite only: on PostgreSQL the application's role may not rewrite the log at all."""
    who, seq = tampered_log(web, rt)
    form = html(web, who, VERIFY, **WELSH)
    be(web, who).post(VERIFY, data={"csrf_token": csrf(form)})
    verdict = welsh_page(web, who, VERIFY)
    says_in_welsh(
        verdict,
        {
            "Mae'r gadwyn archwilio wedi torri": "The audit chain is broken",
            f"Y digwyddiad cyntaf nad yw'n ffitio yw rhif {seq}.": f"number {seq}",
            "Rheswm: newidiwyd y cofnod.": "entry was altered",
            "Dywedwch wrth eich swyddog diogelwch nawr.": "Tell your security officer now.",
        },
    )


# --- every word the services give is one the pages can say in Welsh --------------------------


def test_the_pages_know_every_word_their_services_give() -> None:
    """A new kind, outcome, state or chain reason must be added to the page's words too,
    or a Welsh page would show it in English."""
    dashboard_words = {
        *(k.value for k in ReportKind),
        *(o.value for o in Outcome),
        *stats_services.ALERT_STATES,
        stats_services.PENDING,
        stats_services.UNDECIDED,
        stats_services.UNCATEGORISED,
        stats_services.UNKNOWN_AREA,
        "all",
    }
    assert dashboard_words <= set(stats_pages.WORDS)
    assert {*(t.value for t in RecordType), *search_pages.TIMES, "pending"} <= set(
        search_pages.WORDS
    )
    verdicts = [
        node
        for node in ast.walk(ast.parse(inspect.getsource(chain)))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Verdict"
    ]
    reasons = [arg for node in verdicts for arg in node.args[4:]]
    assert len(reasons) == 11  # every reason the chain check gives is marked for translation
    assert all(getattr(r, "func", None) and r.func.id == "said" for r in reasons)
