"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import text

from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="The process is alive")
async def healthz(_: None = Depends(public(Permission.system_health))) -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", summary="The database answers, the writer runs and the data folder is writable"
)
def readyz(
    rt: Runtime = Depends(runtime), _: None = Depends(public(Permission.system_health))
) -> dict[str, str]:
    try:
        with rt.db.session() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        raise Problem(503, said("Not ready"), said("The database does not answer.")) from exc
    if not os.access(rt.settings.data_dir, os.W_OK):
        raise Problem(503, said("Not ready"), said("The data folder is not writable."))
    return {"status": "ready", "database": rt.db.dialect}


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(_: None = Depends(public(Permission.system_health))) -> PlainTextResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # `vigil serve --processes N`: all of them
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return PlainTextResponse(generate_latest(registry).decode(), media_type=CONTENT_TYPE_LATEST)
    return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)
