"""Triage JSON API: the queue, the analyst's decisions, corrections, and the weights.

Handlers only parse, call one service function and answer; every report is found through
the policy filter, so a report the caller may not see answers 404 as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from vigil.access.api import client_address, require
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.triage import measures, services, weights
from vigil.triage.queue import QueueFilter, list_queue
from vigil.triage.schemas import (
    AssignIn,
    CategoryCorrectionIn,
    ConfigIn,
    ConfigOut,
    DecisionResult,
    GradeIn,
    ItemAddIn,
    ItemCorrectionIn,
    ItemOut,
    MeasuresOut,
    OutcomeIn,
    QueuePage,
)
from vigil.web.problems import PROBLEM_TYPE
from vigil.web.runtime import Runtime, runtime

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {PROBLEM_TYPE: {}}}
    for code, text in {
        404: "No such report (or not one you may see)",
        409: "The report's state does not allow this (already claimed or decided)",
        422: "Invalid input; one entry per field in `errors`",
    }.items()
}
router = APIRouter(prefix="/api/v1/triage", tags=["triage"], responses=_PROBLEMS)
Decide = Annotated[StaffUser, Depends(require(Permission.triage_decide))]
Rt = Annotated[Runtime, Depends(runtime)]


@router.get("/queue", response_model=QueuePage, summary="Reports to triage, most urgent first")
def queue(
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.triage_queue_read))],
    priority: Annotated[list[str] | None, Query(max_length=5)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    state: Annotated[str, Query(max_length=10)] = "open",
    mine: bool = False,
    overdue: bool = False,
    cluster: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    sort: Annotated[str, Query(max_length=10, description="priority, oldest, newest or due")] = (
        "priority"
    ),
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QueuePage:
    criteria = QueueFilter(
        priorities=frozenset(priority or ()),
        category=category,
        state=state,
        mine=mine,
        overdue=overdue,
        cluster_id=cluster,
        sort=sort,
    )
    return list_queue(
        rt, user, criteria, cursor=cursor, limit=limit, client=client_address(request)
    )


@router.post("/reports/{reference}/claim", response_model=DecisionResult, summary="Claim")
def claim(reference: str, request: Request, rt: Rt, user: Decide) -> DecisionResult:
    return services.claim(rt, user, reference, client_address(request))


@router.post("/reports/{reference}/release", response_model=DecisionResult, summary="Release")
def release(reference: str, request: Request, rt: Rt, user: Decide) -> DecisionResult:
    return services.release(rt, user, reference, client_address(request))


@router.post(
    "/reports/{reference}/assign", response_model=DecisionResult, summary="Assign to an analyst"
)
def assign(
    reference: str, body: AssignIn, request: Request, rt: Rt, user: Decide
) -> DecisionResult:
    return services.assign(rt, user, reference, body, client_address(request))


@router.post("/reports/{reference}/grade", response_model=DecisionResult, summary="Grade 3x5x2")
def grade(reference: str, body: GradeIn, request: Request, rt: Rt, user: Decide) -> DecisionResult:
    return services.grade(rt, user, reference, body, client_address(request))


@router.post(
    "/reports/{reference}/outcome",
    response_model=DecisionResult,
    summary="Record the outcome (optionally for the whole cluster)",
)
def outcome(
    reference: str, body: OutcomeIn, request: Request, rt: Rt, user: Decide
) -> DecisionResult:
    return services.decide(rt, user, reference, body, client_address(request))


@router.post(
    "/reports/{reference}/items",
    status_code=201,
    response_model=ItemOut,
    summary="Add an item the automation missed",
)
def add_item(reference: str, body: ItemAddIn, request: Request, rt: Rt, user: Decide) -> ItemOut:
    return services.add_item(rt, user, reference, body, client_address(request))


@router.patch(
    "/reports/{reference}/items/{item_id}",
    response_model=ItemOut,
    summary="Reject or correct an extracted item (the original is kept)",
)
def correct_item(
    reference: str, item_id: int, body: ItemCorrectionIn, request: Request, rt: Rt, user: Decide
) -> ItemOut:
    return services.correct_item(rt, user, reference, item_id, body, client_address(request))


@router.patch(
    "/reports/{reference}/categories",
    response_model=DecisionResult,
    summary="Add or remove categories",
)
def correct_categories(
    reference: str, body: CategoryCorrectionIn, request: Request, rt: Rt, user: Decide
) -> DecisionResult:
    return services.correct_categories(rt, user, reference, body, client_address(request))


@router.get("/config", response_model=ConfigOut, summary="Priority weights and service levels")
def show_config(
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.triage_queue_read))],
) -> ConfigOut:
    return weights.show_config(rt, user, client_address(request))


@router.put("/config", response_model=ConfigOut, summary="Change the weights (audited)")
def change_config(
    body: ConfigIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.triage_configure))],
) -> ConfigOut:
    return weights.change_config(rt, user, body, client_address(request))


@router.get(
    "/measures", response_model=MeasuresOut, summary="Corrections and outcomes, for measurement"
)
def show_measures(
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.triage_queue_read))],
) -> MeasuresOut:
    return measures.corrections(rt, user, client_address(request))
