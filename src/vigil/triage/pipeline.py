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
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.intake.models import Attachment, Followup, Report
from vigil.intake.storage import display_key, original_key
from vigil.triage import clusters, similarity
from vigil.triage.categories import CategoryAssignment, categorise
from vigil.triage.config import due_at
from vigil.triage.extraction import StructuredFields, extract, merge_structured
from vigil.triage.items import Extracted, ItemSource
from vigil.triage.models import TriageDecision, TriageItem, TriageResult
from vigil.triage.priority import prioritise
from vigil.triage.services import category_codes
from vigil.triage.weights import config_in_force
from vigil.web.runtime import Runtime

log = structlog.get_logger(__name__)
PIPELINE_VERSION = 1
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/heic"})


@dataclass
class Prepared:
    """One report's content-only results, computed before entering the writer."""

    report_id: int
    received_at: datetime
    items: list[tuple[int | None, Extracted]]  # (follow-up id or None, item)
    categories: list[CategoryAssignment]
    text: str
    signature: similarity.TextSignature
    images: list[tuple[int, int]]  # (attachment id, perceptual hash)
    first_hand: bool | None = None


def triage_reports(rt: Runtime, payloads: Sequence[dict[str, Any]]) -> None:
    """Job handler for ``triage.report``: the batch's reports, in one transaction."""
    ids = sorted({int(p["report_id"]) for p in payloads})
    prepared = [p for p in (_prepare(rt, rid) for rid in ids) if p is not None]
    if prepared:
        rt.db.write_sync(lambda session: _store(session, prepared))


def _prepare(rt: Runtime, report_id: int) -> Prepared | None:
    with rt.db.session() as session:
        report = session.get(Report, report_id)
        if report is None:  # erased since it was queued: nothing to do
            return None
        followups = session.execute(
            select(Followup.id, Followup.text)
            .where(Followup.report_id == report_id, Followup.author == "reporter")
            .order_by(Followup.id)
        ).all()
        items: list[tuple[int | None, Extracted]] = [
            (None, i)
            for i in merge_structured(
                extract(report.description, reported_at=report.received_at),
                _fields(report),
            )
        ]
        texts = [report.description]
        for fid, text in followups:
            if text:
                texts.append(text)
                items += [(fid, i) for i in extract(text, reported_at=report.received_at)]
        text = "\n".join(texts)
        found = [i for _, i in items]
        categories = categorise(text, found, report_kind=report.kind)
        images = [
            (a.id, h)
            for a in report.attachments
            if a.media_type in IMAGE_TYPES and (h := _image_hash(rt, a)) is not None
        ]
        return Prepared(
            report_id=report.id,
            received_at=report.received_at,
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


def _store(session: Session, batch: Sequence[Prepared]) -> None:
    version, config = config_in_force(session)
    now = utcnow()
    for prep in batch:
        result = session.get(TriageResult, prep.report_id)
        report = session.get(Report, prep.report_id)
        if report is None:
            continue
        if result is None:
            result = TriageResult(
                report_id=report.id,
                received_at=report.received_at,
                state="new",
                factors=[],
                categories=[],
                category_codes=",",
            )
            session.add(result)
        _replace_items(session, prep)
        clusters.index_report(session, report.id, prep.signature, prep.images)
        links = clusters.find_links(session, report, prep.signature, prep.images)
        cluster_id = clusters.assign_cluster(session, report.id, links)
        size = len(clusters.cluster_members(session, cluster_id)) if cluster_id else 1
        found = [i for _, i in prep.items]
        scored = prioritise(
            prep.text,
            found,
            prep.categories,
            reported_at=prep.received_at,
            config=config,
            cluster_size=size,
        )
        result.categories = _merge_categories(result.categories, prep.categories)
        result.category_codes = category_codes(result.categories)
        result.priority = scored.priority
        result.priority_rank = int(scored.priority[1])
        result.score = scored.score
        result.factors = [
            {"code": f.code, "label": f.label, "weight": f.weight, "evidence": f.evidence}
            for f in scored.factors
        ]
        result.config_version = version
        result.due_at = due_at(scored.priority, prep.received_at, config)
        result.status, result.triaged_at = "done", now
        result.pipeline_version = PIPELINE_VERSION
        session.add(
            TriageDecision(
                report_id=report.id,
                user_id=None,
                action="triaged",
                detail={"priority": scored.priority, "cluster_id": cluster_id},
                made_at=now,
            )
        )


def _replace_items(session: Session, prep: Prepared) -> None:
    """Swap the pipeline's previous items for the new ones; what people rejected stays
    rejected (and is not re-added), what they added or corrected stays."""
    kept = session.execute(
        select(TriageItem.kind, TriageItem.value, TriageItem.start, TriageItem.followup_id).where(
            TriageItem.report_id == prep.report_id,
            (TriageItem.status == "rejected") | (TriageItem.source == ItemSource.analyst.value),
        )
    ).all()
    keep = {tuple(k) for k in kept}
    corrected = select(TriageItem.corrects_item_id).where(
        TriageItem.report_id == prep.report_id, TriageItem.corrects_item_id.is_not(None)
    )
    session.execute(
        delete(TriageItem).where(
            TriageItem.report_id == prep.report_id,
            TriageItem.status == "active",
            TriageItem.source != ItemSource.analyst.value,
            TriageItem.id.not_in(corrected),
        )
    )
    rows = [
        {
            "report_id": prep.report_id,
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
        }
        for fid, i in prep.items
        if (i.kind.value, i.value, i.start, fid) not in keep
    ]
    if rows:
        session.execute(insert(TriageItem), rows)
    session.flush()


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
