"""Which function handles which kind of job.

A handler takes a *batch* of payloads of one kind: triage must reach 200 reports a second
per core, which it can only do by reading and writing many records per transaction.

The contract every handler keeps:

* **It owns its transactions.** It reads with ``rt.db.session()`` and writes with
  ``rt.db.write_sync(...)``; the queue marks the jobs done only after it returns.
* **It is idempotent.** Delivery is at least once: a worker killed after the handler's
  commit but before the jobs are marked done runs them again, and a failed batch is retried
  job by job (so its good jobs run twice). Running a payload twice must change nothing more.
* **It raises to fail.** Any exception fails the batch; the queue then finds the bad job by
  retrying the batch one payload at a time. Exception messages end up in ``last_error``,
  which staff with ``jobs:job:read`` can see: they name ids, never report content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from vigil.web.runtime import Runtime

Handler = Callable[["Runtime", list[dict[str, Any]]], None]


class Registry:
    """Kinds of job and their batch handlers; a worker claims only kinds it can handle."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    @overload
    def register(self, kind: str, fn: Handler) -> Handler: ...

    @overload
    def register(self, kind: str, fn: None = None) -> Callable[[Handler], Handler]: ...

    def register(
        self, kind: str, fn: Handler | None = None
    ) -> Handler | Callable[[Handler], Handler]:
        """``registry.register("kind", fn)``, or ``@registry.register("kind")`` on ``fn``."""

        def add(handler: Handler) -> Handler:
            if kind in self._handlers:
                raise ValueError(f"a handler for {kind!r} is already registered")
            self._handlers[kind] = handler
            return handler

        return add if fn is None else add(fn)

    def handler(self, kind: str) -> Handler:
        return self._handlers[kind]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers

    def __len__(self) -> int:
        return len(self._handlers)
