"""Linking entities and subjects to a case: only those the linker may see, and each reader
of the case sees only the linked records they may see themselves."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cases.world import HEALTH, build_world
from tests.factories import auth, staff_token
from vigil.access.markings import Classification
from vigil.access.models import Organisation
from vigil.access.permissions import Role
from vigil.linkage.models import Entity, Identity
from vigil.web.runtime import Runtime


def secret_subject(client: TestClient, token: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/linkage/subjects",
        json={"name": "Operation Larch subject", "classification": "SECRET"},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def secret_entity(rt: Runtime) -> int:
    """A person entity from an analyst's note, marked SECRET, owned by the receiving hub."""

    def work(session: Session) -> int:
        hub = session.scalar(
            select(Organisation.id).where(Organisation.name == rt.settings.receiving_org)
        )
        assert hub is not None
        identity = Identity(kind="person")
        session.add(identity)
        session.flush()
        entity = Entity(
            kind="person",
            identity_id=identity.id,
            label="Karl Example",
            properties={"name": ["Karl Example"]},
            source_type="analyst",
            owning_org_id=hub,
            classification="SECRET",
        )
        session.add(entity)
        session.flush()
        return entity.id

    return rt.db.write_sync(work)


def test_subjects_and_entities_link_only_when_the_linker_may_see_them(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    investigator = staff_token(
        rt, "inv@example.org", role=Role.investigator, clearance=Classification.secret
    )
    subject = secret_subject(client, investigator)
    entity_id = secret_entity(rt)

    # The analyst (OFFICIAL-SENSITIVE) may not see the SECRET subject or its entity.
    body = {"title": "Larch", "subjects": [subject["reference"]], "entities": [entity_id, 10**9]}
    refused = world.post("", world.analyst, body)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"pointer": "#/entities/0", "detail": "no entity with that id that you may see"},
        {"pointer": "#/entities/1", "detail": "no entity with that id that you may see"},
        {"pointer": "#/subjects/0", "detail": "no subject with that reference that you may see"},
    ]

    case = world.open_case(investigator, **body | {"entities": [entity_id, entity_id]})
    assert [s["reference"] for s in case["subjects"]] == [subject["reference"]]
    assert [e["id"] for e in case["entities"]] == [entity_id]  # linked once
    assert case["classification"] == "SECRET"  # combining takes the most restrictive marking

    # A colleague without the clearance does not see the case that now holds SECRET records.
    hidden = world.get(f"/{case['reference']}", world.analyst)
    assert hidden.status_code == 404
    assert subject["reference"] not in hidden.text and "Karl" not in hidden.text


def test_a_partner_sees_a_linked_subject_only_when_it_is_shared_with_them(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    subject = client.post(
        "/api/v1/linkage/subjects",
        json={"name": "Nominal on the register", "classification": "OFFICIAL-SENSITIVE"},
        headers=auth(staff_token(rt, "inv@example.org", role=Role.investigator)),
    ).json()
    case = world.open_case(subjects=[subject["reference"].lower()])
    assert [s["reference"] for s in case["subjects"]] == [subject["reference"]]
    assert world.share(case["reference"], HEALTH).status_code == 201
    nurse = world.partner("nurse@example.org")
    assert world.case(case["reference"], nurse)["subjects"] == []
