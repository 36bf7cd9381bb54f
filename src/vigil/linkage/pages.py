"""The linkage console pages: the team's alerts inbox, the entity page, reviewing a match.

Automation proposes, people decide: each match is shown with its explanation drawn as a
waterfall (the prior, what each comparison added or took away, the final probability), as
a plain HTML table with bars, so a screen reader hears the same numbers a sighted analyst
sees. Blind review (``?blind=1``) hides every number, so the reviewer judges the records
rather than the model's score. Every read and decision goes through the linkage services
(policy-filtered and audited there); an entity, match or alert the user may not see answers
the same "not found" page as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from vigil.access.pages import render_staff, staff_session
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.linkage import services, subject_views
from vigil.linkage.graph_api import entity_graph
from vigil.linkage.schemas import (
    DECISION_REASON_MAX,
    AlertDecisionIn,
    AlertOut,
    GraphNode,
    MatchLabel,
    MatchOut,
    MatchReviewIn,
)
from vigil.web.problems import Problem, validation_problem
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime
from vigil.web.said import Said, said, spoken
from vigil.web.templating import Page, page, page_router

router = page_router()
ALERTS = "/console/alerts"
ENTITY = "/console/entities/{entity_id}"
GRAPH = "/console/entities/{entity_id}/graph"
GRAPH_DEPTHS = range(1, 5)
GRAPH_DEPTH = 2
NODE_PAGES = {
    "entity": "/console/entities/{}",
    "report": "/console/reports/{}",
    "case": "/console/cases/{}",
    "subject": "/console/subjects/{}",
}
REVIEW = "/console/matches/{match_id}/review"
DECIDE = "/console/alerts/{alert_id}/decision"
ALERT_STATES = ("new", "reviewed", "actioned", "dismissed")
ALERTS_SHOWN = 200
FORM_ERRORS = "console_linkage_errors"  # a refused form, carried to the next GET
# The fields these forms send, named before a refusal's words ("Reason: ...") when the form
# has no words of its own for it (see :class:`Ask`); marked so that a Welsh page names them in
# Welsh. Each is the name the form shows, not the model's.
LABELS = {
    "reason": said("Reason"),
    "label": said("Decision"),
    "state": said("Decision"),
    "status": said("Status"),
    "entity_id": said("Entity id"),
    "blind": said("Blind"),
}

_reader = staff_session(Permission.linkage_read)
_reviewer = staff_session(Permission.linkage_review)
_alert_reader = staff_session(Permission.alerts_read)
_alert_decider = staff_session(Permission.alerts_decide)


def _client(request: Request, rt: Runtime) -> str:
    return client_key(request, rt.settings.trust_forwarded_for)


def entity_url(entity_id: int, blind: bool = False) -> str:
    return ENTITY.format(entity_id=entity_id) + ("?blind=1" if blind else "")


# --- the waterfall ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One row of a match's waterfall, ready to draw: what it added and the running total."""

    name: str
    level: str
    left: str | None
    right: str | None
    weight: float | None  # what this step added (prior: where it starts); None for exact
    total: float | None  # the running match weight after it
    probability: float | None  # on the final row only
    bar: float  # |weight| on the bar's scale (0..scale)
    final: bool


@dataclass(frozen=True)
class Waterfall:
    steps: list[Step]
    scale: float  # the bars' common maximum


def waterfall(explanation: list[dict[str, Any]] | None) -> Waterfall:
    """The stored explanation as rows; an exact-identifier link has no weights to draw."""
    steps: list[Step] = []
    for raw in explanation or []:
        kind = raw.get("step", "exact")
        weight = raw.get("match_weight")
        if weight is not None and kind == "comparison":
            weight = float(weight) + float(raw.get("tf_adjustment_weight") or 0.0)
        total = raw.get("cumulative_match_weight")
        steps.append(
            Step(
                name=str(raw.get("comparison", "")).replace("_", " "),
                level=str(raw.get("level", "")),
                left=raw.get("left"),
                right=raw.get("right"),
                weight=None if weight is None else float(weight),
                total=None if total is None else float(total),
                probability=raw.get("match_probability"),
                bar=abs(float(weight)) if weight is not None else 0.0,
                final=kind == "final",
            )
        )
    scale = max((s.bar for s in steps), default=0.0) or 1.0
    return Waterfall(steps, round(scale, 3))


def _blinded(match: MatchOut) -> MatchOut:
    """The same match with every number gone (the blind review hides the model's view)."""
    return match.model_copy(
        update={
            "match_probability": None,
            "match_weight": None,
            "is_match": None,
            "explanation": None,
        }
    )


# --- reading ------------------------------------------------------------------------------


def _not_found(p: Page) -> Response:
    return render_staff(p, "linkage/not_found.html", status=404)


def _refused(p: Page, where: str) -> dict[str, Any]:
    if FORM_ERRORS not in p.session.data:  # a pop would save the session on every view
        return {}
    found: dict[str, Any] = p.session.pop(FORM_ERRORS) or {}
    return found if found.get("where") == where else {}


@router.get(ENTITY)
def entity_page(
    entity_id: int, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    blind = p.request.query_params.get("blind") in {"1", "true", "yes"}
    try:
        found = subject_views.entity_detail(p.rt, user, entity_id, _client(p.request, p.rt))
    except Problem as problem:
        if problem.status == 404:
            return _not_found(p)
        raise
    if blind:
        found = found.model_copy(update={"matches": [_blinded(m) for m in found.matches]})
    refused = _refused(p, f"entity:{entity_id}")
    return render_staff(
        p,
        "linkage/entity.html",
        page_data=found,
        entity=found.entity,
        blind=blind,
        waterfall=waterfall,
        labels=list(MatchLabel),
        decided_labels=services.DECIDED,  # labelling these again is a change
        may_review=Permission.linkage_review in user.permissions,
        may_read_alerts=Permission.alerts_read in user.permissions,
        errors=bool(refused),
        error_list=_error_list(refused),
        form_errors=refused.get("errors", {}),
        form_values=refused.get("values", {}),
    )


# --- the link graph -----------------------------------------------------------------------


def node_url(node: GraphNode) -> str | None:
    """The console page of a graph node."""
    kind, key = node.id.split(":", 1)
    found = NODE_PAGES.get(kind)
    return found.format(key) if found else None


def _depth(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return GRAPH_DEPTH
    return int(raw) if raw.isdecimal() and int(raw) in GRAPH_DEPTHS else None


@router.get(GRAPH)
def graph_page(
    entity_id: int, user: StaffUser = Depends(_reader), p: Page = Depends(page)
) -> Response:
    """The network around an entity: tables first (they work without JavaScript and are
    the accessible alternative), and the same data as JSON for /static/js/graph.mjs."""
    base, back = GRAPH.format(entity_id=entity_id), entity_url(entity_id)
    depth = _depth(p.request.query_params.get("depth"))
    if depth is None:
        return graph_pages.render_graph(p, None, kind="entity", base=base, back=back, depth=2)
    try:
        found = entity_graph(p.rt, user, entity_id, depth, _client(p.request, p.rt))
    except Problem as problem:
        if problem.status == 404:
            return _not_found(p)
        raise
    start = f"entity:{entity_id}"
    return graph_pages.render_graph(
        p, found, kind="entity", base=base, back=back, depth=depth, start=start
    )


@router.get(ALERTS)
def alerts_page(user: StaffUser = Depends(_alert_reader), p: Page = Depends(page)) -> Response:
    state = p.request.query_params.get("state") or None
    if state not in (None, *ALERT_STATES):
        state = None
    found = services.list_alerts(p.rt, user, state, ALERTS_SHOWN, _client(p.request, p.rt))
    alerts: list[AlertOut] = sorted(found, key=lambda a: a.state != "new")  # new first, stable
    refused = _refused(p, "alerts")
    return render_staff(
        p,
        "linkage/alerts.html",
        alerts=alerts,
        state=state,
        states=ALERT_STATES,
        next_states=services.ALERT_NEXT,  # the decisions each state may take
        final_states=services.ALERT_FINAL,
        may_decide=Permission.alerts_decide in user.permissions,
        errors=bool(refused),
        error_list=_error_list(refused),
        form_errors=refused.get("errors", {}),
        form_values=refused.get("values", {}),
    )


# --- deciding -----------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _error_list(refused: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"text": text, "href": f"#{field}"} for field, text in refused.get("errors", {}).items()
    ]


@dataclass(frozen=True)
class Ask:
    """What a decision form says of one of its inputs when it is refused, as GOV.UK forms
    do: after what the person sees ("Choose a decision"), never the model's field name and
    words ("State: Input should be 'reviewed', ..."), and in the page's language."""

    empty: Said  # left empty or not one of the choices: "Choose ..." / "Enter ..."
    short: Said | None = None  # typed, but shorter than the model takes
    long: Said | None = None  # longer than the model takes


def _least(model: type[BaseModel], name: str) -> int:
    """The fewest characters the model takes for this field (its ``min_length``)."""
    found = [getattr(m, "min_length", None) for m in model.model_fields[name].metadata]
    return int(next(n for n in found if n is not None))


ENTER_REASON = said("Enter the reason for your decision")
SHORT_REASON = said(
    "Reason must be at least %(min)s characters", min=_least(MatchReviewIn, "reason")
)
LONG_REASON = said("Reason must be %(max)s characters or fewer", max=DECISION_REASON_MAX)
ALERT_ASKS = {
    "state": Ask(said("Choose a decision")),
    "reason": Ask(ENTER_REASON, long=LONG_REASON),
}
REVIEW_ASKS = {
    "label": Ask(said("Choose whether these are the same")),
    "reason": Ask(ENTER_REASON, short=SHORT_REASON, long=LONG_REASON),
}
CHANGE_ASKS = {
    "label": Ask(said("Choose the new decision")),
    "reason": Ask(said("Enter the reason for the change"), short=SHORT_REASON, long=LONG_REASON),
}


def _field(pointer: str) -> str:
    """The form field a refusal points at: ``#/body/reason`` (the API's pointer, as a service
    refuses) and ``#/reason`` (a model validated here) are both the form's ``reason``."""
    parts = pointer.lstrip("#/").split("/")
    return parts[1] if parts[0] == "body" and len(parts) > 1 else parts[0]


def _asked(ask: Ask, typed: str, kind: str | None) -> Said | None:
    """The form's own words for a refusal of this input, None when it has none for it."""
    if not typed or kind == "enum":
        return ask.empty
    return {"string_too_short": ask.short, "string_too_long": ask.long}.get(kind or "")


def _act(
    p: Page,
    act: Callable[[], object],
    *,
    where: str,
    field_ids: dict[str, str],
    back: str,
    asks: dict[str, Ask] | None = None,
) -> Response:
    """Run one decision and redirect back; a refusal carries its errors (keyed by the form's
    input ids) and what was typed through the session to the page's next GET. An input the
    form has words for (``asks``) is refused in those words; any other refusal is named by
    its field's label."""
    kinds: dict[str, str] = {}  # pydantic's kind of error, by field: which words to use
    try:
        act()
    except ValidationError as exc:
        problem = validation_problem(exc)
        for err in exc.errors():
            if err["loc"]:
                kinds.setdefault(str(err["loc"][0]), err["type"])
    except Problem as raised:
        if raised.status == 404:
            return _not_found(p)
        problem = raised
    else:
        return p.redirect(back)
    form: FormData = p.request.state.form
    problem = p.told(problem)  # the session keeps plain text, in the page's language
    errors: dict[str, str] = {}
    fallback = next(iter(field_ids.values()))
    for error in problem.errors:
        name = _field(error["pointer"])
        ask = (asks or {}).get(name)
        worded = _asked(ask, _text(form, name), kinds.get(name)) if ask else None
        if worded is not None:
            text = spoken(p._, worded)
        else:
            label = spoken(p._, LABELS.get(name) or name.replace("_", " ").capitalize())
            detail = error["detail"]
            text = f"{label}: {detail}" if label else detail[:1].upper() + detail[1:]
        errors.setdefault(field_ids.get(name, fallback), text)
    if not errors:
        errors[fallback] = problem.detail or problem.title
    values = {k: v for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    p.session.set(FORM_ERRORS, {"where": where, "errors": errors, "values": values})
    return p.redirect(back.split("#")[0] + "#errors")


@router.post(REVIEW)
def review(
    match_id: int, user: StaffUser = Depends(_reviewer), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    raw_entity = _text(form, "entity")
    entity_id = int(raw_entity) if raw_entity.isdecimal() and len(raw_entity) <= 18 else None
    blind = _text(form, "blind") == "1"
    change = _text(form, "change") == "1"  # the form of a decided match asks for a change
    client = _client(p.request, p.rt)

    def act() -> None:
        body = MatchReviewIn.model_validate(
            {
                "label": _text(form, "label"),
                "reason": _text(form, "reason"),
                "blind": blind,
                "change": change,
            }
        )
        services.review_match(p.rt, user, match_id, body, client)

    back = entity_url(entity_id, blind) if entity_id is not None else ALERTS
    return _act(
        p,
        act,
        where=f"entity:{entity_id}",
        field_ids={"reason": f"reason-{match_id}", "label": f"label-{match_id}"},
        back=back + f"#match-{match_id}",
        asks=CHANGE_ASKS if change else REVIEW_ASKS,
    )


@router.post(DECIDE)
def decide(
    alert_id: int, user: StaffUser = Depends(_alert_decider), p: Page = Depends(page)
) -> Response:
    form: FormData = p.request.state.form
    client = _client(p.request, p.rt)

    def act() -> None:
        body = AlertDecisionIn.model_validate(
            {"state": _text(form, "state"), "reason": _text(form, "reason") or None}
        )
        services.decide_alert(p.rt, user, alert_id, body, client)

    return _act(
        p,
        act,
        where="alerts",
        field_ids={"reason": f"reason-{alert_id}", "state": f"state-{alert_id}"},
        back=ALERTS + f"#alert-{alert_id}",
        asks=ALERT_ASKS,
    )


# The subject, connection and network pages use this module's helpers, so they are imported
# (and their routes added) once everything above is defined.
from vigil.linkage import graph_pages, path_pages, subject_pages  # noqa: E402

router.include_router(subject_pages.router)
router.include_router(path_pages.router)
router.include_router(graph_pages.router)
