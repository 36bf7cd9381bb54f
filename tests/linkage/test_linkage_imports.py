"""Importing known people and subjects: all or nothing, protected data dropped, linked."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import auth, minimal_report, staff_token
from tests.scratch import Cli
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.jobs.worker import Worker
from vigil.linkage.models import Entity, EntityImport, Subject
from vigil.triage.tasks import default_registry
from vigil.web.runtime import Runtime

FIXTURES = Path(__file__).parent / "fixtures"


def upload(client: TestClient, token: str, name: str, fmt: str = "csv", **params: str) -> object:
    data = (FIXTURES / name).read_bytes()
    return client.post(
        "/api/v1/linkage/imports",
        params={"format": fmt, **params},
        files={"file": (name, data, "text/csv")},
        headers=auth(token),
    )


def investigator(rt: Runtime) -> str:
    return staff_token(
        rt, "inv@example.org", role=Role.investigator, clearance=Classification.secret
    )


def counts(rt: Runtime) -> tuple[int, int, int]:
    with rt.db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Entity)) or 0,
            session.scalar(select(func.count()).select_from(Subject)) or 0,
            session.scalar(select(func.count()).select_from(EntityImport)) or 0,
        )


def test_a_file_with_any_bad_row_imports_nothing_and_names_every_problem(
    client: TestClient, rt: Runtime
) -> None:
    response = upload(client, investigator(rt), "people_errors.csv")
    assert response.status_code == 422  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    pointers = {e["pointer"] for e in body["errors"]}
    assert "/rows/1/date_of_birth" in pointers and "/rows/4/id" in pointers
    assert "nothing was imported" in body["detail"]
    assert counts(rt) == (0, 0, 0)


def test_a_good_file_stores_people_and_subjects_and_reports_dropped_protected_columns(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    response = upload(client, token, "people.csv")
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    entities, subjects, imports = counts(rt)
    assert body["entities"] == entities > 0 and imports == 1
    assert body["subjects"] == subjects >= 2

    partner = upload(client, token, "partner_with_protected.csv")
    dropped = partner.json()["dropped"]  # type: ignore[attr-defined]
    assert set(dropped) >= {"nationality", "religion"}
    with rt.db.session() as session:
        for properties in session.scalars(select(Entity.properties)):
            assert not {"nationality", "religion"} & set(properties)


def test_an_imported_subject_is_alerted_when_a_report_gives_their_phone(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    assert upload(client, token, "people.csv").status_code == 201  # type: ignore[attr-defined]
    description = (
        "A man was filming the gas works fence for an hour and left a number, "
        "07700 900412, with the security guard in case he was needed."
    )
    response = client.post("/api/v1/reports", json=minimal_report(description=description))
    assert response.status_code == 201
    Worker(rt, default_registry(), poll_s=0.01).run_until_idle()
    alerts = client.get("/api/v1/linkage/alerts", headers=auth(token)).json()
    assert [a["subject"]["external_ref"] for a in alerts] == ["SUBJ-0042"]


def test_export_gives_back_what_was_imported(client: TestClient, rt: Runtime) -> None:
    token = investigator(rt)
    upload(client, token, "people.csv")
    exported = client.get("/api/v1/linkage/exports?format=csv", headers=auth(token))
    assert exported.status_code == 200
    assert "KP-0001" in exported.text and "+447700900412" in exported.text
    other = staff_token(rt, "other@example.org", role=Role.investigator, org="Elsewhere", teams=())
    assert (
        "KP-0001" not in client.get("/api/v1/linkage/exports?format=csv", headers=auth(other)).text
    )


def test_cli_import_refuses_a_bad_file_and_imports_a_good_one(migrated: Cli) -> None:
    migrated("orgs", "create", "Regional CT Unit North", "--kind", "ct_policing")
    bad = migrated(
        "entities",
        "import",
        str(FIXTURES / "people_errors.csv"),
        "--org",
        "Regional CT Unit North",
        code=1,
    )
    assert "row 1, date_of_birth" in bad.stderr and "nothing was imported" in bad.stderr
    good = migrated(
        "entities",
        "import",
        str(FIXTURES / "people.csv"),
        "--org",
        "Regional CT Unit North",
    )
    assert "Imported" in good.stdout
