"""A round of reports' near-duplicate links, exactly as if each were triaged alone, in turn.

The pipeline triages a batch of reports in one transaction. Triaged one at a time, each
report's lookups would see what the reports before it had just stored (their text bands,
identifier items and pictures) and no longer see what those reports' earlier runs had
stored. Here the lookups are read once for the whole round, from the database as it was
before the round (:func:`vigil.triage.cluster_candidates.read_snapshot`), and an
:class:`Overlay` of what the round's earlier reports store is laid over them: their old rows
are hidden, their new rows come after everything that was already stored (where a table's
index puts new rows), and each cap is applied to the result. A report therefore finds the
same links as it would alone, without a statement of its own.

Where a lookup fills its cap, which rows it keeps depends on where the database puts a
re-run's new rows. SQLite puts them after all others (rowid order), as the overlay does.
PostgreSQL puts a row wherever its table has room, so there a full lookup may keep other,
equally valid candidates than runs one at a time would (which are not repeatable either).

:mod:`vigil.triage.clusters` describes the four reasons and what they mean.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from vigil.triage import similarity as sim
from vigil.triage.cluster_candidates import (
    Pair,
    Probe,
    Snapshot,
    band_cap,
    image_rows,
    read_snapshot,
)
from vigil.triage.similarity import DEFAULT_SETTINGS, ClusterSettings, Link, LinkReason


@dataclass
class Overlay:
    """What the reports triaged earlier in the round have stored, as their lookups see it."""

    done: set[int] = field(default_factory=set)  # their earlier rows are replaced
    bands: defaultdict[tuple[int, int], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    signatures: dict[int, str] = field(default_factory=dict)
    identifiers: defaultdict[Pair, list[int]] = field(default_factory=lambda: defaultdict(list))
    removed_items: set[int] = field(default_factory=set)  # item ids their runs deleted
    # (attachment, chunk number, chunk, report, phash hex), in the order they were stored
    chunks: list[tuple[int, int, int, int, str]] = field(default_factory=list)


class LinkFinder:
    """Links for each report of a round, in the order the reports are triaged.

    Call :meth:`links` for a report, then :meth:`stored` with what its run stores, before
    moving on to the next report; every report of the round must be among ``probes``.
    """

    def __init__(
        self,
        conn: Connection,
        probes: Sequence[Probe],
        settings: ClusterSettings = DEFAULT_SETTINGS,
        *,
        held: Mapping[Pair, int] | None = None,
        reruns: int | None = None,
    ) -> None:
        """``held`` and ``reruns``: see :func:`read_snapshot`."""
        self.conn = conn
        self.settings = settings
        self.snapshot: Snapshot = read_snapshot(conn, probes, settings, held=held, reruns=reruns)
        self.overlay = Overlay()

    def stored(
        self, probe: Probe, new_identifiers: Iterable[Pair], removed_items: Iterable[int]
    ) -> None:
        """The report's run stored its bands, signature, pictures and ``new_identifiers``
        (one per active identifier row written) and deleted ``removed_items``."""
        overlay = self.overlay
        overlay.done.add(probe.id)
        for band, value in enumerate(probe.signature.bands):
            overlay.bands[(band, value)].append(probe.id)
        overlay.signatures[probe.id] = probe.signature.hex
        for pair in new_identifiers:
            overlay.identifiers[pair].append(probe.id)
        overlay.removed_items.update(removed_items)
        for attachment_id, phash in dict(probe.images).items():
            if sim.is_informative(phash):
                for chunk_no, chunk in enumerate(sim.phash_chunks(phash)):
                    overlay.chunks.append(
                        (attachment_id, chunk_no, chunk, probe.id, sim.phash_hex(phash))
                    )

    def links(self, probe: Probe) -> list[Link]:
        """Every report this one near-duplicates, one link per (other report, reason), best
        first."""
        by_text = self._text_links(probe)
        linked = {link.other_report_id for link in by_text}
        links = [
            *by_text,
            *self._identifier_links(probe),
            *self._image_links(probe),
            *self._time_place_links(probe, linked),
        ]
        return sorted(links, key=lambda link: (-link.score, link.other_report_id, link.reason))

    # --- reading through the overlay -----------------------------------------------------

    def _signature(self, report_id: int) -> str | None:
        if report_id in self.overlay.done:
            return self.overlay.signatures[report_id] or None
        found = self.snapshot.candidates.get(report_id)
        return found.signature if found is not None else None

    def _similarities(self, probe: Probe, report_ids: Iterable[int]) -> dict[int, float]:
        """The text similarity to each of these reports that has a stored signature."""
        found = [(rid, s) for rid in sorted(set(report_ids)) if (s := self._signature(rid))]
        if not found:
            return {}
        scores = sim.estimate_jaccard_many(probe.signature, [s for _, s in found])
        return {rid: float(score) for (rid, _), score in zip(found, scores, strict=True)}

    def _text_links(self, probe: Probe) -> list[Link]:
        """Reports sharing at least one LSH band, most shared bands first, confirmed on the
        full signature.

        Each band's lookup keeps at most ``max_candidates / BANDS`` rows, so all of them
        together keep at most ``max_candidates``: in a surge, a band shared by hundreds of
        reports only says they are near-identical, and any few of them tie the new one into
        their cluster. The window is a lower bound on report id in the lookup (ids grow with
        received_at), checked exactly on the capped candidates.
        """
        signature, settings, overlay = probe.signature, self.settings, self.overlay
        if not signature.comparable:
            return []
        me = probe.id
        received = probe.facts.received_at
        lo, hi = received - settings.window, received + settings.window
        first = self.snapshot.first_id[me]
        per_band = band_cap(signature, settings)
        shared: Counter[int] = Counter()
        for band, value in enumerate(signature.bands):
            rows = [
                rid
                for rid in self.snapshot.bands[(band, value, first)]
                if rid != me and rid not in overlay.done
            ]
            if len(rows) < per_band:
                rows += [rid for rid in overlay.bands.get((band, value), ()) if rid >= first]
            shared.update(rows[:per_band])
        ranked = sorted(shared, key=lambda rid: (-shared[rid], -rid))[: settings.max_candidates]
        candidates = self.snapshot.candidates
        in_window = [
            rid for rid in ranked if rid in candidates and lo <= candidates[rid].received_at <= hi
        ]
        return [
            Link(other, LinkReason.text.value, f"text {round(score * 100)}% similar", score)
            for other, score in self._similarities(probe, in_window).items()
            if score >= settings.text_threshold
        ]

    def _identifier_links(self, probe: Probe) -> list[Link]:
        """Reports naming the same identifier, at any age. Each identifier's lookup is capped
        on its own, so one very common value cannot crowd out a rare, telling one."""
        me, cap, overlay = probe.id, self.settings.max_candidates, self.overlay
        shared: dict[int, set[Pair]] = defaultdict(set)
        seen: Counter[Pair] = Counter()
        for pair in probe.wanted(self.settings):
            rows = [
                rid
                for item_id, rid in self.snapshot.identifiers[pair]
                if rid != me and item_id not in overlay.removed_items
            ]
            if len(rows) < cap:
                rows += [rid for rid in overlay.identifiers.get(pair, ()) if rid != me]
            for rid in rows[:cap]:
                shared[rid].add(pair)
                seen[pair] += 1
        # Most identifiers in common first, then the rarest: a value few reports share says more.
        ranked = sorted(
            shared, key=lambda rid: (-len(shared[rid]), min(seen[i] for i in shared[rid]), -rid)
        )[:cap]
        return [
            Link(
                other,
                LinkReason.identifier.value,
                "shares " + ", ".join(f"{kind} {value}" for kind, value in sorted(shared[other])),
                1.0,
            )
            for other in ranked
        ]

    def _image_links(self, probe: Probe) -> list[Link]:
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
        settings = self.settings
        mine = [(att, h) for att, h in dict(probe.images).items() if sim.is_informative(h)]
        if not mine:
            return []
        cap = settings.max_candidates
        found: dict[int, tuple[int, str]] = {}  # other attachment -> (its report, its hash)
        radius = sim.probe_radius(settings.image_max_distance)
        saturated = False
        for round_radius in sorted({0, radius}):
            if saturated:
                break
            probes = {
                chunk_no: sorted(
                    {
                        value
                        for _, h in mine
                        for value in sim.chunk_probes(sim.phash_chunks(h)[chunk_no], round_radius)
                    }
                )
                for chunk_no in range(sim.PHASH_CHUNKS)
            }
            rows = image_rows(self.conn, probe.id, probes, cap, self.overlay.done)
            if len(rows) < cap:
                wanted = {chunk_no: set(values) for chunk_no, values in probes.items()}
                rows += [
                    (attachment_id, other, phash)
                    for attachment_id, chunk_no, chunk, other, phash in self.overlay.chunks
                    if other != probe.id and chunk in wanted[chunk_no]
                ][: cap - len(rows)]
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
                f"same picture or video as attachment {best[other][1]} (distance {best[other][0]})",
                1 - best[other][0] / sim.PHASH_BITS,
            )
            for other in ranked
        ]

    def _time_place_links(self, probe: Probe, linked_by_text: set[int]) -> list[Link]:
        """Reports close in time and place whose texts are also somewhat alike (closeness
        alone would fold a busy city centre). Reports already linked by text are left out:
        time and place are there to catch the same event told in other words, and in a
        surge this spares reading hundreds of signatures twice."""
        settings = self.settings
        report = probe.facts
        close: dict[int, sim.Closeness] = {}
        for other, w_start, w_end, w_lat, w_lon, w_postcode in self.snapshot.places.get(
            probe.id, ()
        ):
            place = sim.Place(w_start, w_end, w_lat, w_lon, w_postcode)
            found = sim.closeness(report, place, minutes=settings.minutes, metres=settings.metres)
            if found is not None and other not in linked_by_text:
                close[other] = found
        links = []
        for other, similarity in self._similarities(probe, close).items():
            if similarity < settings.time_place_min_jaccard:
                continue
            found = close[other]
            when = 1 - found.gap.total_seconds() / 60 / settings.minutes
            where = 1.0 if found.metres is None else 1 - found.metres / settings.metres
            detail = f"{found.describe()}; text {round(similarity * 100)}% similar"
            links.append(Link(other, LinkReason.time_place.value, detail, (when + where) / 2))
        return links
