"""Reading and checking each question page of the public journey.

Each ``parse_*`` function takes the posted form and returns the answer to keep, the errors
(GOV.UK error summary and inline messages, in page order), and what the person typed, so
a page with an error is shown again exactly as it was filled in. The rules are the API's
(``schemas``): the same limits, the same postcode, registration, phone and e-mail rules.
Messages are English source strings, translated through the page's ``gettext``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from vigil.intake.journey import KINDS, LONDON, N_, PLATFORMS
from vigil.intake.schemas import EARLIEST_YEAR, normalise_phone, normalise_postcode
from vigil.intake.schemas import normalise_registration as _registration
from vigil.settings import Settings
from vigil.web.said import Gettext
from vigil.web.text import clean_text, visible_length

Form = Mapping[str, Any]

BAD_CHARACTER = N_(
    "This answer contains a character we cannot accept, such as a control character. "
    "Remove it and try again."
)
_TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?(am|pm|a\.m\.|p\.m\.)?$", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*:", re.IGNORECASE)
_BARE_HOST = re.compile(r"^[^\s/:@]+\.[^\s/:@]+(?:[/:?#]\S*)?$")


def whole_number(text: str, digits: int = 9) -> int | None:
    """``text`` as a whole number when it is plain ASCII digits (at most ``digits`` of them),
    else None. ``str.isdigit`` is not enough: it is true of "²", which ``int`` refuses."""
    if not text or len(text) > digits or not (text.isascii() and text.isdecimal()):
        return None
    return int(text)


class FormErrors:
    """Errors of one form, in the order they were found (the order of the page)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        self._error_word = "Error"

    def use_language(self, gettext: Gettext) -> None:
        """Called by Page.render: the hidden "Error:" prefix in the page's language."""
        self._error_word = gettext("Error")

    def add(
        self, name: str, message: str, anchor: str | None = None, *, href: str | None = None
    ) -> None:
        """An error for field ``name``; the summary links to ``#anchor`` (or to ``href``)."""
        if name not in self._items:
            self._items[name] = (message, href or f"#{anchor or name}")

    def __bool__(self) -> bool:
        return bool(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    @property
    def summary(self) -> list[dict[str, str]]:
        """The GOV.UK error summary's list (empty when there are no errors)."""
        return [{"text": text, "href": href} for text, href in self._items.values()]

    def message(self, name: str) -> dict[str, str] | None:
        """The inline error for a field, in the form GOV.UK macros take (with the hidden
        "Error:" prefix translated too)."""
        item = self._items.get(name)
        return {"text": item[0], "visuallyHiddenText": self._error_word} if item else None


@dataclass
class Parsed:
    answer: dict[str, Any]
    errors: FormErrors = field(default_factory=FormErrors)
    values: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class TextField:
    """One free-text answer: its form name, its limit and the message when it is too long."""

    name: str
    max_chars: int
    too_long: str
    line: bool = False


def raw(form: Form, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def read_text(
    form: Form, spec: TextField, parsed: Parsed, _: Gettext, *, name: str | None = None, **kw: Any
) -> str:
    """The cleaned answer ('' when empty); problems go into ``parsed.errors``."""
    name = name or spec.name
    typed = raw(form, name)
    parsed.values[name] = typed
    value = " ".join(typed.split("\n")) if spec.line else typed
    try:
        value = clean_text(value)
    except ValueError:
        parsed.errors.add(name, _(BAD_CHARACTER))
        return value.strip()
    if len(value) > spec.max_chars:
        parsed.errors.add(name, _(spec.too_long, max=format(spec.max_chars, ","), **kw))
    return value


def _choice(form: Form, name: str, allowed: Mapping[str, Any] | set[str], parsed: Parsed) -> str:
    value = form.get(name)
    chosen = value if isinstance(value, str) and value in allowed else ""
    parsed.values[name] = chosen
    return chosen


def _described(
    form: Form, parsed: Parsed, _: Gettext, *, missing: str, too_short: str, too_long: str
) -> str:
    spec = TextField("description", 20_000, too_long)
    text = read_text(form, spec, parsed, _)
    if "description" in parsed.errors:
        return text
    if not text:
        parsed.errors.add("description", _(missing))
    elif visible_length(text) < 10:  # as the API counts: invisible characters do not show
        parsed.errors.add("description", _(too_short))
    return text


# --- pages ---------------------------------------------------------------------------------


def parse_what(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    kind = _choice(form, "kind", KINDS, parsed)
    if not kind:
        parsed.errors.add("kind", _("Select what your report is about"))
    description = _described(
        form,
        parsed,
        _,
        missing=N_("Describe what you saw or heard"),
        too_short=N_("Description must be 10 characters or more"),
        too_long=N_("Description must be %(max)s characters or fewer"),
    )
    parsed.answer = {"kind": kind, "description": description}
    return parsed


def parse_shows(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    description = _described(
        form,
        parsed,
        _,
        missing=N_("Describe what the material shows"),
        too_short=N_("Description must be 10 characters or more"),
        too_long=N_("Description must be %(max)s characters or fewer"),
    )
    parsed.answer = {"description": description}
    return parsed


def parse_time(value: str) -> tuple[str | None, str | None]:
    """('HH:MM', None) for a real time, or (None, error) — 14:30, 14.30, 2:30pm and 2pm."""
    match = _TIME.match(value.replace(" ", "").lower())
    if not match or (match.group(2) is None and match.group(3) is None):
        return None, N_("Enter the time in hours and minutes, like 14:30")
    hours, minutes, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half:
        if not 1 <= hours <= 12:
            return None, N_("Enter a real time, like 14:30")
        hours = hours % 12 + (12 if half.startswith("p") else 0)
    if hours > 23 or minutes > 59:
        return None, N_("Enter a real time, like 14:30")
    return f"{hours:02d}:{minutes:02d}", None


def _date_error(day: str, month: str, year: str) -> tuple[str, set[str]] | None:
    parts = {"day": day, "month": month, "year": year}
    missing = [name for name, value in parts.items() if not value]
    if len(missing) == 3:
        return N_("Enter the date it happened"), set(parts)
    if missing:
        message = {
            "day": N_("The date must include a day"),
            "month": N_("The date must include a month"),
            "year": N_("The date must include a year"),
        }[missing[0]]
        return message, set(missing)
    not_numbers = {name for name, value in parts.items() if whole_number(value) is None}
    if not_numbers:
        return N_("The date must be a real date"), not_numbers
    if len(year) != 4:
        return N_("The year must include 4 numbers"), {"year"}
    try:
        given = date(int(year), int(month), int(day))
    except ValueError:
        return N_("The date must be a real date"), set(parts)
    if given > datetime.now(LONDON).date():
        return N_("The date must be today or in the past"), set(parts)
    if given.year < EARLIEST_YEAR:  # the API's bound too, so the check page never refuses it
        return N_("The year must be %(year)s or later"), {"year"}
    return None


def parse_when(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    choice = _choice(form, "when", {"now", "date", "unsure"}, parsed)
    spec = TextField(
        "description",
        500,
        N_("Description of when it happened must be %(max)s characters or fewer"),
    )
    parsed.answer = {"choice": choice, "description": read_text(form, spec, parsed, _)}
    return parsed


def parse_when_date(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    day, month, year, clock_time = (
        raw(form, n).strip() for n in ("date-day", "date-month", "date-year", "time")
    )
    parsed.values.update({"date-day": day, "date-month": month, "date-year": year})
    parsed.values["time"] = clock_time
    problem = _date_error(day, month, year)
    if problem:
        message, parts = problem
        first = next(n for n in ("day", "month", "year") if n in parts)
        parsed.errors.add("date", _(message, year=EARLIEST_YEAR), anchor=f"date-{first}")
        parsed.flags |= {f"date-{n}" for n in parts}
    normalised = None
    if clock_time:
        normalised, time_error = parse_time(clock_time)
        if time_error:
            parsed.errors.add("time", _(time_error))
    parsed.answer = {
        "day": day.lstrip("0"),
        "month": month.lstrip("0"),
        "year": year,
        "time": normalised or "",
    }
    return parsed


def parse_where(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    address = read_text(
        form,
        TextField("address", 500, N_("Address must be %(max)s characters or fewer")),
        parsed,
        _,
    )
    postcode = read_text(
        form,
        TextField("postcode", 10, N_("Enter a full UK postcode, like SW1A 1AA"), line=True),
        parsed,
        _,
    )
    if postcode and "postcode" not in parsed.errors:
        try:
            postcode = normalise_postcode(postcode)
        except ValueError:
            parsed.errors.add("postcode", _("Enter a full UK postcode, like SW1A 1AA"))
    description = read_text(
        form,
        TextField(
            "description", 2000, N_("Description of the place must be %(max)s characters or fewer")
        ),
        parsed,
        _,
    )
    parsed.answer = {"address": address, "postcode": postcode, "description": description}
    return parsed


PERSON_FIELDS = (
    TextField("name", 200, N_("Name must be %(max)s characters or fewer"), line=True),
    TextField("age", 50, N_("Age must be %(max)s characters or fewer"), line=True),
    TextField("appearance", 1000, N_("What they look like must be %(max)s characters or fewer")),
    TextField("clothing", 1000, N_("What they were wearing must be %(max)s characters or fewer")),
    TextField("behaviour", 2000, N_("What they were doing must be %(max)s characters or fewer")),
)
VEHICLE_FIELDS = (
    TextField(
        "registration",
        20,
        N_("Enter the registration number in the right format, like AB12 CDE"),
        line=True,
    ),
    TextField("make", 100, N_("Make must be %(max)s characters or fewer"), line=True),
    TextField("model", 100, N_("Model must be %(max)s characters or fewer"), line=True),
    TextField("colour", 50, N_("Colour must be %(max)s characters or fewer"), line=True),
)


def parse_person(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    parsed.answer = {spec.name: read_text(form, spec, parsed, _) for spec in PERSON_FIELDS}
    if not parsed.errors and not any(parsed.answer.values()):
        parsed.errors.add("name", _("Tell us at least one thing about this person"))
    return parsed


def parse_vehicle(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    parsed.answer = {spec.name: read_text(form, spec, parsed, _) for spec in VEHICLE_FIELDS}
    registration = parsed.answer["registration"]
    if registration and "registration" not in parsed.errors:
        try:
            parsed.answer["registration"] = _registration(registration)
        except ValueError:
            parsed.errors.add(
                "registration",
                _("Enter the registration number in the right format, like AB12 CDE"),
            )
    if not parsed.errors and not any(parsed.answer.values()):
        parsed.errors.add("registration", _("Tell us at least one thing about this vehicle"))
    return parsed


def normalise_url(value: str) -> str | None:
    """An http(s) web address, adding https:// to a bare 'example.org/page'; None if not one."""
    if not _SCHEME.match(value) and _BARE_HOST.match(value):
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or " " in value:
        return None
    return value


def link_rows(form: Form, settings: Settings) -> int:
    """How many link rows the posted form had (at most the online-items limit)."""
    posted = raw(form, "rows")
    count = whole_number(posted) or 1
    return max(1, min(count, settings.max_online))


def parse_links(
    form: Form, _: Gettext, settings: Settings, *, with_where: bool, required: bool
) -> Parsed:
    parsed = Parsed({})
    rows = link_rows(form, settings)
    parsed.values["rows"] = str(rows)
    items: list[dict[str, str]] = []
    url_spec = TextField("url", 2048, N_("Web address %(n)s must be %(max)s characters or fewer"))
    where_spec = TextField(
        "where", 200, N_("Where you saw link %(n)s must be %(max)s characters or fewer"), line=True
    )
    for n in range(1, rows + 1):
        url = read_text(form, url_spec, parsed, _, name=f"url-{n}", n=n)
        where = read_text(form, where_spec, parsed, _, name=f"where-{n}", n=n) if with_where else ""
        if f"url-{n}" in parsed.errors:
            continue
        if not url:
            if where:
                parsed.errors.add(f"url-{n}", _("Enter web address %(n)s", n=n))
            continue
        normalised = normalise_url(url)
        if normalised is None:
            parsed.errors.add(
                f"url-{n}",
                _(
                    "Enter web address %(n)s in the correct format, like https://www.example.org/page",
                    n=n,
                ),
            )
        elif all(item["url"] != normalised for item in items):
            items.append({"url": normalised, "where_seen": where})
    if required and not items and not parsed.errors:
        parsed.errors.add("url-1", _("Enter the web address of the material"))
    parsed.answer = {"items": items}
    return parsed


def parse_platform(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    platform = _choice(form, "platform", PLATFORMS, parsed)
    spec = TextField(
        "name",
        150,
        N_("The name of the site or app must be %(max)s characters or fewer"),
        line=True,
    )
    parsed.answer = {"platform": platform, "name": read_text(form, spec, parsed, _)}
    return parsed


CONTACT_FIELDS = (
    TextField("name", 200, N_("Name must be %(max)s characters or fewer"), line=True),
    TextField("phone", 40, N_("Enter a phone number, like 07700 900 982"), line=True),
    TextField(
        "email",
        320,
        N_("Enter an email address in the correct format, like name@example.org"),
        line=True,
    ),
    TextField(
        "contact_preference",
        500,
        N_("How and when to contact you must be %(max)s characters or fewer"),
    ),
)


def parse_about(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    parsed.answer = {"choice": _choice(form, "choice", {"anonymous", "contact"}, parsed)}
    return parsed


def parse_contact(form: Form, _: Gettext, settings: Settings) -> Parsed:
    parsed = Parsed({})
    given = {spec.name: read_text(form, spec, parsed, _) for spec in CONTACT_FIELDS}
    if given["phone"] and "phone" not in parsed.errors:
        try:
            normalise_phone(given["phone"])
        except ValueError:
            parsed.errors.add("phone", _("Enter a phone number, like 07700 900 982"))
    if given["email"] and "email" not in parsed.errors:
        try:
            validate_email(given["email"], check_deliverability=False)
        except EmailNotValidError:
            parsed.errors.add(
                "email", _("Enter an email address in the correct format, like name@example.org")
            )
    if not given["phone"] and not given["email"] and not parsed.errors:
        parsed.errors.add(
            "phone",
            _("Enter a phone number or email address, or go back and choose to stay anonymous"),
        )
    parsed.answer = given
    return parsed


def parse_yes_no(form: Form, name: str = "add") -> str:
    value = form.get(name)
    return value if value in ("yes", "no") else ""
