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

import importlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigil.triage.items import Extracted, ItemKind

RULES_PATH = Path(__file__).parent / "data" / "categories.yaml"
CATEGORY_CODES: tuple[str, ...] = tuple(
    """breach misrepresentation theft_loss_diversion sabotage_tampering cyberattack
    expressed_threat aviation eliciting_information testing_security recruiting_financing
    photography observation_surveillance materials_acquisition acquisition_of_expertise
    weapons sector_specific online_material""".split()  # noqa: SIM905 - reads as a list
)
_TOKEN = re.compile(r"[\w'’]+")
_WORD = re.compile(r"\w+")
_SPLIT = re.compile(r"(\w+)")
_LOOKBACK_CHARS = 120  # negation never reaches further back than this
_MAX_FIRST_WORDS = 5000
# Removing a pseudo-negation ("no doubt") can bring earlier words into the window; each one
# holds a cue itself, so looking this many words further back first is exact.
_PSEUDO_MAX_WORDS = 8


class CategoryRulesError(ValueError):
    """The rules file cannot be used; the message names the entry at fault."""


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


# --- matching --------------------------------------------------------------------------------


@lru_cache(maxsize=64)  # categorise and prioritise fold the same report many times
def fold(text: str) -> str:
    """Lower-case ``text`` keeping every character at its offset, so spans found in the
    folded text point at the same words in the original (lower-case patterns on folded
    text run about twice as fast as ``re.IGNORECASE``)."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded  # lowering never shortens a character, so equal length means aligned
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _to_regex(fragment: str) -> str:
    """A YAML fragment → regex: lower case; a space matches any whitespace (" ?": optional
    whitespace); an apostrophe matches ' or ’. Escapes and classes are kept."""
    out: list[str] = []
    in_class, index = False, 0
    while index < len(fragment):
        char, index = fragment[index], index + 1
        if char == "\\":
            out.append(fragment[index - 1 : index + 1])  # escapes keep their case (\S, \W)
            index += 1
        elif in_class or char == "[":
            in_class = char != "]"
            out.append(char.lower())
        elif char == " " and fragment[index : index + 1] == "?":
            out.append(r"\s*")
            index += 1
        else:
            out.append({" ": r"\s+", "'": "['’]"}.get(char, char.lower()))
    return "".join(out)


def _compile(fragments: Iterable[str], where: str, *, bounded: bool = True) -> re.Pattern[str]:
    parts = []
    for number, fragment in enumerate(fragments, start=1):
        try:
            parts.append(re.compile(_to_regex(fragment)).pattern)
        except re.error as exc:
            raise CategoryRulesError(
                f"{where}: entry {number} ({fragment!r}) is not a valid pattern: {exc}"
            ) from exc
    body = "|".join(parts)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)" if bounded else body)


@lru_cache(maxsize=64)
def _word_starts(folded: str) -> tuple[frozenset[str], dict[str, list[int]]]:
    """The words of a folded text and where each starts (cached: categorise and prioritise
    both ask, for every rule)."""
    starts: dict[str, list[int]] = {}
    at = 0
    for gap, word in zip(*[iter(_SPLIT.split(folded))] * 2, strict=False):  # gap, word, gap…
        at += len(gap)
        starts.setdefault(word, []).append(at)
        at += len(word)
    return frozenset(starts), starts


class _Gate:
    """The words one of which must begin any match of a pattern, so a pattern is tried only
    where such a word starts instead of scanning the whole report: this keeps categorising
    a 1,000-character report well under a millisecond.

    Worked out from Python's own parse of the pattern; anything it cannot follow leaves the
    gate open (a full scan) or keeps a word as a prefix, so it saves time, never a match.
    """

    def __init__(self, pattern: str) -> None:
        self.words: frozenset[str] = frozenset()
        self.prefixes: tuple[str, ...] = ()
        self.open = True
        try:
            self._op: Any = importlib.import_module("re._constants")
            parser: Any = importlib.import_module("re._parser")
            heads, done = self._walk(list(parser.parse(pattern)), {""})
        except Exception:  # a construct not followed here, or another Python's parser
            return
        done |= {(head, True) for head in heads}  # the pattern ends with (?!\w)
        if any(not word for word, _ in done):
            return
        self.words = frozenset(word for word, complete in done if complete)
        self.prefixes = tuple(sorted({word for word, complete in done if not complete}))
        self.open = False

    def matches(self, regex: re.Pattern[str], folded: str) -> Iterator[re.Match[str]]:
        """What ``regex.finditer(folded)`` finds, trying only where a first word starts."""
        if self.open:
            yield from regex.finditer(folded)
            return
        words, index = _word_starts(folded)
        starts = [at for word in self.words & words for at in index[word]]
        prefixes = tuple(prefix for prefix in self.prefixes if prefix in folded)
        if prefixes:
            begun = [word for word in index if word.startswith(prefixes)]
            starts += [at for word in begun for at in index[word]]
        end = -1
        for start in sorted(starts):
            if start >= end and (match := regex.match(folded, start)):
                end = match.end()
                yield match

    def _characters(self, members: list[Any]) -> tuple[set[str] | None, bool]:
        """The word characters a set offers, and whether it offers a non-word one (which
        ends the first word); None when the set cannot be listed."""
        op, chars, ends = self._op, set[str](), False
        for kind, member in members:
            if kind is op.CATEGORY and member in (op.CATEGORY_SPACE, op.CATEGORY_NOT_WORD):
                ends = True
                continue
            if kind is op.LITERAL:
                span = chr(member)
            elif kind is op.RANGE and member[1] - member[0] < 64:
                span = "".join(map(chr, range(member[0], member[1] + 1)))
            else:
                return None, False
            if _WORD.fullmatch(span):
                chars.update(span)
            elif kind is op.LITERAL:
                ends = True
            else:
                return None, False  # a range mixing word and non-word characters
        return chars, ends

    def _walk(self, items: list[Any], heads: set[str]) -> tuple[set[str], set[tuple[str, bool]]]:
        """(first words still being spelled, finished ones: (word, complete or prefix))."""
        op, done = self._op, set[tuple[str, bool]]()

        def as_prefixes() -> set[str]:
            done.update((head, False) for head in heads)
            return set()

        for code, value in items:
            if len(heads) > _MAX_FIRST_WORDS:
                raise ValueError("too many possible first words")
            if not heads or code in (op.ASSERT, op.ASSERT_NOT, op.AT):
                continue  # zero-width: skipping it only widens the gate
            if code is op.LITERAL or code is op.IN:
                chars, ends = self._characters([(code, value)] if code is op.LITERAL else value)
                if chars is None:  # \w, \d, [^…]: what is spelled so far is a prefix
                    heads, chars, ends = as_prefixes(), set(), False
                if ends:
                    done.update((head, True) for head in heads)
                heads = {head + char for head in heads for char in chars}
            elif code is op.SUBPATTERN:
                heads, sub_done = self._walk(list(value[3]), heads)
                done |= sub_done
            elif code is op.BRANCH:
                branches = [self._walk(list(alt), heads) for alt in value[1]]
                done = done.union(*(sub_done for _, sub_done in branches))
                heads = set().union(*(sub_heads for sub_heads, _ in branches))
            elif code in (op.MAX_REPEAT, op.MIN_REPEAT):
                low, high, body = value
                sub_heads, sub_done = self._walk(list(body), heads)
                done |= sub_done
                if high > 1:  # further repeats could go on spelling: stop at a prefix
                    done.update((head, False) for head in sub_heads)
                    sub_heads = set()
                heads = sub_heads | (heads if low == 0 else set())
            else:
                heads = as_prefixes()
        return heads, done


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    regex: re.Pattern[str] | None
    gate: _Gate
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
            name: _compile(entries, f"lexicon {name!r}") for name, entries in spec.lexicons.items()
        }
        self._gates = {name: _Gate(regex.pattern) for name, regex in self.lexicons.items()}
        neg = spec.negation
        self.negation_window = neg.window_words
        self._cues = {cue.lower().replace("’", "'") for cue in neg.cues}
        self._pseudo = _compile(neg.pseudo or ["(?!)"], "negation pseudo")
        self._boundary = _compile(neg.boundaries, "negation boundaries", bounded=False)
        self.categories = tuple(self._category(category) for category in spec.categories)

    def _category(self, spec: CategorySpec) -> _Category:
        rules = []
        for rule in spec.rules:
            regex = None
            if rule.patterns or rule.lexicons:
                parts = [*rule.patterns, *(self.lexicons[name].pattern for name in rule.lexicons)]
                regex = _compile(parts, f"category {spec.code!r} rule {rule.id!r}")
            near = {
                key: (self.lexicons[nearby.lexicon], nearby.window) if nearby else None
                for key, nearby in (("context", rule.context), ("unless", rule.unless))
            }
            window = (rule.negation_window or self.negation_window) if rule.negatable else None
            gate = _Gate(regex.pattern if regex else "")
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
        prefix = fold(text[max(0, start - _LOOKBACK_CHARS) : start])
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
