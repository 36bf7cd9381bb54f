"""`vigil serve --processes N`: several web processes, one database, nothing lost or forked.

Each process has its own writer; on SQLite they take turns for the file's write lock. The
test submits reports from many clients at once to a two-process server and proves that
every acknowledged report is stored once, that the audit chain is one unbroken chain (each
process appended to the same head, never to a stale copy), that /metrics counts every
process's reports, and that rate limits are shared out between the processes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import scratch
from tests.factories import minimal_report
from tests.scratch import fresh_database
from tests.serving import server_env, start_server
from vigil import migrate
from vigil.audit import chain
from vigil.audit.models import AuditEvent
from vigil.db import create_db_engine
from vigil.intake.models import Report
from vigil.settings import Settings
from vigil.web.ratelimit import RateLimiter

CLIENTS, EACH = 12, 5


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            found.extend(int(child) for child in children.read().split())
    return found


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
def test_two_web_processes_store_every_report_once_in_one_audit_chain(
    engine_name: str, tmp_path: Path
) -> None:
    with fresh_database(engine_name, tmp_path, "processes") as owner_url:
        migrate.upgrade(owner_url)
        app_url = scratch.app_url(owner_url)
        env = server_env(
            database_url=app_url,
            data_dir=str(tmp_path / "var"),
            web_processes="2",
            jobs_in_process="false",
            public_rate_limit="0",
            log_level="warning",
        )
        server = start_server(env, tmp_path / "server.log", ready_timeout=120)
        try:
            assert len(children_of(server.pid)) >= 2, server.tail()

            def submit(client_no: int) -> list[str]:
                refs = []
                with httpx.Client(base_url=server.base_url, timeout=60) as client:
                    for n in range(EACH):
                        body = minimal_report(description=f"Client {client_no} sighting {n} here.")
                        answer = client.post("/api/v1/reports", json=body)
                        assert answer.status_code == 201, answer.text
                        refs.append(answer.json()["reference"])
                return refs

            with ThreadPoolExecutor(CLIENTS) as pool:
                acknowledged = [ref for refs in pool.map(submit, range(CLIENTS)) for ref in refs]
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                for _ in range(4):  # whichever process answers, it counts all of them
                    exposed = client.get("/metrics").text
                    assert f'vigil_reports_received_total{{channel="api"}} {CLIENTS * EACH}.0' in (
                        exposed
                    ), exposed[:2000]
        finally:
            server.stop()

        engine = create_db_engine(owner_url, pool_size=1)
        try:
            with Session(engine) as session:
                stored = session.scalars(select(Report.reference)).all()
                assert sorted(stored) == sorted(acknowledged)
                assert len(set(stored)) == CLIENTS * EACH
                collected = session.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.action == "report.collected")
                )
                assert collected == CLIENTS * EACH
                signer = chain.Signer(Settings(database_url=app_url).audit_seed)  # the servers' key
                verdict = chain.verify(session, signer.public_key)
                assert verdict.ok, verdict
        finally:
            engine.dispose()


def test_each_process_allows_its_share_of_a_rate_limit() -> None:
    assert RateLimiter(60, name="t", processes=1).per_minute == 60
    assert RateLimiter(60, name="t", processes=2).per_minute == 30
    assert RateLimiter(10, name="t", processes=4).per_minute == 3  # rounded up, never 0
    assert not RateLimiter(0, name="t", processes=4).enabled
