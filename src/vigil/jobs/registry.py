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
  retrying the batch one payload at a time. A handler that commits its batch in parts and
  already knows which payloads failed raises :class:`PartialFailure` instead: the others
  are done, and only those are retried. Exception messages end up in ``last_error``, which
  staff with ``jobs:job:read`` can see: they name ids, never report content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from vigil.web.runtime import Runtime

Handler = Callable[["Runtime", list[dict[str, Any]]], None]
WarmUp = Callable[["Runtime"], None]


class PartialFailure(Exception):
    """Some payloads of a batch failed and every other one is done (committed).

    ``failures`` maps a payload's position in the list the handler was given to what went
    wrong with it. Retrying the whole batch one payload at a time would run again what was
    already committed; this tells the worker exactly what to retry.
    """

    def __init__(self, failures: Mapping[int, Exception]) -> None:
        super().__init__(f"{len(failures)} of the batch's payloads failed")
        self.failures = dict(failures)


class Registry:
    """Kinds of job and their batch handlers; a worker claims only kinds it can handle.

    An *urgent* kind is one people wait for (a new report sits unscored in the analysts'
    queue until triage has run): a worker claims its due jobs before those of other kinds,
    which keep a small share of each batch (see :meth:`vigil.jobs.worker.Worker.claim`).
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._urgent: set[str] = set()
        self._warm_ups: list[WarmUp] = []

    def on_start(self, warm_up: WarmUp) -> WarmUp:
        """Have ``warm_up(rt)`` run when a worker starts, before it claims anything.

        A handler that loads something on first use (a model, rule files, a library's
        modules) would otherwise load it in the middle of the first surge, holding up every
        job queued behind it for as long as that takes (seconds for the person model).
        """
        self._warm_ups.append(warm_up)
        return warm_up

    def warm_up(self, rt: Runtime) -> None:
        for warm_up in self._warm_ups:
            warm_up(rt)

    @overload
    def register(self, kind: str, fn: Handler, *, urgent: bool = False) -> Handler: ...

    @overload
    def register(
        self, kind: str, fn: None = None, *, urgent: bool = False
    ) -> Callable[[Handler], Handler]: ...

    def register(
        self, kind: str, fn: Handler | None = None, *, urgent: bool = False
    ) -> Handler | Callable[[Handler], Handler]:
        """``registry.register("kind", fn)``, or ``@registry.register("kind")`` on ``fn``."""

        def add(handler: Handler) -> Handler:
            if kind in self._handlers:
                raise ValueError(f"a handler for {kind!r} is already registered")
            self._handlers[kind] = handler
            if urgent:
                self._urgent.add(kind)
            return handler

        return add if fn is None else add(fn)

    def handler(self, kind: str) -> Handler:
        return self._handlers[kind]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def is_urgent(self, kind: str) -> bool:
        return kind in self._urgent

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers

    def __len__(self) -> int:
        return len(self._handlers)
