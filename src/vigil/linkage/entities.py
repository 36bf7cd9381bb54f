"""What an entity is made of: its exact identifiers, its label, its marking.

Shared by the online matcher's bulk loader and the linking service, so an imported person
and a person from a report are indexed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from vigil.linkage.records import EntityKind, EntityRecord, PersonRecord, person_record


def person_label(record: PersonRecord) -> str:
    name = " ".join(p for p in (record.first_name, record.middle_name, record.last_name) if p)
    born = f" (born {record.date_of_birth})" if record.date_of_birth else ""
    return ((name or record.id) + born)[:300]


# The properties of each kind that are exact identifiers, and the value kind they index as.
IDENTIFIERS: dict[EntityKind, dict[str, str]] = {
    EntityKind.person: {"phone": "phone", "email": "email", "id_number": "id_number"},
    EntityKind.phone: {"number": "phone"},
    EntityKind.email: {"address": "email"},
    EntityKind.vehicle: {"registration": "vrm"},
    EntityKind.online_account: {"handle": "account", "url": "account"},
}


@dataclass(frozen=True, slots=True)
class Marking:
    """Whose a new entity is and how it is marked: always the marking of its source."""

    owning_org_id: int
    owning_team_id: int | None
    classification: str


def normalise_identifier(kind: str, value: str) -> str:
    """The form an identifier is compared in (phones and plates already arrive normalised
    from triage and the importers; this only removes what a person may still vary)."""
    value = value.strip()
    if kind in {"email", "account"}:
        return value.lower()
    if kind in {"vrm", "id_number"}:
        return "".join(ch for ch in value.upper() if ch.isalnum())
    if kind == "phone":
        try:
            number = phonenumbers.parse(value, "GB")
        except phonenumbers.NumberParseException:
            return "".join(ch for ch in value if ch.isdigit() or ch == "+")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return value


def identifiers_of(record: EntityRecord) -> list[tuple[str, str]]:
    wanted = IDENTIFIERS.get(record.kind, {})
    found = []
    for prop, kind in wanted.items():
        for value in record.properties.get(prop, ()):
            norm = normalise_identifier(kind, value)
            if norm:
                found.append((kind, norm))
    return list(dict.fromkeys(found))


def label_of(record: EntityRecord) -> str:
    if record.kind is EntityKind.person:
        return person_label(person_record(record))
    for prop in ("name", "registration", "number", "address", "handle", "url"):
        if value := record.first(prop):
            return value[:300]
    return record.id[:300]


def _tidy(value: str) -> str:
    return " ".join(value.lower().split())


def benign_keys(record: EntityRecord) -> list[tuple[str, str]]:
    """Everything of a record a known-benign list can name: its exact identifiers, and
    for people, organisations and places their name and address (a public figure, a
    landmark's address)."""
    keys = identifiers_of(record)
    if record.kind in (EntityKind.person, EntityKind.organisation):
        if record.kind is EntityKind.person and not record.first("name"):
            person = person_record(record)
            parts = (person.first_name, person.middle_name, person.last_name)
            name = " ".join(p for p in parts if p)
        else:
            name = record.first("name") or ""
        if name.strip():
            keys.append(("name", _tidy(name)))
    address = record.first("address")
    if address and record.kind in (EntityKind.person, EntityKind.location):
        keys.append(("address", _tidy(address)))
    return keys


def is_benign(
    record: EntityRecord, benign: set[tuple[str, str]] | frozenset[tuple[str, str]]
) -> bool:
    """On a known-benign list: its name or address is, or every identifier it has is."""
    if not benign:
        return False
    if any(key in benign for key in benign_keys(record) if key[0] in ("name", "address")):
        return True
    values = identifiers_of(record)
    return bool(values) and all(v in benign for v in values)


def normalise_benign(kind: str, value: str) -> str:
    return _tidy(value) if kind in ("name", "address") else normalise_identifier(kind, value)
