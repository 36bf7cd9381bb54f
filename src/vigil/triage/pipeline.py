"""The triage pipeline for a batch of reports: extract, categorise, cluster, prioritise.

Everything that needs only the report's own content (extraction, categories, text and
image hashes) runs outside the single writer; only the lookups that must see other reports
(clusters) and the writes run inside it, in one transaction for the whole batch. Re-running
is safe: the pipeline replaces its own output and keeps everything a person decided
(rejected or corrected items, category corrections, claims and outcomes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.intake.models import Attachment, Followup, Report
from vigil.intake.storage import display_key, original_key
from vigil.linkage.alerts import live_alert_reports
from vigil.linkage.tasks import link_reports
from vigil.triage import clusters, similarity
from vigil.triage.categories import CategoryAssignment, categorise
from vigil.triage.config import due_at
from vigil.triage.extraction import StructuredFields, extract, merge_structured
from vigil.triage.items import Extracted, ItemSource
from vigil.triage.models import TriageDecision, TriageItem, TriageResult
from vigil.triage.priority import prioritise
from vigil.triage.services import category_codes
from vigil.triage.tasks import enter_queue, retriage
from vigil.triage.weights import config_in_force
from vigil.web.runtime import Runtime

log = structlog.get_logger(__name__)
PIPELINE_VERSION = 1
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/heic"})


@dataclass(frozen=True, slots=True)
class Facts:
    """What clustering needs to know about the report itself (no ORM row kept around)."""

    id: int
    received_at: datetime
    when_start: datetime | None
    when_end: datetime | None
    where_lat: float | None
    where_lon: float | None
    where_postcode: str | None


@dataclass
class Prepared:
    """One report's content-only results, computed before entering the writer."""

    facts: Facts
    items: list[tuple[int | None, Extracted]]  # (follow-up id or None, item)
    categories: list[CategoryAssignment]
    text: str
    signature: similarity.TextSignature
    images: list[tuple[int, int]]  # (attachment id, perceptual hash)


# Reports stored per writer transaction: short enough that intake commits waiting behind a
# pipeline write are not held up for long, long enough to share the commit's fsync.
STORE_CHUNK = 16


def triage_reports(rt: Runtime, payloads: Sequence[dict[str, Any]]) -> None:
    """Job handler for ``triage.report``: read the batch once, analyse it outside the
    writer, then store it in short writer transactions."""
    ids = sorted({int(p["report_id"]) for p in payloads})
    prepared = _prepare(rt, ids)
    for at in range(0, len(prepared), STORE_CHUNK):
        chunk = prepared[at : at + STORE_CHUNK]
        rt.db.write_sync(lambda session, chunk=chunk: _store(session, chunk))  # type: ignore[misc]


def _prepare(rt: Runtime, ids: Sequence[int]) -> list[Prepared]:
    with rt.db.session() as session:
        # One query for the reports; their people, vehicles, online items and attachments
        # come with one query each for the whole batch (selectin relationships).
        reports = session.scalars(select(Report).where(Report.id.in_(ids))).all()
        followups: dict[int, list[tuple[int, str]]] = {}
        for rid, fid, text in session.execute(
            select(Followup.report_id, Followup.id, Followup.text)
            .where(Followup.report_id.in_(ids), Followup.author == "reporter")
            .order_by(Followup.id)
        ):
            if text:
                followups.setdefault(rid, []).append((fid, text))
        return [_analyse(rt, r, followups.get(r.id, [])) for r in reports]


def _analyse(rt: Runtime, report: Report, followups: list[tuple[int, str]]) -> Prepared:
    items: list[tuple[int | None, Extracted]] = [
        (None, i)
        for i in merge_structured(
            extract(report.description, reported_at=report.received_at), _fields(report)
        )
    ]
    texts = [report.description]
    for fid, text in followups:
        texts.append(text)
        items += [(fid, i) for i in extract(text, reported_at=report.received_at)]
    text = "\n".join(texts)
    categories = categorise(text, [i for _, i in items], report_kind=report.kind)
    images = [
        (a.id, h)
        for a in report.attachments
        if a.media_type in IMAGE_TYPES and (h := _image_hash(rt, a)) is not None
    ]
    return Prepared(
        facts=Facts(
            id=report.id,
            received_at=report.received_at,
            when_start=report.when_start,
            when_end=report.when_end,
            where_lat=report.where_lat,
            where_lon=report.where_lon,
            where_postcode=report.where_postcode,
        ),
        items=items,
        categories=categories,
        text=text,
        signature=similarity.text_signature(report.description),
        images=images,
    )


def _image_hash(rt: Runtime, attachment: Attachment) -> int | None:
    """Hash the display copy when there is one (small, already decoded once), else the
    original; a picture that cannot be read simply does not cluster."""
    for key in (display_key(attachment.sha256), original_key(attachment.sha256)):
        path = rt.store.path_for(key)
        if path.exists():
            try:
                return similarity.image_phash(path)
            except Exception:  # a damaged picture must not stop the report's triage
                log.warning("triage.image_hash_failed", attachment_id=attachment.id)
                return None
    return None


def _fields(report: Report) -> StructuredFields:
    return StructuredFields(
        people=[p.name for p in report.people if p.name],
        vehicles=[v.registration for v in report.vehicles if v.registration],
        urls=[o.url for o in report.online],
        postcode=report.where_postcode,
        phones=[],
        emails=[],
    )


_UPDATE_RESULT = (
    update(TriageResult)
    .where(TriageResult.report_id == bindparam("rid"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "categories",
                "category_codes",
                "priority",
                "priority_rank",
                "score",
                "factors",
                "config_version",
                "due_at",
                "status",
                "triaged_at",
                "pipeline_version",
            )
        }
    )
)


def _store(session: Session, batch: Sequence[Prepared]) -> None:
    """Items for the whole chunk first (clustering looks them up), then each report's
    cluster and priority, then every result and history row in one statement each."""
    version, config = config_in_force(session)
    now = utcnow()
    ids = [p.facts.id for p in batch]
    existing: dict[int, list[dict[str, Any]]] = {}
    first_run: set[int] = set()
    for rid, categories, status in session.execute(
        select(TriageResult.report_id, TriageResult.categories, TriageResult.status).where(
            TriageResult.report_id.in_(ids)
        )
    ):
        existing[int(rid)] = list(categories or [])
        if status == "pending":
            first_run.add(int(rid))
    for prep in batch:
        if prep.facts.id not in existing:  # reports accepted before triage existed
            enter_queue(session, prep.facts.id, prep.facts.received_at, job=False)
            existing[prep.facts.id] = []
            first_run.add(prep.facts.id)
    _replace_items(session, batch)
    alerted = live_alert_reports(session, ids)
    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for prep in batch:
        rid = prep.facts.id
        fresh = rid in first_run
        clusters.index_report(session, rid, prep.signature, prep.images, fresh=fresh)
        links = clusters.find_links(session, prep.facts, prep.signature, prep.images)
        cluster_id = clusters.assign_cluster(session, rid, links, fresh=fresh)
        members = clusters.cluster_members(session, cluster_id) if cluster_id else [rid]
        size = len(members)
        if fresh and size in (config.cluster_sizes.several, config.cluster_sizes.many):
            # A new report made "several independent reports" true for the earlier members
            # too: score them again (once per threshold crossed; re-runs trigger nothing).
            for other in members:
                if other != rid:
                    retriage(session, other, f"cluster{size}")
        scored = prioritise(
            prep.text,
            [i for _, i in prep.items],
            prep.categories,
            reported_at=prep.facts.received_at,
            config=config,
            cluster_size=size,
            known_subject_match=rid in alerted,
        )
        categories = _merge_categories(existing[rid], prep.categories)
        updates.append(
            {
                "rid": rid,
                "categories": categories,
                "category_codes": category_codes(categories),
                "priority": scored.priority,
                "priority_rank": int(scored.priority[1]),
                "score": scored.score,
                "factors": [
                    {"code": f.code, "label": f.label, "weight": f.weight, "evidence": f.evidence}
                    for f in scored.factors
                ],
                "config_version": version,
                "due_at": due_at(scored.priority, prep.facts.received_at, config),
                "status": "done",
                "triaged_at": now,
                "pipeline_version": PIPELINE_VERSION,
            }
        )
        history.append(
            {
                "report_id": rid,
                "user_id": None,
                "action": "triaged",
                "detail": {"priority": scored.priority, "cluster_id": cluster_id},
                "reason": None,
                "made_at": now,
            }
        )
    connection = session.connection()
    connection.execute(_UPDATE_RESULT, updates)
    connection.execute(insert(TriageDecision.__table__), history)  # type: ignore[arg-type]
    # Linkage follows triage: the report's entities (with the items just stored) are matched
    # against everything known, in a job of its own so triage latency does not pay for it.
    link_reports(session, ids)


def _replace_items(session: Session, batch: Sequence[Prepared]) -> None:
    """Swap the pipeline's previous items for the new ones; what people rejected stays
    rejected (and is not re-added), what they added or corrected stays."""
    ids = [p.facts.id for p in batch]
    keep = {
        tuple(k)
        for k in session.execute(
            select(
                TriageItem.report_id,
                TriageItem.kind,
                TriageItem.value,
                TriageItem.start,
                TriageItem.followup_id,
            ).where(
                TriageItem.report_id.in_(ids),
                (TriageItem.status == "rejected") | (TriageItem.source == ItemSource.analyst.value),
            )
        )
    }
    corrected = select(TriageItem.corrects_item_id).where(
        TriageItem.report_id.in_(ids), TriageItem.corrects_item_id.is_not(None)
    )
    session.execute(
        delete(TriageItem).where(
            TriageItem.report_id.in_(ids),
            TriageItem.status == "active",
            TriageItem.source != ItemSource.analyst.value,
            TriageItem.id.not_in(corrected),
        )
    )
    rows = [
        {
            "report_id": p.facts.id,
            "followup_id": fid,
            "kind": i.kind.value,
            "value": i.value[:500],
            "text": i.text[:2000],
            "start": i.start,
            "end": i.end,
            "confidence": i.confidence,
            "source": i.source.value,
            "detail": i.detail,
            "status": "active",
            "corrects_item_id": None,
        }
        for p in batch
        for fid, i in p.items
        if (p.facts.id, i.kind.value, i.value, i.start, fid) not in keep
    ]
    if rows:
        # The table, not the ORM bulk path: every row has the same columns, so this is one
        # executemany statement however many items the chunk holds.
        session.connection().execute(insert(TriageItem.__table__), rows)  # type: ignore[arg-type]


def _merge_categories(
    previous: list[dict[str, Any]], found: Sequence[CategoryAssignment]
) -> list[dict[str, Any]]:
    """The rules' categories, with people's corrections laid over them."""
    people = {c["code"]: c for c in previous if c.get("source") == "analyst"}
    rejected = {c["code"] for c in previous if c.get("status") == "rejected"}
    merged: list[dict[str, Any]] = []
    for c in found:
        entry = {
            "code": c.code,
            "label": c.label,
            "tier": c.tier,
            "confidence": c.confidence,
            "source": "rules",
            "status": "rejected" if c.code in rejected else "active",
            "evidence": [
                {"rule": e.rule, "text": e.text, "start": e.start, "end": e.end} for e in c.evidence
            ],
        }
        if c.code in people:
            entry = {**entry, "source": "analyst", "status": people.pop(c.code)["status"]}
        merged.append(entry)
    merged += people.values()
    return merged
