"""Importing and exporting known people and subjects (person CSV, FollowTheMoney lines).

An import is all or nothing: a file with any row error is refused with every error listed
by row and column, and a failure while storing rolls the whole import back. Protected
characteristics in a file are dropped and counted, never stored. Imported people are
stored with their index rows in a few statements per chunk and queued for online linking.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.markings import Classification
from vigil.access.models import Team
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.linkage import views
from vigil.linkage.entities import Marking, benign_keys
from vigil.linkage.formats import RowError
from vigil.linkage.linking import benign_values
from vigil.linkage.models import Entity, EntityImport, Subject, SubjectEntity
from vigil.linkage.online import insert_entities, scorer_for
from vigil.linkage.records import EntityKind, EntityRecord, SubjectRef, SubjectStatus
from vigil.linkage.schemas import ImportOut
from vigil.linkage.services import subject_reference
from vigil.linkage.tasks import link_entity_ids
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said


def import_file(
    rt: Runtime,
    user: StaffUser,
    data: bytes,
    *,
    filename: str,
    fmt: str,
    team_id: int | None,
    classification: str,
    client: str | None,
) -> ImportOut:
    """Import known people (and subjects) from person CSV or FollowTheMoney JSON lines.

    Any row error imports nothing and answers with every error found, by row and column.
    """
    if team_id is not None and team_id not in user.team_ids:
        raise Problem(
            422, said("Invalid request"), errors=[field_error("/team_id", said("not your team"))]
        )
    batch = parse_import(data, fmt, rt.settings.linkage_import_max_rows)
    for number, record in enumerate(batch.records, start=1):
        marked = record.subject.marking if record.subject else None
        if marked and Classification(marked).rank > user.clearance.rank:
            batch.errors.append(
                RowError(
                    number,
                    "marking",
                    said("%(marking)s is above your clearance", marking=marked),
                )
            )
    if batch.errors:
        raise Problem(
            422,
            said("Invalid file"),
            said(
                "%(count)s problem(s) in %(filename)s; nothing was imported.",
                count=len(batch.errors),
                filename=filename,
            ),
            errors=[
                field_error(f"/rows/{e.row}" + (f"/{e.column}" if e.column else ""), e.message)
                for e in batch.errors[:200]
            ],
        )
    scorer = scorer_for(rt.settings.linkage_model_path)

    def work(session: Session) -> ImportOut:
        answer = store_import(
            session,
            rt,
            batch,
            data,
            filename=filename,
            fmt=fmt,
            scorer=scorer,
            marking=Marking(user.org_id, team_id, classification),
            user_id=user.id,
        )
        record_event(
            session,
            user.actor(client),
            "entities.imported",
            record_type="import",
            record_ids=[answer.import_id],
            purpose=f"{filename} ({answer.entities} entities)",
        )
        return answer

    answer = rt.db.write_sync(work, as_user=user.id)
    rt.wake_worker()
    return answer


def parse_import(data: bytes, fmt: str, max_rows: int) -> Any:
    """Parse an import file into an ImportBatch (errors listed, nothing stored)."""
    from vigil.linkage.formats import ImportBatch, RowError, read_people_csv
    from vigil.linkage.ftm import read_ftm

    try:
        stream = io.StringIO(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        batch = ImportBatch()
        batch.errors.append(RowError(0, None, "the file is not UTF-8 text"))
        return batch
    reader = read_people_csv if fmt == "csv" else read_ftm
    return reader(stream, max_rows=max_rows)


def store_import(
    session: Session,
    rt: Runtime,
    batch: Any,
    data: bytes,
    *,
    filename: str,
    fmt: str,
    scorer: Any,
    marking: Marking,
    user_id: int | None,
    link: bool = True,
    chunk: int = 2_000,
    on_progress: Callable[[int], None] | None = None,
) -> ImportOut:
    """Store a parsed, error-free batch as one import, in the caller's transaction: all of
    it or (if anything fails) none of it. New entities are queued for online linking."""
    record = EntityImport(
        filename=filename[:300],
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        dropped=dict(batch.dropped),
        owning_org_id=marking.owning_org_id,
        owning_team_id=marking.owning_team_id,
        classification=marking.classification,
        imported_by_user_id=user_id,
        imported_at=utcnow(),
    )
    session.add(record)
    session.flush()
    benign = frozenset(benign_values(session, [v for r in batch.records for v in benign_keys(r)]))
    conn = session.connection()
    entity_ids: list[int] = []
    for start in range(0, len(batch.records), chunk):
        part = batch.records[start : start + chunk]
        entity_ids += insert_entities(
            conn,
            part,
            scorer=scorer,
            marking=marking,
            source_type="import",
            source_id=record.id,
            benign=benign,
        )
        if on_progress:
            on_progress(len(part))
    subjects = _subjects_from(session, batch.records, entity_ids, marking, rt)
    record.entities, record.subjects = len(entity_ids), subjects
    if link:
        link_entity_ids(session, entity_ids, f"import{record.id}")
    return ImportOut(
        import_id=record.id,
        entities=len(entity_ids),
        subjects=subjects,
        dropped=dict(batch.dropped),
    )


def _subjects_from(
    session: Session,
    records: Sequence[EntityRecord],
    entity_ids: Sequence[int],
    marking: Marking,
    rt: Runtime,
) -> int:
    refs: dict[str, SubjectRef] = {r.subject.ref: r.subject for r in records if r.subject}
    by_ref: dict[str, Subject] = {}
    for ref, info in refs.items():
        subject = session.scalar(
            select(Subject).where(
                Subject.owning_org_id == marking.owning_org_id, Subject.external_ref == ref
            )
        )
        if subject is None:
            # A row's own team (by name, in the importing organisation) and marking win
            # over the import's; an unknown team name falls back to the import's team.
            team_id = marking.owning_team_id
            if info.team:
                team_id = (
                    session.scalar(
                        select(Team.id).where(
                            Team.organisation_id == marking.owning_org_id, Team.name == info.team
                        )
                    )
                    or team_id
                )
            subject = Subject(
                reference=subject_reference(),
                external_ref=ref,
                name=info.name or ref,
                status=info.status.value,
                owning_org_id=marking.owning_org_id,
                owning_team_id=team_id,
                classification=info.marking or marking.classification,
                alert_threshold=rt.settings.linkage_alert_threshold,
                created_at=utcnow(),
                closed_at=utcnow() if info.status.value == "closed" else None,
            )
            session.add(subject)
            session.flush()
        by_ref[ref] = subject
    members = [
        {"subject_id": by_ref[r.subject.ref].id, "entity_id": entity_id}
        for r, entity_id in zip(records, entity_ids, strict=True)
        if r.subject
    ]
    if members:
        session.execute(insert(SubjectEntity), members)
    return len(by_ref)


def export_entities(
    rt: Runtime, user: StaffUser, fmt: str, kind: EntityKind | None, client: str | None
) -> str:
    """Every entity the user may see, in the import formats (person CSV or FtM lines), each
    with the subject it belongs to (reference, status, name, team, marking) when the user
    may see that subject, so that importing the file elsewhere recreates the subjects."""
    from vigil.linkage.formats import write_people_csv
    from vigil.linkage.ftm import FTM_KINDS, write_ftm

    def work(session: Session) -> str:
        query = select(Entity).where(policy.visible(user, Entity, "entity")).order_by(Entity.id)
        if fmt == "csv":
            query = query.where(Entity.kind == "person")
        else:
            # FtM has no schema for a bare phone or e-mail: those travel on their person.
            kinds = [k for k in FTM_KINDS if kind is None or k == kind]
            query = query.where(Entity.kind.in_(sorted(kinds)))
        rows = list(session.scalars(query))
        subjects = _subjects_seen(session, user, query)
        records = [replace(views.entity_record(e), subject=subjects.get(e.id)) for e in rows]
        out = io.StringIO()
        (write_people_csv if fmt == "csv" else write_ftm)(records, out)
        record_event(
            session,
            user.actor(client),
            "entities.exported",
            record_type="entity",
            record_ids=[e.id for e in rows],
            purpose=f"format={fmt}",
        )
        return out.getvalue()

    return rt.db.write_sync(work, as_user=user.id)


def _subjects_seen(
    session: Session, user: StaffUser, entities: Select[Any]
) -> dict[int, SubjectRef]:
    """The subject each exported entity belongs to, among the subjects the user may see
    (through the policy, like every read), read in one statement joined to the export's own
    query. The files carry one subject per person; one on several subjects gets the oldest.
    A subject's reference in a file is the one it was imported under, else Vigil's own."""
    exported = entities.with_only_columns(Entity.id).order_by(None).subquery()
    rows = session.execute(
        select(SubjectEntity.entity_id, Subject, Team.name)
        .join(exported, exported.c.id == SubjectEntity.entity_id)
        .join(Subject, Subject.id == SubjectEntity.subject_id)
        .outerjoin(Team, Team.id == Subject.owning_team_id)
        .where(policy.visible(user, Subject, "subject"))
        .order_by(SubjectEntity.entity_id, Subject.id)
    )
    found: dict[int, SubjectRef] = {}
    for entity_id, subject, team in rows:
        found.setdefault(
            entity_id,
            SubjectRef(
                ref=subject.external_ref or subject.reference,
                status=SubjectStatus(subject.status),
                name=subject.name,
                team=team,
                marking=subject.classification,
            ),
        )
    return found
