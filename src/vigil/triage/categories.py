"""Behaviour categories (ISE-SAR, domain-facts §2) with the evidence that led to each.

Categories are advice to an analyst, so every assignment carries the exact words or items
that triggered it and the rule that matched: a person can see why, and disagree. The rules
are data (``data/categories.yaml``) rather than code so they can be read, reviewed and
changed without touching logic, and they describe behaviour only — never who the people
are (a test scans the file for protected-characteristic words).

The same file holds the language signals priority uses (threat, imminence, hearsay, target
and weapon words) so that all the wording Vigil reacts to is in one reviewable place.
Loading is lazy and cached; a bad file fails loudly, naming the entry, instead of quietly
switching a rule off.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigil.triage.items import Extracted, ItemKind
from vigil.triage.rules_engine import (
    CategoryRulesError,
    Gate,
    compile_fragments,
    fold,
    fold_once,
)

__all__ = [
    "CATEGORY_CODES",
    "RULES_PATH",
    "CategoryAssignment",
    "CategoryRules",
    "CategoryRulesError",
    "Evidence",
    "categorise",
    "fold",
    "load_rules",
    "load_rules_file",
    "rules_from_mapping",
]

RULES_PATH = Path(__file__).parent / "data" / "categories.yaml"
CATEGORY_CODES: tuple[str, ...] = tuple(
    """breach misrepresentation theft_loss_diversion sabotage_tampering cyberattack
    expressed_threat aviation eliciting_information testing_security recruiting_financing
    photography observation_surveillance materials_acquisition acquisition_of_expertise
    weapons sector_specific online_material""".split()  # noqa: SIM905 - reads as a list
)
_TOKEN = re.compile(r"[\w'’]+")
_LOOKBACK_CHARS = 120  # negation never reaches further back than this
# Removing a pseudo-negation ("no doubt") can bring earlier words into the window; each one
# holds a cue itself, so looking this many words further back first is exact.
_PSEUDO_MAX_WORDS = 8


@dataclass(frozen=True, slots=True)
class Evidence:
    """Which rule fired on which words (or item); start/end are -1 for report fields."""

    rule: str
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class CategoryAssignment:
    code: str
    label: str
    tier: int
    confidence: float
    evidence: list[Evidence]


# --- the file's shape, validated at load ---------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemRuleSpec(_Strict):
    kind: ItemKind
    details: list[str] | None = None
    require_detail: bool = False


class NearbySpec(_Strict):
    lexicon: str
    window: int = Field(default=80, ge=0, le=500)


class RuleSpec(_Strict):
    id: str = Field(pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    patterns: list[str] = Field(default_factory=list)
    lexicons: list[str] = Field(default_factory=list)
    item: ItemRuleSpec | None = None
    report_kinds: list[str] = Field(default_factory=list)
    context: NearbySpec | None = None
    unless: NearbySpec | None = None
    negatable: bool = True
    negation_window: int | None = Field(default=None, ge=1, le=10)
    confidence: float = Field(default=0.6, gt=0, le=1)

    @model_validator(mode="after")
    def _one_source(self) -> RuleSpec:
        text = bool(self.patterns or self.lexicons)
        if text and self.item is not None:
            raise ValueError("a rule matches either text (patterns/lexicons) or an item, not both")
        if not text and self.item is None and not self.report_kinds:
            raise ValueError("a rule needs patterns, lexicons, an item or report_kinds")
        if (text or self.item) and self.report_kinds and self.context is None:
            raise ValueError("report_kinds on a text or item rule only stands in for 'context'")
        return self


class CategorySpec(_Strict):
    code: str
    label: str = Field(min_length=1)
    tier: Literal[1, 2]
    rules: list[RuleSpec] = Field(min_length=1)


class NegationSpec(_Strict):
    window_words: int = Field(ge=1, le=10)
    cues: list[str] = Field(min_length=1)
    pseudo: list[str] = Field(default_factory=list)
    boundaries: list[str] = Field(min_length=1)


class RulesFileSpec(_Strict):
    negation: NegationSpec
    lexicons: dict[str, list[str]]
    categories: list[CategorySpec]

    @model_validator(mode="after")
    def _consistent(self) -> RulesFileSpec:
        codes = [category.code for category in self.categories]
        if sorted(codes) != sorted(CATEGORY_CODES):
            missing = sorted(set(CATEGORY_CODES) - set(codes)) or "none"
            unknown = sorted(set(codes) - set(CATEGORY_CODES)) or "none"
            twice = sorted({code for code in codes if codes.count(code) > 1}) or "none"
            raise ValueError(
                "categories must be exactly the known codes "
                f"(missing: {missing}, unknown: {unknown}, duplicated: {twice})"
            )
        seen: set[str] = set()
        for category in self.categories:
            for rule in category.rules:
                where = f"category {category.code!r} rule {rule.id!r}"
                if rule.id in seen or not rule.id.startswith(category.code + "."):
                    raise ValueError(f"{where}: ids must be unique and start with the code")
                seen.add(rule.id)
                named = [*rule.lexicons, *(n.lexicon for n in (rule.context, rule.unless) if n)]
                for name in named:
                    if name not in self.lexicons:
                        raise ValueError(f"{where}: unknown lexicon {name!r}")
        return self


# --- compiled rules (the pattern engine itself is in rules_engine) ---------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    regex: re.Pattern[str] | None
    gate: Gate
    item: ItemRuleSpec | None
    report_kinds: frozenset[str]
    context: tuple[re.Pattern[str], int] | None
    unless: tuple[re.Pattern[str], int] | None
    negation_window: int | None  # None: not negatable
    confidence: float


@dataclass(frozen=True, slots=True)
class _Category:
    code: str
    label: str
    tier: int
    rules: tuple[_Rule, ...]


class CategoryRules:
    """The compiled rules and language signals; built once by ``load_rules``."""

    def __init__(self, spec: RulesFileSpec) -> None:
        self.lexicons = {
            name: compile_fragments(entries, f"lexicon {name!r}")
            for name, entries in spec.lexicons.items()
        }
        self._gates = {name: Gate(regex.pattern) for name, regex in self.lexicons.items()}
        neg = spec.negation
        self.negation_window = neg.window_words
        self._cues = {cue.lower().replace("’", "'") for cue in neg.cues}
        self._pseudo = compile_fragments(neg.pseudo or ["(?!)"], "negation pseudo")
        self._boundary = compile_fragments(neg.boundaries, "negation boundaries", bounded=False)
        self.categories = tuple(self._category(category) for category in spec.categories)

    def _category(self, spec: CategorySpec) -> _Category:
        rules = []
        for rule in spec.rules:
            regex = None
            if rule.patterns or rule.lexicons:
                parts = [*rule.patterns, *(self.lexicons[name].pattern for name in rule.lexicons)]
                regex = compile_fragments(parts, f"category {spec.code!r} rule {rule.id!r}")
            near = {
                key: (self.lexicons[nearby.lexicon], nearby.window) if nearby else None
                for key, nearby in (("context", rule.context), ("unless", rule.unless))
            }
            window = (rule.negation_window or self.negation_window) if rule.negatable else None
            gate = Gate(regex.pattern if regex else "")
            kinds = frozenset(rule.report_kinds)
            context, unless = near["context"], near["unless"]
            rules.append(
                _Rule(
                    rule.id, regex, gate, rule.item, kinds, context, unless, window, rule.confidence
                )
            )
        return _Category(spec.code, spec.label, spec.tier, tuple(rules))

    def is_negated(self, text: str, start: int, window: int | None = None) -> bool:
        """True when a negation cue sits within ``window`` words before ``start`` in the
        same clause ("there were no weapons", "he wasn't taking photos")."""
        prefix = fold_once(text[max(0, start - _LOOKBACK_CHARS) : start])
        reach = (window or self.negation_window) + _PSEUDO_MAX_WORDS
        if not self._has_cue(_TOKEN.findall(prefix)[-reach:]):
            return False  # the usual case: no cue near enough for anything below to matter
        boundaries = list(self._boundary.finditer(prefix))
        if boundaries:
            prefix = prefix[boundaries[-1].end() :]
        tokens = _TOKEN.findall(self._pseudo.sub(" ", prefix))
        return self._has_cue(tokens[-(window or self.negation_window) :])

    def _has_cue(self, tokens: list[str]) -> bool:
        for token in tokens:
            word = token.replace("’", "'")
            if word in self._cues or word.endswith("n't"):
                return True
        return False

    def find(
        self, lexicon: str, text: str, *, negatable: bool = True, window: int | None = None
    ) -> list[Evidence]:
        """Matches of a named lexicon, skipping negated ones when ``negatable`` (looking back
        ``window`` words, or the file's default)."""
        found: list[Evidence] = []
        for match in self._gates[lexicon].matches(self.lexicons[lexicon], fold(text)):
            start, end = match.span()
            if not (negatable and self.is_negated(text, start, window)):
                found.append(Evidence(lexicon, text[start:end], start, end))
        return found

    @staticmethod
    def near(
        nearby: tuple[re.Pattern[str], int], folded: str, start: int, end: int
    ) -> re.Match[str] | None:
        """A lexicon match within the window around [start, end) of the folded text
        (anywhere in it for items from report fields, which have no span)."""
        regex, window = nearby
        if start < 0:
            return regex.search(folded)
        return regex.search(folded, max(0, start - window), min(len(folded), end + window))

    @staticmethod
    def overlapping(
        nearby: tuple[re.Pattern[str], int], folded: str, start: int, end: int
    ) -> re.Match[str] | None:
        """A lexicon match overlapping [start, end), or within the window of it."""
        regex, window = nearby
        if start >= 0:
            lo, hi = max(0, start - window - 40), min(len(folded), end + window + 40)
            for match in regex.finditer(folded, lo, hi):
                if match.start() < end + window and match.end() > start - window:
                    return match
        return None


# --- loading ----------------------------------------------------------------------------------


def _name_location(body: Any, loc: tuple[int | str, ...]) -> str:
    """``categories.3.rules.1.confidence`` → ``categories[3] (photography).rules[1]
    (photography.covert).confidence``: name the entry, not just its index."""
    parts: list[str] = []
    node = body
    for key in loc:
        if isinstance(key, str):
            parts.append(key)
            node = node.get(key) if isinstance(node, dict) else None
            continue
        node = node[key] if isinstance(node, list) and key < len(node) else None
        name = (node.get("id") or node.get("code")) if isinstance(node, dict) else None
        parts[-1:] = [f"{parts[-1] if parts else ''}[{key}]" + (f" ({name})" if name else "")]
    return ".".join(parts) or "(top level)"


def rules_from_mapping(body: Any, *, source: str = "categories.yaml") -> CategoryRules:
    """Validate and compile a rules document; ``CategoryRulesError`` names the bad entry."""
    if not isinstance(body, dict):
        raise CategoryRulesError(f"{source}: expected a mapping at the top level")
    try:
        spec = RulesFileSpec.model_validate(body)
    except ValidationError as exc:
        problems = [
            f"{_name_location(body, tuple(error['loc']))}: "
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors()
        ]
        raise CategoryRulesError(f"{source} is invalid: {'; '.join(problems)}") from exc
    try:
        return CategoryRules(spec)
    except CategoryRulesError as exc:
        raise CategoryRulesError(f"{source}: {exc}") from exc


def load_rules_file(path: Path) -> CategoryRules:
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CategoryRulesError(f"{path.name} is not valid YAML: {exc}") from exc
    return rules_from_mapping(body, source=path.name)


@lru_cache(maxsize=1)
def load_rules() -> CategoryRules:
    """The shipped rules, read, validated and compiled once per process."""
    return load_rules_file(RULES_PATH)


# --- categorising -----------------------------------------------------------------------------


def _rule_evidence(
    rules: CategoryRules, rule: _Rule, text: str, items: Sequence[Extracted], kind: str | None
) -> list[tuple[Evidence, float]]:
    """What one rule found, each with a strength (1, or the item's confidence); context
    words come with strength 0: they explain, they do not add confidence."""
    folded = fold(text)
    hits: list[tuple[int, int, str, float]] = []  # start, end, evidence text, strength
    if rule.regex is not None:
        for match in rule.gate.matches(rule.regex, folded):
            hits.append((match.start(), match.end(), text[match.start() : match.end()], 1.0))
    elif rule.item is not None:
        spec = rule.item
        for item in items:
            if item.kind != spec.kind or (spec.require_detail and not item.detail):
                continue
            if spec.details is None or item.detail in spec.details:
                label = f"{item.kind.value}: {item.text}"
                label += f" ({item.detail})" if item.detail else ""
                hits.append((item.start, item.end, label, item.confidence))
    elif kind in rule.report_kinds:
        return [(Evidence(rule.id, f"report kind: {kind}", -1, -1), 1.0)]
    found: list[tuple[Evidence, float]] = []
    for start, end, words, strength in hits:
        window = rule.negation_window
        if start >= 0 and window and rules.is_negated(text, start, window):
            continue
        if rule.unless and rules.overlapping(rule.unless, folded, start, end):
            continue
        support = rules.near(rule.context, folded, start, end) if rule.context else None
        if rule.context and support is None and kind not in rule.report_kinds:
            continue
        found.append((Evidence(rule.id, words, start, end), strength))
        if support is not None:
            a, b = support.span()
            found.append((Evidence(f"{rule.id}+context", text[a:b], a, b), 0.0))
    return found


def categorise(
    text: str, items: Sequence[Extracted], *, report_kind: str | None = None
) -> list[CategoryAssignment]:
    """Assign behaviour categories, each with the evidence behind it.

    Confidence combines the rules that fired as independent hints (1 − Π(1 − c)); it says
    how much wording supports the category, not how likely a crime is. Results are sorted
    by confidence, then in the file's order.
    """
    rules = load_rules()
    assignments: list[CategoryAssignment] = []
    for category in rules.categories:
        evidence: list[Evidence] = []
        seen: set[tuple[bool, int, int]] = set()
        doubt = 1.0
        for rule in category.rules:
            for ev, strength in _rule_evidence(rules, rule, text, items, report_kind):
                is_context = ev.rule.endswith("+context")
                if ev.start >= 0 and (is_context, ev.start, ev.end) in seen:
                    continue  # the same words already count (e.g. an item and its word)
                seen.add((is_context, ev.start, ev.end))
                evidence.append(ev)
                if not is_context:
                    doubt *= 1.0 - rule.confidence * max(0.0, min(1.0, strength))
        if evidence and doubt < 1.0:
            evidence.sort(key=lambda e: (e.start, e.end, e.rule))
            confidence = round(min(0.99, 1.0 - doubt), 3)
            code, label, tier = category.code, category.label, category.tier
            assignments.append(CategoryAssignment(code, label, tier, confidence, evidence))
    order = {code: index for index, code in enumerate(CATEGORY_CODES)}
    assignments.sort(key=lambda a: (-a.confidence, order[a.code]))
    return assignments
