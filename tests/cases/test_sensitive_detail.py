"""Health and social-care details on a shared case, on both databases: what a health trust's
staff write (an update's note, an action's detail) is shown to their own agency, and to
another agency's user only when a sharing agreement names that user's role; everyone on the
case still sees the action, its owner and its state, and is told a note was withheld. The
case timeline says a note was added, never what it said.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.cases.world import HEALTH, World, build_world, shared_case
from vigil.access.models import Organisation, SharingAgreement
from vigil.web.runtime import Runtime

NOTE = "Synthetic clinical note: appointment kept, medication reviewed."


def health_update(world: World) -> tuple[str, int]:
    case, _one, _two, actions = shared_case(world)
    health = world.partner("nurse@example.org")
    answer = world.patch(
        f"/{case}/actions/{actions[HEALTH]}", health, {"state": "in_progress", "text": NOTE}
    )
    assert answer.status_code == 200, answer.text
    return case, actions[HEALTH]


def the_action(world: World, case: str, action_id: int, token: str) -> dict[str, object]:
    actions = world.case(case, token)["actions"]
    return next(a for a in actions if a["id"] == action_id)


def name_role_in_agreement(rt: Runtime, roles: list[str]) -> None:
    def work(session: object) -> None:
        health = session.scalar(select(Organisation.id).where(Organisation.name == HEALTH))  # type: ignore[attr-defined]
        session.execute(  # type: ignore[attr-defined]
            update(SharingAgreement)
            .where((SharingAgreement.org_a_id == health) | (SharingAgreement.org_b_id == health))
            .values(sensitive_roles=roles)
        )

    rt.db.write_sync(work)


def test_a_health_note_is_withheld_from_a_role_the_agreement_does_not_name(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    case, action_id = health_update(world)

    seen = the_action(world, case, action_id, world.analyst)

    assert seen["state"] == "in_progress" and seen["organisation"] == HEALTH
    notes = [u for u in seen["updates"] if u["state"] == "in_progress"]  # type: ignore[union-attr]
    assert notes and notes[0]["text"] is None and notes[0]["text_withheld"] is True
    assert NOTE not in client.get(f"/api/v1/cases/{case}", headers=world_auth(world)).text


def test_the_note_is_shown_once_the_agreement_names_the_role(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    case, action_id = health_update(world)
    name_role_in_agreement(rt, ["triage_analyst"])

    seen = the_action(world, case, action_id, world.analyst)

    notes = [u for u in seen["updates"] if u["state"] == "in_progress"]  # type: ignore[union-attr]
    assert notes[0]["text"] == NOTE and notes[0]["text_withheld"] is False


def test_the_writers_own_agency_always_sees_its_note(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt)
    case, action_id = health_update(world)
    colleague = world.partner("colleague@example.org")

    seen = the_action(world, case, action_id, colleague)

    notes = [u for u in seen["updates"] if u["state"] == "in_progress"]  # type: ignore[union-attr]
    assert notes[0]["text"] == NOTE


def test_the_meeting_pack_says_a_note_was_withheld_and_never_prints_it(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    case, _action_id = health_update(world)

    pack = client.get(f"/api/v1/cases/{case}/pack.pdf", headers=world_auth(world))

    assert pack.status_code == 200
    text = " ".join(pdf_text(pack.content).split())  # the pack justifies its lines
    assert "a note withheld" in text
    assert "clinical note" not in text


def world_auth(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.analyst}"}


def pdf_text(content: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
