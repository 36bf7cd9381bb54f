"""A partner a report was shared with reads it, and does nothing more: only the owning
organisation triages it, decides what happens to it (referring it onward included), writes to
its reporter or shares it; and the owner cannot open a report to all its own teams at once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.access.test_need_to_know import POLICE, PROBATION, build_world, share_with_police
from tests.factories import auth, staff_token
from vigil.access.markings import Classification
from vigil.access.models import RecordShare
from vigil.access.permissions import Role
from vigil.intake.models import Report
from vigil.web.runtime import Runtime


def _shares(rt: Runtime, reference: str) -> int:
    with rt.db.session() as session:
        report_id = session.scalar(select(Report.id).where(Report.reference == reference))
        counted = select(func.count()).select_from(RecordShare)
        return session.scalar(counted.where(RecordShare.record_id == report_id)) or 0


def test_a_partner_reads_a_shared_report_but_cannot_triage_refer_or_write_to_its_reporter(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt, Classification.official_sensitive, "P")
    assert share_with_police(world) == 201
    partner = staff_token(
        rt, email="police.analyst@example.org", role=Role.supervisor, org=POLICE, teams=("Ops",)
    )
    ref, headers = world.reference, auth(partner)
    assert client.get(f"/api/v1/reports/{ref}", headers=headers).status_code == 200
    shares_before = _shares(rt, ref)
    attempts = {
        "claim": client.post(f"/api/v1/triage/reports/{ref}/claim", headers=headers),
        "refer": client.post(
            f"/api/v1/triage/reports/{ref}/outcome",
            json={"outcome": "refer_to_partner", "detail": PROBATION, "reason": "onward"},
            headers=headers,
        ),
        "close": client.post(
            f"/api/v1/triage/reports/{ref}/outcome",
            json={"outcome": "no_further_action", "reason": "not ours to close"},
            headers=headers,
        ),
        "question": client.post(
            f"/api/v1/reports/{ref}/messages",
            json={"text": "Which way did the van go?"},
            headers=headers,
        ),
    }
    for name, answer in attempts.items():
        assert answer.status_code == 403, (name, answer.status_code, answer.text)
        assert "Only the organisation that owns this report" in answer.json()["detail"]
    assert _shares(rt, ref) == shares_before  # nothing was passed on
    owner = auth(world.sharer)
    assert client.post(f"/api/v1/triage/reports/{ref}/claim", headers=owner).status_code == 200


def test_sharing_with_the_owning_organisation_itself_needs_a_team(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt, Classification.official, "P")
    other_team = staff_token(
        rt, email="inv@example.org", role=Role.investigator, teams=("Investigations",)
    )
    widened = client.post(
        f"/api/v1/reports/{world.reference}/shares",
        json={"organisation": rt.settings.receiving_org, "purpose": "Open it to every team"},
        headers=auth(world.sharer),
    )
    assert widened.status_code == 422, widened.text
    assert widened.json()["errors"][0]["pointer"] == "#/team"
    get = client.get(f"/api/v1/reports/{world.reference}", headers=auth(other_team))
    assert get.status_code == 404  # still only the receiving team's
    assert _shares(rt, world.reference) == 0
