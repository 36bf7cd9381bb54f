"""A report's thread: what the reporter adds later, and the questions analysts ask them.

Follow-up codes are checked here for both doors, the JSON API and the website, so there is
one set of rules: an unknown reference and a wrong code get the same answer; wrong codes
count per reference (locking that reference for a window, even against the right code) and
per client (stopping someone trying one code against many references). Analysts read and
write a thread only through the access policy, and each reading or question is audited in
the transaction that does it, so there is no unaudited access.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

import anyio
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vigil.access.fields import THREAD_MESSAGE
from vigil.access.permissions import Role
from vigil.access.services import StaffUser
from vigil.audit.services import PUBLIC, record_event
from vigil.db import utcnow
from vigil.intake.codes import normalise_reference
from vigil.intake.models import Attachment, Followup, FollowupCredential, Report
from vigil.intake.reading import NOT_TRIAGER, owned_report, visible_report
from vigil.intake.schemas import FollowupAccepted
from vigil.intake.services import attachment_rows, keep_files
from vigil.intake.storage import StagedFile
from vigil.triage.models import TriageDecision
from vigil.triage.tasks import retriage
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said
from vigil.web.text import Text

QUESTION_MAX_CHARS = 5_000
REPLY_MAX_CHARS = 20_000  # the same limit as the API's FollowupIn.text

NOT_FOUND = Problem(
    404,
    said("Not found"),
    said("No report matches that reference and code."),
    kind="not-found",
)


# --- shapes -----------------------------------------------------------------------------


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError(said("must not be empty"))
    return value


QuestionText = Annotated[Text, Field(max_length=QUESTION_MAX_CHARS), AfterValidator(_not_blank)]


class MessageIn(BaseModel):
    """A question from an analyst to the reporter."""

    model_config = ConfigDict(extra="forbid")
    text: QuestionText


class MessageAttachmentOut(BaseModel):
    id: int
    filename: str | None
    media_type: str
    size_bytes: int
    sha256: str


class MessageOut(BaseModel):
    """One message of the thread. ``author_user_id`` is set only for staff messages.

    A role not shown a report's words or files (``vigil.access.fields.THREAD_MESSAGE``) gets
    each message's ``text`` as null and its ``attachments`` empty, and their names in
    ``withheld``, as a report response withholds its fields."""

    id: int
    author: Literal["reporter", "staff"]
    author_user_id: int | None
    text: str | None
    received_at: datetime
    attachments: list[MessageAttachmentOut]
    withheld: list[str] = Field(
        default_factory=list, description="Fields your role is not shown (emptied above)"
    )


@dataclass(frozen=True)
class Verified:
    """A reference whose follow-up code has just been shown to be right."""

    report_id: int
    reference: str


@dataclass(frozen=True)
class ReporterThread:
    """What the reporter is shown: never the original report's text or files."""

    reference: str
    received_at: datetime
    messages: list[MessageOut]


# --- the reporter's side ------------------------------------------------------------------


async def verify_code(rt: Runtime, client: str, reference_text: str, code: str) -> Verified:
    """The report behind a reference and code, or the one 404 for every kind of miss.

    A reference locked by too many wrong codes answers 429 even to the right code, so the
    lock cannot be used to test guesses.
    """
    reference = normalise_reference(reference_text)
    if reference is None:
        _count_failure(rt, client)
        raise NOT_FOUND
    with rt.db.session() as session:
        found = session.execute(
            select(
                Report.id,
                FollowupCredential.code_hash,
                FollowupCredential.failed_attempts,
                FollowupCredential.window_started_at,
            )
            .join(FollowupCredential, FollowupCredential.report_id == Report.id)
            .where(Report.reference == reference)
        ).first()
    if found is None:
        _count_failure(rt, client)
        raise NOT_FOUND
    report_id, code_hash, failures, window_start = found
    window = timedelta(seconds=rt.settings.followup_failure_window_s)
    now = utcnow()
    if (
        window_start is not None
        and now - window_start < window
        and failures >= rt.settings.followup_max_failures
    ):
        retry = int((window_start + window - now).total_seconds()) + 1
        raise Problem(
            429,
            said("Too many attempts"),
            said("Too many wrong codes for this reference. Please wait before trying again."),
            headers={"Retry-After": str(retry)},
        )
    ok = await anyio.to_thread.run_sync(rt.code_hasher.verify, code_hash, code)
    if not ok:
        _count_failure(rt, client)
        await rt.db.write(lambda s: _note_wrong_code(s, report_id, now, window))
        raise NOT_FOUND
    return Verified(report_id, reference)


def _count_failure(rt: Runtime, client: str) -> None:
    rt.followup_failure_limiter.check(client)


def _note_wrong_code(session: Session, report_id: int, now: datetime, window: timedelta) -> None:
    cred = session.get(FollowupCredential, report_id)
    if cred is None:
        return
    if cred.window_started_at is None or now - cred.window_started_at >= window:
        cred.window_started_at = now
        cred.failed_attempts = 1
    else:
        cred.failed_attempts += 1


def _forget_failures(session: Session, report_id: int) -> None:
    session.execute(
        update(FollowupCredential)
        .where(FollowupCredential.report_id == report_id)
        .values(failed_attempts=0, window_started_at=None)
    )


async def add_followup(
    rt: Runtime,
    client: str,
    reference_text: str,
    code: str,
    text: str | None,
    staged: Sequence[StagedFile],
    *,
    channel: str,
) -> FollowupAccepted:
    """Add information to a report with its code (the API's door)."""
    verified = await verify_code(rt, client, reference_text, code)
    if not (text and text.strip()) and not staged:
        raise Problem(
            422,
            said("Invalid request"),
            said("Add some text or at least one file."),
            errors=[field_error("#/text", said("add some text or a file"))],
            kind="invalid-request",
        )
    return await add_reporter_message(rt, verified, text, staged, channel=channel)


async def add_reporter_message(
    rt: Runtime,
    verified: Verified,
    text: str | None,
    staged: Sequence[StagedFile],
    *,
    channel: str,
) -> FollowupAccepted:
    """Keep the files durably, then write the message and its attachments in one commit."""
    kept = await keep_files(rt, staged)
    now = utcnow()

    def work(session: Session) -> FollowupAccepted:
        followup = Followup(
            report_id=verified.report_id,
            received_at=now,
            channel=channel,
            author="reporter",
            text=text or None,
        )
        session.add(followup)
        session.flush()
        for row in attachment_rows(kept, now):
            row.report_id = verified.report_id
            row.followup_id = followup.id
            session.add(row)
        _forget_failures(session, verified.report_id)
        retriage(session, verified.report_id, f"followup:{followup.id}")
        record_event(
            session,
            PUBLIC,
            "report.followup_collected",
            record_type="report",
            record_ids=[verified.reference],
        )
        return FollowupAccepted(
            reference=verified.reference,
            followup_id=followup.id,
            received_at=now,
            attachments=len(kept),
        )

    answer = await rt.db.write(work)
    rt.wake_worker()
    return answer


async def sign_in(rt: Runtime, client: str, reference_text: str, code: str) -> Verified:
    """The website's door: check the code, clear the wrong-code count, and note the sign-in."""
    verified = await verify_code(rt, client, reference_text, code)

    def work(session: Session) -> None:
        _forget_failures(session, verified.report_id)
        record_event(
            session,
            PUBLIC,
            "report.reporter_signed_in",
            record_type="report",
            record_ids=[verified.reference],
        )

    await rt.db.write(work)
    return verified


def reporter_thread(rt: Runtime, reference: str) -> ReporterThread | None:
    """The thread for a reporter already signed in to ``reference`` (None if it has gone)."""
    with rt.db.session() as session:
        found = session.execute(
            select(Report.id, Report.received_at).where(Report.reference == reference)
        ).first()
        if found is None:
            return None
        report_id, received_at = found
        return ReporterThread(reference, received_at, thread_messages(session, report_id))


def reporter_verified(rt: Runtime, reference: str) -> Verified | None:
    with rt.db.session() as session:
        report_id = session.scalar(select(Report.id).where(Report.reference == reference))
    return None if report_id is None else Verified(report_id, reference)


# --- the staff side -----------------------------------------------------------------------


def list_messages(
    rt: Runtime, user: StaffUser, reference_text: str, client: str | None = None
) -> list[MessageOut]:
    """The whole thread in time order; the reading is audited in the same transaction."""

    return rt.db.write_sync(
        lambda session: read_messages(
            session, user, visible_report(session, user, reference_text), client
        ),
        as_user=user.id,
    )


def read_messages(
    session: Session, user: StaffUser, report: Report, client: str | None = None
) -> list[MessageOut]:
    """A visible report's thread as the user's role is shown it (:func:`shown_messages`);
    the reading is audited in ``session``'s transaction."""
    messages = shown_messages(thread_messages(session, report.id), user.role)
    record_thread_viewed(session, user, report.reference, client)
    return messages


def shown_messages(messages: list[MessageOut], role: Role) -> list[MessageOut]:
    """``messages`` with what ``role`` is not shown of a report withheld from each
    (:data:`THREAD_MESSAGE`): the custodian, never shown what a report says, is shown that
    each message exists, who sent it and when, not its words or its files."""
    if not THREAD_MESSAGE.shown(role):
        return []
    return [THREAD_MESSAGE.restrict(message, role) for message in messages]


def record_thread_viewed(
    session: Session, user: StaffUser, reference: str, client: str | None
) -> None:
    """The audit event of one reading of a report's thread."""
    record_event(
        session,
        user.actor(client),
        "report.thread_viewed",
        record_type="report",
        record_ids=[reference],
    )


async def ask_question(
    rt: Runtime, user: StaffUser, reference_text: str, text: str, client: str | None = None
) -> MessageOut:
    """Post an analyst's question into the thread. The audit row never holds the text."""

    def work(session: Session) -> MessageOut:
        report = owned_report(session, user, reference_text, NOT_TRIAGER)
        followup = Followup(
            report_id=report.id,
            received_at=utcnow(),
            channel="api",
            author="staff",
            author_user_id=user.id,
            text=text,
        )
        session.add(followup)
        session.flush()
        session.add(
            TriageDecision(
                report_id=report.id,
                user_id=user.id,
                action="question_asked",
                detail={"message_id": followup.id},
                made_at=followup.received_at,
            )
        )
        record_event(
            session,
            user.actor(client),
            "report.question_asked",
            record_type="report",
            record_ids=[report.reference],
        )
        return _message_out(followup, [])

    return await rt.db.write(work, as_user=user.id)


# --- reading the thread -------------------------------------------------------------------


def thread_messages(session: Session, report_id: int) -> list[MessageOut]:
    """A report's thread, in time order, unaudited and whole: a staff reader's caller applies
    the reader's field rules (:func:`shown_messages`) and records the reading
    (:func:`record_thread_viewed`) before the messages reach them (the reporter's own
    reading of their thread is not a staff access)."""
    rows = list(
        session.scalars(
            select(Followup)
            .where(Followup.report_id == report_id)
            .order_by(Followup.received_at, Followup.id)
        )
    )
    files: dict[int, list[Attachment]] = {}
    if rows:
        attached = session.scalars(
            select(Attachment)
            .where(Attachment.followup_id.in_([r.id for r in rows]))
            .order_by(Attachment.id)
        )
        for attachment in attached:
            assert attachment.followup_id is not None
            files.setdefault(attachment.followup_id, []).append(attachment)
    return [_message_out(row, files.get(row.id, [])) for row in rows]


def _message_out(row: Followup, files: Sequence[Attachment]) -> MessageOut:
    staff = row.author == "staff"
    return MessageOut(
        id=row.id,
        author="staff" if staff else "reporter",
        author_user_id=row.author_user_id if staff else None,
        text=row.text,
        received_at=row.received_at,
        attachments=[
            MessageAttachmentOut(
                id=a.id,
                filename=a.filename,
                media_type=a.media_type,
                size_bytes=a.size_bytes,
                sha256=a.sha256,
            )
            for a in files
        ],
    )
