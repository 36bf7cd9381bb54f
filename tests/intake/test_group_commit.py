"""Reports that reach the writer together are written together, exactly as if one by one.

The writer commits waiting public submissions with one statement per table. These tests hold
the writer busy until forty different reports are waiting, then let it commit them as one
group, and check every row against what each reporter sent: nothing swapped between reports,
every report in the queue with its pipeline job, and one audit event each, chained in order.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from tests import scratch
from tests.factories import minimal_report, report_payload
from tests.scratch import fresh_database
from vigil import migrate
from vigil.audit import chain
from vigil.audit.models import AuditEvent
from vigil.audit.services import PUBLIC
from vigil.db import Database, create_db_engine
from vigil.intake import services
from vigil.intake.models import (
    FollowupCredential,
    Report,
    ReporterIdentity,
    ReportPerson,
    ReportVehicle,
)
from vigil.intake.schemas import ReportIn
from vigil.jobs.models import Job
from vigil.settings import Settings
from vigil.triage.models import TriageResult
from vigil.web.runtime import Runtime

COUNT = 40


def payloads() -> list[dict[str, Any]]:
    """Different reports: some with a named reporter, people and vehicles, some not."""
    out: list[dict[str, Any]] = []
    for i in range(COUNT):
        if i % 3 == 0:
            out.append(minimal_report(description=f"Man filming the depot gates, visit {i}."))
            continue
        out.append(
            report_payload(
                description=f"Van seen again at the lock-up, sighting number {i}.",
                people=[{"name": f"Person {i}", "age": f"{20 + i}"}],
                vehicles=[{"registration": f"AB{i:02d} CDE", "colour": "white"}],
                reporter={"anonymous": False, "name": f"Reporter {i}", "email": "r@example.org"},
            )
        )
    return out


async def submit_while_writer_is_held(rt: Runtime, reports: list[ReportIn]) -> list[str]:
    """Queue every submission behind a blocked writer, then let it commit them at once."""
    release = threading.Event()
    held = rt.db.writer.submit(lambda _session: release.wait(10))
    tasks = [
        asyncio.create_task(services.submit_report(rt, PUBLIC, report, [], channel="api"))
        for report in reports
    ]
    for _ in range(500):
        if rt.db.writer._queue.qsize() >= len(reports):
            break
        await asyncio.sleep(0.01)
    batches_before = rt.db.writer.batches
    release.set()
    answers = await asyncio.gather(*tasks)
    assert held.result(5) is True
    assert rt.db.writer.batches - batches_before <= 2  # the held work, then the group
    return [answer.reference for answer in answers]


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
def test_reports_committed_together_keep_each_reporters_content(
    engine_name: str, tmp_path: Path
) -> None:
    with fresh_database(engine_name, tmp_path, "group") as owner_url:
        migrate.upgrade(owner_url)
        app_url = scratch.app_url(owner_url)
        settings = Settings(
            environment="test", database_url=app_url, data_dir=tmp_path / "var", log_level="warning"
        )
        rt = Runtime.build(settings)
        try:
            services.ensure_receiving_org(rt)
            sent = payloads()
            references = asyncio.run(
                submit_while_writer_is_held(rt, [ReportIn.model_validate(p) for p in sent])
            )
        finally:
            rt.db.close()

        owner = Database(create_db_engine(owner_url, pool_size=1))
        try:
            with owner.session() as session:
                by_ref = {r.reference: r for r in session.scalars(select(Report))}
                assert sorted(by_ref) == sorted(references)
                for reference, payload in zip(references, sent, strict=True):
                    report = by_ref[reference]
                    assert report.description == payload["description"]
                    people = session.scalars(
                        select(ReportPerson.name).where(ReportPerson.report_id == report.id)
                    ).all()
                    assert people == [p["name"] for p in payload.get("people", [])]
                    plates = session.scalars(
                        select(ReportVehicle.registration).where(
                            ReportVehicle.report_id == report.id
                        )
                    ).all()
                    assert plates == [v["registration"] for v in payload.get("vehicles", [])]
                    identity = session.scalars(
                        select(ReporterIdentity).where(ReporterIdentity.report_id == report.id)
                    ).all()
                    assert len(identity) == (1 if "reporter" in payload else 0)
                    if identity:  # sealed to this report: opens with its own reference only
                        opened = services.open_identity(rt, identity[0], reference)
                        assert opened["name"] == payload["reporter"]["name"]
                    credentials = session.scalars(
                        select(FollowupCredential).where(FollowupCredential.report_id == report.id)
                    ).all()
                    assert len(credentials) == 1
                    queued = session.scalars(
                        select(TriageResult.status).where(TriageResult.report_id == report.id)
                    ).all()
                    assert queued == ["pending"]
                    assert session.scalars(
                        select(Job.key).where(Job.key == f"triage.report:{report.id}")
                    ).all() == [f"triage.report:{report.id}"]

                events = session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.action == "report.collected")
                    .order_by(AuditEvent.seq)
                ).all()
                assert sorted(e.record_ids[0] for e in events) == sorted(references)
                assert all(len(e.record_ids) == 1 and e.actor_label == "public" for e in events)
                verdict = chain.verify(session, Ed25519PrivateKey.generate().public_key())
                assert verdict.ok, verdict
        finally:
            owner.close()
