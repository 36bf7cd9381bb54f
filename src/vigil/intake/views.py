"""Turning stored reports into what staff are shown (never the reporter's identity)."""

from __future__ import annotations

import base64
from datetime import datetime

import orjson

from vigil.intake.models import Report
from vigil.intake.schemas import (
    AttachmentOut,
    Online,
    Person,
    ReportKind,
    ReportOut,
    Vehicle,
    When,
    Where,
)
from vigil.web.problems import Problem, field_error
from vigil.web.said import said


def report_out(row: Report, followups: int) -> ReportOut:
    has_when = row.when_start or row.when_ongoing or row.when_unsure or row.when_description
    has_where = (
        row.where_description
        or row.where_address
        or row.where_postcode
        or row.where_lat is not None
    )
    return ReportOut(
        reference=row.reference,
        received_at=row.received_at,
        channel=row.channel,
        kind=ReportKind(row.kind),
        description=row.description,
        anonymous=row.anonymous,
        when=When.model_construct(
            start=row.when_start,
            end=row.when_end,
            ongoing=row.when_ongoing,
            unsure=row.when_unsure,
            description=row.when_description,
        )
        if has_when
        else None,
        where=Where.model_construct(
            description=row.where_description,
            address=row.where_address,
            postcode=row.where_postcode,
            lat=row.where_lat,
            lon=row.where_lon,
        )
        if has_where
        else None,
        people=[
            Person.model_construct(
                name=p.name,
                age=p.age,
                appearance=p.appearance,
                clothing=p.clothing,
                behaviour=p.behaviour,
            )
            for p in row.people
        ],
        vehicles=[
            Vehicle.model_construct(
                registration=v.registration, make=v.make, model=v.model, colour=v.colour
            )
            for v in row.vehicles
        ],
        online=[Online.model_construct(url=o.url, where_seen=o.where_seen) for o in row.online],
        attachments=[
            AttachmentOut(
                id=a.id,
                filename=a.filename,
                media_type=a.media_type,
                size_bytes=a.size_bytes,
                sha256=a.sha256,
                width=a.width,
                height=a.height,
                has_display_copy=a.display_key is not None,
            )
            for a in row.attachments
        ],
        followups=followups,
    )


def encode_cursor(received_at: datetime, report_id: int) -> str:
    raw = orjson.dumps([received_at.isoformat(), report_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, rid = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), int(rid)
    except (ValueError, TypeError) as exc:
        raise Problem(
            422,
            said("Invalid request"),
            said("The cursor is not valid."),
            errors=[field_error("#/query/cursor", said("is not a valid cursor"))],
        ) from exc
