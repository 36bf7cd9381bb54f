"""The public report's JSON shape, its validation rules and the API's answers.

Field names are fixed by the published API. Every string is NFC-normalised and refused if it
carries control characters or text-direction overrides; every size and count has an explicit
limit (the count limits come from settings and are checked in the service, which knows them).
The website turns its answers into the same ``ReportIn``, so a rule here holds there too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticKnownError

from vigil.triage.schemas import TriageOut
from vigil.web.said import said
from vigil.web.text import Line, Text, visible_length

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})$")
_VRM = re.compile(r"^[A-Z0-9]{2,10}$")


def _at_least_visible(minimum: int) -> AfterValidator:
    """A minimum length counted in characters that show, refused in pydantic's own words."""

    def check(value: str) -> str:
        shown = visible_length(value)
        if shown < minimum:
            raise PydanticKnownError(
                "too_short", {"field_type": "Value", "min_length": minimum, "actual_length": shown}
            )
        return value

    return AfterValidator(check)


def normalise_postcode(value: str) -> str:
    match = _POSTCODE.match(value.upper().strip())
    if not match:
        raise ValueError(said("is not a UK postcode, for example SW1A 1AA"))
    return f"{match.group(1)} {match.group(2)}"


def normalise_registration(value: str) -> str:
    compact = re.sub(r"[\s\-]", "", value).upper()
    if not _VRM.match(compact):
        raise ValueError(said("must be 2 to 10 letters and digits, for example AB12 CDE"))
    return compact


def normalise_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(said("is not a phone number")) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError(said("is not a possible phone number"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


LONDON = ZoneInfo("Europe/London")
EARLIEST_YEAR = 1900


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in_the_past(value: datetime | None) -> datetime | None:
    """A moment that can have been seen: from 1900 to the end of today in the UK, as the
    website's date question allows (a time later today is allowed there too). The year is
    checked before any conversion, which would overflow at year 1 or 9999."""
    if value is None:
        return None
    if value.year < EARLIEST_YEAR:
        raise ValueError(said("must not be before %(year)s", year=EARLIEST_YEAR))
    today = datetime.now(LONDON).date()
    if value.year > today.year + 1:
        raise ValueError(said("must be today or in the past"))
    moment = _aware(value)
    end_of_today = datetime.combine(today + timedelta(days=1), time.min, LONDON)
    if moment is not None and moment >= end_of_today:
        raise ValueError(said("must be today or in the past"))
    return moment


class ReportKind(StrEnum):
    behaviour = "behaviour"
    item = "item"
    vehicle = "vehicle"
    purchase = "purchase"
    threat = "threat"
    online = "online"
    other = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=20_000)


class When(_Strict):
    start: datetime | None = None
    end: datetime | None = None
    ongoing: bool = False
    unsure: bool = False
    description: Annotated[Text | None, Field(max_length=500)] = None

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _in_the_past(value)

    @model_validator(mode="after")
    def _ordered(self) -> When:
        if self.start and self.end and self.end < self.start:
            raise ValueError(said("end must not be before start"))
        if self.end and not self.start:
            raise ValueError(said("end needs a start"))
        if self.start and self.ongoing and self.unsure:
            # the website asks one question: happening now, a date, or not sure
            raise ValueError(said("ongoing and unsure cannot both be true when a start is given"))
        return self


class Where(_Strict):
    description: Annotated[Text | None, Field(max_length=2000)] = None
    address: Annotated[Text | None, Field(max_length=500)] = None
    postcode: Annotated[Line | None, Field(max_length=10)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str | None) -> str | None:
        return normalise_postcode(value) if value else None

    @model_validator(mode="after")
    def _both_coordinates(self) -> Where:
        if (self.lat is None) != (self.lon is None):
            raise ValueError(said("lat and lon go together"))
        return self


class Person(_Strict):
    name: Annotated[Line | None, Field(max_length=200)] = None
    age: Annotated[Line | None, Field(max_length=50)] = None
    appearance: Annotated[Text | None, Field(max_length=1000)] = None
    clothing: Annotated[Text | None, Field(max_length=1000)] = None
    behaviour: Annotated[Text | None, Field(max_length=2000)] = None

    @model_validator(mode="after")
    def _something(self) -> Person:
        if not (self.name or self.age or self.appearance or self.clothing or self.behaviour):
            raise ValueError(said("Tell us at least one thing about this person"))
        return self


class Vehicle(_Strict):
    registration: Annotated[Line | None, Field(max_length=20)] = None
    make: Annotated[Line | None, Field(max_length=100)] = None
    model: Annotated[Line | None, Field(max_length=100)] = None
    colour: Annotated[Line | None, Field(max_length=50)] = None

    @field_validator("registration")
    @classmethod
    def _registration(cls, value: str | None) -> str | None:
        if value:
            normalise_registration(value)
        return value or None

    @model_validator(mode="after")
    def _something(self) -> Vehicle:
        if not (self.registration or self.make or self.model or self.colour):
            raise ValueError(said("Tell us at least one thing about this vehicle"))
        return self

    @property
    def registration_normalised(self) -> str | None:
        return normalise_registration(self.registration) if self.registration else None


class Online(_Strict):
    url: Annotated[Line, Field(max_length=2048)]
    where_seen: Annotated[Line | None, Field(max_length=200)] = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
            raise ValueError(said("must be a web address starting http:// or https://"))
        return value


class Reporter(_Strict):
    anonymous: bool = True
    name: Annotated[Line | None, Field(max_length=200)] = None
    phone: Annotated[Line | None, Field(max_length=40)] = None
    email: Annotated[Line | None, Field(max_length=320)] = None
    contact_preference: Annotated[Text | None, Field(max_length=500)] = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(said("is not an e-mail address: %(why)s", why=str(exc))) from exc

    @model_validator(mode="after")
    def _consistent(self) -> Reporter:
        given = [self.name, self.phone, self.email, self.contact_preference]
        if self.anonymous and any(given):
            raise ValueError(said("an anonymous reporter cannot give contact details"))
        if not self.anonymous and not (self.phone or self.email):
            # as the website: a name alone is no way to reach someone
            raise ValueError(said("give a phone number or e-mail address, or stay anonymous"))
        return self


class ReportIn(_Strict):
    kind: ReportKind
    description: Annotated[Text, Field(min_length=10, max_length=20_000), _at_least_visible(10)]
    when: When | None = None
    where: Where | None = None
    people: list[Person] = Field(default_factory=list)
    vehicles: list[Vehicle] = Field(default_factory=list)
    online: list[Online] = Field(default_factory=list)
    reporter: Reporter | None = None


class FollowupIn(_Strict):
    code: Annotated[Line, Field(min_length=16, max_length=64)]
    text: Annotated[Text | None, Field(max_length=20_000)] = None


class ReportAccepted(BaseModel):
    reference: str
    followup_code: str
    received_at: datetime


class FollowupAccepted(BaseModel):
    reference: str
    followup_id: int
    received_at: datetime
    attachments: int


class AttachmentOut(BaseModel):
    id: int
    filename: str | None
    media_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    has_display_copy: bool


class ReportOut(BaseModel):
    """What staff see. Reporter identity is never part of it.

    A role shown only some fields (``vigil.access.fields``) gets null for the others, and
    their names in ``withheld``.
    """

    reference: str
    received_at: datetime
    channel: str | None
    kind: ReportKind
    description: str | None
    anonymous: bool | None
    when: When | None
    where: Where | None
    people: list[Person] | None
    vehicles: list[Vehicle] | None
    online: list[Online] | None
    attachments: list[AttachmentOut] | None
    followups: int | None
    triage: TriageOut | None = Field(
        None, description="On a single report: priority, categories, items, cluster, history"
    )
    withheld: list[str] = Field(
        default_factory=list, description="Fields your role is not shown (null above)"
    )


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None
