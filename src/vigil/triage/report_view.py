"""Everything the console's report page shows: read together, recorded together.

The page shows the report, the entities taken from it, the reporter's thread and whether a
follow-up is possible, and each of those readings is audited. They are read in one reading
session, which finds the report through the policy once, and then every reading is recorded
in one write, committed before the page is returned, so an unrecorded reading never reaches
the reader and a page view costs one durable commit.

The reading is not done inside the single writer (as it was): there, every page view's
reads (tens of milliseconds at a million reports) ran one after the other with every other
write, so two analysts opening reports at once each waited for the other's page and every
report's acknowledgement waited for both. The search and the dashboard read the same way.
What each role is shown is decided by the same functions the API uses.

The triage history and the priority factors are stored as codes (an action, an outcome, a
grading, the codes a floor rule met), which the API answers as they are. The page shows them
in words: :func:`history_rows` and :func:`factor_rows` give each history entry and each
factor's evidence as marked text (:mod:`vigil.web.said`) that the template says in the
page's language. Nothing stored changes, so older history reads in the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vigil.access.fields import report_fields
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.intake.models import FollowupCredential
from vigil.intake.reading import (
    followup_count,
    record_report_viewed,
    report_as_shown,
    visible_report_with,
)
from vigil.intake.schemas import ReportOut
from vigil.intake.thread import MessageOut, record_thread_viewed, thread_messages
from vigil.linkage.schemas import EntityPage
from vigil.linkage.views import record_entities_viewed, report_entities
from vigil.triage.factor_evidence import WITHHELD
from vigil.triage.labels import category_label, item_kind_label, outcome_label, readable
from vigil.triage.models import TriageResult
from vigil.triage.schemas import DecisionOut
from vigil.triage.views import emails
from vigil.web.runtime import Runtime
from vigil.web.said import Gettext, Said, said, spoken


@dataclass
class ReportView:
    report: ReportOut
    entities: list[EntityPage] = field(default_factory=list)
    show_thread: bool = False  # a role not shown the report's words is not shown the thread
    messages: list[MessageOut] = field(default_factory=list)
    followup_possible: bool = False  # the reporter holds a follow-up code
    authors: dict[int, str] = field(default_factory=dict)  # staff authors' e-mails
    owned: bool = False  # the reader's organisation owns it (and so manages its sharing)
    marking: Marking | None = None


@dataclass(frozen=True)
class Marking:
    """How the report is marked and graded, and the conditions any sharing carries: shown at
    the top of its page, so whoever reads it knows how it may be handled."""

    classification: str
    source: str | None
    intelligence: str | None
    handling: str | None
    conditions: str | None


def read_report_page(
    rt: Runtime, user: StaffUser, reference: str, client: str | None
) -> ReportView:
    """The report page's data; a report the user may not see is the usual 404 problem (and
    nothing is recorded, as for a report that does not exist)."""
    with rt.db.session(as_user=user.id) as session:
        view = _read(session, user, reference)

    def record(session: Session) -> None:
        shown = view.report.reference
        record_report_viewed(session, user, shown, client)
        record_entities_viewed(session, user, shown, view.entities, client)
        if view.show_thread:
            record_thread_viewed(session, user, shown, client)

    rt.db.write_sync(record, as_user=user.id)
    return view


def _read(session: Session, user: StaffUser, reference: str) -> ReportView:
    # The triage result (for triage_out, which then finds it in the session) and whether
    # the reporter holds a follow-up code come with the report, in the one statement.
    row, _triage, credential = visible_report_with(
        session, user, reference, TriageResult, FollowupCredential
    )
    show_thread = "description" in report_fields(user.role)
    messages = thread_messages(session, row.id) if show_thread else []
    # The thread is every follow-up, so its length is the report's count of them.
    followups = len(messages) if show_thread else followup_count(session, row.id)
    view = ReportView(
        report=report_as_shown(session, user, row, followups),
        owned=row.owning_org_id == user.org_id,
        marking=Marking(
            row.classification,
            row.source_evaluation,
            row.intelligence_assessment,
            row.handling_code,
            row.handling_conditions,
        ),
    )
    if Permission.linkage_read in user.permissions:
        view.entities = report_entities(session, user, row)
    view.show_thread = show_thread
    if show_thread:
        view.messages = messages
        view.authors = emails(session, [m.author_user_id for m in messages])
    view.followup_possible = credential is not None
    return view


# --- the history and the factors in words ---------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    """One history entry as the page says it: what happened, then its details."""

    at: datetime
    by: str | None
    reason: str | None
    parts: tuple[Said, ...]

    def what(self, gettext: Gettext) -> str:
        return " · ".join(spoken(gettext, part) for part in self.parts)


@dataclass(frozen=True)
class FactorRow:
    """One priority factor: its label, weight and evidence, with codes put into words."""

    label: str
    weight: Any  # as stored: 8, 2.5, 0.0 for a floor rule
    evidence: Said | str

    def evidence_in(self, gettext: Gettext) -> str:
        return spoken(gettext, self.evidence) if isinstance(self.evidence, Said) else self.evidence


def history_rows(history: Sequence[DecisionOut]) -> list[HistoryRow]:
    """Each entry in words. The pipeline records "triaged" each time it scores the report:
    the first is the triage, a later one (after a follow-up, an alert, or a new report
    joining its cluster) is a new score, and is called that."""
    rows = []
    scored = False
    for entry in history:
        if entry.action == "triaged":
            parts = _triaged(entry.detail, again=scored)
            scored = True
        else:
            parts = _decided(entry.action, entry.detail)
        rows.append(HistoryRow(entry.at, entry.by, entry.reason, parts))
    return rows


def _triaged(detail: dict[str, Any], *, again: bool) -> tuple[Said, ...]:
    parts = [said("Scored again") if again else said("Triaged")]
    if detail.get("priority"):
        parts.append(said("priority %(priority)s", priority=str(detail["priority"])))
    if detail.get("cluster_id"):
        parts.append(said("grouped with similar reports"))
    return tuple(parts)


def _item(item: Any) -> dict[str, Any]:
    """An item recorded in a correction ({"kind", "value"}) as words to put in a sentence."""
    known = item if isinstance(item, dict) else {}
    return {
        "kind": item_kind_label(str(known.get("kind") or "")),
        "value": str(known.get("value") or ""),
    }


def _categories(codes: Any) -> str:
    return ", ".join(category_label(str(c)) for c in codes) if isinstance(codes, list) else ""


def _decided(action: str, detail: dict[str, Any]) -> tuple[Said, ...]:
    """A person's decision (or a question asked) in words; an action this page does not know
    is shown by name with its details, never as Python data."""
    if action == "claimed":
        return (said("Claimed"),)
    if action == "released":
        return (said("Released"),)
    if action == "assigned":
        return (said("Assigned to %(who)s", who=str(detail.get("to") or "")),)
    if action == "graded":
        return _graded(str(detail.get("grading") or ""))
    if action == "decided":
        outcome = outcome_label(str(detail.get("outcome") or ""))
        parts = [
            said("Decided: %(outcome)s (%(detail)s)", outcome=outcome, detail=detail["detail"])
            if detail.get("detail")
            else said("Decided: %(outcome)s", outcome=outcome)
        ]
        if detail.get("cluster_of"):
            parts.append(
                said("decided for the cluster of %(reference)s", reference=detail["cluster_of"])
            )
        return tuple(parts)
    if action == "item_added":
        return (said("Item added: %(kind)s “%(value)s”", **_item(detail.get("after"))),)
    if action == "item_corrected":
        before = _item(detail.get("before"))
        if not detail.get("after"):
            return (said("Item rejected: %(kind)s “%(value)s”", **before),)
        after = _item(detail.get("after"))
        return (
            said(
                "Item corrected: %(kind)s “%(value)s” to %(new_kind)s “%(new_value)s”",
                **before,
                new_kind=after["kind"],
                new_value=after["value"],
            ),
        )
    if action == "categories_corrected":
        parts = [said("Categories corrected")]
        if detail.get("added"):
            parts.append(said("added %(categories)s", categories=_categories(detail["added"])))
        if detail.get("removed"):
            parts.append(said("removed %(categories)s", categories=_categories(detail["removed"])))
        return tuple(parts)
    if action == "question_asked":
        return (said("Question sent to the reporter"),)
    return (Said(readable(action), {}), *(Said(_plain(k, v), {}) for k, v in detail.items() if v))


def _graded(grading: str) -> tuple[Said, ...]:
    """The 3x5x2 grading ("2/B/P") named part by part."""
    source, intelligence, handling = ([*grading.split("/"), "", ""])[:3]
    if not (source and intelligence and handling) or grading.count("/") != 2:
        return (said("Graded"), Said(grading, {})) if grading else (said("Graded"),)
    return (
        said("Graded"),
        said(
            "source %(source)s, intelligence %(intelligence)s, handling code %(handling)s",
            source=source,
            intelligence=intelligence,
            handling=handling,
        ),
    )


def _plain(key: str, value: Any) -> str:
    """An unknown detail as text: its name without underscores, and its value flattened."""
    if isinstance(value, dict):
        value = ", ".join(f"{readable(str(k)).lower()} {v}" for k, v in value.items() if v)
    elif isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return f"{readable(key).lower()} {value}"


FLOOR = "floor."
AT_LEAST = " → at least "
CATEGORY = "category:"
TIER = "category_tier"


def factor_rows(factors: Sequence[dict[str, Any]]) -> list[FactorRow]:
    """The factors with their evidence in words. A behaviour tier's evidence is the codes of
    its categories, and a floor rule's is the codes of what met it ("explicit_threat +
    category:aviation → at least P1"); both are named by their labels, the factors' from
    this report's own factors (a floor is met only by factors that applied). The factors
    come as this reader may see them (:mod:`vigil.triage.factor_evidence`): evidence
    withheld from them is said in the page's language."""
    labels = {str(f.get("code")): str(f.get("label") or "") for f in factors}
    rows = []
    for factor in factors:
        code = str(factor.get("code") or "")
        evidence: Said | str = str(factor.get("evidence") or "")
        if evidence == WITHHELD:
            evidence = WITHHELD
        elif code.startswith(TIER) and evidence:
            evidence = ", ".join(category_label(c.strip()) for c in evidence.split(","))
        elif code.startswith(FLOOR):
            met, arrow, priority = evidence.rpartition(AT_LEAST)
            if arrow:
                names = [
                    category_label(c.removeprefix(CATEGORY))
                    if c.startswith(CATEGORY)
                    else labels.get(c) or readable(c)
                    for c in met.split(" + ")
                ]
                evidence = said(
                    "%(met)s → at least %(priority)s", met=" + ".join(names), priority=priority
                )
        label = str(factor.get("label") or "") or readable(code.removeprefix(FLOOR))
        rows.append(FactorRow(label, factor.get("weight"), evidence))
    return rows
