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
