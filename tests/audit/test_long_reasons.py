"""A reason longer than the audit log's column never makes the action fail: the event keeps
the first 499 characters and an ellipsis, the record keeps the reason whole."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import auth, staff_token
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.audit.services import PURPOSE_MAX
from vigil.web.runtime import Runtime


def test_a_referral_with_a_long_reason_is_taken_and_its_event_keeps_the_start_of_it(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(
        rt, "inv@example.org", role=Role.investigator, clearance=Classification.secret
    )
    reason = "Referred after repeated worrying remarks in class. " * 60  # about 3,000 characters
    body = {"person": {"first_name": "Ola", "last_name": "Brandt"}, "reason": reason.strip()}
    answer = client.post("/api/v1/linkage/referrals", json=body, headers=auth(token))
    assert answer.status_code == 201, answer.text
    with rt.db.session() as session:
        purposes = session.scalars(
            select(AuditEvent.purpose).where(AuditEvent.action == "referral.submitted")
        ).all()
    (kept,) = purposes
    assert kept is not None and len(kept) == PURPOSE_MAX
    assert kept.endswith("…") and reason.startswith(kept[:-1])
