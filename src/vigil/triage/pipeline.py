"""The triage pipeline for a batch of reports: extract, categorise, cluster, prioritise.

Everything that needs only the report's own content (extraction, categories, text hashes,
the perceptual hashes of pictures and videos) runs outside the single writer; only the
lookups that must see other reports (clusters) and the writes run inside it, a chunk of
reports per transaction. Inside, each chunk costs a fixed few set-based statements
however many reports it holds: the clustering lookups are read once for the chunk
(:mod:`vigil.triage.cluster_round` lets the chunk's reports see each other exactly as if
they had been triaged one at a time, in the order the queue handed them over), and items,
bands, links, cluster ids, results and history are each written with one statement.

Re-running is safe: the pipeline replaces its own output and keeps everything a person
decided (rejected or corrected items, category corrections, claims and outcomes). A report
that comes twice in one batch (its job and a re-scoring job) is triaged twice, in order,
as it would be one job at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import structlog
from sqlalchemy import BindParameter, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.intake.models import (
    Attachment,
    Followup,
    Report,
    ReportOnline,
    ReportPerson,
    ReportVehicle,
)
from vigil.intake.storage import display_key, original_key
from vigil.jobs.queue import NewJob, enqueue_many
from vigil.jobs.registry import PartialFailure
from vigil.linkage.alerts import live_alert_reports
from vigil.linkage.tasks import link_reports
from vigil.triage import similarity, video
from vigil.triage.categories import CategoryAssignment, categorise
from vigil.triage.cluster_candidates import Probe
from vigil.triage.cluster_round import LinkFinder
from vigil.triage.clusters import ClusterBook, index_reports
from vigil.triage.config import TriageConfigModel, due_at, load_default_config
from vigil.triage.extraction import StructuredFields, extract, merge_structured
from vigil.triage.items import Extracted
from vigil.triage.models import TriageConfig, TriageDecision, TriageResult
from vigil.triage.pipeline_items import ItemPlan, PeoplesItems
from vigil.triage.priority import prioritise
from vigil.triage.services import category_codes
from vigil.triage.tasks import enter_queue, retriage_job
from vigil.triage.weights import config_in_force
from vigil.web.runtime import Runtime

log = structlog.get_logger(__name__)
PIPELINE_VERSION = 1
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/heic"})
# Videos hashed per worker process, remembered by stored path (which is the content's
# SHA-256): the same file from many people, and each re-run of a report (a growing cluster
# re-scores its members), would otherwise start a decoding child every time. What failed is
# remembered too, so a video that runs into the timeout costs it once per process.
VIDEO_HASHES_KEPT = 4096

# Reports stored per writer transaction: short enough that intake commits waiting behind a
# pipeline write are not held up for long (a chunk holds the writer for some tens of
# milliseconds), long enough that the chunk's fixed twenty or so statements and its commit
# are shared by many reports (64 cost more CPU per report than 32 in the benchmark).
STORE_CHUNK = 32


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
    images: list[tuple[int, int]]  # (attachment id, perceptual hash of a picture or video)


_WARM_UP_TEXT = (
    "Last Tuesday night about 11pm two men were loading gas cylinders into a white Ford "
    "Transit, AB12 CDE, outside the community centre on Mill Lane, ZZ1 1ZZ. One said he "
    "would make them pay at the match on Saturday. Paid £200 cash. Call 07700 900123 or "
    "jo@example.org; the post was on https://example.org/post/1 by @synthetic_handle."
)


def warm_up(_rt: Runtime) -> None:
    """Run the content stages once on a synthetic text when a worker starts, so that what
    they load on first use (the date parser's languages, the lexicons, the category rules,
    the name recogniser) is loaded before the first report needs it."""
    now = utcnow()
    items = extract(_WARM_UP_TEXT, reported_at=now)
    categories = categorise(_WARM_UP_TEXT, items, report_kind="vehicle")
    prioritise(_WARM_UP_TEXT, items, categories, reported_at=now, config=load_default_config())
    similarity.text_signature(_WARM_UP_TEXT)


def triage_reports(rt: Runtime, payloads: Sequence[dict[str, Any]]) -> None:
    """Job handler for ``triage.report``, in chunks of ``STORE_CHUNK`` in the order the jobs
    came: each chunk is read and analysed outside the writer, then stored in one writer
    transaction, so the first reports of a large batch are in the queue early.

    A chunk that fails is done again one report at a time, and only the reports that fail
    alone fail (:class:`~vigil.jobs.registry.PartialFailure`): the chunks and reports
    already committed are not run again."""
    order = [int(p["report_id"]) for p in payloads]
    failures: dict[int, Exception] = {}
    for at in range(0, len(order), STORE_CHUNK):
        chunk = order[at : at + STORE_CHUNK]
        try:
            _triage(rt, chunk)
        except Exception as exc:
            log.warning("triage.chunk_failed", size=len(chunk), error=type(exc).__name__)
            for n, report_id in enumerate(chunk, start=at):
                try:
                    _triage(rt, [report_id])
                except Exception as alone:
                    failures[n] = alone
    if failures:
        raise PartialFailure(failures)


def _triage(rt: Runtime, order: Sequence[int]) -> None:
    prepared = {p.facts.id: p for p in _prepare(rt, sorted(set(order)))}
    chunk = [prepared[rid] for rid in order if rid in prepared]  # erased reports: nothing
    if chunk:
        rt.db.write_sync(lambda session: _store(session, chunk))


# --- reading and analysing, outside the writer ------------------------------------------

_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_REPORTS = select(
    Report.id,
    Report.received_at,
    Report.kind,
    Report.description,
    Report.when_start,
    Report.when_end,
    Report.where_lat,
    Report.where_lon,
    Report.where_postcode,
).where(Report.id.in_(_IDS))
_PEOPLE = (
    select(ReportPerson.report_id, ReportPerson.name)
    .where(ReportPerson.report_id.in_(_IDS))
    .order_by(ReportPerson.report_id, ReportPerson.position)
)
_VEHICLES = (
    select(ReportVehicle.report_id, ReportVehicle.registration)
    .where(ReportVehicle.report_id.in_(_IDS))
    .order_by(ReportVehicle.report_id, ReportVehicle.position)
)
_ONLINE = (
    select(ReportOnline.report_id, ReportOnline.url)
    .where(ReportOnline.report_id.in_(_IDS))
    .order_by(ReportOnline.report_id, ReportOnline.position)
)
_PICTURES = (  # and videos: both cluster by perceptual hash
    select(Attachment.report_id, Attachment.id, Attachment.sha256, Attachment.media_type)
    .where(
        Attachment.report_id.in_(_IDS),
        Attachment.media_type.in_(sorted(IMAGE_TYPES | video.VIDEO_TYPES)),
    )
    .order_by(Attachment.id)
)
_FOLLOWUPS = (
    select(Followup.report_id, Followup.id, Followup.text)
    .where(Followup.report_id.in_(_IDS), Followup.author == "reporter")
    .order_by(Followup.id)
)


def _prepare(rt: Runtime, ids: Sequence[int]) -> list[Prepared]:
    """One statement each for the batch's reports, their people, vehicles, online items,
    pictures and videos, and follow-ups (plain rows: building ORM objects cost more than
    reading)."""
    with rt.db.session() as session:
        conn = session.connection()
        params = {"ids": list(ids)}
        reports = conn.execute(_REPORTS, params).all()
        extra: dict[str, dict[int, list[Any]]] = {}
        for name, query in (
            ("people", _PEOPLE),
            ("vehicles", _VEHICLES),
            ("online", _ONLINE),
            ("pictures", _PICTURES),
            ("followups", _FOLLOWUPS),
        ):
            found: dict[int, list[Any]] = {}
            for rid, *rest in conn.execute(query, params):
                found.setdefault(rid, []).append(rest[0] if len(rest) == 1 else tuple(rest))
            extra[name] = found
    return [
        _analyse(rt, row, {name: found.get(row.id, []) for name, found in extra.items()})
        for row in reports
    ]


def _analyse(rt: Runtime, report: Any, extra: dict[str, list[Any]]) -> Prepared:
    fields = StructuredFields(
        people=[name for name in extra["people"] if name],
        vehicles=[registration for registration in extra["vehicles"] if registration],
        urls=list(extra["online"]),
        postcode=report.where_postcode,
        phones=[],
        emails=[],
    )
    items: list[tuple[int | None, Extracted]] = [
        (None, i)
        for i in merge_structured(
            extract(report.description, reported_at=report.received_at), fields
        )
    ]
    texts = [report.description]
    for fid, text in extra["followups"]:
        if text:
            texts.append(text)
            items += [(fid, i) for i in extract(text, reported_at=report.received_at)]
    text = "\n".join(texts)
    categories = categorise(text, [i for _, i in items], report_kind=report.kind)
    images = [
        (attachment_id, h)
        for attachment_id, sha256, media_type in extra["pictures"]
        if (
            h := _video_hash(rt, attachment_id, sha256)
            if media_type in video.VIDEO_TYPES
            else _image_hash(rt, attachment_id, sha256)
        )
        is not None
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


def _image_hash(rt: Runtime, attachment_id: int, sha256: str) -> int | None:
    """Hash the display copy when there is one (small, already decoded once), else the
    original; a picture that cannot be read simply does not cluster."""
    for key in (display_key(sha256), original_key(sha256)):
        path = rt.store.path_for(key)
        if path.exists():
            try:
                return similarity.image_phash(path)
            except Exception:  # a damaged picture must not stop the report's triage
                log.warning("triage.image_hash_failed", attachment_id=attachment_id)
                return None
    return None


def _video_hash(rt: Runtime, attachment_id: int, sha256: str) -> int | None:
    """The perceptual hash of a video's montage (:mod:`vigil.triage.video`; there is no
    display copy of a video, so the original). A video that gives no montage, or only a
    flat one (a black screen, a pocket), does not cluster; why is logged, never its name."""
    path = rt.store.path_for(original_key(sha256))
    if not path.exists():
        return None
    h, reason = _video_phash(path)
    if reason is not None:
        log.warning("triage.video_hash_failed", attachment_id=attachment_id, reason=reason)
    return h


@lru_cache(maxsize=VIDEO_HASHES_KEPT)
def _video_phash(path: Path) -> tuple[int | None, str | None]:
    """(hash, None), or (None, why not)."""
    try:
        h = similarity.image_phash(video.montage(path))
    except video.UnhashableVideo as exc:
        return None, exc.reason
    if not similarity.is_informative(h):
        return None, "flat"
    return h, None


# --- storing, inside the writer -------------------------------------------------------

_results = cast(Table, TriageResult.__table__)
_UPDATE_RESULT = (
    update(_results)
    .where(_results.c.report_id == bindparam("rid"))
    .values(
        {
            name: bindparam(name, type_=_results.c[name].type)
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
_INSERT_HISTORY = insert(cast(Table, TriageDecision.__table__))
_RESULTS = select(_results.c.report_id, _results.c.categories, _results.c.status).where(
    _results.c.report_id.in_(_IDS)
)
_NEWEST_CONFIG = select(TriageConfig.version).order_by(TriageConfig.version.desc()).limit(1)
# A version of the weights is never edited in place (a change is a new version), so each is
# parsed once per process rather than once per chunk.
_CONFIGS: dict[int, TriageConfigModel] = {}


def _config(session: Session) -> tuple[int | None, TriageConfigModel]:
    version = session.connection().scalar(_NEWEST_CONFIG)
    if version is None:
        return None, load_default_config()
    if version not in _CONFIGS:
        version, config = config_in_force(session)
        if version is None:  # removed meanwhile (they never are)
            return None, config
        _CONFIGS[version] = config
    return version, _CONFIGS[version]


def _rounds(batch: Sequence[Prepared]) -> Iterator[list[Prepared]]:
    """The chunk in runs of distinct reports: a report's second run in the chunk starts a
    new round, which reads what the first one stored."""
    current: list[Prepared] = []
    seen: set[int] = set()
    for prep in batch:
        if prep.facts.id in seen:
            yield current
            current, seen = [], set()
        current.append(prep)
        seen.add(prep.facts.id)
    if current:
        yield current


def _store(session: Session, batch: Sequence[Prepared]) -> None:
    version, config = _config(session)
    for one_round in _rounds(batch):
        _store_round(session, one_round, version, config)


def _store_round(
    session: Session,
    batch: Sequence[Prepared],
    version: int | None,
    config: TriageConfigModel,
) -> None:
    """Read what clustering needs for the round, work out every report's links, cluster
    and priority in turn (in memory), then write the round with one statement per table."""
    conn = session.connection()
    now = utcnow()
    ids = [p.facts.id for p in batch]
    existing: dict[int, list[dict[str, Any]]] = {}
    fresh: set[int] = set()
    for rid, categories, status in conn.execute(_RESULTS, {"ids": ids}):
        existing[rid] = list(categories or [])
        if status == "pending":
            fresh.add(rid)
    for prep in batch:
        if prep.facts.id not in existing:  # reports accepted before triage existed
            enter_queue(session, prep.facts.id, prep.facts.received_at, job=False)
            existing[prep.facts.id] = []
            fresh.add(prep.facts.id)
    plan = ItemPlan.read(conn, [(p.facts.id, p.items) for p in batch])
    in_force = PeoplesItems.read(conn, ids)
    alerted = live_alert_reports(session, ids)

    probes = [
        Probe(p.facts, p.signature, tuple(p.images), plan.identifiers[p.facts.id]) for p in batch
    ]
    finder = LinkFinder(conn, probes, held=plan.held, reruns=len(batch) - len(fresh))
    links = {}
    for probe in probes:
        links[probe.id] = finder.links(probe)
        finder.stored(probe, plan.new_identifiers[probe.id], plan.removed[probe.id])
    book = ClusterBook.read(conn, links)

    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    again: list[NewJob] = []
    sizes = config.cluster_sizes
    for prep in batch:
        rid = prep.facts.id
        cluster_id = book.assign(rid, links[rid])
        members = book.members(cluster_id) if cluster_id else [rid]
        size = len(members)
        if rid in fresh and size in (sizes.several, sizes.many):
            # A new report made "several independent reports" true for the earlier members
            # too: score them again (once per threshold crossed; re-runs trigger nothing).
            again += [retriage_job(other, f"cluster{size}") for other in members if other != rid]
        scored = prioritise(
            prep.text,
            in_force.items(rid, prep.items),
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

    replaced = [rid for rid in ids if rid not in fresh]
    index_reports(conn, [(p.facts.id, p.signature, p.images) for p in batch], replaced=replaced)
    plan.write(conn)
    book.write(conn, replaced=replaced, now=now)
    conn.execute(_UPDATE_RESULT, updates)
    conn.execute(_INSERT_HISTORY, history)
    if again:
        enqueue_many(session, again)
    # Linkage follows triage: the report's entities (with the items just stored) are matched
    # against everything known, in a job of its own so triage latency does not pay for it.
    link_reports(session, ids)


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
