"""What a running Vigil holds: settings, database, keys, file store, limiters.

Built once by the app factory (or the CLI) and handed to service functions, so services
never reach for globals and tests can build one around a rolled-back transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from vigil.db import Database, create_db_engine
from vigil.intake.codes import CodeHasher
from vigil.intake.storage import LocalFileStore
from vigil.sealing import Sealer
from vigil.settings import Settings
from vigil.web.ratelimit import RateLimiter


@dataclass
class Runtime:
    settings: Settings
    db: Database
    sealer: Sealer
    code_hasher: CodeHasher
    store: LocalFileStore
    receiving_unit: tuple[int, int] | None = None  # (organisation id, team id)
    worker: Any = None  # the in-process vigil.jobs.worker.Worker, when the app runs one
    public_limiter: RateLimiter = field(init=False)
    followup_failure_limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        processes = self.settings.web_processes
        self.public_limiter = RateLimiter(
            self.settings.public_rate_limit, name="public", processes=processes
        )
        # Wrong follow-up codes from one client, across all references (stops enumeration).
        self.followup_failure_limiter = RateLimiter(
            self.settings.followup_max_failures * 2, name="followup-failures", processes=processes
        )

    def wake_worker(self) -> None:
        """New work was committed: let the in-process worker start on it now."""
        if self.worker is not None:
            self.worker.wake()

    @classmethod
    def build(cls, settings: Settings, db: Database | None = None) -> Runtime:
        if db is None:
            db = Database(
                create_db_engine(settings.database_url), batch_max=settings.writer_batch_max
            )
        return cls(
            settings=settings,
            db=db,
            sealer=Sealer(settings.keyring, settings.current_key_id),
            code_hasher=CodeHasher(
                settings.followup_hash_time_cost, settings.followup_hash_memory_kib
            ),
            store=LocalFileStore(settings.attachments_dir),
        )


async def runtime(request: Request) -> Runtime:
    """Async so FastAPI does not send this trivial lookup to the thread pool."""
    rt: Runtime = request.app.state.runtime
    return rt
