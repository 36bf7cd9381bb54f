"""Field-level rules on report responses, on both databases: each role is shown the fields on
its allow-list and told which were withheld; the custodian, who decides on disclosing a
reporter's identity, is never shown what a report says.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import auth, report_payload, staff_token
from vigil.access.fields import REPORT_FIELDS, report_fields
from vigil.access.permissions import Role
from vigil.intake.schemas import ReportOut
from vigil.web.runtime import Runtime

CONTENT = {"description", "when", "where", "people", "vehicles", "online", "attachments"}


def test_the_allow_lists_name_exactly_the_fields_of_a_report_response() -> None:
    assert set(ReportOut.model_fields) - {"withheld"} == REPORT_FIELDS
    for role in Role:
        assert report_fields(role) <= REPORT_FIELDS


def test_the_custodian_is_shown_that_a_report_exists_but_not_what_it_says(
    client: TestClient, rt: Runtime
) -> None:
    reference = client.post("/api/v1/reports", json=report_payload()).json()["reference"]
    custodian = staff_token(rt, "custodian@example.org", Role.reporter_custodian)

    one = client.get(f"/api/v1/reports/{reference}", headers=auth(custodian)).json()
    listed = client.get("/api/v1/reports", headers=auth(custodian)).json()["items"]

    for shown in (one, listed[0]):
        assert shown["reference"] == reference
        assert shown["anonymous"] is False
        assert set(shown["withheld"]) == CONTENT | {"triage"}
        assert all(shown[name] is None for name in shown["withheld"])
    assert "gas cylinders" not in str(one) + str(listed)
    assert "Mill Lane" not in str(one) + str(listed)


def test_an_analyst_is_shown_every_field_and_nothing_is_marked_withheld(
    client: TestClient, rt: Runtime
) -> None:
    reference = client.post("/api/v1/reports", json=report_payload()).json()["reference"]
    analyst = staff_token(rt)

    one = client.get(f"/api/v1/reports/{reference}", headers=auth(analyst)).json()

    assert one["withheld"] == []
    assert one["description"]
    assert one["people"] and one["vehicles"]
