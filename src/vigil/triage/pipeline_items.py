"""Swapping a round's extracted items for new ones, decided in memory from one read.

The pipeline's earlier items go, except those it finds again, which stay as they are (a
re-run of an unchanged report writes no items and deletes none; deleting an item row also
makes the database look for corrections pointing at it). What people rejected stays
rejected (and is not added again), and what they added or corrected stays. Deciding this
from the rows read once tells clustering, before anything is written, which identifiers
each report will hold (its lookups use them) and which rows each report's run removes
(other reports of the round must stop seeing them once it has run): see
:mod:`vigil.triage.cluster_round`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import BindParameter, Connection, Table, bindparam, delete, insert, select

from vigil.triage.cluster_candidates import Pair
from vigil.triage.items import IDENTIFIER_KINDS, Extracted, ItemKind, ItemSource
from vigil.triage.models import TriageItem
from vigil.triage.statements import Compiled

_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_items = cast(Table, TriageItem.__table__)
_HELD = select(
    _items.c.id,
    _items.c.report_id,
    _items.c.kind,
    _items.c.value,
    _items.c.start,
    _items.c.followup_id,
    _items.c.status,
    _items.c.source,
    _items.c.corrects_item_id,
    _items.c.text,
    _items.c.end,
    _items.c.confidence,
    _items.c.detail,
).where(_items.c.report_id.in_(_IDS))
_DELETE = delete(_items).where(_items.c.id.in_(_IDS))
# What makes two item rows the same item, for a re-run that finds it again.
_CONTENT = (
    "followup_id",
    "kind",
    "value",
    "text",
    "start",
    "end",
    "confidence",
    "source",
    "detail",
)
_COLUMNS = (*_CONTENT, "report_id", "status", "corrects_item_id")
_INSERT = Compiled(insert(_items).values({c: bindparam(c) for c in _COLUMNS}))
ANALYST = ItemSource.analyst.value


@dataclass
class ItemPlan:
    """The round's item changes, and what they mean for clustering's lookups."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # to insert
    removed: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    # per report: its active identifiers once its run is stored, and the rows it adds
    identifiers: dict[int, frozenset[Pair]] = field(default_factory=dict)
    new_identifiers: dict[int, list[Pair]] = field(default_factory=lambda: defaultdict(list))
    held: Counter[Pair] = field(default_factory=Counter)  # active rows the round holds now

    @classmethod
    def read(
        cls,
        conn: Connection,
        batch: Sequence[tuple[int, Sequence[tuple[int | None, Extracted]]]],
    ) -> ItemPlan:
        """``batch``: (report id, [(follow-up id or None, item)]) for each report."""
        plan = cls()
        held = conn.execute(_HELD, {"ids": [rid for rid, _ in batch]}).all()
        corrected = {row.corrects_item_id for row in held if row.corrects_item_id is not None}
        keep = {
            (row.report_id, row.kind, row.value, row.start, row.followup_id)
            for row in held
            if row.status == "rejected" or row.source == ANALYST
        }
        staying: dict[int, set[Pair]] = defaultdict(set)
        # The pipeline's own earlier rows, by content: a re-run finding the same item again
        # leaves its row alone (same id, nothing written) instead of deleting and adding it.
        replaceable: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for row in held:
            active_identifier = row.status == "active" and row.kind in IDENTIFIER_KINDS
            if active_identifier:
                plan.held[(row.kind, row.value)] += 1
            if row.status == "active" and row.source != ANALYST and row.id not in corrected:
                replaceable[(row.report_id, *(getattr(row, c) for c in _CONTENT))].append(row.id)
            elif active_identifier:
                staying[row.report_id].add((row.kind, row.value))
        for rid, items in batch:
            for fid, i in items:
                if (rid, i.kind.value, i.value, i.start, fid) in keep:
                    continue
                new = {
                    "report_id": rid,
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
                pair = (i.kind.value, i.value[:500])
                same = replaceable.get((rid, *(new[c] for c in _CONTENT)))
                if same:
                    same.pop()  # found again: that row stays as it is
                    if i.kind in IDENTIFIER_KINDS:
                        staying[rid].add(pair)
                    continue
                plan.rows.append(new)
                if i.kind in IDENTIFIER_KINDS:
                    plan.new_identifiers[rid].append(pair)
        for (rid, *_), item_ids in replaceable.items():
            plan.removed[rid].update(item_ids)  # not found again: goes
        for rid, _ in batch:
            plan.identifiers[rid] = frozenset(staying[rid] | set(plan.new_identifiers[rid]))
        return plan

    def write(self, conn: Connection) -> None:
        """Delete what goes and insert what is new (every new row has the same columns, so
        the insert is one executemany statement however many items the round holds)."""
        gone = sorted(item_id for ids in self.removed.values() for item_id in ids)
        for at in range(0, len(gone), 5000):  # PostgreSQL takes at most 65,535 parameters
            conn.execute(_DELETE, {"ids": gone[at : at + 5000]})
        _INSERT.many(conn, self.rows)


_PEOPLES = select(
    _items.c.report_id,
    _items.c.followup_id,
    _items.c.kind,
    _items.c.value,
    _items.c.text,
    _items.c.start,
    _items.c.end,
    _items.c.detail,
    _items.c.status,
    _items.c.source,
).where(
    _items.c.report_id.in_(_IDS),
    (_items.c.status == "rejected") | (_items.c.source == ANALYST),
)


_KINDS = frozenset(k.value for k in ItemKind)


@dataclass
class PeoplesItems:
    """What people decided about the round's items, for scoring: an item an analyst
    rejected is no signal (a re-run finds it again in the text, but the priority must not
    count it), and one an analyst added or gave as a correction is."""

    rejected: dict[int, set[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(set))
    added: dict[int, list[Extracted]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def read(cls, conn: Connection, report_ids: Sequence[int]) -> PeoplesItems:
        found = cls()
        for row in conn.execute(_PEOPLES, {"ids": list(report_ids)}):
            if row.status == "rejected":
                found.rejected[row.report_id].add((row.kind, row.value, row.start, row.followup_id))
            elif row.status == "active" and row.kind in _KINDS:
                found.added[row.report_id].append(
                    Extracted(
                        kind=ItemKind(row.kind),
                        value=row.value,
                        text=row.text,
                        start=row.start,
                        end=row.end,
                        confidence=1.0,
                        source=ItemSource.analyst,
                        detail=row.detail,
                    )
                )
        return found

    def items(
        self, report_id: int, found: Sequence[tuple[int | None, Extracted]]
    ) -> list[Extracted]:
        """The report's items in force: what the pipeline ``found`` (follow-up id, item)
        less what people rejected, with what people added."""
        rejected = self.rejected.get(report_id, set())
        kept = [
            i for fid, i in found if (i.kind.value, i.value[:500], i.start, fid) not in rejected
        ]
        seen = {(i.kind, i.value, i.start) for i in kept}
        return kept + [
            i for i in self.added.get(report_id, ()) if (i.kind, i.value, i.start) not in seen
        ]
