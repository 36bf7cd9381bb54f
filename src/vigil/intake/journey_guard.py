"""Keeping bots out of the public form without a third-party CAPTCHA, and never at the cost
of a genuine reporter.

A submission is *suspect* when the hidden honeypot field has been filled in, or when the
whole journey took less time than a person could need (``settings.form_min_fill_s``).
Suspect submissions are never stored. They count against one global limit (all clients
together, ``settings.global_suspect_rate_limit``), and only they do: a flood of bot traffic,
from however many addresses, therefore never uses up anything a genuine reporter needs.
Submissions that pass the checks count against the per-client limit (``rt.public_limiter``),
which bots cannot exhaust for a shared address (an office, a mobile network) either.

A double click or a refresh that races the first submission gets the same answer: each
journey submits once at a time within the process, the answer is remembered for a short
while, and ``submit_report`` is called with the journey's idempotency key in any case.

A repeat that comes *after* the answer (the confirmation page reloaded, which posts the form
again, or a retry after the answer was lost on the way) finds the journey's session gone.
What was sent is therefore also noted against the sending form's CSRF token, which only that
browser's session ever had, in the database, so that whichever web process the repeat
reaches finds it: within ``ANSWER_MEMORY_S`` the same confirmation is shown again, code
included (opened from the submission's idempotency record, never kept in the note); after
that, for as long as an idle session could have lasted, only the reference (so the browser
is never told that nothing was sent).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter

from vigil.db import utcnow
from vigil.intake import services
from vigil.intake.journey import clock
from vigil.intake.schemas import ReportAccepted
from vigil.web.ratelimit import RateLimiter
from vigil.web.runtime import Runtime
from vigil.web.sessions import leave_note, read_note

HONEYPOT = "website"
ANSWER_MEMORY_S = 120.0

log = structlog.get_logger("vigil.intake.web")
SUSPECT = Counter(
    "vigil_web_suspect_submissions_total",
    "Website submissions refused as bot-like (never stored)",
    ["reason"],
)

_suspect_limiters: dict[int, RateLimiter] = {}
_last_warning: dict[int, float] = {}
_locks: dict[str, asyncio.Lock] = {}
_answers: dict[str, tuple[float, ReportAccepted]] = {}


@dataclass
class Sent:
    """What one browser sent on one route: in which language, and the answer."""

    lang: str
    reference: str
    accepted: ReportAccepted | None  # None once ANSWER_MEMORY_S has passed: no code any more


def suspect_reason(rt: Runtime, data: dict[str, Any], honeypot: object) -> str | None:
    """Why this submission looks automated, or None when it looks like a person's."""
    if isinstance(honeypot, str) and honeypot.strip():
        return "honeypot"
    started = data.get("started")
    if not isinstance(started, int | float):
        return "no-start"
    if clock() - float(started) < rt.settings.form_min_fill_s:
        return "too-fast"
    return None


def suspect_limiter(rt: Runtime) -> RateLimiter:
    """The global limit on suspect submissions: one per Runtime, made on first use."""
    limiter = _suspect_limiters.get(id(rt))
    if limiter is None:
        limiter = RateLimiter(
            rt.settings.global_suspect_rate_limit,
            name="web-suspect",
            processes=rt.settings.web_processes,
        )
        _suspect_limiters[id(rt)] = limiter
        weakref.finalize(rt, _suspect_limiters.pop, id(rt), None)
        weakref.finalize(rt, _last_warning.pop, id(rt), None)
    return limiter


def note_suspect(rt: Runtime, reason: str) -> float | None:
    """Count a suspect submission; seconds to wait when the global limit is used up."""
    SUSPECT.labels(reason).inc()
    wait = suspect_limiter(rt).hit("all")
    if wait is not None and time.monotonic() - _last_warning.get(id(rt), -60.0) >= 60:
        _last_warning[id(rt)] = time.monotonic()  # once a minute is enough to notice a flood
        log.warning("web.suspect_limit", reason=reason)
    return wait


async def submit_once(key: str, submit: Callable[[], Awaitable[ReportAccepted]]) -> ReportAccepted:
    """Run ``submit`` once per journey; a concurrent or repeated call gets the same answer.

    The answer holds the follow-up code, so it is kept in memory only, and only briefly.
    """
    _forget_old_answers()
    memo = hashlib.sha256(key.encode()).hexdigest()
    lock = _locks.setdefault(memo, asyncio.Lock())
    try:
        async with lock:
            remembered = _answers.get(memo)
            if remembered is not None:
                return remembered[1]
            accepted = await submit()
            _answers[memo] = (time.monotonic(), accepted)
            return accepted
    finally:
        if not lock.locked():
            _locks.pop(memo, None)


def _forget_old_answers() -> None:
    cutoff = time.monotonic() - ANSWER_MEMORY_S
    for memo in [m for m, (at, _) in _answers.items() if at < cutoff]:
        _answers.pop(memo, None)


def _note_name(route: str, csrf_token: str) -> str:
    return f"sent:{route}:{csrf_token}"


def remember_sent(
    rt: Runtime, route: str, csrf_token: str, lang: str, accepted: ReportAccepted, key: str
) -> None:
    """Note what the browser holding ``csrf_token`` sent on ``route`` under idempotency ``key``
    (see above); blocking, so called from a worker thread."""
    note = {"lang": lang, "reference": accepted.reference, "key": key}
    leave_note(rt, _note_name(route, csrf_token), note)


def sent_before(rt: Runtime, route: str, csrf_token: object) -> Sent | None:
    """What this browser already sent on ``route``; ``accepted`` only within the short window.
    Blocking, so called from a worker thread."""
    if not isinstance(csrf_token, str) or not csrf_token:
        return None
    found = read_note(rt, _note_name(route, csrf_token))
    if found is None:
        return None
    note, at = found
    accepted = None
    if (utcnow() - at).total_seconds() < ANSWER_MEMORY_S:
        accepted = services.answer_given(rt, str(note["key"]))
    return Sent(str(note["lang"]), str(note["reference"]), accepted)


def forget_answers() -> None:
    """Drop every answer this process remembers (tests use it to act as another process)."""
    _answers.clear()
