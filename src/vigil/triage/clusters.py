"""Near-duplicate clusters in the database: index reports' signals, find the reports they
duplicate (each link saying why), and fold them into clusters.

After a major incident hundreds of reports about one event arrive within an hour; analysts
need them folded together so that one person works the event, and each fold must show its
reason (principle 3: automation advises and shows why). Four reasons link two reports:

``text``        their texts' MinHash signatures agree on at least 60% of values;
``identifier``  they name the same phone, e-mail address, URL, plate or handle (any age);
``image``       they carry the same picture or video (perceptual hashes within 8 bits, any
                age; a video's hash is that of a montage of its frames, see
                :mod:`vigil.triage.video`);
``time_place``  both give a time and a place, within 60 minutes and 500 metres (or the same
                full postcode), *and* their texts are at least 30% similar. Time and place
                alone would fold every report from a busy city centre on a Saturday into
                one; 30% is above what unrelated reports on the same topic share (about
                0.1-0.25 in character 5-shingles) and below what two people describing the
                same event in their own words share (about 0.4).

Candidates are found through indexes with a cap per reason, so a surge stays fast (see
:mod:`vigil.triage.cluster_candidates` and :mod:`vigil.triage.cluster_round`).

Clusters need no table of their own: a cluster's id is the smallest report id among its
first members, it is always the id of one of its members, and clusters that a new report
bridges merge into the oldest (smallest id). The pipeline triages a round of reports at a
time: :class:`ClusterBook` reads the cluster ids of every report the round can touch once,
changes them in memory exactly as one report after another would have, and writes back
only what changed. Everything runs inside the caller's transaction (the single writer).
Cluster ids and links are not filtered by need-to-know here: callers that show them to
staff must pass them through ``access.policy`` like any other read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Connection,
    Table,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from vigil.db import utcnow
from vigil.triage import similarity as sim
from vigil.triage.cluster_candidates import Probe, held_rows
from vigil.triage.cluster_round import LinkFinder
from vigil.triage.models import ClusterLink, ImageHash, TextBand, TriageResult
from vigil.triage.similarity import DEFAULT_SETTINGS, ReportFacts, TextSignature
from vigil.triage.similarity import ClusterSettings as ClusterSettings
from vigil.triage.similarity import Link as Link
from vigil.triage.similarity import LinkReason as LinkReason
from vigil.triage.statements import Compiled

_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_results = cast(Table, TriageResult.__table__)

# --- indexing --------------------------------------------------------------------------

_DELETE_BANDS = delete(TextBand).where(TextBand.report_id.in_(_IDS))
_DELETE_CHUNKS = delete(ImageHash).where(ImageHash.report_id.in_(_IDS))
_BAND_COLUMNS = ("report_id", "band", "hash", "signature")
_INSERT_BANDS = Compiled(insert(TextBand).values({c: bindparam(c) for c in _BAND_COLUMNS}))

_INSERT_CHUNKS = insert(ImageHash)


def index_reports(
    conn: Connection,
    entries: Sequence[tuple[int, TextSignature, Sequence[tuple[int, int]]]],
    *,
    replaced: Sequence[int] = (),
) -> None:
    """Store reports' text bands (the signature itself on band 0) and image hash chunks:
    ``entries`` are (report id, signature, [(attachment id, phash)]). ``replaced``: reports
    whose earlier rows go first (a re-run); a report's first run has nothing to replace."""
    if replaced:
        conn.execute(_DELETE_BANDS, {"ids": sorted(replaced)})
        conn.execute(_DELETE_CHUNKS, {"ids": sorted(replaced)})
    bands: list[tuple[Any, ...]] = []
    for report_id, signature, _ in entries:
        if signature.bands:
            bands.append((report_id, 0, signature.bands[0], signature.hex))
            rest = enumerate(signature.bands[1:], start=1)
            bands += [(report_id, band, value, None) for band, value in rest]
    # 25 rows a report, the pipeline's largest write: values by position, no mapping per row
    _INSERT_BANDS.many_rows(conn, _BAND_COLUMNS, bands)
    chunks = [
        {
            "attachment_id": attachment_id,
            "chunk_no": chunk_no,
            "chunk": chunk,
            "report_id": report_id,
            "phash": sim.phash_hex(phash),
        }
        for report_id, _, images in entries
        for attachment_id, phash in dict(images).items()
        if sim.is_informative(phash)
        for chunk_no, chunk in enumerate(sim.phash_chunks(phash))
    ]
    if chunks:
        conn.execute(_INSERT_CHUNKS, chunks)


# --- clusters --------------------------------------------------------------------------

_INCOMING = select(ClusterLink.report_id, ClusterLink.other_report_id).where(
    ClusterLink.other_report_id.in_(_IDS)
)
_CLUSTER_OF = select(_results.c.report_id, _results.c.cluster_id).where(
    _results.c.report_id.in_(_IDS)
)
_MEMBERS_OF = select(_results.c.report_id, _results.c.cluster_id).where(
    _results.c.cluster_id.in_(_IDS)
)
_DELETE_LINKS = delete(ClusterLink).where(ClusterLink.report_id.in_(_IDS))
_INSERT_LINKS = insert(ClusterLink)
_MOVE = (
    update(_results)
    .where(_results.c.report_id == bindparam("rid"))
    .values(cluster_id=bindparam("cid"))
)


class ClusterBook:
    """The cluster ids of every report a round of triage can touch, and its stored links.

    Read once (:meth:`read`), changed by :meth:`assign` one report after another exactly as
    storing each report's links and cluster would change the database, and written back
    (:meth:`write`): the links stored, and only the cluster ids that changed.
    """

    def __init__(self, cluster_of: dict[int, int | None], incoming: dict[int, set[int]]) -> None:
        self._before = dict(cluster_of)  # only reports with a result row are here
        self._cluster = dict(cluster_of)
        self._members: defaultdict[int, set[int]] = defaultdict(set)
        for rid, cid in cluster_of.items():
            if cid is not None:
                self._members[cid].add(rid)
        self._incoming_before = incoming  # report -> reports whose stored links point at it
        self._incoming_new: defaultdict[int, set[int]] = defaultdict(set)
        self._assigned: set[int] = set()
        self.evidence: dict[int, list[Link]] = {}  # report -> the links stored for it

    @classmethod
    def read(cls, conn: Connection, links: Mapping[int, Sequence[Link]]) -> ClusterBook:
        """For the round's reports (the keys of ``links``, each with what it links to): the
        links stored towards them, and the clusters of everything they reach."""
        ids = sorted(links)
        incoming: dict[int, set[int]] = {rid: set() for rid in ids}
        for source, target in _chunked(conn, _INCOMING, ids):
            incoming[target].add(source)
        reach = set(ids)
        reach.update(link.other_report_id for found in links.values() for link in found)
        reach.update(source for sources in incoming.values() for source in sources)
        cluster_of: dict[int, int | None] = dict(_chunked(conn, _CLUSTER_OF, sorted(reach)))
        # Whole clusters: a merge or a departure moves every member; a new cluster's id
        # (a report id) has no members beyond these while the ids stay members' ids.
        clusters = {cid for cid in cluster_of.values() if cid is not None} | reach
        cluster_of.update(_chunked(conn, _MEMBERS_OF, sorted(clusters)))
        return cls(cluster_of, incoming)

    def cluster_of(self, report_id: int) -> int | None:
        return self._cluster.get(report_id)

    def members(self, cluster_id: int) -> list[int]:
        """The report ids in a cluster, oldest first."""
        return sorted(self._members.get(cluster_id, ()))

    def assign(
        self,
        report_id: int,
        links: Sequence[Link],
        *,
        settings: ClusterSettings = DEFAULT_SETTINGS,
    ) -> int | None:
        """Store the report's links and put it in a cluster; returns the cluster id, or None
        when the report is linked to nothing (in either direction).

        The report joins its neighbours' cluster; when they are in several, those merge into
        the oldest (smallest id); when none has one, a new cluster takes the smallest report
        id among them. Links are the evidence, not the whole graph: for each cluster joined
        and each reason only the best ``links_per_reason`` are stored (every link to a report
        not yet in a cluster is kept), which is enough to show why each member is there
        without writing one row per pair in a surge of hundreds.
        """
        links = [link for link in links if link.other_report_id != report_id]
        incoming = {
            source
            for source in self._incoming_before.get(report_id, ())
            if source not in self._assigned  # their earlier links were replaced
        } | self._incoming_new[report_id]
        neighbours = ({link.other_report_id for link in links} | incoming) - {report_id}
        cluster_of = {rid: self._cluster.get(rid) for rid in neighbours | {report_id}}
        evidence = _evidence(links, cluster_of, settings.links_per_reason)
        self.evidence[report_id] = evidence
        self._assigned.add(report_id)
        for link in evidence:
            self._incoming_new[link.other_report_id].add(report_id)
        old = cluster_of[report_id]
        joined = {cid for rid, cid in cluster_of.items() if rid != report_id and cid is not None}
        if old is not None and old not in joined:
            self._leave(report_id, old)
        if not neighbours:
            return None
        members = sorted(neighbours | {report_id})
        target = min(joined) if joined else members[0]
        for cid in sorted(joined - {target}):
            for rid in list(self._members.get(cid, ())):
                self._move(rid, target)
        for rid in members:
            self._move(rid, target)
        return target

    def _leave(self, report_id: int, cluster_id: int) -> None:
        """Take a re-run report that no longer links there out of its cluster. The rest stays
        together (a re-run never splits a cluster); a lone remaining member leaves too, and if
        the cluster carried this report's id it takes the smallest remaining one, so a cluster
        id is always one of its members'."""
        self._move(report_id, None)
        remaining = self.members(cluster_id)
        if len(remaining) == 1:
            self._move(remaining[0], None)
        elif remaining and cluster_id == report_id:
            for rid in remaining:
                self._move(rid, remaining[0])

    def _move(self, report_id: int, cluster_id: int | None) -> None:
        old = self._cluster.get(report_id)
        if old == cluster_id or report_id not in self._before:  # no row: nothing to update
            return
        if old is not None:
            self._members[old].discard(report_id)
        if cluster_id is not None:
            self._members[cluster_id].add(report_id)
        self._cluster[report_id] = cluster_id

    def write(
        self, conn: Connection, *, replaced: Sequence[int] = (), now: datetime | None = None
    ) -> None:
        """Store the assigned reports' links (``replaced``: reports whose earlier links go
        first) and every cluster id that changed, one statement each."""
        made_at = now or utcnow()
        if replaced:
            conn.execute(_DELETE_LINKS, {"ids": sorted(replaced)})
        rows = [
            {
                "report_id": report_id,
                "other_report_id": link.other_report_id,
                "reason": link.reason,
                "detail": link.detail[:500],
                "score": link.score,
                "made_at": made_at,
            }
            for report_id, evidence in self.evidence.items()
            for link in evidence
        ]
        if rows:
            conn.execute(_INSERT_LINKS, rows)
        moved = [
            {"rid": rid, "cid": cid}
            for rid, cid in sorted(self._cluster.items())
            if cid != self._before.get(rid)
        ]
        if moved:
            conn.execute(_MOVE, moved)


def _chunked(conn: Connection, statement: Any, ids: Sequence[int]) -> list[tuple[int, Any]]:
    """Rows of an ``IN :ids`` statement, at most 5,000 ids at a time (PostgreSQL takes at
    most 65,535 parameters)."""
    rows: list[tuple[int, Any]] = []
    for at in range(0, len(ids), 5000):
        rows += [(a, b) for a, b in conn.execute(statement, {"ids": list(ids[at : at + 5000])})]
    return rows


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


# --- one report at a time (tools and tests) ----------------------------------------------


def report_identifiers(session: Session, report_id: int) -> list[tuple[str, str]]:
    """The report's active identifier items (phone, e-mail, URL, plate, handle)."""
    return sorted(held_rows(session.connection(), [report_id]))


def index_report(
    session: Session,
    report_id: int,
    signature: TextSignature,
    image_hashes: Sequence[tuple[int, int]],
    *,
    fresh: bool = False,
) -> None:
    """:func:`index_reports` for one report, replacing its earlier rows unless ``fresh``."""
    session.flush()
    index_reports(
        session.connection(),
        [(report_id, signature, image_hashes)],
        replaced=() if fresh else [report_id],
    )


def find_links(
    session: Session,
    report: ReportFacts,
    signature: TextSignature,
    image_hashes: Sequence[tuple[int, int]],
    *,
    items: Iterable[tuple[str, str]] | None = None,
    settings: ClusterSettings = DEFAULT_SETTINGS,
) -> list[Link]:
    """Every report this one near-duplicates, with one link per (other report, reason),
    best first, as the pipeline finds them for a round of one. ``items`` are (kind, value)
    pairs; by default the report's identifier items already in ``triage_items``."""
    session.flush()
    conn = session.connection()
    held = held_rows(conn, [report.id])
    pairs = frozenset(held) if items is None else frozenset((str(k), v) for k, v in items)
    probe = Probe(report, signature, tuple(image_hashes), pairs)
    return LinkFinder(conn, [probe], settings, held=held).links(probe)


def assign_cluster(
    session: Session,
    report_id: int,
    links: Sequence[Link],
    *,
    settings: ClusterSettings = DEFAULT_SETTINGS,
    fresh: bool = False,
) -> int | None:
    """:meth:`ClusterBook.assign` for one report, stored at once."""
    session.flush()
    conn = session.connection()
    book = ClusterBook.read(conn, {report_id: links})
    cluster_id = book.assign(report_id, links, settings=settings)
    book.write(conn, replaced=() if fresh else [report_id])
    return cluster_id


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
