"""Accepting reports durably (follow-ups and the reporter's thread: ``vigil.intake.thread``).

A submission is fully prepared outside the database (validated, files checked and fsync'd,
identity sealed, code hashed); the writer then commits it together with whatever else is
waiting. The reporter sees a reference only after that commit.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import orjson
from sqlalchemy import Table, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigil.access.permissions import OrganisationKind
from vigil.access.services import ensure_organisation, ensure_team
from vigil.audit.services import Actor, record_each
from vigil.db import utcnow
from vigil.intake import attachments as files
from vigil.intake.codes import new_followup_code, new_reference
from vigil.intake.metrics import RECEIVED
from vigil.intake.models import (
    Attachment,
    FollowupCredential,
    IdempotencyRecord,
    Report,
    ReporterIdentity,
    ReportOnline,
    ReportPerson,
    ReportVehicle,
)
from vigil.intake.schemas import ReportAccepted, ReportIn
from vigil.intake.storage import StagedFile, display_key, original_key
from vigil.sealing import Sealed
from vigil.triage.tasks import enter_queue_many
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/heic"})


@dataclass
class KeptFile:
    staged: StagedFile
    media_type: str
    width: int | None
    height: int | None
    display: bool


LIMITED_LISTS = ("people", "vehicles", "online")


def limit_errors(rt: Runtime, counts: Mapping[str, int]) -> list[dict[str, str]]:
    """One error per list longer than its configured limit (``VIGIL_MAX_PEOPLE`` and so on):
    the limits are settings, so they are checked beside the schema rather than in it."""
    s = rt.settings
    limits = {"people": s.max_people, "vehicles": s.max_vehicles, "online": s.max_online}
    return [
        field_error(f"#/{name}", said("at most %(limit)s items", limit=limits[name]))
        for name in LIMITED_LISTS
        if counts.get(name, 0) > limits[name]
    ]


def check_limits(rt: Runtime, report: ReportIn) -> None:
    errors = limit_errors(rt, {name: len(getattr(report, name)) for name in LIMITED_LISTS})
    if errors:
        raise Problem(
            422,
            said("Invalid request"),
            said("Too many items."),
            errors=errors,
            kind="invalid-request",
        )


def _inspect_and_keep(rt: Runtime, staged: Sequence[StagedFile]) -> list[KeptFile]:
    """Check every file's content, make display copies, and move both into place durably."""
    kept: list[KeptFile] = []
    for index, item in enumerate(staged):
        try:
            info = files.inspect_file(
                item.path, item.filename, max_image_pixels=rt.settings.max_image_pixels
            )
        except files.AttachmentRejected as exc:
            raise Problem(
                422,
                said("File not accepted"),
                exc.reason,
                errors=[field_error(f"#/files/{index}", exc.reason)],
                kind="file-not-accepted",
            ) from exc
        kept.append(KeptFile(item, info.media_type, info.width, info.height, False))
    for entry in kept:
        if entry.media_type in IMAGE_MEDIA_TYPES:
            temp = rt.store.staged_path(".jpg")
            size = files.write_display_copy(
                entry.staged.path,
                entry.media_type,
                temp,
                max_image_pixels=rt.settings.max_image_pixels,
            )
            if size is not None:
                rt.store.keep(temp, display_key(entry.staged.sha256))
                entry.display = True
            else:
                rt.store.discard(temp)
        rt.store.keep(entry.staged.path, original_key(entry.staged.sha256))
    return kept


async def keep_files(rt: Runtime, staged: Sequence[StagedFile]) -> list[KeptFile]:
    """Check and keep uploaded files off the event loop (no thread hop when there are none)."""
    return await anyio.to_thread.run_sync(_inspect_and_keep, rt, staged) if staged else []


def attachment_rows(kept: Sequence[KeptFile], received_at: datetime) -> list[Attachment]:
    return [
        Attachment(
            received_at=received_at,
            filename=k.staged.filename,
            media_type=k.media_type,
            size_bytes=k.staged.size,
            sha256=k.staged.sha256,
            storage_key=original_key(k.staged.sha256),
            display_key=display_key(k.staged.sha256) if k.display else None,
            width=k.width,
            height=k.height,
        )
        for k in kept
    ]


def canonical_content(report: ReportIn) -> bytes:
    """The report as the reporter gave it, minus identity: what ``content_sha256`` covers."""
    body = report.model_dump(mode="json", exclude={"reporter"})
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _reporter_mark(rt: Runtime, report: ReportIn) -> bytes:
    """What the reporter said about themselves, as a keyed digest for the Idempotency-Key's
    fingerprint: a retry that names someone else (or no one) is another report, and is
    refused rather than handed the first reporter's follow-up code. Keyed, so that the stored
    fingerprint cannot be used to test guesses of who reported."""
    given = report.reporter.model_dump(mode="json") if report.reporter else None
    plain = orjson.dumps(given, option=orjson.OPT_SORT_KEYS)
    return b"\0reporter:" + hmac.new(rt.settings.secret_key.encode(), plain, "sha256").digest()


def receiving_unit(session: Session, rt: Runtime) -> tuple[int, int]:
    """The organisation and team that receive public reports (created on first use)."""
    org = ensure_organisation(session, rt.settings.receiving_org, OrganisationKind.ct_policing)
    team = ensure_team(session, org, rt.settings.receiving_team)
    return org.id, team.id


def ensure_receiving_org(rt: Runtime) -> tuple[int, int]:
    """Create the receiving organisation and team on first start; remember them for intake.

    Several web processes may start at once: one that loses the race to create them finds
    the winner's rows on its second try."""

    def work(session: Session) -> tuple[int, int]:
        return receiving_unit(session, rt)

    try:
        rt.receiving_unit = rt.db.write_sync(work)
    except IntegrityError:
        rt.receiving_unit = rt.db.write_sync(work)
    return rt.receiving_unit


async def submit_report(
    rt: Runtime,
    actor: Actor,
    report: ReportIn,
    staged: Sequence[StagedFile],
    *,
    channel: str,
    idempotency_key: str | None = None,
) -> ReportAccepted:
    check_limits(rt, report)
    kept = await keep_files(rt, staged)
    content = canonical_content(report)
    reference = new_reference()
    code = new_followup_code()
    code_hash = await anyio.to_thread.run_sync(rt.code_hasher.hash, code)
    received_at = utcnow()
    identity = _seal_identity(rt, report, reference)
    accepted = ReportAccepted(reference=reference, followup_code=code, received_at=received_at)
    idem = _idempotency(rt, idempotency_key, content + _reporter_mark(rt, report), kept, accepted)

    rows = _report_rows(
        report,
        reference,
        received_at,
        channel,
        content,
        kept,
        code_hash,
        identity,
        idem,
        rt.settings.report_classification,
    )
    submission = _Submission(rt, actor, rows, received_at, accepted)
    if idem is None:
        answer = await rt.db.write(submission)
    else:

        def first_or_earlier(session: Session) -> ReportAccepted:
            return _earlier_answer(rt, session, idem) or submission(session)

        answer = await rt.db.write(first_or_earlier)
    if answer.reference == reference:  # stored now, not an earlier report replayed
        RECEIVED.labels(channel).inc()
    rt.wake_worker()
    return answer


@dataclass(eq=False)
class _Submission:
    """One accepted report's writes. The writer commits neighbouring submissions
    :meth:`together`, with one statement per table for the whole batch."""

    rt: Runtime
    actor: Actor
    rows: _ReportRows
    received_at: datetime
    accepted: ReportAccepted

    def __call__(self, session: Session) -> ReportAccepted:
        return _Submission.together(session, [self])[0]

    @staticmethod
    def together(session: Session, batch: Sequence[_Submission]) -> list[ReportAccepted]:
        rt = batch[0].rt
        unit = rt.receiving_unit or receiving_unit(session, rt)
        ids = _insert_reports(session, [sub.rows for sub in batch], unit)
        enter_queue_many(
            session, [(id_, sub.received_at) for id_, sub in zip(ids, batch, strict=True)]
        )
        record_each(
            session,
            [(sub.actor, sub.accepted.reference) for sub in batch],
            "report.collected",
            record_type="report",
        )
        return [sub.accepted for sub in batch]


def _seal_identity(rt: Runtime, report: ReportIn, reference: str) -> Sealed | None:
    who = report.reporter
    if who is None or who.anonymous:
        return None
    plaintext = orjson.dumps(who.model_dump(mode="json", exclude={"anonymous"}))
    return rt.sealer.seal(plaintext, b"reporter:" + reference.encode())


def open_identity(rt: Runtime, row: ReporterIdentity, reference: str) -> dict[str, str | None]:
    sealed = Sealed(row.key_id, row.wrapped_key, row.nonce, row.ciphertext)
    data: dict[str, str | None] = orjson.loads(
        rt.sealer.open(sealed, b"reporter:" + reference.encode())
    )
    return data


@dataclass
class _Idempotency:
    key_hash: str
    request_sha256: str
    row: dict[str, object]


def _idempotency(
    rt: Runtime, key: str | None, content: bytes, kept: Sequence[KeptFile], answer: ReportAccepted
) -> _Idempotency | None:
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise Problem(
            422,
            said("Invalid request"),
            said("Idempotency-Key must be 1 to 200 printable characters."),
            errors=[
                field_error("#/headers/Idempotency-Key", said("1 to 200 printable characters"))
            ],
        )
    key_hash = _key_hash(key)
    request = hashlib.sha256(content + b"".join(k.staged.sha256.encode() for k in kept)).hexdigest()
    sealed = rt.sealer.seal(answer.model_dump_json().encode(), b"idempotency:" + key_hash.encode())
    expires = utcnow() + timedelta(seconds=rt.settings.idempotency_ttl_s)
    return _Idempotency(
        key_hash,
        request,
        {
            "key_hash": key_hash,
            "request_sha256": request,
            "sealed_response": sealed.pack(),
            "key_id": sealed.key_id,
            "expires_at": expires,
        },
    )


def _earlier_answer(rt: Runtime, session: Session, idem: _Idempotency) -> ReportAccepted | None:
    record = session.get(IdempotencyRecord, idem.key_hash)
    if record is None:
        return None
    if record.expires_at <= utcnow():
        session.delete(record)
        session.flush()
        return None
    if record.request_sha256 != idem.request_sha256:
        raise Problem(
            409,
            said("Idempotency key reused"),
            said("This Idempotency-Key was already used for a different report."),
            kind="idempotency-key-reused",
        )
    return _opened(rt, record)


def _key_hash(key: str) -> str:
    return hashlib.sha256(b"idem:" + key.encode()).hexdigest()


def _opened(rt: Runtime, record: IdempotencyRecord) -> ReportAccepted:
    plain = rt.sealer.open(
        Sealed.unpack(record.sealed_response), b"idempotency:" + record.key_hash.encode()
    )
    return ReportAccepted.model_validate_json(plain)


def answer_given(rt: Runtime, key: str) -> ReportAccepted | None:
    """The answer a submission under ``key`` was given, while the key is remembered.

    For the website's own keys only (a confirmation page reloaded after its session ended,
    perhaps in another web process): the key is never shown to anyone, and what it opens
    is that browser's own answer."""
    with rt.db.session() as session:
        record = session.get(IdempotencyRecord, _key_hash(key.strip()))
        if record is None or record.expires_at <= utcnow():
            return None
        return _opened(rt, record)


@dataclass
class _ReportRows:
    """A report as plain rows, built before it reaches the writer so that the writer's time
    (the one thing intake cannot spread over cores) is spent only on inserts."""

    report: dict[str, Any]
    children: list[tuple[Any, list[dict[str, Any]]]]


def _report_rows(
    report: ReportIn,
    reference: str,
    received_at: datetime,
    channel: str,
    content: bytes,
    kept: Sequence[KeptFile],
    code_hash: str,
    identity: Sealed | None,
    idem: _Idempotency | None,
    classification: str,
) -> _ReportRows:
    when, where = report.when, report.where
    row = {
        "reference": reference,
        "received_at": received_at,
        "channel": channel,
        "kind": report.kind.value,
        "description": report.description,
        "classification": classification,
        "anonymous": report.reporter is None or report.reporter.anonymous,
        "when_start": when.start if when else None,
        "when_end": when.end if when else None,
        "when_ongoing": bool(when and when.ongoing),
        "when_unsure": bool(when and when.unsure),
        "when_description": when.description if when else None,
        "where_description": where.description if where else None,
        "where_address": where.address if where else None,
        "where_postcode": where.postcode if where else None,
        "where_lat": where.lat if where else None,
        "where_lon": where.lon if where else None,
        "content_sha256": hashlib.sha256(content).hexdigest(),
    }
    children: list[tuple[Any, list[dict[str, Any]]]] = [
        (ReportPerson, [{"position": i, **p.model_dump()} for i, p in enumerate(report.people)]),
        (
            ReportVehicle,
            [
                {
                    "position": i,
                    "registration_normalised": v.registration_normalised,
                    **v.model_dump(),
                }
                for i, v in enumerate(report.vehicles)
            ],
        ),
        (ReportOnline, [{"position": i, **o.model_dump()} for i, o in enumerate(report.online)]),
        (
            Attachment,
            [
                {
                    c.key: getattr(a, c.key)
                    for c in Attachment.__table__.columns
                    if c.key not in {"id", "report_id", "followup_id"}
                }
                for a in attachment_rows(kept, received_at)
            ],
        ),
        (FollowupCredential, [{"code_hash": code_hash, "failed_attempts": 0}]),
        (
            ReporterIdentity,
            [
                {
                    "key_id": identity.key_id,
                    "wrapped_key": identity.wrapped_key,
                    "nonce": identity.nonce,
                    "ciphertext": identity.ciphertext,
                }
            ]
            if identity is not None
            else [],
        ),
        (IdempotencyRecord, [dict(idem.row)] if idem is not None else []),
    ]
    return _ReportRows(row, children)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


# Core statements, built once (cached compile, no ORM unit of work); reports with RETURNING
# in the order given, so each batch's ids line up with its submissions.
_INSERT_REPORTS = (
    _table(Report).insert().returning(_table(Report).c.id, sort_by_parameter_order=True)
)
_INSERTS = {
    model: _table(model).insert()
    for model in (
        ReportPerson,
        ReportVehicle,
        ReportOnline,
        Attachment,
        FollowupCredential,
        ReporterIdentity,
        IdempotencyRecord,
    )
}


def _insert_reports(
    session: Session, batch: Sequence[_ReportRows], unit: tuple[int, int]
) -> list[int]:
    """Insert reports and their rows: one statement per table, whatever the batch's size."""
    org_id, team_id = unit
    connection = session.connection()
    params = [{"owning_org_id": org_id, "owning_team_id": team_id, **rows.report} for rows in batch]
    ids = [int(report_id) for report_id in connection.execute(_INSERT_REPORTS, params).scalars()]
    children: dict[Any, list[dict[str, Any]]] = {}
    for report_id, rows in zip(ids, batch, strict=True):
        for model, items in rows.children:
            children.setdefault(model, []).extend({"report_id": report_id, **i} for i in items)
    for model, items in children.items():
        if items:
            connection.execute(_INSERTS[model], items)
    return ids


def purge_expired_idempotency(rt: Runtime) -> int:
    def work(session: Session) -> int:
        result = session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)

    return rt.db.write_sync(work)
