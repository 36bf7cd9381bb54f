"""The ``search.index`` job: drain a backlog of changes bigger than a search catches up on.

A search indexes up to ``index.CATCH_UP_BATCH`` pending changes before it runs; an import
of a million entities, or a rebuild, leaves far more. The search then asks for this job
(one key, so many searches ask once), and a worker indexes the rest in batches, each its own
transaction, for at most half its lease; if changes remain it asks for another round.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.jobs.queue import enqueue
from vigil.jobs.registry import Registry
from vigil.search import index
from vigil.web.runtime import Runtime

SEARCH_INDEX = "search.index"
JOB_BATCH = 500


def ask_for_catch_up(session: Session) -> None:
    enqueue(session, SEARCH_INDEX, f"{SEARCH_INDEX}:backlog", {})


def catch_up_all(rt: Runtime, *, budget_s: float | None = None) -> int:
    """Index pending changes, batch by batch, until none are left (or the time budget is
    spent); returns how many pending rows were handled."""
    handled, started = 0, time.monotonic()
    while budget_s is None or time.monotonic() - started < budget_s:
        done = rt.db.write_sync(lambda session: index.catch_up(session, JOB_BATCH))
        handled += done
        if done == 0:
            break
    return handled


def index_backlog(rt: Runtime, payloads: list[dict[str, Any]]) -> None:
    """The job's handler (idempotent: indexing a record twice stores the same document)."""
    catch_up_all(rt, budget_s=rt.settings.jobs_lease_s / 2)

    def again(session: Session) -> None:
        if index.has_backlog(session):
            key = f"{SEARCH_INDEX}:more:{utcnow().isoformat()}"
            enqueue(session, SEARCH_INDEX, key, {})

    rt.db.write_sync(again)


def register(registry: Registry) -> None:
    registry.register(SEARCH_INDEX, index_backlog)
