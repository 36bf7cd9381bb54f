"""Priority P1–P4 from named, weighted factors, each shown with the evidence behind it.

Automation advises, people decide (domain-facts §6): the score is only the sum of the weights
of the factors listed, so an analyst can see exactly why a report was put where it was and
overrule it. Weights, thresholds and hard "floor" rules are configuration
(``TriageConfigModel``); the wording that triggers a factor lives with the category rules.

Recall on P1 matters more than precision: a threat with a weapon, a target or a time must
not sink because a weight was tuned down, hence floor rules that raise the priority whatever
the score. A weapon mentioned in passing ("kitchen knife", "gun shop") counts for little and
never triggers a floor on its own. Nothing here looks at who the people are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from vigil.triage.categories import (
    CategoryAssignment,
    CategoryRules,
    Evidence,
    fold,
    load_rules,
)
from vigil.triage.config import CATEGORY_PREFIX, PRIORITIES, Priority, TriageConfigModel
from vigil.triage.items import Extracted, ItemKind

WEAPON_CLASSES = ("firearm", "explosive", "bladed", "device", "poison", "precursor")
SPECIFIC_KINDS = frozenset(
    {
        ItemKind.phone,
        ItemKind.email,
        ItemKind.url,
        ItemKind.vrm,
        ItemKind.handle,
        ItemKind.person,
        ItemKind.postcode,
    }
)
_THREAT_NEGATION_WORDS = 2  # "not going to kill" is negated; "didn't say he wasn't …" is not
_MAX_QUOTES = 4


@dataclass(frozen=True, slots=True)
class Factor:
    code: str
    label: str
    weight: float
    evidence: str


@dataclass(frozen=True, slots=True)
class PriorityResult:
    priority: Priority
    score: float
    factors: list[Factor]


def _quote(evidence: Sequence[Evidence]) -> str:
    """'"going to bomb" (14–27); "tonight" (40–47)' — the words and where they are."""
    parts = []
    for ev in evidence[:_MAX_QUOTES]:
        where = f" ({ev.start}–{ev.end})" if ev.start >= 0 else " (report field)"
        parts.append(f'"{ev.text}"{where}')
    if len(evidence) > _MAX_QUOTES:
        parts.append(f"and {len(evidence) - _MAX_QUOTES} more")
    return "; ".join(parts)


def _item_evidence(item: Extracted, note: str = "") -> Evidence:
    text = f"{item.kind.value} {item.text}" + (f" [{note}]" if note else "")
    return Evidence(f"item:{item.kind.value}", text, item.start, item.end)


def _overlaps(spans: Sequence[Evidence], start: int, end: int) -> bool:
    return any(ev.start < end and start < ev.end for ev in spans if ev.start >= 0)


class _Factors:
    """Collects the factors that applied, in the order they were detected."""

    def __init__(self, config: TriageConfigModel) -> None:
        self.config = config
        self.listed: list[Factor] = []
        self.fired: set[str] = set()

    def add(self, code: str, evidence: str) -> None:
        if code in self.fired:
            return
        self.fired.add(code)
        self.listed.append(
            Factor(code, self.config.label(code), self.config.weight(code), evidence)
        )


def _time_of(item: Extracted, zone: ZoneInfo) -> tuple[datetime | None, date | None]:
    """An item's moment (UTC "YYYY-MM-DDTHH:MMZ") or local date ("YYYY-MM-DD")."""
    value = item.value.strip()
    try:
        if "T" in value:
            return datetime.strptime(value, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC), None
        return None, date.fromisoformat(value)
    except ValueError:
        return None, None  # an item the extractor could not normalise tells us nothing


def _imminence(
    factors: _Factors,
    rules: CategoryRules,
    text: str,
    items: Sequence[Extracted],
    reported_at: datetime,
) -> None:
    windows = factors.config.time_windows
    zone = ZoneInfo(factors.config.local_timezone)
    local_day = reported_at.astimezone(zone).date()
    imminent = rules.find("imminent", text)
    soon = rules.find("soon", text)
    for item in items:
        if item.kind != ItemKind.datetime:
            continue
        moment, day = _time_of(item, zone)
        if moment is not None:
            hours = (moment - reported_at) / timedelta(hours=1)
            if -windows.recent_hours <= hours <= windows.imminent_hours:
                imminent.append(_item_evidence(item, f"{hours:+.1f} h from the report"))
            elif windows.imminent_hours < hours <= windows.soon_hours:
                soon.append(_item_evidence(item, f"{hours:+.1f} h from the report"))
        elif day is not None:
            days = (day - local_day).days
            if days in (0, 1):
                imminent.append(_item_evidence(item, "today" if days == 0 else "tomorrow"))
            elif 1 < days * 24 <= windows.soon_hours:
                soon.append(_item_evidence(item, f"in {days} days"))
    if imminent:
        factors.add("imminent", _quote(imminent))
    elif soon:
        factors.add("soon", _quote(soon))


def _threat(
    factors: _Factors, rules: CategoryRules, text: str, categories: Sequence[CategoryAssignment]
) -> None:
    found = rules.find("threat", text, window=_THREAT_NEGATION_WORDS)
    for category in categories:
        if category.code == "expressed_threat":
            words = [ev for ev in category.evidence if ev.start >= 0]  # not the report kind
            found += [ev for ev in words if not _overlaps(found, ev.start, ev.end)]
    if found:
        factors.add("explicit_threat", _quote(found))


def _weapons(
    factors: _Factors, rules: CategoryRules, text: str, items: Sequence[Extracted]
) -> None:
    """One factor per weapon class. Items from the extractor come first; the shared weapon
    word lists catch what it missed. A mention inside an incidental phrase ("kitchen knife",
    "gun shop") counts as incidental unless a threat is made in the same report."""
    incidental = (rules.lexicons["incidental_weapon"], 0)
    folded = fold(text)
    threat_made = "explicit_threat" in factors.fired
    by_class: dict[str, list[Evidence]] = {}
    passing: list[Evidence] = []
    seen: list[Evidence] = []

    def is_incidental(start: int, end: int) -> bool:
        if threat_made or start < 0:
            return False
        return rules.overlapping(incidental, folded, start, end) is not None

    for item in items:
        if item.kind != ItemKind.weapon:
            continue
        if item.start >= 0 and rules.is_negated(text, item.start):
            continue
        weapon_class = item.detail if item.detail in WEAPON_CLASSES else "other"
        if item.value.lower() in factors.config.precursor_terms:
            weapon_class = "precursor"  # a gas cylinder is bought for a barbecue far more often
        ev = _item_evidence(item, item.detail or "class not given")
        seen.append(ev)
        if weapon_class != "precursor" and is_incidental(item.start, item.end):
            passing.append(ev)
        else:
            by_class.setdefault(weapon_class, []).append(ev)
    lexicon_classes = [*WEAPON_CLASSES, "general"]
    for weapon_class in lexicon_classes:
        for ev in rules.find(f"weapon_{weapon_class}", text):
            if _overlaps(seen, ev.start, ev.end):
                continue
            seen.append(ev)
            target_class = "other" if weapon_class == "general" else weapon_class
            if target_class != "precursor" and is_incidental(ev.start, ev.end):
                passing.append(ev)
            else:
                by_class.setdefault(target_class, []).append(ev)
    for weapon_class in (*WEAPON_CLASSES, "other"):
        if weapon_class in by_class:
            factors.add(f"weapon_{weapon_class}", _quote(by_class[weapon_class]))
    if passing:
        factors.add("weapon_incidental", _quote(passing))


_SENTENCE_END = re.compile(r"[.!?\n]")


def _sentence_of(text: str, at: int) -> int:
    """Which sentence position ``at`` falls in (the count of sentence ends before it)."""
    return len(_SENTENCE_END.findall(text, 0, max(at, 0)))


def _target(
    factors: _Factors,
    rules: CategoryRules,
    text: str,
    items: Sequence[Extracted],
    categories: Sequence[CategoryAssignment],
) -> None:
    """A crowded place or likely target. A place of worship counts only in a sentence
    that describes concerning behaviour (a category's evidence): where someone prays says
    something about their religion, never about risk (principle 3), while a threat to or
    reconnaissance of a place of worship must still weigh."""
    details = factors.config.target_place_details
    behaviour: set[int] | None = None  # worked out only for a place of worship (rare)
    found = []
    for item in items:
        if item.kind != ItemKind.place or item.detail not in details:
            continue
        if item.detail == "worship":
            if behaviour is None:
                behaviour = {
                    _sentence_of(text, e.start)
                    for c in categories
                    for e in c.evidence
                    if e.start >= 0
                }
            if _sentence_of(text, item.start) not in behaviour:
                continue
        found.append(_item_evidence(item, item.detail or ""))
    found += [
        ev for ev in rules.find("target_words", text) if not _overlaps(found, ev.start, ev.end)
    ]
    if found:
        factors.add("crowded_place", _quote(found))


def _source(factors: _Factors, rules: CategoryRules, text: str, first_hand: bool | None) -> None:
    if first_hand is True:
        factors.add("first_hand", "the reporter says they saw or heard it themselves")
        return
    if first_hand is False:
        factors.add("hearsay", "the reporter says they heard it from someone else")
        return
    direct = rules.find("first_hand", text)
    if direct:
        factors.add("first_hand", _quote(direct))
        return
    hearsay = rules.find("hearsay", text)
    if hearsay:
        factors.add("hearsay", _quote(hearsay))


def _specifics(factors: _Factors, items: Sequence[Extracted]) -> None:
    specific = [item for item in items if item.kind in SPECIFIC_KINDS]
    if specific:
        factors.add("specifics", _quote([_item_evidence(item) for item in specific]))


def _categories(factors: _Factors, categories: Sequence[CategoryAssignment]) -> None:
    for tier in (1, 2):
        codes = [category.code for category in categories if category.tier == tier]
        if codes:
            factors.add(f"category_tier{tier}", ", ".join(codes))


CLUSTER_FACTORS = frozenset({"several_reports", "many_reports"})


def cluster_evidence(size: int) -> str:
    """The evidence of a cluster-count factor. The report page restates it with the count a
    reader may see (:mod:`vigil.triage.factor_evidence`), in these same words."""
    return f"{size} report in this cluster" if size == 1 else f"{size} reports in this cluster"


def _band(score: float, config: TriageConfigModel) -> Priority:
    thresholds = config.thresholds
    if score >= thresholds.P1:
        return "P1"
    if score >= thresholds.P2:
        return "P2"
    if score >= thresholds.P3:
        return "P3"
    return "P4"


def prioritise(
    text: str,
    items: Sequence[Extracted],
    categories: Sequence[CategoryAssignment],
    *,
    reported_at: datetime,
    config: TriageConfigModel,
    cluster_size: int = 1,
    known_subject_match: bool = False,
    first_hand: bool | None = None,
) -> PriorityResult:
    """Advise a priority. ``score`` is the sum of the listed factors' weights; floor rules
    that raised (or confirmed) the priority are listed too, with weight 0."""
    if reported_at.tzinfo is None or reported_at.utcoffset() is None:
        raise ValueError("reported_at must be timezone-aware (got a naive datetime)")
    rules = load_rules()
    factors = _Factors(config)
    _imminence(factors, rules, text, items, reported_at)
    _threat(factors, rules, text, categories)
    _weapons(factors, rules, text, items)
    _target(factors, rules, text, items, categories)
    if known_subject_match:
        factors.add("known_subject", "linkage matched a known subject; an analyst confirms it")
    sizes = config.cluster_sizes
    if cluster_size >= sizes.many:
        factors.add("many_reports", cluster_evidence(cluster_size))
    elif cluster_size >= sizes.several:
        factors.add("several_reports", cluster_evidence(cluster_size))
    _source(factors, rules, text, first_hand)
    _specifics(factors, items)
    _categories(factors, categories)

    score = round(sum(factor.weight for factor in factors.listed), 3)
    priority = _band(score, config)
    # Floors may name a behaviour ("category:aviation"): its evidence is in the tier factor.
    present = factors.fired | {CATEGORY_PREFIX + category.code for category in categories}
    floors = []
    for floor in config.floors:
        met = [next((c for c in group if c in present), None) for group in floor.when]
        if all(code is not None for code in met):
            floors.append((floor, " + ".join(code for code in met if code)))
            if PRIORITIES.index(floor.priority) < PRIORITIES.index(priority):
                priority = floor.priority
    # List the floors that set (or confirm) the final priority; weaker ones add nothing.
    listed = list(factors.listed)
    listed += [
        Factor(f"floor.{floor.code}", floor.label, 0.0, f"{met} → at least {floor.priority}")
        for floor, met in floors
        if floor.priority == priority
    ]
    return PriorityResult(priority, score, listed)
