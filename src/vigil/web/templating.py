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
from collections.abc import Awaitable, Callable
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
from starlette.exceptions import HTTPException
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
        lang = self.lang if self.lang != LANGUAGES[0] else None
        save_session(self.rt, self.request, self.session, response, keep_language=lang)
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
        declared = length.isascii() and length.isdecimal()  # "²" is a digit to isdigit()
        if declared and (len(length) > 18 or int(length) > limit):
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
                max_files=rt.settings.max_attachments + 1,
                max_fields=MAX_FORM_FIELDS,
                max_part_size=rt.settings.max_json_bytes,
            )
        except (MultiPartException, HTTPException) as exc:
            # Starlette turns its MultiPartException into HTTPException(400) before we see it.
            if isinstance(exc, HTTPException) and exc.status_code != 400:
                raise
            raise FormRejected(current, 400, _unreadable(current, exc)) from exc
        request.state.form = form
        token = form.get("csrf_token")
        if not isinstance(token, str) or not web.csrf_ok(token):
            raise CsrfFailed(current)
    return current


page.csrf_protected = True  # type: ignore[attr-defined]

# The most fields one form may post: far more than any page has, few enough to read quickly.
MAX_FORM_FIELDS = 1000


def _unreadable(current: Page, exc: Exception) -> str:
    """Which limit an unreadable form went over, in words (Starlette's message says which)."""
    said = str(getattr(exc, "detail", None) or getattr(exc, "message", None) or exc)
    settings = current.rt.settings
    if said.startswith("Too many files"):
        return current._(
            "You chose more than %(count)s files. Choose %(count)s or fewer and try again.",
            count=settings.max_attachments,
        )
    if said.startswith("Too many fields"):
        return current._(
            "That form had more than %(count)s fields, which is more than we can read.",
            count=MAX_FORM_FIELDS,
        )
    if "exceeded maximum size" in said:
        return current._(
            "One of your answers is too long for us to read: each answer can be up to "
            "%(size)s KB. Make it shorter and try again.",
            size=settings.max_json_bytes // 1024,
        )
    return current._(
        "We could not read that form. If you chose files, choose at most %(count)s.",
        count=settings.max_attachments,
    )


def page_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for HTML pages; its routes stay out of the OpenAPI document."""
    return APIRouter(include_in_schema=False, default_response_class=HTMLResponse, **kwargs)


def idle_span(seconds: int) -> tuple[bool, int]:
    """An idle time as (in whole hours?, number), for plural-aware sentences."""
    if seconds % 3600 == 0:
        return True, seconds // 3600
    return False, max(1, seconds // 60)


def render_expired(p: Page, status: int = 200) -> Response:
    """The answers-deleted page, saying how long the configured idle time is, and forgetting
    the stale cookie."""
    p.session.deleted = True
    hours, num = idle_span(p.rt.settings.form_idle_timeout_s)
    ngettext = translations(p.lang).ngettext
    if hours:
        text = ngettext(
            "Your answers have been deleted because you did not do anything for %(num)d hour. "
            "We do this to protect your information.",
            "Your answers have been deleted because you did not do anything for %(num)d hours. "
            "We do this to protect your information.",
            num,
        )
    else:
        text = ngettext(
            "Your answers have been deleted because you did not do anything for %(num)d minute. "
            "We do this to protect your information.",
            "Your answers have been deleted because you did not do anything for %(num)d minutes. "
            "We do this to protect your information.",
            num,
        )
    return p.render("intake/expired.html", status=status, explanation=text % {"num": num})


# A refused form (a CSRF failure) means something particular on some pages: sending a report
# the browser has already sent, or replying on a follow-up thread after signing out. Those
# pages register here; a handler answers with its own page, or None for the generic one.
ExpiredFormHandler = Callable[[Page], Awaitable[Response | None]]
_expired_form_handlers: dict[str, ExpiredFormHandler] = {}
# Posts to these addresses send a report: the generic page must not say nothing was sent.
SENDING_PATHS: set[str] = set()


def on_expired_form(path: str, handler: ExpiredFormHandler) -> None:
    """Let the page at ``path`` explain a refused form itself (see above)."""
    _expired_form_handlers[path] = handler


def install_page_handlers(app: FastAPI) -> None:
    """A failed CSRF check shows a page (in the visitor's language) and changes nothing."""

    async def on_csrf(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CsrfFailed)
        handler = _expired_form_handlers.get(request.url.path)
        if handler is not None:
            own = await handler(exc.page)
            if own is not None:
                return own
        if exc.page.session.expired:  # idle too long: the answers are gone; say so plainly
            return render_expired(exc.page, status=400)
        sending = request.url.path in SENDING_PATHS
        return exc.page.render("errors/form_expired.html", status=400, sending=sending)

    async def on_rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormRejected)
        return exc.page.render("errors/form_rejected.html", status=exc.status, reason=exc.reason)

    app.add_exception_handler(CsrfFailed, on_csrf)
    app.add_exception_handler(FormRejected, on_rejected)
