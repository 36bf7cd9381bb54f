"""Need-to-know applies to the audit log too: an auditor reads the events of their own
organisation's staff; only the receiving organisation's auditors read the events no staff
member did (the public, the system). The JSON search, its paging, the export (JSON lines and
CSV) and the console's pages all read that same part, and the chain is still verified whole.

The world: the receiving hub (public reports arrive there), a police force and a health
trust, each with staff who leave events and an auditor. Searches go through the search API;
a disclosure and a referral are written as their services write them (an event naming the
acting user and organisation, with a purpose), since only who acted decides who reads them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.console_more import Staff, html, page, staff
from tests.console_more import web as web  # fixture
from tests.factories import auth, minimal_report
from vigil.access.models import Organisation, User
from vigil.access.permissions import OrganisationKind, Role
from vigil.audit.models import AuditEvent
from vigil.audit.services import SYSTEM, Actor, record_event
from vigil.web.runtime import Runtime

FORCE = "Westshire Police"
TRUST = "Northshire Health Trust"
HUB_QUERY = "lorry"  # what the hub's analyst searched for
FORCE_QUERY = "bicycle"
DISCLOSED_FOR = "Joint risk management with the security service"
REFERRED_FOR = "Synthetic referral reason: repeated fixation on the depot"


@dataclass(frozen=True)
class World:
    report: str  # a hub-only report's reference
    hub: Staff  # the hub's analyst
    force: Staff  # the force's analyst
    hub_auditor: Staff
    force_auditor: Staff
    trust_auditor: Staff
    org_ids: dict[str, int]


def user_id(rt: Runtime, email: str) -> int:
    found = rt.db.write_sync(lambda s: s.scalar(select(User.id).where(User.email == email)))
    assert found is not None
    return int(found)


def as_staff(rt: Runtime, email: str, org_id: int) -> Actor:
    uid = user_id(rt, email)
    return Actor(label=f"user:{uid}", user_id=uid, org_id=org_id)


def searched(client: TestClient, who: Staff, q: str) -> None:
    response = client.get("/api/v1/search", params={"q": q}, headers=auth(who.token))
    assert response.status_code == 200, response.text


@pytest.fixture
def world(web: TestClient, rt: Runtime) -> World:
    force = staff(
        rt, "analyst@westshire.example.org", org=FORCE, org_kind=OrganisationKind.police, teams=()
    )
    # The force's analyst searches first, so that everyone else's events come after theirs.
    searched(web, force, FORCE_QUERY)
    sent = web.post("/api/v1/reports", json=minimal_report(description="A lorry by the depot."))
    assert sent.status_code == 201, sent.text
    reference = str(sent.json()["reference"])
    hub = staff(rt, "analyst@example.org")
    assert web.get(f"/api/v1/reports/{reference}", headers=auth(hub.token)).status_code == 200
    searched(web, hub, HUB_QUERY)
    practitioner = staff(
        rt,
        "practitioner@northshire-health.example.org",
        Role.partner_practitioner,
        org=TRUST,
        org_kind=OrganisationKind.health,
        teams=(),
    )
    names = {"hub": rt.settings.receiving_org, "force": FORCE, "trust": TRUST}
    ids: dict[str, int] = rt.db.write_sync(
        lambda s: {name: oid for name, oid in s.execute(select(Organisation.name, Organisation.id))}
    )
    org_ids = {key: ids[name] for key, name in names.items()}
    hub_actor = as_staff(rt, hub.email, org_ids["hub"])
    trust_actor = as_staff(rt, practitioner.email, org_ids["trust"])

    def more_events(session: Any) -> None:
        record_event(
            session,
            hub_actor,
            "record.disclosed",
            record_type="report",
            record_ids=[reference],
            purpose=DISCLOSED_FOR,
        )
        record_event(
            session,
            trust_actor,
            "referral.submitted",
            record_type="referral",
            record_ids=["referral:1"],
            purpose=REFERRED_FOR,
        )
        record_event(session, SYSTEM, "jobs.requeued", record_type="job", record_ids=["job:7"])

    rt.db.write_sync(more_events)
    return World(
        report=reference,
        hub=hub,
        force=force,
        hub_auditor=staff(rt, "auditor@example.org", Role.auditor),
        force_auditor=staff(
            rt,
            "auditor@westshire.example.org",
            Role.auditor,
            org=FORCE,
            org_kind=OrganisationKind.police,
            teams=(),
        ),
        trust_auditor=staff(
            rt,
            "auditor@northshire-health.example.org",
            Role.auditor,
            org=TRUST,
            org_kind=OrganisationKind.health,
            teams=(),
        ),
        org_ids=org_ids,
    )


def events(client: TestClient, who: Staff, **params: Any) -> list[dict[str, Any]]:
    """Every event the search answers ``who``, following the cursor page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        asked = {**params, **({"cursor": cursor} if cursor is not None else {})}
        response = client.get("/api/v1/audit/events", params=asked, headers=auth(who.token))
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def exported(client: TestClient, who: Staff, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit/export", params=params, headers=auth(who.token))
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.content.splitlines()]


def actions(found: list[dict[str, Any]]) -> list[str]:
    return [e["action"] for e in found]


def test_a_forces_auditor_never_reads_the_hubs_searches_disclosures_or_a_trusts_referrals(
    web: TestClient, world: World
) -> None:
    who = world.force_auditor
    (own,) = events(web, who, action="search.performed")
    assert own["actor_organisation"] == FORCE and FORCE_QUERY in (own["purpose"] or "")
    for action in ("record.disclosed", "referral.submitted", "report.viewed"):
        assert events(web, who, action=action) == [], action
    whole = web.get("/api/v1/audit/events", params={"limit": 500}, headers=auth(who.token)).text
    for secret in (HUB_QUERY, DISCLOSED_FOR, REFERRED_FOR, world.report, world.hub.email):
        assert secret not in whole, secret


def test_every_event_an_auditor_reads_was_done_by_their_own_organisations_staff(
    web: TestClient, world: World
) -> None:
    for who, org in ((world.force_auditor, "force"), (world.trust_auditor, "trust")):
        found = events(web, who)
        assert found and {e["actor_org_id"] for e in found} == {world.org_ids[org]}
    assert "referral.submitted" in actions(events(web, world.trust_auditor))


def test_the_public_and_the_system_are_read_only_by_the_receiving_organisations_auditors(
    web: TestClient, rt: Runtime, world: World
) -> None:
    hub = events(web, world.hub_auditor)
    assert {e["actor_org_id"] for e in hub} == {world.org_ids["hub"], None}
    assert {"report.collected", "jobs.requeued"} <= set(actions(hub))
    assert {"report.viewed", "search.performed", "record.disclosed"} <= set(actions(hub))
    assert "referral.submitted" not in actions(hub)
    theirs = [e["actor_organisation"] for e in hub if e["action"] == "search.performed"]
    assert theirs == [rt.settings.receiving_org]  # the hub's own search, not the force's
    for who in (world.force_auditor, world.trust_auditor):
        assert events(web, who, action="report.collected") == []
        assert events(web, who, action="jobs.requeued") == []


def test_a_record_another_organisation_handled_is_not_found_by_record_or_user(
    web: TestClient, rt: Runtime, world: World
) -> None:
    who = world.force_auditor
    assert events(web, who, record=world.report) == []
    assert events(web, who, user_id=user_id(rt, world.hub.email)) == []
    by_hub = events(web, world.hub_auditor, record=world.report)
    assert {"report.collected", "report.viewed", "record.disclosed"} <= set(actions(by_hub))


def test_paging_counts_only_what_the_auditor_may_read(web: TestClient, world: World) -> None:
    """The force's search is the first event of its kind; the hub's comes later. A page of
    one must not promise a next page that would turn out empty (that would say others
    searched)."""
    response = web.get(
        "/api/v1/audit/events",
        params={"action": "search.performed", "limit": 1},
        headers=auth(world.force_auditor.token),
    )
    body = response.json()
    assert len(body["items"]) == 1 and body["next_cursor"] is None
    pages = events(web, world.force_auditor, limit=2)
    assert [e["seq"] for e in pages] == sorted(e["seq"] for e in pages)


def test_the_export_holds_exactly_the_events_the_search_lists(
    web: TestClient, world: World
) -> None:
    for who in (world.force_auditor, world.hub_auditor, world.trust_auditor):
        listed = [e["seq"] for e in events(web, who, action="search.performed")]
        listed += [e["seq"] for e in events(web, who, action="record.disclosed")]
        shown = [e["seq"] for e in exported(web, who, action="search.performed")]
        shown += [e["seq"] for e in exported(web, who, action="record.disclosed")]
        assert shown == listed, who.email
    whole = exported(web, world.force_auditor)
    assert whole and {e["actor_org_id"] for e in whole} == {world.org_ids["force"]}
    table = web.get(
        "/api/v1/audit/export", params={"format": "csv"}, headers=auth(world.force_auditor.token)
    )
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert rows and {r["actor_organisation"] for r in rows} == {FORCE}
    for secret in (HUB_QUERY, DISCLOSED_FOR, REFERRED_FOR, world.report):
        assert secret not in table.text, secret


def test_the_console_shows_an_auditor_only_their_organisations_events(
    web: TestClient, world: World
) -> None:
    who = world.force_auditor
    searches = html(web, who, "/console/audit", action="search.performed")
    assert world.force.email in searches and world.hub.email not in searches
    assert "No events match" in html(web, who, "/console/audit", action="record.disclosed")
    assert page(web, who, f"/console/audit/records/{world.report}").status_code == 404
    assert world.report in html(web, world.hub_auditor, f"/console/audit/records/{world.report}")


def test_verifying_the_chain_still_reads_all_of_it(
    web: TestClient, rt: Runtime, world: World
) -> None:
    with rt.db.session() as session:
        total = session.scalar(select(func.count()).select_from(AuditEvent))
    verdict = web.get("/api/v1/audit/verify", headers=auth(world.force_auditor.token)).json()
    assert verdict["ok"] is True and verdict["checked"] == total
