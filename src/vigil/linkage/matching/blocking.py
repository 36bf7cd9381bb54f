"""Which pairs of people are worth scoring: the prediction blocking rules, as data.

Scoring every pair of a million people is 5 × 10¹¹ comparisons; blocking keeps only pairs
that agree exactly on something selective. The same rules drive two consumers:

- Splink, in batch (``splink_rules``), as equi-joins DuckDB and Spark both run well;
- the online matcher, which stores each known person's ``blocking_keys`` in an indexed
  table and looks a new person's keys up. Two people share a key exactly when one of the
  rules would pair them, so online candidates are the batch candidates.

The rules are chosen for recall on noisy records without large blocks (measured on the
synthetic UK population: about 94% of true pairs at 0.6 million candidate pairs per 200,000
people): one name's sound plus date of birth (typos, nicknames, married names — the other
name may differ), both names' sounds in either order plus year of birth (swapped names,
typo'd dates), postcode plus a name or the date of birth, house number and street plus
town (the same home however the rest is written), and the exact identifiers. Names alone,
a date of birth alone or a postcode alone would pair thousands of namesakes and strangers
at a million.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Splink is imported where rules are made for it: the web app never is
    from splink.internals.blocking_rule_creator import BlockingRuleCreator


@dataclass(frozen=True, slots=True)
class BlockingRule:
    """Pairs records equal on every column; with ``either_order``, also records whose
    first two columns hold each other's values (first name ↔ surname) and whose other
    columns are equal."""

    name: str
    columns: tuple[str, ...]
    either_order: bool = False

    def __post_init__(self) -> None:
        if self.either_order and len(self.columns) < 2:
            raise ValueError("either_order needs at least two columns")

    def key(self, prepared: Mapping[str, Any]) -> str | None:
        values = [prepared.get(column) for column in self.columns]
        if any(v is None or v == "" for v in values):
            return None  # SQL equality with NULL is never true: the rule pairs nothing
        texts = [str(v) for v in values]
        if self.either_order:
            texts[:2] = sorted(texts[:2])
        return self.name + ":" + "\x1f".join(texts)

    def splink_rules(self) -> list[BlockingRuleCreator | str]:
        from splink import block_on

        rules: list[BlockingRuleCreator | str] = [block_on(*self.columns)]
        if self.either_order:
            first, second, *rest = self.columns
            swapped = [f"l.{first} = r.{second}", f"l.{second} = r.{first}"]
            swapped += [f"l.{c} = r.{c}" for c in rest]
            rules.append(" AND ".join(swapped))
        return rules


PREDICTION_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("forename-sound-dob", ("first_name_phonetic", "dob")),
    BlockingRule("surname-sound-dob", ("last_name_phonetic", "dob")),
    BlockingRule(
        "names-sound-year",
        ("first_name_phonetic", "last_name_phonetic", "birth_year"),
        either_order=True,
    ),
    BlockingRule("postcode-surname", ("postcode", "last_name")),
    BlockingRule("postcode-forename", ("postcode", "first_name")),
    BlockingRule("postcode-dob", ("postcode", "dob")),
    BlockingRule("house-town", ("address_key", "town")),
    BlockingRule("phone", ("phone",)),
    BlockingRule("email", ("email",)),
    BlockingRule("id-number", ("id_number",)),
)
"""The model's prediction blocking rules (Splink's ``blocking_rules_to_generate_predictions``)."""


def splink_rules(rules: tuple[BlockingRule, ...] = PREDICTION_RULES) -> list[Any]:
    """The rules as Splink blocking rules (dialect-neutral)."""
    return [rule for spec in rules for rule in spec.splink_rules()]


def blocking_keys(prepared: Mapping[str, Any]) -> list[str]:
    """Keys of one prepared person: two people share a key iff a prediction rule pairs them.

    Keys are plain strings ("rule:value␟value"); the online store hashes and indexes them.
    """
    keys = [rule.key(prepared) for rule in PREDICTION_RULES]
    return [k for k in keys if k is not None]
