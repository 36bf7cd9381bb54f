"""Finding a report's near-duplicates: candidate lookups through indexes, each capped, then
confirmed on the full signal. :mod:`vigil.triage.clusters` explains the four reasons.

Every lookup goes through an index (bands by (band, hash), items by (kind, value), image
chunks by (chunk_no, chunk), time and place by the reports' received_at index) and reads a
capped number of rows: ``max_candidates`` for all bands together, for each identifier and
for each round of image probes, ``time_place_candidates`` for time and place. A surge of
near-identical reports therefore costs each new one a bounded amount of work rather than
a comparison with the whole surge. Text and time-and-place candidates come only from
reports received within a window (30 days) of this one; shared identifiers and pictures
count at any age. The queries avoid joins and mixed predicates whose plans depend on
table statistics: tests and a fresh deployment have none, and a planner guessing "one
row" turns such a join into a scan of the window per candidate.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    CompoundSelect,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from vigil.intake.models import Report
from vigil.triage import similarity as sim
from vigil.triage.items import IDENTIFIER_KINDS
from vigil.triage.models import ImageHash, TextBand, TriageItem
from vigil.triage.similarity import (
    DEFAULT_SETTINGS,
    ClusterSettings,
    Link,
    LinkReason,
    ReportFacts,
    TextSignature,
)

_METRES_PER_DEGREE = 111_195.0
_MAX_IDENTIFIERS = 50  # per report; more is a pasted list, not a report

# Statements are built once, with parameters bound per call: at a few hundred reports a
# second, building them per report cost more than running them.
_IDS: BindParameter[int] = bindparam("ids", expanding=True)
_REPORT_IDENTIFIERS = (
    select(TriageItem.kind, TriageItem.value)
    .where(
        TriageItem.report_id == bindparam("report_id"),
        TriageItem.status == "active",
        TriageItem.kind.in_(sorted(IDENTIFIER_KINDS)),
    )
    .distinct()
)
_FIRST_SINCE = (
    select(Report.id)
    .where(Report.received_at >= bindparam("lo"))
    .order_by(Report.received_at, Report.id)
    .limit(1)
)
_RECEIVED = select(Report.id, Report.received_at).where(Report.id.in_(_IDS))
_SIGNATURES = select(TextBand.report_id, TextBand.signature).where(
    TextBand.band == 0, TextBand.report_id.in_(_IDS)
)


def report_identifiers(session: Session, report_id: int) -> list[tuple[str, str]]:
    """The report's active identifier items (phone, e-mail, URL, plate, handle)."""
    rows = session.execute(_REPORT_IDENTIFIERS, {"report_id": report_id}).all()
    return [(kind, value) for kind, value in rows]


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
    best first. ``items`` are (kind, value) pairs; by default the report's identifier
    items already written to ``triage_items`` are used."""
    session.flush()  # lookups run on the connection: items added to the session count too
    if items is None:
        items = report_identifiers(session, report.id)
    conn = session.connection()
    by_text = _text_links(conn, report, signature, settings)
    linked = {link.other_report_id for link in by_text}
    links = [
        *by_text,
        *_identifier_links(conn, report.id, items, settings),
        *_image_links(conn, report.id, image_hashes, settings),
        *_time_place_links(conn, report, signature, settings, linked),
    ]
    return sorted(links, key=lambda link: (-link.score, link.other_report_id, link.reason))


def _similarities(
    conn: Connection, signature: TextSignature, report_ids: Iterable[int]
) -> dict[int, float]:
    """The text similarity to each of these reports that has a stored signature."""
    ids = sorted(set(report_ids))
    if not ids:
        return {}
    found = [(rid, sig) for rid, sig in conn.execute(_SIGNATURES, {"ids": ids}) if sig]
    scores = sim.estimate_jaccard_many(signature, [sig for _, sig in found])
    return {rid: float(score) for (rid, _), score in zip(found, scores, strict=True)}


@cache
def _band_lookup(bands: int) -> CompoundSelect[int]:
    """Report ids sharing each band, each band's lookup capped on its own."""
    parts = []
    for band in range(bands):
        one_band = (
            select(TextBand.report_id)
            .where(
                TextBand.band == band,
                TextBand.hash == bindparam(f"h{band}", type_=BigInteger),
                TextBand.report_id != bindparam("me", type_=Integer),
                TextBand.report_id >= bindparam("first", type_=Integer),
            )
            .limit(bindparam("per_band", type_=Integer))
            .subquery()
        )
        parts.append(select(one_band.c.report_id))
    return union_all(*parts)


def _text_links(
    conn: Connection, report: ReportFacts, signature: TextSignature, settings: ClusterSettings
) -> list[Link]:
    """Reports sharing at least one LSH band, most shared bands first, confirmed on the
    full signature.

    Each band's lookup reads at most ``max_candidates / BANDS`` rows, so all of them
    together read at most ``max_candidates``: in a surge, a band shared by hundreds of
    reports only says they are near-identical, and any few of them tie the new one into
    their cluster. The window is applied as a lower bound on report id (ids grow with
    received_at: intake assigns both in the single writer), which keeps the lookup on the
    (band, hash) index without a join that a planner short of statistics turns into a
    scan per row; the exact window is then checked on the capped candidates.
    """
    if not signature.comparable:
        return []
    lo, hi = report.received_at - settings.window, report.received_at + settings.window
    first_id = conn.scalar(_FIRST_SINCE, {"lo": lo})
    params: dict[str, int] = {
        "me": report.id,
        "first": first_id or 0,
        "per_band": max(1, settings.max_candidates // len(signature.bands)),
    }
    for band, value in enumerate(signature.bands):
        params[f"h{band}"] = value
    shared = Counter(conn.execute(_band_lookup(len(signature.bands)), params).scalars())
    ranked = sorted(shared, key=lambda rid: (-shared[rid], -rid))[: settings.max_candidates]
    # By primary key only: a range on received_at here tempts a planner into that index.
    received = conn.execute(_RECEIVED, {"ids": ranked}).all()
    in_window = [rid for rid, at in received if lo <= at <= hi]
    links = []
    for other, score in _similarities(conn, signature, in_window).items():
        if score >= settings.text_threshold:
            links.append(
                Link(other, LinkReason.text.value, f"text {round(score * 100)}% similar", score)
            )
    return links


@cache
def _identifier_lookup(count: int) -> CompoundSelect[int, str, str]:
    """Reports naming each of ``count`` identifiers, each identifier's lookup capped."""
    parts = []
    for n in range(count):
        one = (
            select(TriageItem.report_id, TriageItem.kind, TriageItem.value)
            .where(
                TriageItem.kind == bindparam(f"k{n}"),
                TriageItem.value == bindparam(f"v{n}"),
                TriageItem.report_id != bindparam("me", type_=Integer),
                TriageItem.status == "active",
            )
            .limit(bindparam("cap", type_=Integer))
            .subquery()
        )
        parts.append(select(one.c.report_id, one.c.kind, one.c.value))
    return union_all(*parts)


def _identifier_links(
    conn: Connection,
    report_id: int,
    items: Iterable[tuple[str, str]],
    settings: ClusterSettings,
) -> list[Link]:
    """Reports naming the same identifier, at any age. Each identifier's lookup is capped on
    its own, so one very common value cannot crowd out a rare, telling one."""
    wanted = sorted(
        {
            (str(kind), value)
            for kind, value in items
            if kind in IDENTIFIER_KINDS and (kind, value) not in settings.ignored_identifiers
        }
    )[:_MAX_IDENTIFIERS]
    if not wanted:
        return []
    params: dict[str, Any] = {"me": report_id, "cap": settings.max_candidates}
    for n, (kind, value) in enumerate(wanted):
        params[f"k{n}"], params[f"v{n}"] = kind, value
    shared: dict[int, set[tuple[str, str]]] = defaultdict(set)
    seen: Counter[tuple[str, str]] = Counter()
    for other, kind, value in conn.execute(_identifier_lookup(len(wanted)), params):
        shared[other].add((kind, value))
        seen[(kind, value)] += 1
    # Most identifiers in common first, then the rarest: a value few reports share says more.
    ranked = sorted(
        shared, key=lambda rid: (-len(shared[rid]), min(seen[i] for i in shared[rid]), -rid)
    )[: settings.max_candidates]
    return [
        Link(
            other,
            LinkReason.identifier.value,
            "shares " + ", ".join(f"{kind} {value}" for kind, value in sorted(shared[other])),
            1.0,
        )
        for other in ranked
    ]


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
    )
    .limit(bindparam("cap", type_=Integer))
)


def _image_links(
    conn: Connection,
    report_id: int,
    image_hashes: Sequence[tuple[int, int]],
    settings: ClusterSettings,
) -> list[Link]:
    """Reports carrying a picture within ``image_max_distance`` bits, at any age.

    Candidates come in two rounds of at most ``max_candidates`` rows: exact 16-bit chunk
    matches first (every pair within 3 bits; in a surge of one photo these alone fill the
    cap and the second round is skipped), then every chunk value within
    ``max_distance // 4`` bits, which by pigeonhole finds every pair within the threshold
    (137 probes per chunk for the default 8). Each candidate is then compared on its full
    hash. The probes also meet unrelated pictures (about 1 in 120 of all stored ones if
    chunk values were uniform), so with tens of thousands of pictures the second round
    can fill its cap before reaching a true match at 4-8 bits.
    """
    mine = [(att, h) for att, h in dict(image_hashes).items() if sim.is_informative(h)]
    if not mine:
        return []
    cap = settings.max_candidates
    found: dict[int, tuple[int, str]] = {}  # other attachment -> (its report, its hash)
    radius = sim.probe_radius(settings.image_max_distance)
    saturated = False
    for round_radius in sorted({0, radius}):
        if saturated:
            break
        params: dict[str, Any] = {"me": report_id, "cap": cap}
        for chunk_no in range(sim.PHASH_CHUNKS):
            params[f"c{chunk_no}"] = sorted(
                {
                    probe
                    for _, h in mine
                    for probe in sim.chunk_probes(sim.phash_chunks(h)[chunk_no], round_radius)
                }
            )
        rows = conn.execute(_IMAGE_LOOKUP, params).all()
        saturated = len(rows) >= cap
        for attachment_id, other, phash in rows:
            found.setdefault(attachment_id, (other, phash))
    best: dict[int, tuple[int, int]] = {}  # other report -> (distance, its attachment)
    for attachment_id, (other, phash) in found.items():
        theirs = int(phash, 16)
        distance = min(sim.hamming(h, theirs) for _, h in mine)
        if distance <= settings.image_max_distance and (
            other not in best or (distance, attachment_id) < best[other]
        ):
            best[other] = (distance, attachment_id)
    ranked = sorted(best, key=lambda rid: (best[rid][0], -rid))[:cap]
    return [
        Link(
            other,
            LinkReason.image.value,
            f"same picture as attachment {best[other][1]} (distance {best[other][0]})",
            1 - best[other][0] / sim.PHASH_BITS,
        )
        for other in ranked
    ]


@cache
def _time_place_lookup(
    by_box: bool, by_postcode: bool
) -> Select[int, datetime | None, datetime | None, float | None, float | None, str | None]:
    places = []
    if by_box:
        places.append(
            and_(
                Report.where_lat.between(bindparam("lat_lo"), bindparam("lat_hi")),
                Report.where_lon.between(bindparam("lon_lo"), bindparam("lon_hi")),
            )
        )
    if by_postcode:
        compact = func.upper(func.replace(Report.where_postcode, " ", ""))
        places.append(compact == bindparam("postcode"))
    return (
        select(
            Report.id,
            Report.when_start,
            Report.when_end,
            Report.where_lat,
            Report.where_lon,
            Report.where_postcode,
        )
        .where(
            Report.received_at.between(bindparam("lo"), bindparam("hi")),
            Report.id != bindparam("me"),
            Report.when_start.is_not(None),
            Report.when_start <= bindparam("until"),
            func.coalesce(Report.when_end, Report.when_start) >= bindparam("since"),
            or_(*places),
        )
        .order_by(Report.received_at.desc())
        .limit(bindparam("cap", type_=Integer))
    )


def _time_place_links(
    conn: Connection,
    report: ReportFacts,
    signature: TextSignature,
    settings: ClusterSettings,
    linked_by_text: set[int],
) -> list[Link]:
    """Reports close in time and place whose texts are also somewhat alike (see the module
    docstring for why closeness alone is not enough). Reports already linked by text are
    left out: time and place are there to catch the same event told in other words, and
    in a surge this spares reading hundreds of signatures twice."""
    if report.when_start is None or not signature.comparable:
        return []
    start = report.when_start
    end = report.when_end or start
    start, end = min(start, end), max(start, end)
    slack = timedelta(minutes=settings.minutes)
    params: dict[str, Any] = {
        "lo": max(
            report.received_at - settings.window, start - slack - settings.time_place_lookback
        ),
        "hi": report.received_at + settings.window,
        "me": report.id,
        "until": end + slack,
        "since": start - slack,
        "cap": settings.time_place_candidates,
    }
    lat, lon = report.where_lat, report.where_lon
    by_box = lat is not None and lon is not None
    if lat is not None and lon is not None:
        dlat = settings.metres / _METRES_PER_DEGREE * 1.01
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        params.update(lat_lo=lat - dlat, lat_hi=lat + dlat, lon_lo=lon - dlon, lon_hi=lon + dlon)
    postcode = sim.full_postcode(report.where_postcode)
    if postcode is not None:
        params["postcode"] = postcode.replace(" ", "")
    if not by_box and postcode is None:
        return []
    rows = conn.execute(_time_place_lookup(by_box, postcode is not None), params).all()
    close: dict[int, sim.Closeness] = {}
    for other, w_start, w_end, w_lat, w_lon, w_postcode in rows:
        place = sim.Place(w_start, w_end, w_lat, w_lon, w_postcode)
        found = sim.closeness(report, place, minutes=settings.minutes, metres=settings.metres)
        if found is not None and other not in linked_by_text:
            close[other] = found
    links = []
    for other, similarity in _similarities(conn, signature, close).items():
        if similarity < settings.time_place_min_jaccard:
            continue
        found = close[other]
        when = 1 - found.gap.total_seconds() / 60 / settings.minutes
        where = 1.0 if found.metres is None else 1 - found.metres / settings.metres
        detail = f"{found.describe()}; text {round(similarity * 100)}% similar"
        links.append(Link(other, LinkReason.time_place.value, detail, (when + where) / 2))
    return links
