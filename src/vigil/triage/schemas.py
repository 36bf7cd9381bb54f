"""What the triage API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from vigil.triage.items import ItemKind
from vigil.web.said import said
from vigil.web.text import clean_text, single_line

REASON_MIN_CHARACTERS = 3


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError(said("must not be empty"))
    return value


def _says_something(value: str) -> str:
    """A reason of spaces or a stray letter or two says nothing about why."""
    if sum(not c.isspace() for c in value) < REASON_MIN_CHARACTERS:
        raise ValueError(
            said(
                "should have at least %(n)s characters that are not spaces",
                n=REASON_MIN_CHARACTERS,
            )
        )
    return value


# Lengths are checked on what was typed, before cleaning, so pydantic says them in its words.
_CLEAN, _ONE_LINE = AfterValidator(clean_text), AfterValidator(single_line)
Reason = Annotated[
    str,
    Field(min_length=REASON_MIN_CHARACTERS, max_length=2000),
    _CLEAN,
    AfterValidator(_says_something),
]
ItemValue = Annotated[
    str, Field(min_length=1, max_length=500), _ONE_LINE, AfterValidator(_not_blank)
]
GradeCode = Annotated[str, Field(min_length=1, max_length=4), _ONE_LINE]
CategoryCode = Annotated[str, Field(max_length=40), _ONE_LINE]


class Outcome(StrEnum):
    no_further_action = "no_further_action"
    add_to_case = "add_to_case"
    open_case = "open_case"
    refer_to_partner = "refer_to_partner"
    escalate = "escalate"


# Outcomes that need to say where the report went.
OUTCOME_NEEDS_DETAIL = {
    Outcome.add_to_case: said("the case reference"),
    Outcome.refer_to_partner: said("the partner organisation"),
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignIn(_In):
    assignee: Annotated[str, Field(min_length=3, max_length=320, description="e-mail"), _ONE_LINE]
    reason: Reason


class GradeIn(_In):
    source: GradeCode
    intelligence: GradeCode
    handling: GradeCode
    conditions: Annotated[str, Field(max_length=2000), _CLEAN] | None = None
    scheme: Annotated[str, Field(max_length=20), _ONE_LINE] = "3x5x2"
    reason: Reason


class OutcomeIn(_In):
    outcome: Outcome
    reason: Reason
    detail: Annotated[str, Field(max_length=200), _ONE_LINE] | None = None
    whole_cluster: bool = Field(
        False, description="Apply the same decision to every undecided report in the cluster"
    )
    conditions_accepted: bool = Field(
        False,
        description="For a referral of intelligence graded with handling code C: the partner "
        "will follow its recorded handling conditions",
    )

    @model_validator(mode="after")
    def _detail_given(self) -> OutcomeIn:
        needed = OUTCOME_NEEDS_DETAIL.get(self.outcome)
        if needed and not (self.detail or "").strip():
            raise ValueError(
                said(
                    "the outcome %(outcome)s needs detail: %(needed)s",
                    outcome=self.outcome.value,
                    needed=needed,
                )
            )
        return self


class ItemCorrectionIn(_In):
    """Reject an extracted item, or replace its kind/value (the original is kept)."""

    action: Annotated[str, Field(pattern="^(reject|replace)$")]
    kind: ItemKind | None = None
    value: ItemValue | None = None
    reason: Reason

    @model_validator(mode="after")
    def _replacement_given(self) -> ItemCorrectionIn:
        if self.action == "replace" and self.value is None:
            raise ValueError(said("a replacement needs the corrected value"))
        return self


class ItemAddIn(_In):
    kind: ItemKind
    value: ItemValue
    text: Annotated[str, Field(max_length=2000), _CLEAN] | None = None
    reason: Reason


class CategoryCorrectionIn(_In):
    add: list[CategoryCode] = Field(default_factory=list, max_length=20)
    remove: list[CategoryCode] = Field(default_factory=list, max_length=20)
    reason: Reason

    @model_validator(mode="after")
    def _something(self) -> CategoryCorrectionIn:
        if not self.add and not self.remove:
            raise ValueError(said("add or remove at least one category"))
        if set(self.add) & set(self.remove):
            raise ValueError(said("a category cannot be both added and removed"))
        return self


class ConfigIn(_In):
    body: dict[str, Any]
    reason: Reason


class ItemOut(BaseModel):
    id: int
    kind: str
    value: str
    text: str
    start: int
    end: int
    confidence: float
    source: str
    detail: str | None
    status: str
    followup_id: int | None
    corrects_item_id: int | None


class ClusterLinkOut(BaseModel):
    reference: str
    reason: str
    detail: str
    score: float


class ClusterOut(BaseModel):
    id: int
    size: int  # members this user may see
    links: list[ClusterLinkOut]


class DecisionOut(BaseModel):
    action: str
    by: str | None  # e-mail of the person; None for the pipeline
    at: datetime
    reason: str | None
    detail: dict[str, Any]


class TriageOut(BaseModel):
    status: str  # pending|done|failed
    priority: str | None
    score: float | None
    factors: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    entities: list[ItemOut]
    cluster: ClusterOut | None
    history: list[DecisionOut]
    state: str
    claimed_by: str | None
    due_at: datetime | None
    overdue: bool
    outcome: str | None
    outcome_reason: str | None
    outcome_detail: str | None
    config_version: int | None


class QueueItem(BaseModel):
    reference: str
    received_at: datetime
    kind: str
    excerpt: str
    status: str
    priority: str | None
    score: float | None
    categories: list[str]
    state: str
    claimed_by: str | None
    due_at: datetime | None
    overdue: bool
    cluster_id: int | None
    cluster_size: int
    owned: bool = True  # False: shared with the reader's organisation, triaged by its owner


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class DecisionResult(BaseModel):
    references: list[str]  # every report the decision was applied to
    state: str


class ConfigOut(BaseModel):
    version: int | None  # None: the shipped default, never changed
    body: dict[str, Any]
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None


class MeasuresOut(BaseModel):
    """How often people correct the automation, for measuring it (not for retraining)."""

    items_corrected: dict[str, int]
    items_added: dict[str, int]
    categories_added: dict[str, int]
    categories_removed: dict[str, int]
    outcomes: dict[str, int]
