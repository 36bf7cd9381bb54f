"""HTML pages: Jinja2 templates, English and Welsh catalogues, sessions, CSRF and CSP.

Every page route is declared on a :func:`page_router`, which checks the CSRF token on every
form POST before the handler runs, so protection is on by default and cannot be forgotten.

Templates are read once per process (``auto_reload`` off: they ship with the code, which a
restart replaces anyway), so a page view never stats the dozens of files its macros import.
The GOV.UK components most pages use come from :mod:`vigil.web.components` as
``govuk.Input`` and so on, each rendered once per shape, never keeping what a visitor typed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    select_autoescape,
)
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from vigil.web.components import ComponentCache
from vigil.web.problems import Problem, told
from vigil.web.runtime import Runtime, runtime
from vigil.web.sessions import WebSession, load_session, save_session

PACKAGE = Path(__file__).parent.parent
TRANSLATIONS = PACKAGE / "translations"
LANGUAGES = ("en", "cy")


def _inline_script_hashes() -> str:
    """CSP hashes of GOV.UK Frontend's one inline script, read from the template itself."""
    source = PackageLoader("govuk_frontend_jinja").get_source(env_for_hash, "template.html")[0]
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", source, flags=re.S)
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in scripts
    )


env_for_hash = Environment(autoescape=True)
PAGE_CSP = (
    "default-src 'self'; "
    f"script-src 'self' {_inline_script_hashes()}; "
    "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def page_csp(img_origin: str | None = None) -> str:
    """PAGE_CSP, or with one more origin images may come from (the map page's tile server,
    already checked by vigil.settings.tile_origin); nothing else is ever widened."""
    if not img_origin:
        return PAGE_CSP
    return PAGE_CSP.replace("img-src 'self' data:;", f"img-src 'self' data: {img_origin};", 1)


def _template_dirs() -> list[str]:
    dirs = [str(PACKAGE / "web" / "templates")]
    dirs += [str(p) for p in sorted(PACKAGE.glob("*/templates")) if p.parent.name != "web"]
    return dirs


env = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(_template_dirs()),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    ),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
components = ComponentCache(env)
_catalogues: dict[str, NullTranslations] = {}


def translations(lang: str) -> NullTranslations:
    if lang not in _catalogues:
        loaded = Translations.load(str(TRANSLATIONS), [lang], domain="messages")
        _catalogues[lang] = loaded
    return _catalogues[lang]


def gettext_for(lang: str) -> Callable[..., str]:
    catalogue = translations(lang)

    def gettext(message: str, **values: Any) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return gettext


def language(request: Request, web: WebSession) -> str:
    """``?lang=cy`` or ``?lang=en`` switches and is remembered for the session."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        if web.data.get("lang") != asked:
            web.set("lang", asked)
        return asked
    remembered = web.data.get("lang")
    return remembered if remembered in LANGUAGES else "en"


# The staff console's addresses: a page shown there (an error, an expired form) keeps the
# console's layout and points back to its start page, not to the public reporting form.
STAFF_PATHS = ("/staff", "/console")


class Page:
    """What a page handler gets: the runtime, the session, the language, and render()."""

    def __init__(self, request: Request, rt: Runtime, web: WebSession) -> None:
        self.request = request
        self.rt = rt
        self.session = web
        self.lang = language(request, web)
        self._ = gettext_for(self.lang)
        self.img_origin: str | None = None  # one extra img-src origin, for this page only

    @property
    def staff_area(self) -> bool:
        return self.request.url.path.startswith(STAFF_PATHS)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        tmpl = env.get_template(template)
        catalogue = translations(self.lang)
        for value in context.values():  # e.g. form errors: their hidden "Error:" prefix
            use_language = getattr(value, "use_language", None)
            if callable(use_language):
                use_language(self._)
        html = tmpl.render(
            request=self.request,
            lang=self.lang,
            session=self.session,
            page=self,
            csrf_token=lambda: self.session.csrf_token,
            gettext=catalogue.gettext,
            ngettext=catalogue.ngettext,
            _=self._,
            govuk=components.govuk,
            **context,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def told(self, problem: Problem) -> Problem:
        """A service's refusal in this page's language (see :mod:`vigil.web.said`)."""
        return told(problem, self._)

    def redirect(self, url: str) -> Response:
        return self.finish(Response(status_code=303, headers={"Location": url}))

    def finish(self, response: Response) -> Response:
        response.headers["Content-Security-Policy"] = page_csp(self.img_origin)
        response.headers["Cache-Control"] = "no-store"
        save_session(self.rt, self.request, self.session, response)
        return response


class CsrfFailed(Exception):
    """A form arrived without the session's CSRF token (or the session has expired)."""

    def __init__(self, page: Page) -> None:
        super().__init__("csrf")
        self.page = page


class FormRejected(Exception):
    """A form too large, or with too many files, to read: shown as a page, nothing kept."""

    def __init__(self, page: Page, status: int, reason: str) -> None:
        super().__init__(reason)
        self.page = page
        self.status = status
        self.reason = reason


async def page(request: Request, rt: Runtime = Depends(runtime)) -> Page:
    """The page dependency: loads the session and, for form posts, checks the CSRF token."""
    web = load_session(rt, request)
    current = Page(request, rt, web)
    if request.method == "POST":
        length = request.headers.get("content-length", "")
        limit = rt.settings.max_multipart_bytes
        if length.isdigit() and int(length) > limit:
            raise FormRejected(
                current,
                413,
                current._(
                    "The files you chose are too large. Send at most %(count)s files of up to "
                    "%(size)s MB each.",
                    count=rt.settings.max_attachments,
                    size=rt.settings.max_attachment_bytes // 1_000_000,
                ),
            )
        try:
            form = await request.form(
                max_files=rt.settings.max_attachments + 1, max_part_size=rt.settings.max_json_bytes
            )
        except MultiPartException as exc:
            raise FormRejected(
                current,
                400,
                current._(
                    "We could not read that form. If you chose files, choose at most %(count)s.",
                    count=rt.settings.max_attachments,
                ),
            ) from exc
        request.state.form = form
        token = form.get("csrf_token")
        if not isinstance(token, str) or not web.csrf_ok(token):
            raise CsrfFailed(current)
    return current


page.csrf_protected = True  # type: ignore[attr-defined]


def page_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for HTML pages; its routes stay out of the OpenAPI document."""
    return APIRouter(include_in_schema=False, default_response_class=HTMLResponse, **kwargs)


def install_page_handlers(app: FastAPI) -> None:
    """A failed CSRF check shows a page (in the visitor's language) and changes nothing."""

    async def on_csrf(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CsrfFailed)
        if exc.page.session.expired:  # idle too long: the answers are gone; say so plainly
            exc.page.session.deleted = True
            return exc.page.render("intake/expired.html", status=400)
        return exc.page.render("errors/form_expired.html", status=400)

    async def on_rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormRejected)
        return exc.page.render("errors/form_rejected.html", status=exc.status, reason=exc.reason)

    app.add_exception_handler(CsrfFailed, on_csrf)
    app.add_exception_handler(FormRejected, on_rejected)
