"""The supervisors' dashboard page, on both databases: the same figures as the statistics
API, each series as a table and a bar list, only over reports the supervisor may see, a date
range form with specific errors, and the permission enforced."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.console_more import Staff, html, page, staff
from tests.console_more import web as web  # fixture
from tests.factories import auth
from tests.search import OTHER_FORCE, move_report, submit, triage
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.stats import pages as stats_pages
from vigil.web.runtime import Runtime
from vigil.web.templating import gettext_for

DASHBOARD = "/console/dashboard"


def supervisor(
    rt: Runtime,
    email: str = "sup@example.org",
    org: str | None = None,
    teams: tuple[str, ...] | None = None,
) -> Staff:
    return staff(rt, email, Role.supervisor, org=org, teams=teams, clearance=Classification.secret)


def table_rows(text: str, caption: str) -> dict[str, int]:
    block = text.split(f"{caption}: table", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<th scope="row"[^>]*>([^<]+)</th>\s*<td[^>]*>(\d+)</td>', block)
    return {label: int(n) for label, n in rows}


def meters(text: str, caption: str) -> dict[str, int]:
    block = text.split(f"{caption}: bars", 1)[1].split("</ul>", 1)[0]
    return {label: int(n) for label, n in re.findall(r">([^<>:]+): (\d+)</label>", block)}


def shown_label(key: str, label: str) -> str:
    english = gettext_for("en")
    return stats_pages._labelled(key, label, english)


def test_the_page_shows_the_apis_figures_as_tables_and_bars(web: TestClient, rt: Runtime) -> None:
    boss = supervisor(rt)
    refs = [submit(web, f"Someone photographing the depot gates, visit {i}.") for i in range(3)]
    triage(rt, refs[0], "P1", "photography")
    triage(rt, refs[1], "P2", "photography")
    shown = html(web, boss, DASHBOARD)
    api = web.get("/api/v1/stats/summary", headers=auth(boss.token)).json()
    assert f'<strong id="reports-total">{api["reports_total"]}</strong>' in shown
    assert api["reports_total"] == 3
    for key in ("by_priority", "by_kind", "by_category", "by_outcome", "reports_over_time"):
        series = api[key]
        # the page names a code by its label (the API's "photography" is "Photography")
        labels = [shown_label(key, label) for label in series["labels"]]
        expected = dict(zip(labels, series["values"], strict=True))
        assert table_rows(shown, series["caption"]) == expected, key
        assert meters(shown, series["caption"]) == expected, key
    assert table_rows(shown, "Reports by priority")["P1"] == 1
    assert (
        '<meter id="bar-' in shown
        and "<script" not in shown.split("</header>", 1)[1].split("<footer", 1)[0]
    )


def test_a_report_of_another_force_is_never_counted(web: TestClient, rt: Runtime) -> None:
    hub = supervisor(rt)
    north = supervisor(rt, "north-sup@example.org", org=OTHER_FORCE, teams=("North",))
    mine = submit(web, "A drone over the stadium.")
    theirs = submit(web, "A drone over the station.")
    triage(rt, mine, "P1", "aviation")
    triage(rt, theirs, "P1", "aviation")
    move_report(rt, theirs, OTHER_FORCE)
    ours = html(web, hub, DASHBOARD)
    assert '<strong id="reports-total">1</strong>' in ours
    assert table_rows(ours, "Reports by priority")["P1"] == 1
    assert (
        table_rows(ours, "Reports by behaviour category (a report may have several)")[
            "Aviation activity"
        ]
        == 1
    )
    north_page = html(web, north, DASHBOARD)
    assert '<strong id="reports-total">1</strong>' in north_page
    assert mine not in ours and theirs not in north_page  # references never appear at all


def test_the_date_range_form_narrows_the_window_and_explains_mistakes(
    web: TestClient, rt: Runtime
) -> None:
    boss = supervisor(rt)
    submit(web, "A drone over the stadium.")
    today = datetime.now(UTC).date()
    last_week = (today - timedelta(days=7)).isoformat()
    shown = html(web, boss, DASHBOARD, since=last_week, until=today.isoformat(), bucket="day")
    assert f"from {last_week} to {today.isoformat()}" in shown
    assert '<strong id="reports-total">1</strong>' in shown
    assert len(table_rows(shown, "Reports received by day")) == 8
    earlier = html(
        web,
        boss,
        DASHBOARD,
        since=(today - timedelta(days=30)).isoformat(),
        until=(today - timedelta(days=2)).isoformat(),
    )
    assert '<strong id="reports-total">0</strong>' in earlier
    for params, field in (
        ({"since": "31/12/2026"}, "since"),
        ({"bucket": "year"}, "bucket"),
        ({"since": today.isoformat(), "until": last_week}, "until"),
    ):
        refused = page(web, boss, DASHBOARD, **params)
        assert refused.status_code == 400, params
        assert f'href="#{field}"' in refused.text and "There is a problem" in refused.text
    backwards = page(web, boss, DASHBOARD, since=today.isoformat(), until=last_week).text
    assert "The end date must be the same as or after the start date" in backwards
    assert "later than since" not in backwards  # the page's words, not the API's parameter


def test_only_roles_that_read_statistics_see_the_dashboard(web: TestClient, rt: Runtime) -> None:
    analyst = staff(rt, "analyst@example.org")
    assert page(web, analyst, DASHBOARD).status_code == 403
    admin = staff(rt, "admin@example.org", Role.administrator)
    assert page(web, admin, DASHBOARD).status_code == 200
    web.cookies.clear()
    assert web.get(DASHBOARD).headers["location"] == "/staff/sign-in"
