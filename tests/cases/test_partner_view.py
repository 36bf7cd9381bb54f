"""A case shared with partner agencies: each sees and updates only its own actions, never an
unshared linked report, never another agency's work, and sharing follows the agreements."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cases.world import COUNCIL, ELSEWHERE, HEALTH, build_world, shared_case
from tests.factories import auth, staff_token
from vigil.access.markings import Classification
from vigil.access.models import User
from vigil.audit.models import AuditEvent
from vigil.web.runtime import Runtime


def test_a_partner_sees_the_shared_case_with_only_its_own_actions_and_no_unshared_report(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    ref, one, two, actions = shared_case(world)
    nurse = world.partner("nurse@example.org")

    response = world.get(f"/{ref}", nurse)
    assert response.status_code == 200, response.text
    view = response.json()
    assert [a["id"] for a in view["actions"]] == [actions[HEALTH]]
    assert view["actions"][0]["may_update"] is True and view["may_manage"] is False
    assert view["reports"] == []
    # No counts or hints: neither report, the other agency, its action nor the shares.
    text = response.text
    for secret in (one, two, COUNCIL, "Check the tenancy records", "Review the CCTV footage"):
        assert secret not in text, secret
    kinds = [e["kind"] for e in view["timeline"]]
    assert kinds == ["action_added", "opened"]
    assert world.get(f"/{ref}/shares", nurse).status_code == 403
    assert [i["reference"] for i in world.get("", nurse).json()["items"]] == [ref]

    # The managing analyst sees everything.
    full = world.case(ref)
    assert sorted(a["id"] for a in full["actions"]) == sorted(actions.values())
    assert [r["reference"] for r in full["reports"]] == [one, two]
    assert [e["kind"] for e in full["timeline"]].count("shared") == 2


def test_a_partner_updates_its_own_action_but_not_another_agencys(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    ref, _, _, actions = shared_case(world)
    nurse = world.partner("nurse@example.org")
    officer = world.partner("housing@example.org", COUNCIL)

    mine = world.patch(
        f"/{ref}/actions/{actions[HEALTH]}",
        nurse,
        {"state": "in_progress", "text": "Visit booked for Tuesday"},
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["state"] == "in_progress"
    assert [(u["by"], u["state"], u["text"]) for u in mine.json()["updates"]] == [
        ("nurse@example.org", "in_progress", "Visit booked for Tuesday")
    ]
    note = world.patch(f"/{ref}/actions/{actions[HEALTH]}", nurse, {"text": "Visited"})
    assert note.status_code == 200 and note.json()["state"] == "in_progress"
    same = world.patch(f"/{ref}/actions/{actions[HEALTH]}", nurse, {"state": "in_progress"})
    assert same.status_code == 422 and same.json()["errors"][0]["pointer"] == "#/state"

    # Another agency's action, the hub's own and a made-up one all answer alike.
    for action_id in (actions[COUNCIL], actions["hub"], 999_999):
        other = world.patch(f"/{ref}/actions/{action_id}", nurse, {"state": "done"})
        assert other.status_code == 404
        assert other.json()["detail"] == "No such action on this case."
    # Partners do not change the case itself, nor set actions.
    assert world.patch(f"/{ref}", nurse, {"title": "Mine now"}).status_code == 403
    assert world.post(f"/{ref}/actions", nurse, {"title": "Extra"}).status_code == 403

    # The Council sees its own action untouched and none of Health's work.
    council_view = world.case(ref, officer)
    assert [(a["id"], a["state"]) for a in council_view["actions"]] == [(actions[COUNCIL], "open")]
    assert "Visit booked" not in world.get(f"/{ref}", officer).text
    # The hub sees the partner's updates in the action's history and in the timeline; their
    # notes are health details, withheld from a role the agreement does not name
    # (tests/cases/test_sensitive_detail.py), and said to be.
    hub = world.case(ref)
    health = next(a for a in hub["actions"] if a["id"] == actions[HEALTH])
    assert [(u["text"], u["text_withheld"]) for u in health["updates"]] == [(None, True)] * 2
    assert hub["timeline"][0]["kind"] == "action_updated"
    assert hub["timeline"][0]["by"] == "nurse@example.org"


def test_a_linked_report_appears_to_the_partner_only_once_it_is_shared_itself(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    ref, one, two, _ = shared_case(world)
    nurse = world.partner("nurse@example.org")
    shared = client.post(
        f"/api/v1/reports/{one}/shares",
        json={"organisation": HEALTH, "purpose": "Welfare visit context"},
        headers=auth(world.analyst),
    )
    assert shared.status_code == 201, shared.text
    view = world.case(ref, nurse)
    assert [r["reference"] for r in view["reports"]] == [one]
    assert two not in world.get(f"/{ref}", nurse).text
    assert [e["summary"] for e in view["timeline"] if e["kind"] == "linked"] == [
        f"Linked report {one}"
    ]
    # The partner's reading of the case is audited against the report it showed, and only it.
    viewed = rt.db.write_sync(
        lambda s: s.scalars(
            select(AuditEvent.record_ids)
            .join(User, User.id == AuditEvent.actor_user_id)
            .where(AuditEvent.action == "case.viewed", User.email == "nurse@example.org")
            .order_by(AuditEvent.seq)
        ).all()
    )
    assert viewed and all(one in ids and two not in ids for ids in viewed)
    # Revoking the case's share hides the whole case again on the very next request.
    shares = world.get(f"/{ref}/shares", world.analyst).json()
    health = next(s for s in shares if s["organisation"] == HEALTH)
    revoked = client.delete(
        f"/api/v1/cases/{ref}/shares/{health['id']}", headers=auth(world.analyst)
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert world.get(f"/{ref}", nurse).status_code == 404


def test_sharing_a_case_and_setting_partner_actions_follow_the_agreements(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    ref = world.open_case()["reference"]
    refused = world.share(ref, ELSEWHERE)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/no-sharing-agreement")
    # An action for an agency the case is not shared with would be invisible to it.
    early = world.post(f"/{ref}/actions", world.analyst, {"title": "Visit", "organisation": HEALTH})
    assert early.status_code == 422
    assert early.json()["errors"][0]["pointer"] == "#/organisation"
    unknown = world.post(f"/{ref}/actions", world.analyst, {"title": "Visit", "organisation": "X"})
    assert unknown.status_code == 422
    assert world.share(ref, HEALTH).status_code == 201
    assert world.add_action(ref, "Visit", HEALTH) > 0
    # A partner reading the case may not share it onwards.
    nurse = world.partner("nurse@example.org")
    assert world.share(ref, COUNCIL, token=nurse).status_code == 403
    # Nor may the managing organisation exceed an agreement's classification.
    cleared = staff_token(rt, "cleared@example.org", clearance=Classification.secret)
    secret = world.open_case(cleared, classification="SECRET")["reference"]
    assert world.share(secret, HEALTH, token=cleared).status_code == 403
