"""The session clock in the identity bar: what ``/static/js/session.mjs`` needs to count down.

The server renders "time left" as text, which is all a page without JavaScript gets. For the
script, the identity bar also carries the seconds left until the idle end and the absolute
end, computed here: seconds rather than times, because the browser's clock may be minutes
out while its count from page load is not. The script warns ``warn_seconds`` before the idle
end, offering to stay signed in (a POST that touches the session), and at the end goes to
the sign-in page, which explains why.

The script cannot pick Welsh plural forms from a catalogue, so the plural texts are sent as
one template per CLDR plural category (``one``, ``two``, ``few``…), each made by ``ngettext``
with a number of that category; the browser's ``Intl.PluralRules`` chooses among them by the
same CLDR rules that Babel's catalogues follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
from babel import Locale
from babel.support import NullTranslations
from starlette.responses import Response

from vigil.access import signin
from vigil.db import utcnow
from vigil.web.templating import Page, translations

STATUS = "/staff/session"
KEEP_ALIVE = "/staff/session/keep-alive"

# The warning comes this long before the idle end: five minutes, which WCAG 2.2.1 ("warn
# before time expires and allow at least 20 seconds to extend") easily meets and GOV.UK's
# timeout pattern recommends for a 30-minute timeout. A short idle timeout (tests, kiosks)
# gets a third of it instead, so that there is always a quiet period before the warning.
WARN_BEFORE_S = 300
WARN_FRACTION = 3


def warn_seconds(idle_timeout_s: int) -> int:
    """How long before the idle end the warning appears."""
    return max(1, min(WARN_BEFORE_S, idle_timeout_s // WARN_FRACTION))


def seconds_left(found: signin.SignedIn) -> dict[str, int]:
    """Whole seconds until the idle end and the absolute end (never negative)."""
    now = utcnow()
    return {
        "idle_seconds": max(0, math.floor((found.idle_ends_at - now).total_seconds())),
        "absolute_seconds": max(0, math.floor((found.absolute_ends_at - now).total_seconds())),
    }


Plural = Callable[[NullTranslations, int], str]


def _time_left(catalogue: NullTranslations, num: int) -> str:
    return catalogue.ngettext(
        "Your session ends in %(num)d minute unless you use Vigil.",
        "Your session ends in %(num)d minutes unless you use Vigil.",
        num,
    )


def _warning(catalogue: NullTranslations, num: int) -> str:
    return catalogue.ngettext(
        "You will be signed out in %(num)d minute because you have not done anything.",
        "You will be signed out in %(num)d minutes because you have not done anything.",
        num,
    )


def _idle_ended(catalogue: NullTranslations, num: int) -> str:
    return catalogue.ngettext(
        "You were signed out after %(num)d minute of inactivity. Sign in again to continue.",
        "You were signed out after %(num)d minutes of inactivity. Sign in again to continue.",
        num,
    )


@cache
def plural_templates(lang: str, text: Plural) -> str:
    """JSON ``{category: text}`` with ``%(num)d`` left in for the script to fill."""
    catalogue = translations(lang)
    locale = Locale.parse(lang)
    found: dict[str, str] = {}
    for num in range(0, 200):
        category = str(locale.plural_form(num))
        if category not in found:
            found[category] = text(catalogue, num)
    return orjson.dumps(found).decode()


def time_left_text(p: Page, found: signin.SignedIn) -> str:
    """The identity bar's server-rendered text: minutes until the session ends."""
    num = minutes((found.ends_at - utcnow()).total_seconds())
    return _time_left(translations(p.lang), num) % {"num": num}


def clock(p: Page, found: signin.SignedIn) -> dict[str, Any]:
    """The identity bar's data attributes for the script (names without ``data-``)."""
    lim = signin.limits(p.rt.settings)
    left = seconds_left(found)
    return {
        "session-idle-seconds": left["idle_seconds"],
        "session-absolute-seconds": left["absolute_seconds"],
        "session-warn-seconds": warn_seconds(lim.idle_timeout_s),
        "session-status-url": STATUS,
        "session-keep-alive-url": KEEP_ALIVE,
        "session-idle-url": "/staff/sign-in?ended=idle",
        "session-ended-url": "/staff/sign-in?ended=ended",
        "session-time-left-text": plural_templates(p.lang, _time_left),
        "session-warning-text": plural_templates(p.lang, _warning),
    }


def idle_ended_text(p: Page) -> str:
    """What the sign-in page says after the idle timeout ended a session."""
    num = minutes(signin.limits(p.rt.settings).idle_timeout_s)
    return _idle_ended(translations(p.lang), num) % {"num": num}


def answer(p: Page, found: signin.SignedIn) -> Response:
    """The JSON the script reads: seconds left, with the pages' headers (CSP, no-store)."""
    body = orjson.dumps(seconds_left(found))
    return p.finish(Response(body, media_type="application/json"))


def minutes(seconds: float) -> int:
    """Whole minutes, rounded up, at least one: "ends in 0 minutes" helps nobody."""
    return max(1, math.ceil(seconds / 60))
