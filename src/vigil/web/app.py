"""The app factory. It lists the areas and wires the shared ground; nothing else."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from vigil.access import disclosure as access_disclosure
from vigil.access import oidc_pages as access_oidc_pages
from vigil.access import pages as access_pages
from vigil.access import refusal_pages
from vigil.access import webauthn_pages as access_webauthn
from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.access.signin import purge_staff_sessions
from vigil.audit import api as audit_api
from vigil.audit import pages as audit_pages
from vigil.audit.chain import Signer, make_checkpoint
from vigil.cases import api as cases_api
from vigil.cases import pages as cases_pages
from vigil.db import SWITCH_INTERVAL_S, utcnow
from vigil.intake import api as intake_api
from vigil.intake import attachment_api as intake_attachment_api
from vigil.intake import pages as intake_pages
from vigil.intake import thread_api as intake_thread_api
from vigil.intake.services import ensure_receiving_org, purge_expired_idempotency
from vigil.intake.storage import staged_names, staging_max_age_s
from vigil.jobs import api as jobs_api
from vigil.jobs.queue import purge_done
from vigil.jobs.worker import Worker
from vigil.linkage import api as linkage_api
from vigil.linkage import graph_api as linkage_graph_api
from vigil.linkage import pages as linkage_pages
from vigil.logging import configure_logging
from vigil.search import api as search_api
from vigil.search import pages as search_pages
from vigil.search.phonetic import load_name_lists
from vigil.settings import Environment, Settings, get_settings
from vigil.stats import api as stats_api
from vigil.stats import pages as stats_pages
from vigil.triage import api as triage_api
from vigil.triage import map_api as triage_map_api
from vigil.triage import pages as triage_pages
from vigil.triage.tasks import default_registry
from vigil.web import health
from vigil.web.jsonresp import FastJSONResponse
from vigil.web.middleware import RequestObserver
from vigil.web.problems import install_problem_handlers
from vigil.web.query import UnknownQueryGuard
from vigil.web.runtime import Runtime
from vigil.web.sessions import answers_seen_since, purge_idle_sessions
from vigil.web.templating import install_page_handlers

STATIC = Path(__file__).parent / "static"
AREAS = (
    intake_api.router,
    intake_thread_api.router,
    intake_attachment_api.router,
    intake_pages.router,
    audit_api.router,
    triage_api.router,
    triage_map_api.router,
    jobs_api.router,
    linkage_api.router,
    linkage_graph_api.router,
    cases_api.router,
    stats_api.router,
    search_api.router,
    access_pages.router,
    access_webauthn.router,
    access_disclosure.router,
    access_disclosure.api_router,
    access_oidc_pages.router,
    triage_pages.router,
    linkage_pages.router,
    cases_pages.router,
    search_pages.router,
    stats_pages.router,
    audit_pages.router,
)


def create_app(settings: Settings | None = None, rt: Runtime | None = None) -> FastAPI:
    settings = settings or (rt.settings if rt else get_settings())
    configure_logging(settings.log_level, cache=settings.environment is not Environment.test)
    runtime = rt or Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        runtime.store.prepare()
        ensure_receiving_org(runtime)
        housekeeping = asyncio.create_task(_housekeeping(runtime))
        if settings.jobs_in_process:
            runtime.worker = Worker(
                runtime,
                default_registry(),
                batch_size=settings.jobs_batch_size,
                lease_s=settings.jobs_lease_s,
                poll_s=settings.jobs_poll_s,
            )
            runtime.worker.start()
        await asyncio.to_thread(load_name_lists)
        # Everything imported and built so far lives as long as the process: move it out of
        # the collector's sight, so full collections stop pausing requests for ~100 ms.
        gc.collect()
        gc.freeze()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        yield
        housekeeping.cancel()
        if runtime.worker is not None:
            runtime.worker.stop()
            runtime.worker = None
        if rt is None:
            runtime.db.close()

    app = FastAPI(
        title="Vigil",
        version="0.1.0",
        summary="Counter-terrorism public reporting and multi-agency intelligence",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        default_response_class=FastJSONResponse,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    install_page_handlers(app)
    refusal_pages.install(app)  # people are shown pages, programs problem+json
    app.add_middleware(UnknownQueryGuard, fastapi=app)
    app.add_middleware(GZipMiddleware, minimum_size=1400)
    app.add_middleware(RequestObserver)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.include_router(health.router)
    for router in AREAS:
        app.include_router(router)

    @app.get(
        "/api/docs",
        include_in_schema=False,
        response_class=HTMLResponse,
        dependencies=[Depends(public(Permission.system_health))],
    )
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    return app


def forget_done_jobs(runtime: Runtime, keep_days: int = 30) -> None:
    cutoff = utcnow() - timedelta(days=keep_days)
    runtime.db.write_sync(lambda session: purge_done(session, finished_before=cutoff))


def sign_checkpoint(runtime: Runtime) -> None:
    signer = Signer(runtime.settings.audit_seed)
    runtime.db.write_sync(lambda session: make_checkpoint(session, signer))


async def _housekeeping(runtime: Runtime, every_s: float = 600) -> None:
    """Forget expired Idempotency-Keys (their sealed answers hold follow-up codes), abandoned
    answers in progress, and the files staged for them (originals, a photo's location
    included) once they can no longer be sent: after the form idle timeout and a margin,
    unless answers still in progress name them. Files go before sessions, so a report sent as
    its session expires keeps its own."""

    def named_by_live_answers() -> set[str]:
        # Sessions seen within the idle timeout and the margin: those that can still send,
        # and any whose last request (a submission, say) is still running.
        max_age_s = staging_max_age_s(runtime.settings.form_idle_timeout_s)
        since = utcnow() - timedelta(seconds=max_age_s)
        names: set[str] = set()
        for answers in answers_seen_since(runtime, since):
            names |= staged_names(answers)
        return names

    while True:
        await asyncio.to_thread(purge_expired_idempotency, runtime)
        await asyncio.to_thread(
            runtime.store.sweep_staging,
            staging_max_age_s(runtime.settings.form_idle_timeout_s),
            named_by_live_answers,
        )
        await asyncio.to_thread(purge_idle_sessions, runtime)
        await asyncio.to_thread(purge_staff_sessions, runtime)
        await asyncio.to_thread(sign_checkpoint, runtime)
        await asyncio.to_thread(forget_done_jobs, runtime)
        await asyncio.sleep(min(every_s, runtime.settings.audit_checkpoint_interval_s))


# Swagger UI from npm, served by Vigil itself; the start-up script is a file (strict CSP).
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body></html>
"""
