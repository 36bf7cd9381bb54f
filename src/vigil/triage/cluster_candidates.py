"""Reading a round's near-duplicate candidates: every index lookup for a batch of reports in
a few set-based statements, each lookup capped. :mod:`vigil.triage.clusters` explains the
four reasons; :mod:`vigil.triage.cluster_round` turns what is read here into links.

Every lookup goes through an index (bands by (band, hash), items by (kind, value), image
chunks by (chunk_no, chunk), time and place by the reports' received_at index) and reads a
capped number of rows, so a surge of near-identical reports costs each new one a bounded
amount of work rather than a comparison with the whole surge. Text and time-and-place
candidates come only from reports received within a window (30 days) of this one; shared
identifiers and pictures count at any age. The queries avoid joins and mixed predicates
whose plans depend on table statistics: tests and a fresh deployment have none, and a
planner guessing "one row" turns such a join into a scan of the window per candidate.

Why one statement for many lookups: the pipeline triages hundreds of reports a second, and
at that rate building, binding and sending one statement per lookup and report cost more
than SQLite spent answering them. Each kind of lookup is one statement for the whole
round, with one capped lookup per distinct key (reports that share a band or a phone share
its lookup); :mod:`vigil.triage.cluster_statements` has the statements.

What is read is the database *before* the round. The reports of the round see each other
through :class:`vigil.triage.cluster_round.Overlay`; each cap here is therefore raised by
the most rows the overlay can take away (rows of the round's own reports), so that what is
left after it is exactly what a report triaged alone would have read.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Integer,
    and_,
    bindparam,
    or_,
    select,
)

from vigil.intake.models import Report
from vigil.triage import similarity as sim
from vigil.triage.cluster_statements import band_rows, first_ids, identifier_rows, place_rows
from vigil.triage.items import IDENTIFIER_KINDS
from vigil.triage.models import ImageHash, TextBand, TriageItem
from vigil.triage.similarity import (
    DEFAULT_SETTINGS,
    ClusterSettings,
    ReportFacts,
    TextSignature,
)

_METRES_PER_DEGREE = 111_195.0
MAX_IDENTIFIERS = 50  # per report; more is a pasted list, not a report
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)

Pair = tuple[str, str]  # (kind, value) of an identifier item
Row = tuple[int, int]  # (item id, report id) of an identifier item


@dataclass(frozen=True, slots=True)
class Probe:
    """What the lookups need to know about one report of the round."""

    facts: ReportFacts
    signature: TextSignature
    images: tuple[tuple[int, int], ...]  # (attachment id, perceptual hash)
    identifiers: frozenset[Pair]  # its active identifier items once this run has stored them

    @property
    def id(self) -> int:
        return self.facts.id

    def wanted(self, settings: ClusterSettings) -> list[Pair]:
        """The identifiers looked up: not ignored, at most ``MAX_IDENTIFIERS``."""
        return sorted(
            (str(kind), value)
            for kind, value in self.identifiers
            if kind in IDENTIFIER_KINDS and (kind, value) not in settings.ignored_identifiers
        )[:MAX_IDENTIFIERS]


@dataclass(frozen=True, slots=True)
class Candidate:
    """What confirming a candidate needs: when it was received, and its stored signature."""

    received_at: datetime
    signature: str | None


@dataclass
class Snapshot:
    """The rows the round's lookups read, each list in the order the index gave it."""

    first_id: dict[int, int] = field(default_factory=dict)  # report -> first id in its window
    # (band, hash, first id) -> report ids holding that band from the first id on
    bands: dict[tuple[int, int, int], Sequence[int]] = field(default_factory=dict)
    identifiers: dict[Pair, Sequence[Row]] = field(default_factory=dict)
    places: dict[int, Sequence[tuple[Any, ...]]] = field(default_factory=dict)  # report -> rows
    candidates: dict[int, Candidate] = field(default_factory=dict)


def read_snapshot(
    conn: Connection,
    probes: Sequence[Probe],
    settings: ClusterSettings = DEFAULT_SETTINGS,
    *,
    held: Mapping[Pair, int] | None = None,
    reruns: int | None = None,
) -> Snapshot:
    """Everything but pictures (rare, see ``image_rows``), in about one statement per kind of
    lookup. What the overlay may hide raises each cap by as much: ``held`` says how many
    active rows of each identifier the round's own reports hold now, ``reruns`` how many of
    them may have stored text bands already (a report's first run has none; by default
    every one of them)."""
    snap = Snapshot()
    comparable = [p for p in probes if p.signature.comparable]
    snap.first_id = _first_ids(conn, comparable, settings)
    hidden = len(probes) if reruns is None else reruns
    snap.bands = _bands(conn, comparable, snap.first_id, settings, hidden)
    snap.identifiers = _identifiers(conn, probes, settings, held or {})
    snap.places = _places(conn, comparable, settings)
    wanted = {rid for rows in snap.bands.values() for rid in rows}
    wanted.update(row[0] for rows in snap.places.values() for row in rows)
    wanted.update(p.id for p in probes)
    snap.candidates = _candidates(conn, wanted)
    return snap


_CANDIDATES = (
    select(Report.id, Report.received_at, TextBand.signature)
    .outerjoin(TextBand, and_(TextBand.report_id == Report.id, TextBand.band == 0))
    .where(Report.id.in_(_IDS))
)


# --- the lookups -----------------------------------------------------------------------


def _first_ids(
    conn: Connection, probes: Sequence[Probe], settings: ClusterSettings
) -> dict[int, int]:
    found = first_ids(conn, [p.facts.received_at - settings.window for p in probes])
    return {probe.id: int(first or 0) for probe, first in zip(probes, found, strict=True)}


def band_cap(signature: TextSignature, settings: ClusterSettings) -> int:
    """Rows read per band: all bands together read at most ``max_candidates``."""
    return max(1, settings.max_candidates // len(signature.bands))


def _bands(
    conn: Connection,
    probes: Sequence[Probe],
    first_id: Mapping[int, int],
    settings: ClusterSettings,
    hidden: int,
) -> dict[tuple[int, int, int], Sequence[int]]:
    """Each band lookup reads ``hidden`` rows more than ``band_cap``: a report has one row
    per band, and the overlay may hide the rows of that many of the round's reports."""
    keys = sorted(
        {
            (band, value, first_id[p.id])
            for p in probes
            for band, value in enumerate(p.signature.bands)
        }
    )
    if not keys:
        return {}
    cap = band_cap(probes[0].signature, settings) + hidden
    return dict(zip(keys, band_rows(conn, keys, cap), strict=True))


def _identifiers(
    conn: Connection,
    probes: Sequence[Probe],
    settings: ClusterSettings,
    held: Mapping[Pair, int],
) -> dict[Pair, Sequence[Row]]:
    keys = sorted({pair for p in probes for pair in p.wanted(settings)})
    caps = [settings.max_candidates + held.get(key, 0) for key in keys]
    return dict(zip(keys, identifier_rows(conn, keys, caps), strict=True))


def _places(
    conn: Connection, probes: Sequence[Probe], settings: ClusterSettings
) -> dict[int, Sequence[tuple[Any, ...]]]:
    asked = [(p.id, params) for p in probes if (params := place_params(p.facts, settings))]
    rows = place_rows(conn, [params for _, params in asked], settings.time_place_candidates)
    return {report_id: found for (report_id, _), found in zip(asked, rows, strict=True)}


def place_params(report: ReportFacts, settings: ClusterSettings) -> dict[str, Any] | None:
    """The time-and-place lookup's bounds for a report, or None when it gives no time or no
    place (then it cannot link by time and place)."""
    if report.when_start is None:
        return None
    start = report.when_start
    end = report.when_end or start
    start, end = min(start, end), max(start, end)
    slack = timedelta(minutes=settings.minutes)
    lat, lon = report.where_lat, report.where_lon
    postcode = sim.full_postcode(report.where_postcode)
    if (lat is None or lon is None) and postcode is None:
        return None
    params: dict[str, Any] = {
        "lo": max(
            report.received_at - settings.window, start - slack - settings.time_place_lookback
        ),
        "hi": report.received_at + settings.window,
        "me": report.id,
        "until": end + slack,
        "since": start - slack,
        "la": None,
        "lb": None,
        "oa": None,
        "ob": None,
        "pc": postcode.replace(" ", "") if postcode is not None else None,
    }
    if lat is not None and lon is not None:
        dlat = settings.metres / _METRES_PER_DEGREE * 1.01
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        params.update(la=lat - dlat, lb=lat + dlat, oa=lon - dlon, ob=lon + dlon)
    return params


def _candidates(conn: Connection, ids: Iterable[int]) -> dict[int, Candidate]:
    wanted = sorted(set(ids))
    found: dict[int, Candidate] = {}
    for at in range(0, len(wanted), 5000):  # PostgreSQL takes at most 65,535 parameters
        for rid, received_at, signature in conn.execute(
            _CANDIDATES, {"ids": wanted[at : at + 5000]}
        ).all():
            found[rid] = Candidate(received_at, signature or None)
    return found


# --- pictures: per report, as they are rare ---------------------------------------------

_IMAGE_LOOKUP = (
    select(ImageHash.attachment_id, ImageHash.report_id, ImageHash.phash)
    .where(
        or_(
            *[
                and_(
                    ImageHash.chunk_no == chunk_no,
                    ImageHash.chunk.in_(bindparam(f"c{chunk_no}", expanding=True)),
                )
                for chunk_no in range(sim.PHASH_CHUNKS)
            ]
        ),
        ImageHash.report_id != bindparam("me"),
        ImageHash.report_id.not_in(bindparam("hidden", expanding=True)),
    )
    .limit(bindparam("cap", type_=Integer))
)


def image_rows(
    conn: Connection,
    report_id: int,
    probes: Mapping[int, Sequence[int]],
    cap: int,
    hidden: Iterable[int],
) -> list[tuple[int, int, str]]:
    """Stored chunks matching any of ``probes`` (chunk number -> values), of reports other
    than this one and ``hidden`` (re-indexed earlier in the round): (attachment, report,
    phash hex), at most ``cap``."""
    params: dict[str, Any] = {"me": report_id, "cap": cap, "hidden": sorted(set(hidden))}
    for chunk_no in range(sim.PHASH_CHUNKS):
        params[f"c{chunk_no}"] = list(probes.get(chunk_no, ()))
    return [(a, r, p) for a, r, p in conn.execute(_IMAGE_LOOKUP, params)]


def held_rows(conn: Connection, report_ids: Sequence[int]) -> Counter[Pair]:
    """How many active identifier rows these reports hold now, by (kind, value)."""
    rows = conn.execute(
        select(TriageItem.kind, TriageItem.value).where(
            TriageItem.report_id.in_(report_ids),
            TriageItem.status == "active",
            TriageItem.kind.in_(sorted(IDENTIFIER_KINDS)),
        )
    )
    return Counter((kind, value) for kind, value in rows)
