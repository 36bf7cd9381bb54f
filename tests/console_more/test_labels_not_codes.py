"""Staff pages name what they show, on both databases: the report page's history and priority
factors, the dashboard, the search facets and the case timeline say labels ("No further
action", "Materials acquisition / storage", "in progress"), never stored codes
("no_further_action", "materials_acquisition", "in_progress") or Python data ("{'kind': …}"),
in English and in Welsh. Reports are real: submitted through the API and scored by the
pipeline; decisions are made through the triage API.

The Welsh tests of the new history, factor and timeline words fail until the catalogue has
them (each assertion names the missing entry).
"""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cases.world import COUNCIL, HEALTH, World, shared_case
from tests.console.test_console_pages import THREAT, run_pipeline, submit
from tests.console_more import Staff, be, csrf, html, staff
from tests.console_more import web as web  # fixture
from tests.console_more.test_case_pages import partner, world_and_analyst
from tests.console_more.test_dashboard_page import DASHBOARD, supervisor, table_rows
from tests.console_more.test_search_page import SEARCH, facet_counts, links
from tests.factories import auth
from vigil.cases.models import Case, CaseEvent
from vigil.triage.report_view import factor_rows, history_rows
from vigil.triage.schemas import DecisionOut
from vigil.web.runtime import Runtime
from vigil.web.templating import gettext_for

TRIAGE_API = "/api/v1/triage/reports"
WELSH = {"lang": "cy"}
english, welsh = gettext_for("en"), gettext_for("cy")
CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # snake_case: a stored code, not a word
NEAR_DUPLICATE = THREAT + " Seen again at the bus station."


def words(text: str) -> str:
    """What a reader sees: tags dropped, entities undone, spacing folded."""
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


def section(page: str, heading: str) -> str:
    """The table under a heading of the page, as a reader sees it."""
    return words(page.split(heading, 1)[1].split("</table>", 1)[0])


def in_welsh(msgid: str, **values: Any) -> str:
    """The catalogue's Welsh for a message; fails (naming it) while it has none."""
    said = welsh(msgid, **values)
    assert said != english(msgid, **values), f"no Welsh in the catalogue yet for {msgid!r}"
    return said


def api(web: TestClient, who: Staff, method: str, path: str, body: dict[str, Any]) -> None:
    response = web.request(method, path, json=body, headers=auth(who.token))
    assert response.status_code in (200, 201), (path, response.text)


def worked_report(web: TestClient, rt: Runtime) -> tuple[Staff, str]:
    """A threat report scored twice by the pipeline (a near-duplicate made a cluster of two,
    so it was scored again), then claimed, given an item, corrected, graded and decided."""
    reference = submit(web, THREAT)
    run_pipeline(rt)
    submit(web, NEAR_DUPLICATE)
    run_pipeline(rt)
    analyst = staff(rt, "analyst@example.org")
    report = f"{TRIAGE_API}/{reference}"
    api(web, analyst, "POST", f"{report}/claim", {})
    item = {"kind": "email", "value": "box@theatre.example", "reason": "Missed by the extractor"}
    api(web, analyst, "POST", f"{report}/items", item)
    categories = {"add": ["photography"], "remove": ["weapons"], "reason": "Photos of the site"}
    api(web, analyst, "PATCH", f"{report}/categories", categories)
    grading = {"source": "2", "intelligence": "B", "handling": "P", "reason": "Known source"}
    api(web, analyst, "POST", f"{report}/grade", grading)
    api(
        web,
        analyst,
        "POST",
        f"{report}/outcome",
        {"outcome": "no_further_action", "reason": "Nothing to act on"},
    )
    return analyst, reference


# --- the report page -------------------------------------------------------------------------


def test_the_report_history_says_what_happened_in_words_not_codes(
    web: TestClient, rt: Runtime
) -> None:
    analyst, reference = worked_report(web, rt)
    history = section(html(web, analyst, f"/console/reports/{reference}"), "History of this report")
    for shown in (
        "Triaged · priority P1",
        "Scored again · priority P1 · grouped with similar reports",
        "Claimed",
        "Item added: email address “box@theatre.example”",
        "Categories corrected · added Photography · removed Weapons collection / discovery",
        "Graded · source 2, intelligence B, handling code P",
        "Decided: No further action",
    ):
        assert shown in history, shown
    # the pipeline's two scorings are two rows that read differently
    assert history.count("Triaged") == 1 and history.count("Scored again") == 1
    for raw in ("{", "'kind'", "item added", "cluster id", "grading 2/", "outcome ", "triaged"):
        assert raw not in history, raw
    assert not CODE.search(history), CODE.search(history)


def test_priority_factors_name_categories_and_floor_rules_not_codes(
    web: TestClient, rt: Runtime
) -> None:
    reference = submit(web, THREAT)
    run_pipeline(rt)
    analyst = staff(rt, "analyst@example.org")
    factors = section(html(web, analyst, f"/console/reports/{reference}"), "Priority factors")
    assert "Expressed or implied threat" in factors  # the tier 1 factor's category
    assert "Materials acquisition / storage" in factors  # a tier 2 one
    assert "Explicit or implied threat to kill, injure or damage → at least P1" in factors
    for raw in ("expressed_threat", "materials_acquisition", "explicit_threat", "category:"):
        assert raw not in factors, raw
    assert not CODE.search(factors), CODE.search(factors)


def test_the_report_history_speaks_welsh(web: TestClient, rt: Runtime) -> None:
    """Fails until the catalogue has the new history words."""
    analyst, reference = worked_report(web, rt)
    history = section(
        html(web, analyst, f"/console/reports/{reference}", **WELSH), "Hanes yr adroddiad hwn"
    )
    outcome = welsh("No further action")
    assert welsh("Decided: %(outcome)s", outcome=outcome) in history
    assert welsh("Claimed") in history
    for msgid, values in (
        ("Triaged", {}),
        ("Scored again", {}),
        ("priority %(priority)s", {"priority": "P1"}),
        ("grouped with similar reports", {}),
        ("Categories corrected", {}),
        ("Graded", {}),
    ):
        assert in_welsh(msgid, **values) in history, msgid
    kind = in_welsh("email address")
    assert (
        in_welsh("Item added: %(kind)s “%(value)s”", kind=kind, value="box@theatre.example")
        in history
    )
    for english_words in ("Triaged", "Scored again", "Item added", "Graded", "Categories"):
        assert english_words not in history, english_words


def test_the_factors_say_at_least_in_welsh(web: TestClient, rt: Runtime) -> None:
    """Fails until the catalogue has the floor rules' words. Factor and category labels are
    the rules' own (English) data, as on the queue."""
    reference = submit(web, THREAT)
    run_pipeline(rt)
    analyst = staff(rt, "analyst@example.org")
    factors = section(
        html(web, analyst, f"/console/reports/{reference}", **WELSH), "Ffactorau blaenoriaeth"
    )
    met = "Explicit or implied threat to kill, injure or damage"
    assert in_welsh("%(met)s → at least %(priority)s", met=met, priority="P1") in factors
    assert "at least" not in factors


def test_unknown_or_odd_history_is_shown_without_python_data() -> None:
    """An action the page has no words for, and details of any shape, still read as text."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    odd = DecisionOut(
        action="merged_into",
        by=None,
        at=at,
        reason=None,
        detail={"other_report": {"reference": "VGL-1"}, "flags": ["a", "b"], "empty": None},
    )
    graded = DecisionOut(action="graded", by=None, at=at, reason=None, detail={"grading": "2/B"})
    rejected = DecisionOut(
        action="item_corrected",
        by="a@example.org",
        at=at,
        reason="wrong",
        detail={"before": {"kind": "vrm", "value": "AB12 CDE"}, "after": None},
    )
    shown = [row.what(english) for row in history_rows([odd, graded, rejected])]
    assert shown == [
        "Merged into · other report reference VGL-1 · flags a, b",
        "Graded · 2/B",
        "Item rejected: vehicle registration “AB12 CDE”",
    ]
    (floor,) = factor_rows(
        [{"code": "floor.x", "label": "", "weight": 0.0, "evidence": "odd_code → at least P2"}]
    )
    assert (floor.label, floor.evidence_in(english)) == ("X", "Odd code → at least P2")


# --- the dashboard ---------------------------------------------------------------------------

BY_CATEGORY = "Reports by behaviour category (a report may have several)"


def dashboard_data(web: TestClient, rt: Runtime) -> Staff:
    """A scored threat report, decided; a second report not yet scored."""
    worked_report(web, rt)
    submit(web, "There is something odd about the house on the corner.")  # not run: pending
    return supervisor(rt)


def test_the_dashboard_names_categories_outcomes_and_unscored_reports(
    web: TestClient, rt: Runtime
) -> None:
    boss = dashboard_data(web, rt)
    shown = html(web, boss, DASHBOARD)
    by_category = table_rows(shown, BY_CATEGORY)
    assert by_category["Materials acquisition / storage"] == 2
    assert by_category["Expressed or implied threat"] == 2
    assert table_rows(shown, "Reports by outcome")["No further action"] == 1
    assert table_rows(shown, "Reports by priority")["Not yet scored"] == 1
    assert table_rows(shown, "Open reports by priority")["Not yet scored"] == 1
    tables = words(shown.split("<main", 1)[1].split("Service levels", 1)[0])
    assert not CODE.search(tables), CODE.search(tables)
    assert ">pending<" not in shown and ">no_further_action<" not in shown


def test_the_dashboard_says_outcomes_and_unscored_reports_in_welsh(
    web: TestClient, rt: Runtime
) -> None:
    boss = dashboard_data(web, rt)
    shown = html(web, boss, DASHBOARD, **WELSH)
    block = shown.split("Adroddiadau fesul deilliant: tabl", 1)[1].split("</table>", 1)[0]
    assert f">{welsh('No further action')}<" in block.replace("&#39;", "'")
    assert "No further action" not in block and "no_further_action" not in block
    by_priority = shown.split("Adroddiadau fesul blaenoriaeth: tabl", 1)[1].split("</table>")[0]
    assert f">{welsh('Not yet scored')}<" in by_priority
    # categories keep the rules' (English) labels, as the queue shows them
    assert ">Materials acquisition / storage<" in shown and "materials_acquisition" not in shown


# --- the search facets -----------------------------------------------------------------------


def test_search_facets_and_filters_name_categories_by_their_labels(
    web: TestClient, rt: Runtime
) -> None:
    reference = submit(web, THREAT)
    run_pipeline(rt)
    unscored = submit(web, "The garage behind the Arndale Centre is always open at night.")
    analyst = staff(rt, "analyst@example.org")
    found = html(web, analyst, SEARCH, q="Arndale")
    categories = facet_counts(found, "category")
    assert categories["Materials acquisition / storage"] == 1
    assert categories["Expressed or implied threat"] == 1
    assert not any(CODE.search(label) for label in categories), categories
    assert facet_counts(found, "priority") == {"P1": 1, "Not yet scored": 1}
    narrowed = html(web, analyst, links(found, "category")["Materials acquisition / storage"])
    assert reference in narrowed and unscored not in narrowed
    assert "Category: Materials acquisition / storage" in words(narrowed)
    assert "materials_acquisition" not in words(narrowed)  # (the link's address carries it)

    in_cy = html(web, analyst, SEARCH, q="Arndale", **WELSH)
    assert facet_counts(in_cy, "priority") == {"P1": 1, welsh("Not yet scored"): 1}
    assert facet_counts(in_cy, "category")["Materials acquisition / storage"] == 1


# --- the case timeline -----------------------------------------------------------------------


def timeline(page: str) -> str:
    return words(page.split('id="timeline"', 1)[1].split("</ol>", 1)[0])


def stored_before(rt: Runtime, reference: str, action_id: int, summary: str) -> None:
    """A timeline entry as the service wrote it before states were put into words."""

    def work(session: Session) -> None:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
        session.add(
            CaseEvent(
                case_id=case_id,
                at=datetime.now(UTC),
                kind="action_updated",
                summary=summary,
                action_id=action_id,
                detail={},
            )
        )

    rt.db.write_sync(work)


def updated_case(web: TestClient, rt: Runtime) -> tuple[World, Staff, str]:
    world, analyst = world_and_analyst(web, rt)
    ref, _, _, actions = shared_case(world)
    nurse = partner(world, "nurse@example.org")
    path = f"/console/cases/{ref}"
    updated = be(web, nurse).post(
        f"{path}/actions/{actions[HEALTH]}",
        data={"csrf_token": csrf(html(web, nurse, path)), "state": "in_progress", "text": "Booked"},
    )
    assert updated.status_code == 303, updated.text
    stored_before(rt, ref, actions[COUNCIL], "Action 'Check the tenancy records' now in_progress")
    stored_before(rt, ref, actions["hub"], "Action 'Review the CCTV footage' updated, with a note")
    return world, analyst, path


def test_the_case_timeline_names_action_states_new_entries_and_old(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst, path = updated_case(web, rt)
    shown = timeline(html(web, analyst, path))
    assert "Action 'Arrange a welfare visit' now in progress, with a note" in shown
    assert "Action 'Check the tenancy records' now in progress" in shown  # stored "in_progress"
    assert "Action 'Review the CCTV footage' updated, with a note" in shown
    assert "in_progress" not in shown
    # a new entry is stored in words too, so the API and the PDF pack read it as well
    summaries = [e["summary"] for e in world.case(path.rsplit("/", 1)[1])["timeline"]]
    assert "Action 'Arrange a welfare visit' now in progress, with a note" in summaries


def test_the_case_timeline_says_action_updates_in_welsh(web: TestClient, rt: Runtime) -> None:
    """Fails until the catalogue has the timeline's sentences."""
    _, analyst, path = updated_case(web, rt)
    shown = timeline(html(web, analyst, path, **WELSH))
    state = welsh("In progress").lower()
    with_note = "Action '%(title)s' now %(state)s, with a note"
    assert in_welsh(with_note, title="Arrange a welfare visit", state=state) in shown
    plain = "Action '%(title)s' now %(state)s"
    assert in_welsh(plain, title="Check the tenancy records", state=state) in shown
    note = "Action '%(title)s' updated, with a note"
    assert in_welsh(note, title="Review the CCTV footage") in shown
    assert "in progress" not in shown and "with a note" not in shown
