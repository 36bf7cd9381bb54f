"""Reporter identity is sealed at rest and never leaks into tables, files or logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from tests.factories import report_payload
from vigil import migrate
from vigil.db import Database, create_db_engine
from vigil.intake.models import Report, ReporterIdentity
from vigil.intake.services import open_identity
from vigil.settings import Settings
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

MARKERS = {
    "name": "Zephyrine Quillfeather",
    "phone": "07700 900777",
    "email": "zephyrine.marker@example.org",
    "contact_preference": "ring after nine, marker-7731",
}
PLAIN_MARKERS = ["Zephyrine", "Quillfeather", "900777", "zephyrine.marker", "marker-7731"]


def marked_report() -> dict[str, object]:
    return report_payload(reporter={"anonymous": False, **MARKERS})


def all_rows_text(rt: Runtime) -> str:
    metadata = MetaData()
    with rt.db.session() as session:
        metadata.reflect(bind=session.connection())
        chunks = [
            repr(row) for table in metadata.sorted_tables for row in session.execute(select(table))
        ]
    return "\n".join(chunks)


def test_identity_is_sealed_and_opens_for_the_right_report(client: TestClient, rt: Runtime) -> None:
    reference = client.post("/api/v1/reports", json=marked_report()).json()["reference"]
    text = all_rows_text(rt)
    for marker in PLAIN_MARKERS:
        assert marker not in text
    with rt.db.session() as session:
        row = session.scalar(select(ReporterIdentity))
        assert row is not None
        opened = open_identity(rt, row, reference)
    assert opened["name"] == MARKERS["name"]
    assert opened["phone"] == "+447700900777"


def test_identity_never_reaches_the_sqlite_file_or_logs(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'privacy.db'}"
    migrate.upgrade(url)
    settings = Settings(
        environment="test",
        database_url=url,
        data_dir=tmp_path / "var",
        public_rate_limit=0,
        log_level="debug",
    )
    rt = Runtime.build(settings, db=Database(create_db_engine(url)))
    with TestClient(create_app(rt=rt)) as client:
        named = client.post("/api/v1/reports", json=marked_report())
        anonymous = client.post(
            "/api/v1/reports", json=report_payload(reporter={"anonymous": True})
        )
        assert named.status_code == anonymous.status_code == 201
        code = named.json()["followup_code"]
        assert (
            client.post(
                f"/api/v1/reports/{named.json()['reference']}/followups",
                json={"code": code, "text": "more detail"},
            ).status_code
            == 201
        )
    rt.db.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("privacy.db*"))
    logs = capfd.readouterr()
    for marker in PLAIN_MARKERS:
        assert marker.encode() not in stored
        assert marker not in logs.err and marker not in logs.out
    # Follow-up codes and client addresses are never stored or logged either.
    assert code.encode() not in stored and code.replace("-", "").encode() not in stored
    assert code not in logs.err
    assert b"testclient" not in stored and "testclient" not in logs.err
    assert "http.request" in logs.err  # the access log did run


def test_anonymous_reports_store_no_address_in_audit(client: TestClient, rt: Runtime) -> None:
    client.post("/api/v1/reports", json=report_payload(reporter={"anonymous": True}))
    text = all_rows_text(rt)
    assert "testclient" not in text
    with rt.db.session() as session:
        report = session.scalar(select(Report))
        assert report is not None and report.anonymous
        assert session.scalar(select(ReporterIdentity)) is None
