"""Need-to-know in search: a hit the reader may not see is never returned, counted in the
total or a facet, or hinted at; sharing makes it findable and revoking hides it again."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tests.cases.world import ELSEWHERE, HEALTH, build_world
from tests.factories import auth, report_payload, staff_token
from tests.search import (
    OTHER_FORCE,
    facet,
    find,
    found,
    ids,
    mark_report,
    move_report,
    person,
    submit,
    triage,
)
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.access.sharing import create_agreement
from vigil.audit.services import SYSTEM
from vigil.intake.models import Report
from vigil.search.models import SearchDocument, SearchNameKey, SearchPending
from vigil.web.runtime import Runtime

NO_FACETS = {
    "type": [],
    "category": [],
    "priority": [],
    "time": [],
    "place": [],
    "organisation": [],
}


def hub_and_other_force(client: TestClient, rt: Runtime) -> tuple[str, str, list[str], str]:
    """Three hub reports and one of the other force's, all about scaffolding."""
    hub = staff_token(rt)
    other = staff_token(rt, "north@example.org", org=OTHER_FORCE, teams=("North",))
    where = {"postcode": "LS6 2QT", "address": "Mill Lane"}
    refs = [
        submit(client, "Two men filming the scaffolding by the depot.", where=where),
        submit(client, "A drone over the scaffolding at dusk.", where=where),
        submit(client, "Someone asked about scaffolding access at the stadium."),
    ]
    triage(rt, refs[0], "P1", "photography", "hostile_reconnaissance")
    triage(rt, refs[1], "P2", "drones")
    theirs = submit(client, "Scaffolding keys left in a van at the station.", where=where)
    triage(rt, theirs, "P1", "photography")
    move_report(rt, theirs, OTHER_FORCE)
    return hub, other, refs, theirs


def test_each_force_finds_and_counts_only_its_own_reports(client: TestClient, rt: Runtime) -> None:
    hub, other, refs, theirs = hub_and_other_force(client, rt)

    mine = found(client, hub, "scaffolding")
    assert sorted(ids(mine)) == sorted(refs)
    assert mine["total"] == 3
    assert facet(mine, "type") == {"report": 3}
    assert facet(mine, "priority") == {"P1": 1, "P2": 1, "pending": 1}
    assert facet(mine, "category") == {"photography": 1, "hostile_reconnaissance": 1, "drones": 1}
    assert facet(mine, "place") == {"LS6": 2}
    assert facet(mine, "organisation") == {rt.settings.receiving_org: 3}
    assert facet(mine, "time") == {"day": 3}

    seen = found(client, other, "scaffolding")
    assert ids(seen) == [theirs]
    assert seen["total"] == 1
    assert facet(seen, "organisation") == {OTHER_FORCE: 1}
    assert facet(seen, "category") == {"photography": 1}
    # A word only the hub's reports contain: nothing, and nothing counted anywhere.
    nothing = found(client, other, "drone")
    assert nothing["hits"] == [] and nothing["total"] == 0
    assert nothing["facets"] == NO_FACETS
    assert nothing["next_cursor"] is None


def test_filters_narrow_hits_and_facets_together(client: TestClient, rt: Runtime) -> None:
    hub, _other, refs, _theirs = hub_and_other_force(client, rt)

    p1 = found(client, hub, "scaffolding", priority="P1")
    assert ids(p1) == [refs[0]]
    assert facet(p1, "priority") == {"P1": 1}
    pending = found(client, hub, "scaffolding", priority=["pending", "P2"])
    assert sorted(ids(pending)) == sorted(refs[1:])
    drones = found(client, hub, "scaffolding", category="drones")
    assert ids(drones) == [refs[1]]
    assert facet(drones, "category") == {"drones": 1}


def test_a_secret_report_is_invisible_below_secret_clearance(
    client: TestClient, rt: Runtime
) -> None:
    analyst = staff_token(rt)
    cleared = staff_token(rt, "cleared@example.org", clearance=Classification.secret)
    ref = submit(client, "Handler mentioned the quarry explosives store.")
    mark_report(rt, ref, Classification.secret)

    assert found(client, analyst, "quarry")["facets"] == NO_FACETS
    assert ids(found(client, cleared, "quarry")) == [ref]


def test_sharing_makes_a_report_findable_and_revoking_hides_it_at_once(
    client: TestClient, rt: Runtime
) -> None:
    hub = staff_token(rt)
    other = staff_token(rt, "north@example.org", org=OTHER_FORCE, teams=("North",))

    def agree(session: Session) -> None:
        create_agreement(
            session,
            SYSTEM,
            rt.settings.receiving_org,
            OTHER_FORCE,
            ["report"],
            Classification.official_sensitive,
            "Regional counter-terrorism",
        )

    rt.db.write_sync(agree)
    ref = submit(client, "A rucksack left under the footbridge for an hour.")
    assert found(client, other, "footbridge")["total"] == 0

    shared = client.post(
        f"/api/v1/reports/{ref}/shares",
        json={"organisation": OTHER_FORCE, "purpose": "Regional counter-terrorism"},
        headers=auth(hub),
    )
    assert shared.status_code == 201, shared.text
    page = found(client, other, "footbridge")
    assert ids(page) == [ref]
    assert facet(page, "organisation") == {rt.settings.receiving_org: 1}

    revoked = client.delete(
        f"/api/v1/reports/{ref}/shares/{shared.json()['id']}", headers=auth(hub)
    )
    assert revoked.status_code == 200, revoked.text
    assert found(client, other, "footbridge")["facets"] == NO_FACETS


def test_a_partner_finds_only_cases_shared_with_it_and_never_reports(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    ref = world.submit("Larchwood tenant stockpiling fertiliser in the garage.")
    shared = world.open_case(title="Larchwood welfare concerns", reports=[ref])["reference"]
    assert world.share(shared, HEALTH).status_code == 201
    private = world.open_case(title="Larchwood depot watch")["reference"]
    nurse = world.partner("nurse@example.org")
    outsider = staff_token(rt, "outsider@example.org", org=ELSEWHERE, teams=("North",))

    page = found(client, nurse, "larchwood")
    assert ids(page) == [shared]
    assert facet(page, "type") == {"case": 1}
    assert page["hits"][0]["href"] == f"/api/v1/cases/{shared}"
    # The partner's role reads no reports, even ones linked to a case it may see.
    refused = find(client, nurse, "larchwood", type="report")
    assert refused.status_code == 403
    assert ids(found(client, world.analyst, "larchwood")) == [private, shared, ref]
    assert found(client, outsider, "larchwood")["total"] == 0


def test_the_reporters_identity_is_never_searchable(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    payload = report_payload(people=[person("Tobias Quenby")])
    response = client.post("/api/v1/reports", json=payload)
    assert response.status_code == 201
    assert found(client, analyst, "name:Quenby")["total"] == 1
    # "Jo Bloggs" gave their name and e-mail as the reporter: stored apart, never indexed.
    for q in ("Bloggs", "name:Bloggs", "jo@example.org", "07700"):
        assert found(client, analyst, q)["total"] == 0, q


def test_an_erased_report_leaves_no_hit_and_no_name_behind(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    ref = submit(client, "Man measuring the bridge supports.", people=[person("Wendell Strand")])
    assert found(client, analyst, "name:Strand")["total"] == 1

    rt.db.write_sync(lambda s: s.execute(delete(Report).where(Report.reference == ref)))
    assert found(client, analyst, "bridge")["total"] == 0

    def leftovers(session: Session) -> list[object]:
        docs = session.scalars(select(SearchDocument.id).where(SearchDocument.title.contains(ref)))
        words = session.scalars(
            select(SearchNameKey.term).where(SearchNameKey.term.in_(["wendell", "strand"]))
        )
        return [*docs, *words]

    assert rt.db.write_sync(leftovers) == []


def test_a_stale_document_is_never_a_hit_once_its_record_is_gone(
    client: TestClient, rt: Runtime
) -> None:
    """Hits are joined back to their records at query time, so an index that has not yet
    caught up (here: its to-do list lost) cannot return or count a deleted record."""
    analyst = staff_token(rt)
    ref = submit(client, "Van with false plates near the reservoir.")
    assert found(client, analyst, "reservoir")["total"] == 1

    def erase_behind_the_index(session: Session) -> None:
        session.execute(delete(Report).where(Report.reference == ref))
        session.execute(delete(SearchPending))

    rt.db.write_sync(erase_behind_the_index)
    page = found(client, analyst, "reservoir")
    assert page["total"] == 0 and page["facets"] == NO_FACETS
    stale = rt.db.write_sync(
        lambda s: s.scalar(select(SearchDocument.id).where(SearchDocument.title.contains(ref)))
    )
    assert stale is not None  # the document is still there; the join kept it out


def test_searching_needs_the_permission(client: TestClient, rt: Runtime) -> None:
    auditor = staff_token(rt, "auditor@example.org", role=Role.auditor)
    assert find(client, auditor, "depot").status_code == 403
    assert client.get("/api/v1/search", params={"q": "depot"}).status_code == 401
