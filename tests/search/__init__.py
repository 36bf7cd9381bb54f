"""Search tests, and the small world they share: reports, people and cases in two forces.

Synthetic names only. Reports arrive through the public API (owned by the receiving hub);
a report is moved to another organisation, or given a priority and categories, directly in
the database, because those are other areas' steps and these tests are about search.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import auth, minimal_report
from vigil.access.markings import Classification
from vigil.access.models import Organisation
from vigil.access.permissions import OrganisationKind
from vigil.access.services import ensure_organisation
from vigil.intake.models import Report
from vigil.linkage.models import Entity, Identity
from vigil.triage.models import TriageResult
from vigil.web.runtime import Runtime

OTHER_FORCE = "Northern CT Unit"


def submit(client: TestClient, description: str, **fields: Any) -> str:
    response = client.post(
        "/api/v1/reports", json=minimal_report(description=description, **fields)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def submit_with_code(client: TestClient, description: str, **fields: Any) -> tuple[str, str]:
    response = client.post(
        "/api/v1/reports", json=minimal_report(description=description, **fields)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return str(body["reference"]), str(body["followup_code"])


def person(name: str, **more: str) -> dict[str, str]:
    return {"name": name, **more}


def find(client: TestClient, token: str, q: str, **params: Any) -> Response:
    return client.get("/api/v1/search", params={"q": q, **params}, headers=auth(token))


def found(client: TestClient, token: str, q: str, **params: Any) -> dict[str, Any]:
    response = find(client, token, q, **params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def ids(page: dict[str, Any]) -> list[str]:
    return [hit["id"] for hit in page["hits"]]


def facet(page: dict[str, Any], name: str) -> dict[str, int]:
    return {f["value"]: f["count"] for f in page["facets"][name]}


def org_id(rt: Runtime, name: str) -> int:
    def work(session: Session) -> int:
        return ensure_organisation(session, name, OrganisationKind.ct_policing).id

    return rt.db.write_sync(work)


def move_report(rt: Runtime, reference: str, organisation: str) -> None:
    """Make another organisation own a report (as if it had come in through that force)."""
    owner = org_id(rt, organisation)
    rt.db.write_sync(
        lambda s: s.execute(
            update(Report)
            .where(Report.reference == reference)
            .values(owning_org_id=owner, owning_team_id=None)
        )
    )


def mark_report(rt: Runtime, reference: str, classification: Classification) -> None:
    rt.db.write_sync(
        lambda s: s.execute(
            update(Report)
            .where(Report.reference == reference)
            .values(classification=classification.value)
        )
    )


def triage(rt: Runtime, reference: str, priority: str | None, *categories: str) -> None:
    """What the pipeline would have decided, set directly."""

    def work(session: Session) -> None:
        rid = session.scalar(select(Report.id).where(Report.reference == reference))
        session.execute(
            update(TriageResult)
            .where(TriageResult.report_id == rid)
            .values(
                priority=priority,
                priority_rank=int(priority[1]) if priority else 5,
                category_codes="," + "".join(f"{c}," for c in categories),
            )
        )

    rt.db.write_sync(work)


def person_entity(
    rt: Runtime,
    label: str,
    *,
    organisation: str | None = None,
    properties: dict[str, list[str]] | None = None,
    classification: Classification = Classification.official_sensitive,
) -> int:
    """A person entity, as an import or an analyst's note would store it."""

    def work(session: Session) -> int:
        owner = session.scalar(
            select(Organisation.id).where(
                Organisation.name == (organisation or rt.settings.receiving_org)
            )
        )
        assert owner is not None
        identity = Identity(kind="person")
        session.add(identity)
        session.flush()
        entity = Entity(
            kind="person",
            identity_id=identity.id,
            label=label,
            properties=properties or {"name": [label]},
            source_type="analyst",
            owning_org_id=owner,
            classification=classification.value,
        )
        session.add(entity)
        session.flush()
        return entity.id

    return rt.db.write_sync(work)
