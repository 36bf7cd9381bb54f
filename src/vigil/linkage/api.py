"""Linkage JSON API: entities, referrals, imports and exports, subjects, matches, alerts.

Handlers only parse, call one service function and answer. Everything is read through the
access policy: an entity, subject, match or alert the caller may not see answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse

from vigil.access.api import client_address, require
from vigil.access.markings import Classification
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.linkage import imports, services, subject_api
from vigil.linkage.records import EntityKind
from vigil.linkage.schemas import (
    AccuracyBand,
    AlertDecisionIn,
    AlertOut,
    BenignIn,
    BenignOut,
    EntityPage,
    ImportOut,
    MatchOut,
    MatchPage,
    MatchQuery,
    MatchReviewIn,
    ReferralIn,
    ReferralOut,
    SubjectEntityIn,
    SubjectIn,
    SubjectOut,
    SubjectStatusIn,
)
from vigil.web.problems import PROBLEM_TYPE, Problem
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {PROBLEM_TYPE: {}}}
    for code, text in {
        404: "No such record (or not one you may see)",
        409: "Already done",
        413: "The file is larger than the limit",
        422: "Invalid input; one entry per field or file row in `errors`",
    }.items()
}
router = APIRouter(prefix="/api/v1/linkage", tags=["linkage"], responses=_PROBLEMS)
Rt = Annotated[Runtime, Depends(runtime)]
Reader = Annotated[StaffUser, Depends(require(Permission.linkage_read))]
MAX_IMPORT_BYTES = 200 * 1024 * 1024


@router.get("/entities/{entity_id}", response_model=EntityPage, summary="An entity")
def entity(entity_id: int, request: Request, rt: Rt, user: Reader) -> EntityPage:
    """The entity, the other records of its confirmed identity, its matches and subjects."""
    return services.get_entity(rt, user, entity_id, client_address(request))


@router.post("/referrals", response_model=ReferralOut, status_code=201, summary="Refer a person")
def referral(
    body: ReferralIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.referral_submit))],
) -> ReferralOut:
    """Stored under the caller's marking and matched against every known person at once."""
    return services.submit_referral(rt, user, body, client_address(request))


@router.post("/imports", response_model=ImportOut, status_code=201, summary="Import known people")
async def import_file(
    file: UploadFile,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.linkage_import))],
    format: Annotated[str, Query(pattern="^(csv|ftm)$")] = "csv",
    team_id: int | None = None,
    classification: Classification = Classification.official_sensitive,
) -> ImportOut:
    """Person CSV or FollowTheMoney JSON lines; any row error imports nothing."""
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise Problem(
            413,
            said("File too large"),
            said("Imports are limited to %(limit)s bytes.", limit=MAX_IMPORT_BYTES),
        )
    return imports.import_file(
        rt,
        user,
        data,
        filename=file.filename or "upload",
        fmt=format,
        team_id=team_id,
        classification=classification.value,
        client=client_address(request),
    )


@router.get("/exports", response_class=PlainTextResponse, summary="Export entities")
def export(
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.linkage_import))],
    format: Annotated[str, Query(pattern="^(csv|ftm)$")] = "csv",
    kind: EntityKind | None = None,
) -> PlainTextResponse:
    text = imports.export_entities(rt, user, format, kind, client_address(request))
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return PlainTextResponse(text, media_type=media)


@router.post("/subjects", response_model=SubjectOut, status_code=201, summary="Add a subject")
def create_subject(
    body: SubjectIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.subjects_manage))],
) -> SubjectOut:
    return services.create_subject(rt, user, body, client_address(request))


@router.get("/subjects/{reference}", response_model=SubjectOut, summary="A subject")
def subject(reference: str, request: Request, rt: Rt, user: Reader) -> SubjectOut:
    return services.get_subject(rt, user, reference, client_address(request))


@router.post("/subjects/{reference}/status", response_model=SubjectOut, summary="Open or close")
def subject_status(
    reference: str,
    body: SubjectStatusIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.subjects_manage))],
) -> SubjectOut:
    return services.set_subject_status(rt, user, reference, body, client_address(request))


@router.post("/subjects/{reference}/entities", response_model=SubjectOut, summary="Attach")
def subject_entity(
    reference: str,
    body: SubjectEntityIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.subjects_manage))],
) -> SubjectOut:
    return services.attach_entity(rt, user, reference, body.entity_id, client_address(request))


@router.get("/matches", response_model=MatchPage, summary="Matches to review")
def matches(
    request: Request, rt: Rt, user: Reader, query: Annotated[MatchQuery, Query()]
) -> MatchPage:
    """Matches between entities you may see, best first (probability, then id); page on
    with ``cursor=<next_cursor>``; ``total`` counts them all. ``blind=true`` hides every
    score and explanation, for unbiased review. An unknown parameter is refused (422)."""
    return services.list_matches(rt, user, query, client_address(request))


@router.get("/accuracy", response_model=list[AccuracyBand], summary="Labels by score band")
def accuracy(request: Request, rt: Rt, user: Reader) -> list[AccuracyBand]:
    """How people labelled the model's matches, by probability band (labels never retrain
    the model by themselves; they show where its threshold stands)."""
    return services.match_accuracy(rt, user, client_address(request))


@router.post("/matches/{match_id}/review", response_model=MatchOut, summary="Label a match")
def review(
    match_id: int,
    body: MatchReviewIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.linkage_review))],
) -> MatchOut:
    """Label a match. A positive or negative match is labelled again only as a change
    (``"change": true``, with its own reason; else 409); taking back a positive label
    undoes its merge. Every label, with who gave it and why, is kept in the audit log."""
    return services.review_match(rt, user, match_id, body, client_address(request))


@router.get("/alerts", response_model=list[AlertOut], summary="The team's alerts")
def alerts(
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.alerts_read))],
    state: Annotated[str | None, Query(pattern="^(new|reviewed|actioned|dismissed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AlertOut]:
    return services.list_alerts(rt, user, state, limit, client_address(request))


@router.post("/alerts/{alert_id}/decision", response_model=AlertOut, summary="Decide an alert")
def decide_alert(
    alert_id: int,
    body: AlertDecisionIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.alerts_decide))],
) -> AlertOut:
    """new → reviewed → actioned | dismissed (reviewed may be skipped); actioned and
    dismissed are final but may be re-opened as reviewed with a reason. Anything else is
    409. Dismissing needs a reason."""
    return services.decide_alert(rt, user, alert_id, body, client_address(request))


@router.get("/benign", response_model=list[BenignOut], summary="Known-benign values")
def benign(
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.benign_manage))],
) -> list[BenignOut]:
    return services.list_benign(rt, user, client_address(request))


@router.post("/benign", response_model=BenignOut, status_code=201, summary="Add a benign value")
def add_benign(
    body: BenignIn,
    request: Request,
    rt: Rt,
    user: Annotated[StaffUser, Depends(require(Permission.benign_manage))],
) -> BenignOut:
    return services.add_benign(rt, user, body, client_address(request))


router.include_router(subject_api.router)  # GET /subjects (the list), kept in its own module
