"""Need-to-know, proven as a generated matrix: role × relation × classification × handling
code × endpoint (get, list, thread, shares, the map with its count, the report's network,
search with its total, the dashboard's count, the export, the photo's display copy and its
original), on both databases. Plus guessed references, revocation taking effect on the next
request, and a disabled user's token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import auth, jpeg_bytes, minimal_report, staff_token
from vigil.access.fields import report_fields
from vigil.access.markings import Classification
from vigil.access.models import ApiToken, User
from vigil.access.permissions import OrganisationKind, Permission, Role, permissions_for
from vigil.access.services import ensure_organisation
from vigil.access.sharing import create_agreement
from vigil.audit.models import AuditEvent
from vigil.audit.services import SYSTEM
from vigil.db import utcnow
from vigil.intake.models import Attachment, Report
from vigil.web.runtime import Runtime

POLICE = "Synthetic Constabulary"
HEALTH = "Synthetic Health Trust"
PROBATION = "Synthetic Probation Service"  # has an agreement, but nothing is shared with it
RELATIONS = [
    "same_team",
    "same_org_other_team",
    "partner_shared",
    "partner_unshared",
    "partner_no_agreement",
]
ENDPOINTS = [
    "get",
    "list",
    "messages",
    "shares",
    "map",
    "graph",
    "search",
    "count",
    "export",
    "display",
    "original",
]
WORD = "quokkaboat"  # in the report's text only, so a search finds this report or nothing
JUSTIFICATION = "Forensic comparison of the photograph for the access matrix"


@dataclass
class World:
    client: TestClient
    rt: Runtime
    reference: str
    sharer: str
    attachment: int


def build_world(
    client: TestClient, rt: Runtime, classification: Classification, handling: str
) -> World:
    description = f"Two men photographing the {WORD} moored by the depot's CCTV cameras."
    submitted = client.post(
        "/api/v1/reports",
        data={"report": json.dumps(minimal_report(description=description))},
        files=[("files", ("depot.jpg", jpeg_bytes(), "image/jpeg"))],
    )
    assert submitted.status_code == 201, submitted.text
    reference = submitted.json()["reference"]

    def setup(session: Session) -> None:
        hub = ensure_organisation(session, rt.settings.receiving_org, OrganisationKind.ct_policing)
        ensure_organisation(session, POLICE, OrganisationKind.police)
        ensure_organisation(session, HEALTH, OrganisationKind.health)
        ensure_organisation(session, PROBATION, OrganisationKind.probation)
        create_agreement(
            session,
            SYSTEM,
            hub.name,
            PROBATION,
            ["report"],
            Classification.secret,
            "Managing risk together",
        )
        create_agreement(
            session,
            SYSTEM,
            hub.name,
            POLICE,
            ["report"],
            Classification.official_sensitive,
            "Joint counter-terrorism casework",
        )
        session.execute(
            update(Report)
            .where(Report.reference == reference)
            .values(
                classification=classification.value,
                handling_code=handling,
                handling_conditions="Not to be shared beyond the receiving officer"
                if handling == "C"
                else None,
                source_evaluation="2",
                intelligence_assessment="C",
                grading_scheme="3x5x2",
                where_lat=53.4794,  # so the map has it to show, or not
                where_lon=-2.2453,
            )
        )

    rt.db.write_sync(setup)
    sharer = staff_token(
        rt, email="sharer@example.org", role=Role.supervisor, clearance=Classification.secret
    )
    with rt.db.session() as session:
        attachment = session.scalar(
            select(Attachment.id)
            .join(Report, Report.id == Attachment.report_id)
            .where(Report.reference == reference)
        )
    assert attachment is not None
    return World(client, rt, reference, sharer, attachment)


def share_with_police(world: World) -> int:
    return world.client.post(
        f"/api/v1/reports/{world.reference}/shares",
        json={
            "organisation": POLICE,
            "purpose": "Joint investigation of the depot",
            "conditions_accepted": True,
        },
        headers=auth(world.sharer),
    ).status_code


def user_for(world: World, role: Role, relation: str, n: int) -> str:
    email = f"{role.value}.{relation}.{n}@example.org"
    if relation == "same_team":
        return staff_token(world.rt, email=email, role=role)
    if relation == "same_org_other_team":
        return staff_token(world.rt, email=email, role=role, teams=("Investigations",))
    org = {"partner_no_agreement": HEALTH, "partner_unshared": PROBATION}.get(relation, POLICE)
    return staff_token(world.rt, email=email, role=role, org=org, teams=("Intelligence",))


def answers(world: World, token: str) -> dict[str, int | bool]:
    c, ref = world.client, world.reference
    file = f"/api/v1/reports/{ref}/attachments/{world.attachment}"
    listed = c.get("/api/v1/reports", headers=auth(token))
    return {
        "get": c.get(f"/api/v1/reports/{ref}", headers=auth(token)).status_code,
        "list": listed.status_code
        if listed.status_code != 200
        else any(i["reference"] == ref for i in listed.json()["items"]),
        "messages": c.get(f"/api/v1/reports/{ref}/messages", headers=auth(token)).status_code,
        "shares": c.get(f"/api/v1/reports/{ref}/shares", headers=auth(token)).status_code,
        "map": _on_map(c.get("/api/v1/map", headers=auth(token)), ref),
        "graph": c.get(f"/api/v1/reports/{ref}/graph", headers=auth(token)).status_code,
        "search": _in_search(c.get("/api/v1/search", params={"q": WORD}, headers=auth(token)), ref),
        "count": _counted(c.get("/api/v1/stats/summary", headers=auth(token))),
        "export": _in_export(
            c.get(
                "/api/v1/reports/export",
                params={"purpose": "Quarterly return for the access matrix"},
                headers=auth(token),
            ),
            ref,
        ),
        "display": c.get(f"{file}/display", headers=auth(token)).status_code,
        "original": c.post(
            f"{file}/original", json={"justification": JUSTIFICATION}, headers=auth(token)
        ).status_code,
    }


def _in_search(answer: Response, reference: str) -> int | bool:
    """Whether search finds the report, with a total and facets that agree (403 when the
    role may not search)."""
    if answer.status_code != 200:
        return answer.status_code
    page = answer.json()
    shown = any(hit["id"] == reference for hit in page["hits"])
    assert page["total"] == int(shown), "the search total hints at a report it does not show"
    counted = sum(f["count"] for f in page["facets"]["type"])
    assert counted == int(shown), "a search facet hints at a report it does not show"
    return shown


def _counted(answer: Response) -> int | bool:
    """Whether the dashboard counts the report (the world holds no other)."""
    if answer.status_code != 200:
        return answer.status_code
    return bool(answer.json()["reports_total"])


def _in_export(answer: Response, reference: str) -> int | bool:
    if answer.status_code != 200:
        return answer.status_code
    rows = [json.loads(line) for line in answer.text.splitlines()]
    assert all(row["reference"] == reference for row in rows)  # the world holds no other
    return bool(rows)


def _on_map(answer: Response, reference: str) -> int | bool:
    """Whether the map shows the report and counts it (403 when the role may not read it)."""
    if answer.status_code != 200:
        return answer.status_code
    body = answer.json()
    shown = any(f["properties"]["reference"] == reference for f in body["features"])
    assert body["total"] == int(shown), "the map's count hints at a report it does not show"
    return shown


def expected(role: Role, relation: str, classification: Classification) -> dict[str, int | bool]:
    cleared = classification.rank <= Classification.official_sensitive.rank
    shared = (
        relation == "partner_shared"
        and classification.rank <= Classification.official_sensitive.rank
    )
    sees = cleared and (relation == "same_team" or shared)
    code = 200 if sees else 404
    held = permissions_for(role)

    def gated(permission: Permission, answer: int | bool) -> int | bool:
        return answer if permission in held else 403

    others = {
        "graph": gated(Permission.linkage_read, code),
        "search": gated(Permission.search_read, sees),
        "count": gated(Permission.stats_read, sees),
        "export": gated(Permission.report_export, sees),
    }
    if Permission.report_read not in held:  # searches other records only: never finds it
        return {
            **dict.fromkeys(ENDPOINTS, 403),
            **others,
            "search": gated(Permission.search_read, False),
        }
    return {
        "get": code,
        "list": sees,
        "messages": code,
        "shares": code,
        "map": sees and "where" in report_fields(role),  # a place withheld is no point
        "display": code if "attachments" in report_fields(role) else 404,  # no files shown
        "original": gated(Permission.attachment_original_download, code),
        **others,
    }


@pytest.mark.parametrize("handling", ["P", "C"])
@pytest.mark.parametrize("classification", list(Classification))
def test_access_matrix(
    client: TestClient, rt: Runtime, classification: Classification, handling: str
) -> None:
    world = build_world(client, rt, classification, handling)
    share_status = share_with_police(world)
    within_agreement = classification.rank <= Classification.official_sensitive.rank
    assert share_status == (201 if within_agreement else 403)
    wrong = []
    for n, (role, relation) in enumerate((r, rel) for r in Role for rel in RELATIONS):
        token = user_for(world, role, relation, n)
        got, want = answers(world, token), expected(role, relation, classification)
        if got != want:
            wrong.append(
                (role.value, relation, {k: (got[k], want[k]) for k in got if got[k] != want[k]})
            )
    assert wrong == []


def test_sharing_outside_an_agreement_is_refused(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt, Classification.official, "P")
    response = client.post(
        f"/api/v1/reports/{world.reference}/shares",
        json={"organisation": HEALTH, "purpose": "Safeguarding concern"},
        headers=auth(world.sharer),
    )
    assert response.status_code == 403
    assert "No data-sharing agreement" in response.json()["detail"]


def test_handling_code_c_needs_the_conditions_accepted(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt, Classification.official, "C")
    response = client.post(
        f"/api/v1/reports/{world.reference}/shares",
        json={"organisation": POLICE, "purpose": "Joint investigation"},
        headers=auth(world.sharer),
    )
    assert response.status_code == 422
    assert "Not to be shared beyond the receiving officer" in response.json()["detail"]


def test_sharing_with_a_team_in_the_same_organisation_needs_no_agreement(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt, Classification.official_sensitive, "P")
    investigator = staff_token(
        rt, email="inv@example.org", role=Role.investigator, teams=("Investigations",)
    )
    assert (
        client.get(f"/api/v1/reports/{world.reference}", headers=auth(investigator)).status_code
        == 404
    )
    shared = client.post(
        f"/api/v1/reports/{world.reference}/shares",
        json={"team": "Investigations", "purpose": "Open a case"},
        headers=auth(world.sharer),
    )
    assert shared.status_code == 201 and shared.json()["team"] == "Investigations"
    assert (
        client.get(f"/api/v1/reports/{world.reference}", headers=auth(investigator)).status_code
        == 200
    )


def test_revoked_sharing_takes_effect_on_the_very_next_request(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt, Classification.official, "P")
    partner = staff_token(
        rt, email="partner@example.org", role=Role.investigator, org=POLICE, teams=("Intelligence",)
    )
    share = client.post(
        f"/api/v1/reports/{world.reference}/shares",
        json={"organisation": POLICE, "purpose": "Joint investigation"},
        headers=auth(world.sharer),
    ).json()
    assert (
        client.get(f"/api/v1/reports/{world.reference}", headers=auth(partner)).status_code == 200
    )
    revoked = client.delete(
        f"/api/v1/reports/{world.reference}/shares/{share['id']}", headers=auth(world.sharer)
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (
        client.get(f"/api/v1/reports/{world.reference}", headers=auth(partner)).status_code == 404
    )


def test_guessed_references_answer_like_missing_ones(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt, Classification.official, "P")
    outsider = staff_token(rt, email="outsider@example.org", org=HEALTH, teams=("Safeguarding",))
    hidden = client.get(f"/api/v1/reports/{world.reference}", headers=auth(outsider))
    missing = client.get("/api/v1/reports/VGL-2222-2222", headers=auth(outsider))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]
    assert hidden.json()["title"] == missing.json()["title"]


def test_a_disabled_user_is_refused_on_the_next_request(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt, email="leaver@example.org")
    assert client.get("/api/v1/reports", headers=auth(token)).status_code == 200
    rt.db.write_sync(
        lambda s: s.execute(
            update(User).where(User.email == "leaver@example.org").values(disabled_at=utcnow())
        )
    )
    assert client.get("/api/v1/reports", headers=auth(token)).status_code == 401


def test_an_expired_token_is_refused(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt, email="temp@example.org")
    rt.db.write_sync(
        lambda s: s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    )
    assert client.get("/api/v1/reports", headers=auth(token)).status_code == 401


def test_disclosure_is_audited_with_its_recipients(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt, Classification.official, "P")
    assert share_with_police(world) == 201
    with rt.db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "record.disclosed"))
        assert event is not None and event.record_ids == [world.reference]
        assert POLICE in (event.purpose or "") and "Joint investigation" in (event.purpose or "")
