"""``vigil jobs``: the summary, draining the queue, re-running and purging, for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import Result

from tests.scratch import Cli, flat, runner
from vigil.audit.models import AuditEvent
from vigil.jobs import Job, NewJob, Registry, enqueue_many
from vigil.jobs import commands as jobs_commands
from vigil.settings import get_settings


def jobs(*args: str, code: int = 0) -> Result:
    get_settings.cache_clear()
    result = runner.invoke(jobs_commands.app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def seed(cli: Cli, n: int = 3) -> None:
    rows = [NewJob("triage.report", f"triage.report:{i}", {"report_id": i}) for i in range(n)]
    with cli.runtime() as rt:
        rt.db.write_sync(lambda s: enqueue_many(s, rows))


def registry_failing_on(bad: int) -> Registry:
    registry = Registry()

    @registry.register("triage.report")
    def handle(rt: Any, payloads: list[dict[str, Any]]) -> None:
        if any(p["report_id"] == bad for p in payloads):
            raise ValueError(f"report {bad} cannot be scored")

    return registry


def statuses(cli: Cli) -> dict[str, str]:
    with cli.runtime() as rt, rt.db.session() as session:
        return dict(session.execute(select(Job.key, Job.status)).all())


def test_list_shows_counts_by_kind_and_state(migrated: Cli) -> None:
    assert "No jobs." in jobs("list").stdout
    seed(migrated)
    out = flat(jobs("list").stdout)
    assert "│ triage.report │ 3 │ 0 │ 0 │ 0 │" in out


def test_work_until_idle_drains_the_queue_and_listing_failed_jobs_shows_why(
    migrated: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(migrated)
    monkeypatch.setenv("COLUMNS", "200")  # one job a line
    monkeypatch.setattr(jobs_commands, "load_registry", lambda: registry_failing_on(1))
    result = jobs("work", "--until-idle")
    assert "3 jobs run: 2 done, 1 failed attempts" in flat(result.stderr)
    assert statuses(migrated) == {
        "triage.report:0": "done",
        "triage.report:1": "queued",  # backing off
        "triage.report:2": "done",
    }
    listed = flat(jobs("list", "--status", "queued").stdout)
    assert "triage.report:1" in listed and "report 1 cannot be scored" in listed
    assert migrated.count(AuditEvent) == 1  # the listing of jobs was audited


def test_work_without_handlers_refuses_to_run_forever(
    migrated: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_commands, "load_registry", Registry)
    assert "nothing to run" in flat(jobs("work", code=1).stderr)
    assert "0 jobs run" in flat(jobs("work", "--until-idle").stderr)


def test_requeue_runs_a_finished_job_again_and_purge_forgets_old_done_jobs(
    migrated: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(migrated, 2)
    monkeypatch.setattr(jobs_commands, "load_registry", lambda: registry_failing_on(-1))
    jobs("work", "--until-idle")
    assert "queued again" in flat(jobs("requeue", "triage.report:0").stderr)
    assert "No done or failed job" in flat(jobs("requeue", "triage.report:0", code=1).stderr)
    with migrated.runtime() as rt, rt.db.session() as session:
        actions = list(session.scalars(select(AuditEvent.action)))
    assert actions == ["jobs.requeued"]
    assert "0 done jobs deleted" in flat(jobs("purge", "--days", "1").stderr)
    assert statuses(migrated) == {"triage.report:0": "queued", "triage.report:1": "done"}


def test_without_an_area_providing_handlers_the_registry_is_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs_commands, "TASKS_MODULE", "vigil.jobs.no_such_tasks")
    assert len(jobs_commands.load_registry()) == 0


def test_the_registry_comes_from_the_tasks_module_and_a_broken_one_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "good_jobs_tasks.py").write_text(
        "from vigil.jobs import Registry\n"
        "def default_registry():\n"
        "    registry = Registry()\n"
        "    registry.register('triage.report', lambda rt, payloads: None)\n"
        "    return registry\n"
    )
    (tmp_path / "broken_jobs_tasks.py").write_text("import vigil.jobs.no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(jobs_commands, "TASKS_MODULE", "good_jobs_tasks")
    assert jobs_commands.load_registry().kinds == ("triage.report",)
    monkeypatch.setattr(jobs_commands, "TASKS_MODULE", "broken_jobs_tasks")
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency"):
        jobs_commands.load_registry()
