"""Linkage jobs: a triaged report's entities are stored and matched against the store.

Triage enqueues ``linkage.report`` in its own transaction, so every triaged report is
linked even if the process stops in between. The handler runs as ``system``; when a report
raises its first alert it is triaged again so that "known subject" counts in its priority.
An item an analyst rejected is no signal: its entity goes at the next run (the correction
re-triages the report, which links it again), the evidence it gave an alert is marked
withdrawn, an alert nobody has looked at that is left with none is dismissed with the
reason, and the report is triaged again so that "known subject" no longer counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.audit.services import SYSTEM, record_event
from vigil.db import utcnow
from vigil.jobs.queue import NewJob, enqueue_many
from vigil.jobs.registry import PartialFailure
from vigil.linkage.alerts import raise_alerts
from vigil.linkage.models import Alert
from vigil.linkage.records import EntityKind, EntityRecord
from vigil.web.runtime import Runtime

LINK_REPORT = "linkage.report"
LINK_ENTITIES = "linkage.entities"
log = structlog.get_logger("vigil.linkage")


def link_reports(session: Session, report_ids: Sequence[int]) -> None:
    enqueue_many(
        session,
        [NewJob(LINK_REPORT, f"{LINK_REPORT}:{rid}", {"report_id": rid}) for rid in report_ids],
    )


def link_entity_ids(session: Session, entity_ids: Sequence[int], source: str) -> None:
    """Match entities that arrived by referral or import (chunks keep jobs short)."""
    ids = sorted(entity_ids)
    enqueue_many(
        session,
        [
            NewJob(LINK_ENTITIES, f"{LINK_ENTITIES}:{source}:{ids[i]}", {"ids": ids[i : i + 200]})
            for i in range(0, len(ids), 200)
        ],
    )


def report_entities(session: Session, report_id: int) -> tuple[list[EntityRecord], Any]:
    """What a report says about people, vehicles, phones, e-mails and accounts, as entity
    records keyed by their normalised value (so a re-run finds the same entities)."""
    from vigil.intake.models import Report
    from vigil.triage.models import TriageItem

    report = session.get(Report, report_id)
    if report is None:
        return [], None
    found: dict[str, EntityRecord] = {}

    def add(kind: EntityKind, key: str, props: dict[str, tuple[str, ...]]) -> None:
        rid = f"{kind.value}:{key.lower()}"[:120]
        if rid in found:
            merged = dict(found[rid].properties)
            for name, values in props.items():
                merged[name] = tuple(dict.fromkeys((*merged.get(name, ()), *values)))
            props = merged
        found[rid] = EntityRecord(kind, rid, {k: v for k, v in props.items() if v})

    for person in report.people:
        if person.name and person.name.strip():
            add(EntityKind.person, person.name.strip(), _name_props(person.name))
    for vehicle in report.vehicles:
        if vehicle.registration_normalised:
            add(
                EntityKind.vehicle,
                vehicle.registration_normalised,
                {
                    "registration": (vehicle.registration_normalised,),
                    "make": _opt(vehicle.make),
                    "model": _opt(vehicle.model),
                    "colour": _opt(vehicle.colour),
                },
            )
    rows = session.execute(
        select(TriageItem.kind, TriageItem.value, TriageItem.detail, TriageItem.status).where(
            TriageItem.report_id == report_id
        )
    ).all()
    items = [(kind, value, detail) for kind, value, detail, status in rows if status == "active"]
    for kind, value, detail in items:
        if kind == "person":
            add(EntityKind.person, value, _name_props(value))
        elif kind == "phone":
            add(EntityKind.phone, value, {"number": (value,)})
        elif kind == "email":
            add(EntityKind.email, value, {"address": (value,)})
        elif kind == "vrm":
            add(EntityKind.vehicle, value, {"registration": (value,)})
        elif kind == "handle":
            add(EntityKind.online_account, value, {"handle": (value,), "platform": _opt(detail)})
    # What an analyst rejected is no signal, wherever the report gave it (its text or a
    # field the reporter filled in), unless the same value is also held by an item in force.
    active = {_item_key(kind, value) for kind, value, _ in items}
    rejected = {
        key
        for kind, value, _detail, status in rows
        if status == "rejected" and (key := _item_key(kind, value)) not in active
    }
    return [r for r in found.values() if _record_key(r) not in rejected], report


# Which entity a triage item becomes (the kinds ``report_entities`` links).
_ENTITY_OF_ITEM = {
    "person": EntityKind.person,
    "phone": EntityKind.phone,
    "email": EntityKind.email,
    "vrm": EntityKind.vehicle,
    "handle": EntityKind.online_account,
}


def _item_key(kind: str, value: str) -> tuple[str, str] | None:
    entity_kind = _ENTITY_OF_ITEM.get(kind)
    return None if entity_kind is None else (entity_kind.value, " ".join(value.lower().split()))


def _record_key(record: EntityRecord) -> tuple[str, str]:
    return (record.kind.value, " ".join(record.id.split(":", 1)[1].split()))


LINK_CHUNK = 16
"""Reports linked per writer transaction: one commit for many, without holding the single
writer long enough to keep public submissions waiting behind it."""


def link_report_jobs(rt: Runtime, payloads: Sequence[dict[str, Any]]) -> None:
    # The matcher (and its model) loads only in processes that link, not in every importer.
    from vigil.linkage.entities import Marking, benign_keys
    from vigil.linkage.linking import link_as_configured, upsert_entities
    from vigil.linkage.online import scorer_for

    scorer = scorer_for(rt.settings.linkage_model_path)

    def link(session: Session, rid: int) -> int:
        """Link one report's entities; the number of alerts raised."""
        records, report = report_entities(session, rid)
        if report is None:
            return 0
        own = _reporter_own(rt, session, report)
        records = [r for r in records if not own.intersection(benign_keys(r))]
        marking = Marking(report.owning_org_id, report.owning_team_id, report.classification)
        entities = upsert_entities(
            session,
            records,
            source_type="report",
            source_id=rid,
            marking=marking,
            scorer=scorer,
            prune=True,
        )
        outcome = link_as_configured(session, entities, scorer, rt.settings)
        new_alerts = raise_alerts(
            session,
            outcome.match_ids,
            record_type="report",
            record_id=rid,
            record_org_id=report.owning_org_id,
        )
        withdrawn = withdraw_unsupported_alerts(
            session, record_type="report", record_id=rid, entity_ids={e.id for e in entities}
        )
        if new_alerts or withdrawn:
            from vigil.triage.tasks import retriage

            # Whether a live alert is there counts in the report's priority ("known subject").
            if new_alerts:
                retriage(session, rid, "alert")
            if withdrawn:
                retriage(session, rid, f"alert{withdrawn[0]}withdrawn")
        return len(new_alerts)

    # A chunk is handed to the writer at once: it commits the chunk's works in one
    # transaction and, if one fails, redoes the others one by one, so the failure stays
    # with its report and each future says how its own report went.
    failures: dict[int, Exception] = {}
    for start in range(0, len(payloads), LINK_CHUNK):
        submitted = []
        for n, payload in enumerate(payloads[start : start + LINK_CHUNK], start):
            rid = int(payload["report_id"])
            submitted.append((n, rid, rt.db.writer.submit(partial(link, rid=rid))))
        for n, rid, future in submitted:
            try:
                alerts = future.result()
            except Exception as exc:
                failures[n] = exc
                continue
            if alerts:
                log.info("linkage.alerts_raised", report_id=rid, alerts=alerts)
    if failures:
        raise PartialFailure(failures)


def link_entity_jobs(rt: Runtime, payloads: Sequence[dict[str, Any]]) -> None:
    from vigil.linkage.linking import link_as_configured
    from vigil.linkage.models import Entity
    from vigil.linkage.online import scorer_for

    scorer = scorer_for(rt.settings.linkage_model_path)
    for payload in payloads:
        ids = [int(i) for i in payload["ids"]]

        def work(session: Session, ids: list[int] = ids) -> None:
            entities = list(session.scalars(select(Entity).where(Entity.id.in_(ids))))
            outcome = link_as_configured(session, entities, scorer, rt.settings)
            by_entity: dict[int, list[int]] = {}
            from vigil.linkage.models import Match

            for match in session.scalars(select(Match).where(Match.id.in_(outcome.match_ids))):
                by_entity.setdefault(match.entity_id, []).append(match.id)
            for entity in entities:
                raise_alerts(
                    session,
                    by_entity.get(entity.id, []),
                    record_type="entity",
                    record_id=entity.id,
                    record_org_id=entity.owning_org_id,
                )

        rt.db.write_sync(work)


ALERT_WITHDRAWN = (
    "Withdrawn automatically: the information on the record that raised this alert was "
    "corrected, and the record no longer links to this subject."
)


def withdraw_unsupported_alerts(
    session: Session, *, record_type: str, record_id: int, entity_ids: set[int]
) -> list[int]:
    """A record's alerts whose evidence came from entities it no longer holds (an analyst
    rejected or replaced the item they were taken from): that evidence is marked withdrawn,
    with when and why, and kept. An alert left with no evidence that nobody has looked at
    yet (new) is dismissed by the system with the reason, so it leaves the team's inbox and
    stops counting in the record's priority; one a person already reviewed or actioned keeps
    their decision (people decide) and shows its evidence withdrawn. Returns the ids of the
    alerts dismissed. The reason names no content of the record: the subject's team may not
    be allowed to see it."""
    now = utcnow()
    dismissed: list[int] = []
    alerts = session.scalars(
        select(Alert)
        .where(Alert.record_type == record_type, Alert.record_id == record_id)
        .order_by(Alert.id)
    )
    for alert in alerts:
        evidence = [dict(e) for e in alert.evidence]
        gone = [
            e
            for e in evidence
            if not e.get("withdrawn_at")
            and not {e.get("entity_id"), e.get("subject_entity_id")} & entity_ids
        ]
        if not gone:
            continue
        for e in gone:
            e["withdrawn_at"], e["withdrawn"] = now.isoformat(), ALERT_WITHDRAWN
        alert.evidence = evidence  # a new list: the JSON column sees the change
        alert.updated_at = now
        if alert.state == "new" and all(e.get("withdrawn_at") for e in evidence):
            alert.state, alert.reason = "dismissed", ALERT_WITHDRAWN
            alert.decided_by_user_id, alert.decided_at = None, now
            dismissed.append(alert.id)
    if dismissed:
        record_event(  # as every decision on an alert: the subject's timeline lists it
            session,
            SYSTEM,
            "alert.dismissed",
            record_type="alert",
            record_ids=dismissed,
            purpose=ALERT_WITHDRAWN,
        )
    return dismissed


def _reporter_own(rt: Runtime, session: Session, report: Any) -> set[tuple[str, str]]:
    """The reporter's own name, phone and e-mail (principle 4): never turned into entities
    or linked, whatever the report's text repeats of them. Opened in memory only."""
    from vigil.intake.models import ReporterIdentity
    from vigil.intake.services import open_identity
    from vigil.linkage.entities import normalise_benign

    row = session.get(ReporterIdentity, report.id)
    if row is None:
        return set()
    who = open_identity(rt, row, report.reference)
    return {
        (kind, normalise_benign(kind, value))
        for kind in ("name", "phone", "email")
        if (value := who.get(kind))
    }


def register(registry: Any) -> None:
    registry.register(LINK_REPORT, link_report_jobs)
    registry.register(LINK_ENTITIES, link_entity_jobs)
    registry.on_start(load_scorer)


def load_scorer(rt: Runtime) -> None:
    """Build the person scorer (its model, and the matching libraries it imports) when the
    worker starts, rather than when the first report to link arrives."""
    from vigil.linkage.online import scorer_for

    scorer_for(rt.settings.linkage_model_path)


def _opt(value: str | None) -> tuple[str, ...]:
    return (value.strip(),) if value and value.strip() else ()


def _name_props(name: str) -> dict[str, tuple[str, ...]]:
    parts = name.split()
    props: dict[str, tuple[str, ...]] = {"name": (" ".join(parts),)}
    if parts:
        props["first_name"] = (parts[0],)
    if len(parts) > 1:
        props["last_name"] = (parts[-1],)
    if len(parts) > 2:
        props["middle_name"] = (" ".join(parts[1:-1]),)
    return props
