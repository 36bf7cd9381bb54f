"""Near-duplicate clusters in the database: index a report's signals, find the reports it
duplicates (each link saying why), and fold them into one cluster.

After a major incident hundreds of reports about one event arrive within an hour; analysts
need them folded together so that one person works the event, and each fold must show its
reason (principle 3: automation advises and shows why). Four reasons link two reports:

``text``        their texts' MinHash signatures agree on at least 60% of values;
``identifier``  they name the same phone, e-mail address, URL, plate or handle (any age);
``image``       they carry the same picture (perceptual hashes within 8 bits, any age);
``time_place``  both give a time and a place, within 60 minutes and 500 metres (or the same
                full postcode), *and* their texts are at least 30% similar. Time and place
                alone would fold every report from a busy city centre on a Saturday into
                one; 30% is above what unrelated reports on the same topic share (about
                0.1-0.25 in character 5-shingles) and below what two people describing the
                same event in their own words share (about 0.4).

Candidates are found through indexes with a cap per reason, so a surge stays fast (see
:mod:`vigil.triage.cluster_candidates`, whose ``find_links`` this module re-exports).

Clusters need no table of their own: a cluster's id is the smallest report id among its
first members, it is always the id of one of its members, and clusters that a new report
bridges merge into the oldest (smallest id). Every function runs inside the caller's
transaction (the pipeline's ``rt.db.write_sync``), so under the single writer nothing races.
Cluster ids and links are not filtered by need-to-know here: callers that show them to
staff must pass them through ``access.policy`` like any other read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.intake.models import Attachment
from vigil.triage import similarity as sim
from vigil.triage.cluster_candidates import find_links as find_links
from vigil.triage.cluster_candidates import report_identifiers as report_identifiers
from vigil.triage.models import ClusterLink, ImageHash, TextBand, TriageResult
from vigil.triage.similarity import DEFAULT_SETTINGS, TextSignature
from vigil.triage.similarity import ClusterSettings as ClusterSettings
from vigil.triage.similarity import Link as Link
from vigil.triage.similarity import LinkReason as LinkReason

# --- indexing --------------------------------------------------------------------------

_DELETE_BANDS = delete(TextBand).where(TextBand.report_id == bindparam("report_id"))
_OWN_ATTACHMENTS = select(Attachment.id).where(Attachment.report_id == bindparam("report_id"))
_DELETE_CHUNKS = delete(ImageHash).where(
    ImageHash.attachment_id.in_(bindparam("attachments", expanding=True))
)


def index_report(
    session: Session,
    report_id: int,
    signature: TextSignature,
    image_hashes: Sequence[tuple[int, int]],
    *,
    fresh: bool = False,
) -> None:
    """Store a report's text bands (the signature itself on band 0) and image hash chunks,
    replacing whatever an earlier run stored, so re-running the pipeline is harmless.
    ``fresh``: the report's first run, so there is nothing to replace (three statements
    fewer on the pipeline's hot path)."""
    session.flush()  # the statements below run on the connection, after the session's work
    conn = session.connection()
    if not fresh:
        attachments = {attachment_id for attachment_id, _ in image_hashes}
        attachments.update(conn.execute(_OWN_ATTACHMENTS, {"report_id": report_id}).scalars())
        conn.execute(_DELETE_BANDS, {"report_id": report_id})
        conn.execute(_DELETE_CHUNKS, {"attachments": sorted(attachments)})
    bands: list[dict[str, Any]] = [
        {"report_id": report_id, "band": band, "hash": value, "signature": None}
        for band, value in enumerate(signature.bands)
    ]
    if bands:
        bands[0]["signature"] = signature.hex
        conn.execute(insert(TextBand), bands)
    chunks = [
        {
            "attachment_id": attachment_id,
            "chunk_no": chunk_no,
            "chunk": chunk,
            "report_id": report_id,
            "phash": sim.phash_hex(phash),
        }
        for attachment_id, phash in dict(image_hashes).items()
        if sim.is_informative(phash)
        for chunk_no, chunk in enumerate(sim.phash_chunks(phash))
    ]
    if chunks:
        conn.execute(insert(ImageHash), chunks)


# --- clusters --------------------------------------------------------------------------

_INCOMING = select(ClusterLink.report_id).where(
    ClusterLink.other_report_id == bindparam("report_id")
)
_CLUSTERS_OF = select(TriageResult.report_id, TriageResult.cluster_id).where(
    TriageResult.report_id.in_(bindparam("ids", expanding=True))
)
_DELETE_LINKS = delete(ClusterLink).where(ClusterLink.report_id == bindparam("report_id"))


def assign_cluster(
    session: Session,
    report_id: int,
    links: Sequence[Link],
    *,
    settings: ClusterSettings = DEFAULT_SETTINGS,
    fresh: bool = False,
) -> int | None:
    """Store the report's links and put it in a cluster; returns the cluster id, or None
    when the report is linked to nothing (in either direction). ``fresh``: the report's
    first run, so it has no stored links of its own to replace.

    The report joins its neighbours' cluster; when they are in several, those merge into
    the oldest (smallest id); when none has one, a new cluster takes the smallest report id
    among them. Links are the evidence, not the whole graph: for each cluster joined and
    each reason only the best ``links_per_reason`` are stored (every link to a report not
    yet in a cluster is kept), which is enough to show why each member is there without
    writing one row per pair in a surge of hundreds. Every report has its TriageResult row
    (intake creates it, pending); this only updates those rows.
    """
    links = [link for link in links if link.other_report_id != report_id]
    session.flush()  # reads and link rows go through the connection
    conn = session.connection()
    incoming = set(conn.execute(_INCOMING, {"report_id": report_id}).scalars())
    neighbours = ({link.other_report_id for link in links} | incoming) - {report_id}
    cluster_of: dict[int, int | None] = {
        rid: cid
        for rid, cid in conn.execute(_CLUSTERS_OF, {"ids": sorted(neighbours | {report_id})})
    }
    if not fresh:
        conn.execute(_DELETE_LINKS, {"report_id": report_id})
    evidence = _evidence(links, cluster_of, settings.links_per_reason)
    if evidence:
        conn.execute(
            insert(ClusterLink),
            [
                {
                    "report_id": report_id,
                    "other_report_id": link.other_report_id,
                    "reason": link.reason,
                    "detail": link.detail[:500],
                    "score": link.score,
                    "made_at": utcnow(),
                }
                for link in evidence
            ],
        )
    old = cluster_of.get(report_id)
    joined = {cid for rid, cid in cluster_of.items() if rid != report_id and cid is not None}
    if old is not None and old not in joined:
        _leave(session, report_id, old)
    if not neighbours:
        return None
    members = sorted(neighbours | {report_id})
    target = min(joined) if joined else members[0]
    # Only rows that change: in a surge the cluster already holds hundreds of members.
    moving = or_(TriageResult.cluster_id.is_(None), TriageResult.cluster_id != target)
    merging = sorted(joined - {target})
    session.execute(
        update(TriageResult)
        .where(
            or_(
                and_(TriageResult.report_id.in_(members), moving),
                TriageResult.cluster_id.in_(merging),
            )
        )
        .values(cluster_id=target)
    )
    return target


def _evidence(
    links: Sequence[Link], cluster_of: dict[int, int | None], per_reason: int
) -> list[Link]:
    """The links worth storing: the best few per reason into each cluster this report
    joins, and every link to a report that is in no cluster yet (it joins through this
    one, so its link is the only record of why)."""
    best: dict[tuple[int, str], Link] = {}
    for link in links:  # one per (other report, reason): the best
        key = (link.other_report_id, link.reason)
        if key not in best or link.score > best[key].score:
            best[key] = link
    groups: dict[tuple[str, int, str], list[Link]] = defaultdict(list)
    for link in best.values():
        cluster = cluster_of.get(link.other_report_id)
        group = (
            ("c", cluster, link.reason) if cluster is not None else ("r", link.other_report_id, "")
        )
        groups[group].append(link)
    kept: list[Link] = []
    for members in groups.values():
        members.sort(key=lambda link: (-link.score, link.other_report_id))
        kept += members[:per_reason]
    return sorted(kept, key=lambda link: (link.other_report_id, link.reason))


def _leave(session: Session, report_id: int, cluster_id: int) -> None:
    """Take a re-run report that no longer links there out of its cluster. The rest stays
    together (a re-run never splits a cluster); a lone remaining member leaves too, and if
    the cluster carried this report's id it takes the smallest remaining one, so a cluster
    id is always one of its members'."""
    session.execute(
        update(TriageResult).where(TriageResult.report_id == report_id).values(cluster_id=None)
    )
    remaining = sorted(
        session.scalars(select(TriageResult.report_id).where(TriageResult.cluster_id == cluster_id))
    )
    if len(remaining) == 1:
        session.execute(
            update(TriageResult)
            .where(TriageResult.report_id == remaining[0])
            .values(cluster_id=None)
        )
    elif remaining and cluster_id == report_id:
        session.execute(
            update(TriageResult)
            .where(TriageResult.cluster_id == cluster_id)
            .values(cluster_id=remaining[0])
        )


def cluster_members(session: Session, cluster_id: int) -> list[int]:
    """The report ids in a cluster, oldest first (unfiltered: see the module docstring)."""
    return list(
        session.scalars(
            select(TriageResult.report_id)
            .where(TriageResult.cluster_id == cluster_id)
            .order_by(TriageResult.report_id)
        )
    )


def cluster_links(session: Session, report_id: int) -> list[Link]:
    """The stored links from and to a report, seen from it, best first; when both reports
    stored a link for the same reason, the better one."""
    rows = session.scalars(
        select(ClusterLink).where(
            or_(ClusterLink.report_id == report_id, ClusterLink.other_report_id == report_id)
        )
    )
    best: dict[tuple[int, str], Link] = {}
    for row in rows:
        other = row.other_report_id if row.report_id == report_id else row.report_id
        key = (other, row.reason)
        if other != report_id and (key not in best or row.score > best[key].score):
            best[key] = Link(other, row.reason, row.detail, row.score)
    return sorted(best.values(), key=lambda link: (-link.score, link.other_report_id, link.reason))
