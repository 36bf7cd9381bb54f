"""Linkage's API shapes: what goes in (strict, with limits) and what comes out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from vigil.access.markings import Classification
from vigil.linkage.formats import BadValue, normalise_property
from vigil.linkage.graph import MAX_SAME_IDENTITY
from vigil.linkage.records import PERSON_FIELDS, EntityKind, SubjectStatus
from vigil.web.said import said


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


DECISION_REASON_MAX = 500
"""Longest reason for a decision (a match's label, an alert's state, a benign entry). The
audit log is the history of every decision and keeps each reason whole in its ``purpose``
(500 characters); a longer one could not be kept, so it is refused, not cut."""


class MatchLabel(StrEnum):
    positive = "positive"
    negative = "negative"
    unsure = "unsure"


class AlertState(StrEnum):
    reviewed = "reviewed"
    actioned = "actioned"
    dismissed = "dismissed"


class PersonIn(Strict):
    first_name: str | None = Field(None, max_length=100)
    middle_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    date_of_birth: str | None = Field(None, max_length=40)
    address: str | None = Field(None, max_length=300)
    postcode: str | None = Field(None, max_length=10)
    town: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=30)
    email: str | None = Field(None, max_length=254)
    id_number: str | None = Field(None, max_length=40)

    @field_validator(*PERSON_FIELDS)
    @classmethod
    def _as_imported(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Each detail is checked and stored exactly as the person CSV import stores it (the
        same normaliser): a date of birth as an ISO date, a phone in E.164, an e-mail with
        its domain lower-cased. A value the import would refuse is refused here, with the
        import's own words, rather than stored as typed and then silently ignored by
        matching."""
        if value is None:
            return None
        assert info.field_name is not None
        try:
            return normalise_property(EntityKind.person, info.field_name, value)
        except BadValue as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _something(self) -> PersonIn:
        if not any(self.model_dump().values()):
            raise ValueError(said("give at least one detail of the person"))
        return self


class ReferralIn(Strict):
    """A partner's referral of a person: matched against the store at once."""

    person: PersonIn
    reason: str = Field(min_length=10, max_length=5000)
    classification: Classification = Classification.official_sensitive


class SubjectIn(Strict):
    name: str = Field(min_length=1, max_length=300)
    external_ref: str | None = Field(None, max_length=120)
    status: SubjectStatus = SubjectStatus.open
    team_id: int | None = None
    classification: Classification = Classification.secret
    handling_code: str | None = Field(None, max_length=4)
    alert_threshold: float | None = Field(None, gt=0, le=1)
    person: PersonIn | None = None  # the subject's own person entity, when known


class SubjectStatusIn(Strict):
    status: SubjectStatus
    reason: str = Field(min_length=3, max_length=2000)


class SubjectEntityIn(Strict):
    entity_id: int


class MatchReviewIn(Strict):
    """A person's label for a match. A match labelled ``positive`` or ``negative`` is
    decided: labelling it again is a change of decision, which must say so (``change``)
    and give its own reason. An ``unsure`` match is still open for a second opinion."""

    label: MatchLabel
    reason: str = Field(min_length=3, max_length=DECISION_REASON_MAX)
    blind: bool = False
    change: bool = False  # true to change a positive or negative decision


class MatchQuery(Strict):
    """The review list's query: anything else is refused, not silently ignored."""

    state: str | None = Field(None, pattern="^(pending|positive|negative|unsure)$")
    blind: bool = False  # hides every score and explanation, for unbiased review
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the last page")


class AlertDecisionIn(Strict):
    """A decision on an alert: new → reviewed → actioned | dismissed (reviewing may be
    skipped: actioning or dismissing is itself a review). Actioned and dismissed are final,
    except that a decided alert may be re-opened (``reviewed``) with a reason."""

    state: AlertState
    # validated even when left out, so that a dismissal without one is refused at the reason
    reason: str | None = Field(None, max_length=DECISION_REASON_MAX, validate_default=True)

    @field_validator("reason")
    @classmethod
    def _reason_for_dismissal(cls, reason: str | None, info: ValidationInfo) -> str | None:
        """A dismissal needs its reason; the refusal points at the reason (``#/body/reason``),
        as re-opening a decided alert without one does, not at the body as a whole."""
        if info.data.get("state") is AlertState.dismissed and not (reason or "").strip():
            raise ValueError(said("a dismissal needs its reason"))
        return reason


class BenignIn(Strict):
    kind: str = Field(pattern="^(phone|email|vrm|account|id_number|name|address)$")
    value: str = Field(min_length=1, max_length=300)
    reason: str = Field(min_length=3, max_length=DECISION_REASON_MAX)


class EntityOut(BaseModel):
    id: int
    kind: str
    identity_id: int
    label: str
    properties: dict[str, list[str]]
    matchable: list[str]  # the properties matching uses
    source_type: str
    source_ref: str | None
    report_reference: str | None = None
    classification: str
    benign: bool
    created_at: datetime


class MatchOut(BaseModel):
    id: int
    entity: EntityOut
    other: EntityOut
    method: str
    match_probability: float | None  # None when reviewing blind
    match_weight: float | None
    is_match: bool | None
    model_version: str | None
    explanation: list[dict[str, Any]] | None  # the waterfall, as data
    state: str
    review_reason: str | None
    reviewed_at: datetime | None


class MatchPage(BaseModel):
    """Matches best first (by probability, then id), only those the reader may see."""

    items: list[MatchOut]
    next_cursor: str | None  # give it as ``cursor`` for the next page; None on the last
    total: int  # every match the reader may see with this filter


class SubjectOut(BaseModel):
    id: int
    reference: str
    external_ref: str | None
    name: str
    status: str
    classification: str
    alert_threshold: float
    entity_ids: list[int]
    created_at: datetime
    closed_at: datetime | None


class AlertOut(BaseModel):
    id: int
    subject: SubjectOut
    state: str
    reappeared: bool
    subject_status: str
    best_probability: float
    record_type: str
    # What the reader may see of the record that raised it: its reference and evidence, or
    # only that it exists and which organisation to ask.
    record_visible: bool
    record_reference: str | None
    ask: str | None
    ask_org: str | None = None  # the organisation named in ``ask``, for pages in other languages
    ask_for: str | None = None  # the hidden record's reference (or entity:N), for its holder
    evidence: list[dict[str, Any]]
    reason: str | None  # the latest decision's reason (every decision's is in the audit log)
    # Who made the latest decision (their e-mail) and when; None while the alert is new.
    decided_by: str | None = None
    decided_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class EntityPage(BaseModel):
    entity: EntityOut
    identity: list[EntityOut]
    matches: list[MatchOut]
    subjects: list[SubjectOut]


class ReferralOut(BaseModel):
    entity: EntityOut
    matches: list[MatchOut]  # only matches whose two entities the caller may see
    # New alerts the caller may see. Alerts for subjects the caller may not see are raised
    # to their owning teams all the same, but not counted here: the count would tell the
    # caller that the person is such a subject.
    alerts_raised: int


class ImportOut(BaseModel):
    import_id: int
    entities: int
    subjects: int
    dropped: dict[str, int]


class ImportProblemRow(BaseModel):
    row: int
    column: str | None
    message: str


class BenignOut(BaseModel):
    id: int
    kind: str
    value: str
    reason: str
    added_by: str | None  # the e-mail of the person who added it
    added_at: datetime


class AccuracyBand(BaseModel):
    band: str
    positive: int
    negative: int
    unsure: int
    pending: int


class GraphNode(BaseModel):
    id: str
    type: str
    label: str
    kind: str | None = None


class GraphEdge(BaseModel):
    source: str
    target: str
    relation: str
    probability: float | None = None


class GraphOut(BaseModel):
    """Cytoscape-ready: nodes and edges, only what the reader may see."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool
    identity_capped: bool = Field(
        False,
        description="Some entity's links to records of its own identity were cut to the "
        f"first {MAX_SAME_IDENTITY} (by id); the entity's own page lists them all",
    )


class PathOut(BaseModel):
    found: bool
    steps: list[GraphNode]
    edges: list[GraphEdge]


class SubjectRow(BaseModel):
    """A subject in the list: its counts cover only records the reader may see."""

    reference: str
    name: str
    status: str
    organisation: str
    team: str | None
    classification: str
    handling_code: str | None
    entities: int  # linked entities the reader may see
    open_alerts: int  # new or reviewed alerts the reader may see
    created_at: datetime


class SubjectList(BaseModel):
    items: list[SubjectRow]
    total: int  # every subject the reader may see with this filter (items are capped)
    status: str | None


class SourceOut(BaseModel):
    """A record that mentions an entity (its own source, or that of a record linked to it)."""

    type: str  # report | import | referral | analyst
    label: str
    reference: str | None  # a report or subject reference, when it has one
    at: datetime | None
    entity_id: int  # the visible entity that carries it
    entity_label: str
    via: str  # this | same_identity | confirmed | match


class TimelineEntry(BaseModel):
    """One dated thing that happened, only from records the reader may see."""

    at: datetime
    what: str  # created | status | entity_recorded | entity_attached | match | review | alert…
    detail: str | None = None
    actor: str | None = None
    entity_id: int | None = None
    entity_label: str | None = None
    alert_id: int | None = None


class SubjectDetail(BaseModel):
    subject: SubjectOut
    organisation: str
    team: str | None
    handling_code: str | None
    entities: list[EntityOut]  # only those the reader may see
    sources: list[SourceOut]
    alerts: list[AlertOut]
    timeline: list[TimelineEntry]  # newest first


class EntityDetail(EntityPage):
    """The entity page: the entity with every visible source, its alerts and a timeline."""

    sources: list[SourceOut]
    alerts: list[AlertOut]
    timeline: list[TimelineEntry]  # newest first


class ConnectionOut(BaseModel):
    """The connection page: where it starts, the other entity (None when it is not one the
    reader may see, or none was asked for) and, when both are known, the path."""

    start: GraphNode
    other: GraphNode | None
    path: PathOut | None
