"""The shapes records take on their way into and out of the entity store.

Import formats (CSV, FollowTheMoney), the batch matcher and the online matcher all speak
these plain records, so that no format leaks into the store and no store detail leaks into
a file. Values are kept as the source wrote them; normalisation for matching happens in
``vigil.linkage.matching`` and never changes what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

PERSON_COLUMNS: tuple[str, ...] = (
    "id",
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "address",
    "postcode",
    "town",
    "phone",
    "email",
    "id_number",
)
"""The documented person CSV header, in order (the issue's format)."""

PERSON_FIELDS: tuple[str, ...] = PERSON_COLUMNS[1:]


class EntityKind(StrEnum):
    person = "person"
    vehicle = "vehicle"
    phone = "phone"
    email = "email"
    online_account = "online_account"
    location = "location"
    organisation = "organisation"


ENTITY_PROPERTIES: dict[EntityKind, tuple[str, ...]] = {
    EntityKind.person: ("name", *PERSON_FIELDS),
    EntityKind.vehicle: ("registration", "make", "model", "colour"),
    EntityKind.phone: ("number",),
    EntityKind.email: ("address",),
    EntityKind.online_account: ("platform", "handle", "url"),
    EntityKind.location: ("address", "postcode", "town", "latitude", "longitude"),
    EntityKind.organisation: ("name",),
}
"""Every property an entity kind may carry; anything else is refused at import."""

MATCHABLE: dict[EntityKind, frozenset[str]] = {
    EntityKind.person: frozenset(PERSON_FIELDS) | {"name"},  # the model's columns + ids
    EntityKind.vehicle: frozenset({"registration"}),
    EntityKind.phone: frozenset({"number"}),
    EntityKind.email: frozenset({"address"}),
    EntityKind.online_account: frozenset({"handle", "url"}),
    EntityKind.location: frozenset(),
    EntityKind.organisation: frozenset(),
}
"""Which properties matching uses; the rest (make, colour, platform, coordinates…) are kept
for people to read and never raise a match on their own."""

PROTECTED_PROPERTIES = frozenset(
    {
        "nationality",
        "citizenship",
        "religion",
        "ethnicity",
        "political",
        "politics",
        "health",
        "gender",
        "sexuality",
    }
)
"""Protected characteristics: never stored as matchable and never a signal (principle 3).

Importers drop them and count what they dropped, so the person importing sees that their
file carried them and nothing silently disappears.
"""


class SubjectStatus(StrEnum):
    open = "open"
    closed = "closed"
    never = "never"  # assessed and found never to have been a subject of interest


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One row of the documented person CSV; every field but ``id`` may be empty."""

    id: str
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    date_of_birth: str | None = None
    address: str | None = None
    postcode: str | None = None
    town: str | None = None
    phone: str | None = None
    email: str | None = None
    id_number: str | None = None


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """The subject an imported record belongs to, when the file says so."""

    ref: str
    status: SubjectStatus = SubjectStatus.open
    name: str | None = None
    team: str | None = None
    marking: str | None = None


@dataclass(frozen=True, slots=True)
class EntityRecord:
    """Any entity kind as a source presents it: typed, possibly multi-valued properties."""

    kind: EntityKind
    id: str
    properties: Mapping[str, tuple[str, ...]]
    subject: SubjectRef | None = None
    related: tuple[str, ...] = field(default=())  # ids of records this one is tied to

    def first(self, name: str) -> str | None:
        values = self.properties.get(name, ())
        return values[0] if values else None


def person_entity(record: PersonRecord, subject: SubjectRef | None = None) -> EntityRecord:
    props = {
        name: (value,)
        for name in PERSON_FIELDS
        if (value := getattr(record, name)) is not None and value != ""
    }
    return EntityRecord(EntityKind.person, record.id, props, subject)


def person_record(entity: EntityRecord) -> PersonRecord:
    """The person CSV row for an entity: the first value of each field."""
    if entity.kind is not EntityKind.person:
        raise ValueError(f"{entity.id} is a {entity.kind}, not a person")
    values = {name: entity.first(name) for name in PERSON_FIELDS}
    if not values["first_name"] and not values["last_name"] and (full := entity.first("name")):
        parts = full.split()
        values["first_name"] = parts[0]
        values["last_name"] = parts[-1] if len(parts) > 1 else None
        values["middle_name"] = " ".join(parts[1:-1]) or None
    return PersonRecord(id=entity.id, **values)
