"""The reporter's follow-up pages and the public information pages in the footer.

A reporter signs in to one report with its reference and follow-up code; the session then
remembers the reference (never the code) until they sign out or the session expires after
its idle time. The thread page shows questions from the team and what the reporter has sent
since, but never the original report, in case someone else sees the screen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import anyio
from babel.dates import format_date
from fastapi import Depends
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.intake import journey_files, thread
from vigil.intake.codes import CODE_LENGTH, normalise_code, normalise_reference
from vigil.intake.metrics import FOLLOWUPS
from vigil.intake.storage import FileTooLarge, StagedFile
from vigil.web.problems import Problem
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime
from vigil.web.sessions import COOKIE, SECURE_COOKIE
from vigil.web.templating import (
    Page,
    idle_span,
    on_expired_form,
    page,
    page_router,
    translations,
)
from vigil.web.text import clean_text

router = page_router()
_view = Depends(public(Permission.public_pages_view))

SESSION_KEY = "followup_reference"
FLASH_KEY = "followup_flash"
LONDON = ZoneInfo("Europe/London")
_CHUNK = 1 << 20
T = TypeVar("T")


# --- signing in ---------------------------------------------------------------------------


@router.get("/follow-up", dependencies=[_view])
def sign_in_form(p: Page = Depends(page)) -> Response:
    return _sign_in_page(p, {}, {})


@router.post("/follow-up", dependencies=[_view])
async def sign_in(p: Page = Depends(page)) -> Response:
    form: FormData = p.request.state.form
    values = {"reference": _text(form, "reference"), "code": _text(form, "code")}
    errors: dict[str, str] = {}
    if not values["reference"].strip():
        errors["reference"] = p._("Enter your reference")
    elif normalise_reference(values["reference"]) is None:
        errors["reference"] = p._(
            "Enter your reference exactly as it was shown to you, like VGL-7K4M-Q2XR"
        )
    if not values["code"].strip():
        errors["code"] = p._("Enter your follow-up code")
    elif len(normalise_code(values["code"])) != CODE_LENGTH:
        errors["code"] = p._(
            "Enter your follow-up code exactly as it was shown to you: 20 letters and numbers"
        )
    if errors:
        return await _off(_sign_in_page, p, values, errors, 400)
    client = client_key(p.request, p.rt.settings.trust_forwarded_for)
    try:
        p.rt.public_limiter.check(client)
        verified = await thread.sign_in(p.rt, client, values["reference"], values["code"])
    except Problem as problem:
        if problem.status == 404:
            errors["reference"] = p._(
                "We could not find a report with that reference and follow-up code. "
                "Check both and try again."
            )
        elif problem.status == 429:
            errors["reference"] = _too_many(p, problem)
        else:
            raise
        status = 429 if problem.status == 429 else 400
        return await _off(_sign_in_page, p, values, errors, status)
    # A fresh session id on sign-in, so an id planted before it cannot inherit the access.
    p.session.token = None
    p.session.set(SESSION_KEY, verified.reference)
    return await _off(p.redirect, "/follow-up/thread")


def _sign_in_page(
    p: Page, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    return p.render(
        "intake/followup/sign_in.html",
        status=status,
        values=values,
        errors=errors,
        error_list=_error_list(errors, ("reference", "code")),
        flash=_pop_flash(p),
    )


def _too_many(p: Page, problem: Problem) -> str:
    seconds = int(problem.headers.get("Retry-After", "60") or 60)
    minutes = max(1, math.ceil(seconds / 60))
    text = translations(p.lang).ngettext(
        "You have entered a wrong reference or follow-up code too many times. "
        "Try again later, in %(num)d minute.",
        "You have entered a wrong reference or follow-up code too many times. "
        "Try again later, in %(num)d minutes.",
        minutes,
    )
    return text % {"num": minutes}


# --- the thread ---------------------------------------------------------------------------


@dataclass
class ShownMessage:
    staff: bool
    when: str
    iso: str
    paragraphs: list[str]
    files: list[str] = field(default_factory=list)


@router.get("/follow-up/thread", dependencies=[_view])
def thread_page(p: Page = Depends(page)) -> Response:
    reference = p.session.data.get(SESSION_KEY)
    if not isinstance(reference, str):
        if p.session.expired:
            return _timed_out_page(p)
        return p.redirect("/follow-up")
    return _thread_page(p, reference, {}, {})


@router.post("/follow-up/thread", dependencies=[_view])
async def reply(p: Page = Depends(page)) -> Response:
    reference = p.session.data.get(SESSION_KEY)
    verified = None
    if isinstance(reference, str):
        verified = await _off(thread.reporter_verified, p.rt, reference)
    if verified is None:
        return await _off(p.redirect, "/follow-up")
    form: FormData = p.request.state.form
    raw = _text(form, "text")
    uploads = journey_files.chosen_uploads(form.getlist("files"))
    errors = _check_reply(p, raw, uploads)

    async def again(status: int) -> Response:
        """The thread with the errors, and what was typed (files must be chosen again)."""
        return await _off(_thread_page, p, verified.reference, {"text": raw}, errors, status)

    if errors:
        return await again(400)
    client = client_key(p.request, p.rt.settings.trust_forwarded_for)
    if p.rt.public_limiter.hit(client) is not None:
        errors["text"] = p._(
            "You have sent a lot of messages in a short time. Wait a minute and try again."
        )
        return await again(429)
    try:
        staged = await _off(_stage, p.rt, uploads)
    except FileTooLarge:
        errors["files"] = p._("Each file must be smaller than %(size)s") % {
            "size": journey_files.file_size(p.rt.settings.max_attachment_bytes)
        }
        return await again(400)
    try:
        await thread.add_reporter_message(
            p.rt, verified, clean_text(raw) or None, staged, channel="web"
        )
    except Problem as problem:
        if problem.kind != "file-not-accepted":
            raise
        errors["files"] = _file_refused(p, problem, staged)
        return await again(400)
    finally:
        for item in staged:
            p.rt.store.discard(item.path)  # kept files have moved; leftovers go
    FOLLOWUPS.labels("web").inc()
    p.session.set(FLASH_KEY, "sent")
    return await _off(p.redirect, "/follow-up/thread")


@router.post("/follow-up/sign-out", dependencies=[_view])
def sign_out(p: Page = Depends(page)) -> Response:
    return _signed_out(p)


def _signed_out(p: Page) -> Response:
    if SESSION_KEY in p.session.data:
        p.session.pop(SESSION_KEY)
    p.session.set(FLASH_KEY, "signed_out")
    return p.redirect("/follow-up")


def _check_reply(p: Page, raw: str, uploads: list[UploadFile]) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        text = clean_text(raw)
    except ValueError:
        errors["text"] = p._(
            "Your message contains a character we cannot accept. Remove it and try again."
        )
        text = raw
    if len(text) > thread.REPLY_MAX_CHARS:
        errors["text"] = p._("Your message must be %(max)s characters or fewer") % {
            "max": f"{thread.REPLY_MAX_CHARS:,}"
        }
    limit = p.rt.settings.max_attachments
    if len(uploads) > limit:
        errors["files"] = translations(p.lang).ngettext(
            "You can send up to %(num)d file at a time",
            "You can send up to %(num)d files at a time",
            limit,
        ) % {"num": limit}
    if not text.strip() and not uploads and "text" not in errors:
        errors["text"] = p._("Enter the information you want to add, or choose a file to send")
    return errors


def _stage(rt: Runtime, uploads: list[UploadFile]) -> list[StagedFile]:
    """Copy each upload into the staging folder, capped and hashed like the API's files."""
    staged: list[StagedFile] = []
    try:
        for upload in uploads:
            name = re.split(r"[\\/]", upload.filename or "")[-1].strip()[-255:] or None
            writer = rt.store.stage(name, rt.settings.max_attachment_bytes)
            upload.file.seek(0)
            while chunk := upload.file.read(_CHUNK):
                writer.write(chunk)
            staged.append(writer.finish())
    except BaseException:
        for item in staged:
            rt.store.discard(item.path)
        raise
    return staged


def _file_refused(p: Page, problem: Problem, staged: list[StagedFile]) -> str:
    index = 0
    if problem.errors:
        pointer = problem.errors[0].get("pointer", "")
        tail = pointer.rsplit("/", 1)[-1]
        index = int(tail) if tail.isascii() and tail.isdecimal() and len(tail) < 9 else 0
    name = staged[index].filename if index < len(staged) else None
    reason = journey_files.explain(p._, p.lang, problem.detail or "")
    message = p._("The file %(name)s was not accepted. %(reason)s")
    return message % {"name": name or "", "reason": reason}


def _thread_page(
    p: Page, reference: str, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    view = thread.reporter_thread(p.rt, reference)
    if view is None:  # the report has gone (for example, deleted under the retention policy)
        return _signed_out(p)
    messages = [_shown(p, m) for m in view.messages]
    return p.render(
        "intake/followup/thread.html",
        status=status,
        reference=view.reference,
        received=_day(p, view.received_at),
        messages=messages,
        values=values,
        errors=errors,
        error_list=_error_list(errors, ("text", "files")),
        flash=_pop_flash(p),
        max_files=p.rt.settings.max_attachments,
        max_size=journey_files.file_size(p.rt.settings.max_attachment_bytes),
    )


def _timed_out_page(p: Page, status: int = 200) -> Response:
    hours, num = _idle_span(p.rt)
    ngettext = translations(p.lang).ngettext
    if hours:
        text = ngettext(
            "For your security, we signed you out of your report because nothing happened "
            "for %(num)d hour.",
            "For your security, we signed you out of your report because nothing happened "
            "for %(num)d hours.",
            num,
        )
    else:
        text = ngettext(
            "For your security, we signed you out of your report because nothing happened "
            "for %(num)d minute.",
            "For your security, we signed you out of your report because nothing happened "
            "for %(num)d minutes.",
            num,
        )
    return p.render(
        "intake/followup/timed_out.html", status=status, explanation=text % {"num": num}
    )


def _idle_span(rt: Runtime) -> tuple[bool, int]:
    """The session idle time as (in whole hours?, number) for plural-aware sentences."""
    return idle_span(rt.settings.form_idle_timeout_s)


async def _refused_form(p: Page) -> Response | None:
    """A reply or sign-out sent after the session idled out: say the reporter was signed out
    (and how to get back in), not that a new report's answers were deleted."""
    if not p.session.expired:
        return None
    p.session.deleted = True  # forget the stale cookie
    return await _off(partial(_timed_out_page, p, status=400))


def _shown(p: Page, message: thread.MessageOut) -> ShownMessage:
    text = message.text or ""
    paragraphs = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n")]
    local = message.received_at.astimezone(LONDON)
    return ShownMessage(
        staff=message.author == "staff",
        when=_moment(p, local),
        iso=local.isoformat(timespec="minutes"),
        paragraphs=[block for block in paragraphs if block],
        files=[a.filename or p._("A file without a name") for a in message.attachments],
    )


def _day(p: Page, moment: datetime) -> str:
    return _date(p, moment.astimezone(LONDON).date())


def _date(p: Page, day: date) -> str:
    return format_date(day, "d MMMM y", locale=p.lang)


def _moment(p: Page, local: datetime) -> str:
    """GOV.UK style, in UK time: "27 November 2026 at 2:05pm", "… at midday"."""
    hour, minute = local.hour, f"{local.minute:02d}"
    if (hour, local.minute) == (0, 0):
        time = p._("midnight")
    elif (hour, local.minute) == (12, 0):
        time = p._("midday")
    elif hour < 12:
        time = p._("%(hour)s:%(minute)sam") % {"hour": hour % 12 or 12, "minute": minute}
    else:
        time = p._("%(hour)s:%(minute)spm") % {"hour": hour % 12 or 12, "minute": minute}
    return p._("%(date)s at %(time)s") % {"date": _date(p, local.date()), "time": time}


# --- shared bits --------------------------------------------------------------------------


async def _off(work: Callable[..., T], *args: Any) -> T:
    """Blocking work (the database, rendering, saving the session) off the event loop."""
    return await anyio.to_thread.run_sync(partial(work, *args))


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _error_list(errors: dict[str, str], order: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"text": errors[name], "href": f"#{name}"} for name in order if name in errors]


def _pop_flash(p: Page) -> Any:
    return p.session.pop(FLASH_KEY) if FLASH_KEY in p.session.data else None


# --- information pages ------------------------------------------------------------------


@router.get("/privacy", dependencies=[_view])
def privacy(p: Page = Depends(page)) -> Response:
    hours, num = _idle_span(p.rt)
    ngettext = translations(p.lang).ngettext
    if hours:
        text = ngettext(
            "If you stop before sending, we delete your answers after %(num)d hour "
            "without activity.",
            "If you stop before sending, we delete your answers after %(num)d hours "
            "without activity.",
            num,
        )
    else:
        text = ngettext(
            "If you stop before sending, we delete your answers after %(num)d minute "
            "without activity.",
            "If you stop before sending, we delete your answers after %(num)d minutes "
            "without activity.",
            num,
        )
    return p.render(
        "intake/info/privacy.html",
        org=p.rt.settings.receiving_org,
        idle_sentence=text % {"num": num},
    )


@router.get("/accessibility", dependencies=[_view])
def accessibility(p: Page = Depends(page)) -> Response:
    return p.render("intake/info/accessibility.html", org=p.rt.settings.receiving_org)


@router.get("/cookies", dependencies=[_view])
def cookies(p: Page = Depends(page)) -> Response:
    hours, num = _idle_span(p.rt)
    ngettext = translations(p.lang).ngettext
    if hours:
        text = ngettext(
            "When you close your browser, or after %(num)d hour without activity.",
            "When you close your browser, or after %(num)d hours without activity.",
            num,
        )
    else:
        text = ngettext(
            "When you close your browser, or after %(num)d minute without activity.",
            "When you close your browser, or after %(num)d minutes without activity.",
            num,
        )
    return p.render(
        "intake/info/cookies.html",
        cookie=COOKIE,
        secure_cookie=SECURE_COOKIE,
        expiry_sentence=text % {"num": num},
    )


for _path in ("/follow-up/thread", "/follow-up/sign-out"):
    on_expired_form(_path, _refused_form)
