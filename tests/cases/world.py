"""A small multi-agency world for the cases tests: the receiving hub, two partner agencies
with agreements covering cases, and one organisation with none. Synthetic names only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import auth, minimal_report, staff_token
from vigil.access.markings import Classification
from vigil.access.models import User
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import ensure_organisation
from vigil.access.sharing import create_agreement
from vigil.audit.services import SYSTEM
from vigil.web.runtime import Runtime

HEALTH = "Synthetic Health Trust"  # agreement covers cases and reports
COUNCIL = "Synthetic Borough Council"  # agreement covers cases only
ELSEWHERE = "Northern CT Unit"  # no agreement at all
CONDITIONS = "Not to be shared outside policing without consent"


@dataclass
class World:
    client: TestClient
    rt: Runtime
    analyst: str  # token of an analyst in the receiving team

    def submit(self, description: str = "Someone photographing the station's CCTV.") -> str:
        response = self.client.post("/api/v1/reports", json=minimal_report(description=description))
        assert response.status_code == 201, response.text
        return str(response.json()["reference"])

    def post(self, path: str, token: str, body: dict[str, Any]) -> Response:
        return self.client.post(f"/api/v1/cases{path}", json=body, headers=auth(token))

    def patch(self, path: str, token: str, body: dict[str, Any]) -> Response:
        return self.client.patch(f"/api/v1/cases{path}", json=body, headers=auth(token))

    def get(self, path: str, token: str) -> Response:
        return self.client.get(f"/api/v1/cases{path}", headers=auth(token))

    def open_case(self, token: str | None = None, **body: Any) -> dict[str, Any]:
        payload = {"title": "Depot surveillance", **body}
        response = self.post("", token or self.analyst, payload)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def case(self, reference: str, token: str | None = None) -> dict[str, Any]:
        response = self.get(f"/{reference}", token or self.analyst)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def share(self, reference: str, organisation: str, token: str | None = None) -> Response:
        body = {"organisation": organisation, "purpose": "Joint risk management"}
        return self.post(f"/{reference}/shares", token or self.analyst, body)

    def add_action(self, reference: str, title: str, organisation: str | None = None) -> int:
        body: dict[str, Any] = {"title": title, "detail": "Synthetic task"}
        if organisation:
            body["organisation"] = organisation
        response = self.post(f"/{reference}/actions", self.analyst, body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def grade_handling_c(self, reference: str, conditions: str = CONDITIONS) -> None:
        """Grade the report 2/B/C with handling conditions (as an analyst does through the
        triage API), so that sharing it needs the conditions accepted."""
        graded = self.client.post(
            f"/api/v1/triage/reports/{reference}/grade",
            json={
                "source": "2",
                "intelligence": "B",
                "handling": "C",
                "conditions": conditions,
                "reason": "Known reliable reporter",
            },
            headers=auth(self.analyst),
        )
        assert graded.status_code == 200, graded.text

    def partner(self, email: str, organisation: str = HEALTH) -> str:
        kind = OrganisationKind.health if organisation == HEALTH else OrganisationKind.other
        return staff_token(
            self.rt, email, role=Role.partner_practitioner, org=organisation, org_kind=kind
        )

    def user_id(self, email: str) -> int:
        found = self.rt.db.write_sync(
            lambda s: s.scalar(select(User.id).where(User.email == email))
        )
        assert found is not None
        return int(found)


def build_world(client: TestClient, rt: Runtime) -> World:
    def setup(session: Session) -> None:
        hub = ensure_organisation(session, rt.settings.receiving_org, OrganisationKind.ct_policing)
        ensure_organisation(session, HEALTH, OrganisationKind.health)
        ensure_organisation(session, COUNCIL, OrganisationKind.local_authority)
        ensure_organisation(session, ELSEWHERE, OrganisationKind.ct_policing)
        for partner, kinds in ((HEALTH, ["case", "report"]), (COUNCIL, ["case"])):
            create_agreement(
                session,
                SYSTEM,
                hub.name,
                partner,
                kinds,
                Classification.official_sensitive,
                "Managing risk together (MAPPA)",
            )

    rt.db.write_sync(setup)
    return World(client, rt, staff_token(rt))


def shared_case(world: World) -> tuple[str, str, str, dict[str, int]]:
    """A case linking two reports, shared with Health and the Council, with one action each
    for the hub, Health and the Council. Returns (case, report one, report two, actions)."""
    one, two = world.submit(), world.submit("A drone flown over the depot at dusk.")
    ref = world.open_case(reports=[one, two])["reference"]
    assert world.share(ref, HEALTH).status_code == 201
    assert world.share(ref, COUNCIL).status_code == 201
    actions = {
        "hub": world.add_action(ref, "Review the CCTV footage"),
        HEALTH: world.add_action(ref, "Arrange a welfare visit", HEALTH),
        COUNCIL: world.add_action(ref, "Check the tenancy records", COUNCIL),
    }
    return ref, one, two, actions
