"""What an entity is made of: its exact identifiers, its label, its marking.

Shared by the online matcher's bulk loader and the linking service, so an imported person
and a person from a report are indexed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    """Nothing of it is left to match on once its known-benign values are put aside.

    A name on the list (a public figure) or a place's address (a landmark) is the whole
    entity; so is an entity whose every identifier is on the list and that has nothing else
    matching uses (the force's control-room number on its own). A person with a benign
    phone or address but their own name, date of birth or postcode is *not* benign: only
    the benign value is put aside (:func:`without_benign`), and the rest still matches, so
    a closed subject who gives the control-room number is still found.
    """
    if not benign:
        return False
    listed = [key for key in benign_keys(record) if key in benign]
    if not listed:
        return False
    if any(kind == "name" for kind, _ in listed):
        return True
    if record.kind is not EntityKind.person and any(kind == "address" for kind, _ in listed):
        return True
    return not still_matchable(record, benign)


def still_matchable(
    record: EntityRecord, benign: set[tuple[str, str]] | frozenset[tuple[str, str]]
) -> bool:
    """Whether something matching uses remains when the benign values are put aside: an
    identifier not on the list or, for a person, their name, date of birth or where they
    live (an address only when it is not itself on the list)."""
    if any(value not in benign for value in identifiers_of(record)):
        return True
    if record.kind is not EntityKind.person:
        return False
    for prop in _PERSON_DETAILS:
        for value in record.properties.get(prop, ()):
            if value.strip() and (prop != "address" or ("address", _tidy(value)) not in benign):
                return True
    return False


# What a person is matched on besides their exact identifiers.
_PERSON_DETAILS = (
    "name",
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "address",
    "postcode",
    "town",
)


def benign_properties(
    record: EntityRecord, benign: set[tuple[str, str]] | frozenset[tuple[str, str]]
) -> dict[str, tuple[str, ...]]:
    """The record's values that are on a known-benign list, by property (for a person: a
    phone, e-mail or id number, or an address), as the record gives them."""
    found: dict[str, tuple[str, ...]] = {}
    if not benign:
        return found
    for prop, kind in IDENTIFIERS.get(record.kind, {}).items():
        listed = tuple(
            value
            for value in record.properties.get(prop, ())
            if (kind, normalise_identifier(kind, value)) in benign
        )
        if listed:
            found[prop] = listed
    if record.kind is EntityKind.person:
        addresses = tuple(
            a for a in record.properties.get("address", ()) if ("address", _tidy(a)) in benign
        )
        if addresses:
            found["address"] = addresses
    return found


def without_benign(
    record: EntityRecord, benign: set[tuple[str, str]] | frozenset[tuple[str, str]]
) -> EntityRecord:
    """The record with its known-benign values put aside: what matching (exact identifiers
    and the model's comparisons) may use of it. A benign value is a signal of nothing, so
    it must not count as agreement with another record that has it too."""
    listed = benign_properties(record, benign)
    if not listed:
        return record
    kept = {
        prop: tuple(v for v in values if v not in listed.get(prop, ()))
        for prop, values in record.properties.items()
    }
    return replace(record, properties={k: v for k, v in kept.items() if v})


def normalise_benign(kind: str, value: str, *, strict: bool = False) -> str:
    """The value as entities of that kind are compared (:func:`normalise_identifier`,
    :func:`benign_keys`), so a listed value meets the same value wherever it appears.

    ``strict`` (a person adding to the list) raises ``ValueError``, its message marked for
    translation, when the value is no valid identifier of its kind: stored as an empty or
    mangled string it would never meet anything, and the person adding it would believe the
    noise suppressed. Phones and e-mail addresses are checked as the person import checks
    them; a registration mark must be 2 to 10 letters and digits with at least one of each
    (no UK mark is letters or digits alone, and foreign marks fit too); an account or id
    number must keep something after normalising, and an account has no spaces. Without
    ``strict`` (values already held, such as a reporter's own details) nothing is refused.
    """
    if kind in ("name", "address"):
        return _tidy(value)  # never empty from the API, which refuses a blank value
    if not strict:
        return normalise_identifier(kind, value)
    from vigil.linkage.formats import BadValue, normalise_email, normalise_phone
    from vigil.web.said import said

    try:
        if kind == "phone":
            value = normalise_phone(value.strip())
        elif kind == "email":
            value = normalise_email(value.strip())
    except BadValue:
        refusal = {
            "phone": said("is not a phone number"),
            "email": said("is not an e-mail address, for example jo@example.org"),
        }[kind]
        raise ValueError(refusal) from None
    found = normalise_identifier(kind, value)
    if kind == "vrm" and not (
        2 <= len(found) <= 10
        and any(ch.isalpha() for ch in found)
        and any(ch.isdigit() for ch in found)
    ):
        raise ValueError(said("is not a registration mark, for example AB12 CDE"))
    if kind == "account" and (not found or any(ch.isspace() for ch in found)):
        raise ValueError(said("is not an account name or web address"))
    if kind == "id_number" and not found:
        raise ValueError(said("is not an identity number: it has no letters or digits"))
    return found
