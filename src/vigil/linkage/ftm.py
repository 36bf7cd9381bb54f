"""FollowTheMoney JSON lines in and out: the format Aleph and OpenSanctions exchange.

Partners and open sources already publish people, companies, vehicles and addresses as
FollowTheMoney (FtM) entities, one JSON object per line. Reading them into Vigil's plain
records (``vigil.linkage.records``) lets those lists be linked like any other source, and
writing them lets Vigil's known entities go back to the same tools.

The FtM model itself (the ``followthemoney`` package) decides which schema and property
names exist, so a misspelt schema or property is an error on its line rather than a silent
loss. FtM carries far more than Vigil stores; what Vigil has no place for is counted in
``ImportBatch.dropped`` by property name, and protected characteristics (nationality,
religion, ...) are always dropped, because they are never a signal (principle 3).

FtM ties things together with relationship entities (Associate, Family, Ownership,
UnknownLink, ...) and with entity-valued properties (a vehicle's ``owner``). Both become the
``related`` ids of the records they tie, in both directions; on export every tie is written
back as one UnknownLink. What FtM cannot say (a person's postcode, a vehicle's colour, the
subject a person belongs to) travels in a documented ``"vigil"`` object on the entity line,
which other FtM tools keep or ignore.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
from followthemoney import model
from followthemoney.property import Property
from followthemoney.schema import Schema

from vigil.linkage.formats import (
    MAX_ERRORS,
    SUBJECT_COLUMNS,
    BadValue,
    ImportBatch,
    check_id,
    make_subject,
    normalise_property,
    subject_values,
)
from vigil.linkage.records import (
    ENTITY_PROPERTIES,
    PROTECTED_PROPERTIES,
    EntityKind,
    EntityRecord,
    SubjectRef,
)

MAX_LINE_CHARS = 1_000_000
"""Longest entity line read; a longer one is refused rather than held in memory."""

KIND_OF_SCHEMA: dict[str, EntityKind] = {
    "Person": EntityKind.person,
    "Organization": EntityKind.organisation,
    "Company": EntityKind.organisation,
    "LegalEntity": EntityKind.organisation,
    "PublicBody": EntityKind.organisation,
    "Vehicle": EntityKind.vehicle,
    "Address": EntityKind.location,
    "UserAccount": EntityKind.online_account,
}
"""FtM schemata stored as Vigil entities; other valid schemata only tie entities together."""

SCHEMA_OF_KIND: dict[EntityKind, str] = {
    EntityKind.person: "Person",
    EntityKind.organisation: "Organization",
    EntityKind.vehicle: "Vehicle",
    EntityKind.location: "Address",
    EntityKind.online_account: "UserAccount",
}
"""The FtM schema each kind is exported as. FtM has no schema for a bare phone number or
e-mail address (they are properties of a person or company), so those kinds are not here."""

FTM_KINDS = frozenset(SCHEMA_OF_KIND)

_NAMES = {"name": "name", "alias": "name", "previousName": "name"}
PROPERTY_MAP: dict[EntityKind, dict[str, str]] = {
    EntityKind.person: {
        **_NAMES,
        "firstName": "first_name",
        "middleName": "middle_name",
        "lastName": "last_name",
        "secondName": "last_name",
        "birthDate": "date_of_birth",
        "address": "address",
        "phone": "phone",
        "email": "email",
        "idNumber": "id_number",
        "passportNumber": "id_number",
        "socialSecurityNumber": "id_number",
    },
    EntityKind.organisation: dict(_NAMES),
    EntityKind.vehicle: {"registrationNumber": "registration", "model": "model"},
    EntityKind.location: {
        "full": "address",
        "street": "address",
        "postalCode": "postcode",
        "city": "town",
        "latitude": "latitude",
        "longitude": "longitude",
    },
    EntityKind.online_account: {"service": "platform", "username": "handle"},
}
"""FtM property → Vigil property, per kind. Several FtM properties may feed one Vigil one;
the first listed is the one written on export."""

EXPORT_MAP: dict[EntityKind, dict[str, str]] = {
    kind: {vigil: ftm for ftm, vigil in reversed(mapping.items())}
    for kind, mapping in PROPERTY_MAP.items()
}
"""Vigil property → FtM property; the rest go in the ``"vigil"`` extension's properties."""

_IDENTITY_DOCUMENTS = {"Identification": ("number",), "Passport": ("number", "passportNumber")}
_NAME_FROM_PARTS = "name_from_parts"
_EXTENSION_KEYS = frozenset({*SUBJECT_COLUMNS, "properties", _NAME_FROM_PARTS})
_NAME_PARTS = ("first_name", "middle_name", "last_name")
_TIE = "UnknownLink"
_STORED_SCHEMATA = [model[name] for name in KIND_OF_SCHEMA]


@dataclass
class _Draft:
    """A record being read: ties and identity documents may arrive on later lines."""

    kind: EntityKind
    id: str
    properties: dict[str, list[str]] = field(default_factory=dict)
    subject: SubjectRef | None = None

    def add(self, name: str, value: str) -> None:
        values = self.properties.setdefault(name, [])
        if value not in values:
            values.append(value)

    def record(self, related: Iterable[str]) -> EntityRecord:
        props = {name: tuple(values) for name, values in self.properties.items() if values}
        return EntityRecord(self.kind, self.id, props, self.subject, tuple(related))


@dataclass
class _Reading:
    batch: ImportBatch
    drafts: dict[str, _Draft] = field(default_factory=dict)
    line_of: dict[str, int] = field(default_factory=dict)
    others: set[str] = field(default_factory=set)  # ids of valid entities Vigil does not store
    # (what made the tie: "schema:Associate" or a property name, the ids it ties)
    ties: list[tuple[str, list[str]]] = field(default_factory=list)
    # (line, schema name, holder ids, identity numbers) of Identification and Passport
    documents: list[tuple[int, str, list[str], list[str]]] = field(default_factory=list)


def _links_to_stored(prop: Property) -> bool:
    """Whether an entity-valued property can point at something Vigil stores."""
    target = prop.range
    if prop.type.name != "entity" or prop.stub or target is None:
        return False
    return any(schema.is_a(target) or target.is_a(schema) for schema in _STORED_SCHEMATA)


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def read_ftm(stream: TextIO, *, max_rows: int = 2_000_000) -> ImportBatch:
    """Read FtM JSON lines (one entity per line, as Aleph and OpenSanctions export them).

    Errors name the line number and the FtM property at fault. Blank lines are skipped;
    reading stops after ``max_rows`` entities or MAX_ERRORS errors (both are errors).
    Records come back in file order with ``related`` sorted.
    """
    reading = _Reading(ImportBatch())
    batch = reading.batch
    line_no = taken = 0
    while not batch.full:
        line_no += 1
        try:
            line = stream.readline(MAX_LINE_CHARS + 1)
        except UnicodeDecodeError:
            batch.fail(line_no, None, "the file is not UTF-8 text from here")
            break
        if not line:
            break
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            batch.fail(line_no, None, f"the line is longer than {MAX_LINE_CHARS:,} characters")
            break
        if line_no == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        taken += 1
        if taken > max_rows:
            batch.fail(line_no, None, f"the file has more than {max_rows:,} entities, the limit")
            break
        _read_line(line_no, line, reading)
    if batch.full:
        batch.fail(line_no, None, f"stopped reading after {MAX_ERRORS} errors")
    _finish(reading)
    return batch


def _read_line(line_no: int, line: str, reading: _Reading) -> None:
    batch = reading.batch
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        batch.fail(line_no, None, f"the line is not valid JSON ({exc})")
        return
    if not isinstance(data, dict):
        batch.fail(line_no, None, "the line is not a JSON object with id, schema and properties")
        return
    entity_id = _entity_id(line_no, data.get("id"), reading)
    schema = _schema(line_no, data.get("schema"), batch)
    properties = data.get("properties", {})
    if not isinstance(properties, dict):
        batch.fail(line_no, "properties", "properties: must be an object of property lists")
        return
    if entity_id is None or schema is None:
        return
    kind = KIND_OF_SCHEMA.get(schema.name)
    if kind is None:
        if "vigil" in data:
            batch.fail(line_no, "vigil", f"vigil: {schema.name} entities are not stored")
        _read_tie(line_no, entity_id, schema, properties, reading)
    else:
        _read_entity(line_no, entity_id, kind, schema, properties, data.get("vigil"), reading)


def _entity_id(line_no: int, raw: Any, reading: _Reading) -> str | None:
    batch = reading.batch
    if not isinstance(raw, str):
        batch.fail(line_no, "id", "id: every entity needs a string id")
        return None
    try:
        entity_id = check_id(raw)
    except BadValue as exc:
        batch.fail(line_no, "id", f"id: {exc}")
        return None
    if entity_id in reading.line_of:
        earlier = reading.line_of[entity_id]
        batch.fail(line_no, "id", f"id: {entity_id!r} is already used on line {earlier}")
        return None
    reading.line_of[entity_id] = line_no
    return entity_id


def _schema(line_no: int, raw: Any, batch: ImportBatch) -> Schema | None:
    schema = model.get(raw) if isinstance(raw, str) else None
    if raw is None:
        batch.fail(line_no, "schema", "schema: is missing; every entity needs its schema")
    elif schema is None:
        batch.fail(line_no, "schema", f"schema: {raw!r} is not a FollowTheMoney schema")
    elif schema.abstract:
        batch.fail(line_no, "schema", f"schema: {raw!r} is abstract; use a concrete schema")
        return None
    return schema


def _values(
    line_no: int, schema: Schema, name: str, raw: Any, batch: ImportBatch
) -> tuple[Property, list[str]] | None:
    prop = schema.get(name)
    values = _strings(raw)
    if prop is None:
        batch.fail(line_no, name, f"{name}: is not a property of {schema.name}")
    elif prop.stub:
        batch.fail(
            line_no,
            name,
            f"{name}: is a reverse property of {schema.name}; set it on the other entity",
        )
    elif values is None:
        hint = " (nested entities are not supported; export flat FtM)" if raw else ""
        batch.fail(line_no, name, f"{name}: must be a list of strings{hint}")
    else:
        return prop, values
    return None


def _read_entity(
    line_no: int,
    entity_id: str,
    kind: EntityKind,
    schema: Schema,
    properties: dict[str, Any],
    extension: Any,
    reading: _Reading,
) -> None:
    batch = reading.batch
    errors_before = len(batch.errors)
    draft = _Draft(kind, entity_id)
    mapping = PROPERTY_MAP[kind]
    dropped: set[str] = set()
    ties: list[tuple[str, list[str]]] = []
    # A name Vigil composed from the name parts on export is not a name of its own.
    composed = isinstance(extension, dict) and extension.get(_NAME_FROM_PARTS) is True
    for name, raw in properties.items():
        found = _values(line_no, schema, name, raw, batch)
        if found is None:
            continue
        prop, values = found
        if name in PROTECTED_PROPERTIES or not (name in mapping or _links_to_stored(prop)):
            if values:
                dropped.add(name)  # protected, or nowhere to keep it: counted, not stored
        elif name in mapping:
            if not (composed and name == "name"):
                _add_values(line_no, draft, mapping[name], name, values, batch, dropped)
        elif ends := _ends(line_no, name, values, batch):
            ties.append((name, [entity_id, *ends]))
    if extension is not None:
        _read_extension(line_no, draft, extension, batch, dropped)
    if len(batch.errors) == errors_before:
        reading.drafts[entity_id] = draft
        reading.ties += ties
        batch.dropped.update(dropped)


def _add_values(
    line_no: int,
    draft: _Draft,
    target: str,
    source: str,
    values: list[str],
    batch: ImportBatch,
    dropped: set[str],
) -> None:
    for raw in values:
        try:
            value = normalise_property(draft.kind, target, raw)
        except BadValue as exc:
            if target == "date_of_birth" and _is_partial_date(raw):
                dropped.add(f"{source}:partial")  # a year alone cannot be matched as a date
                continue
            batch.fail(line_no, source, f"{source}: {exc}")
            continue
        if value is not None:
            draft.add(target, value)


def _ends(line_no: int, name: str, values: list[str], batch: ImportBatch) -> list[str]:
    """The entity ids an entity-valued property names, each checked like a record id."""
    ends = []
    for value in values:
        try:
            ends.append(check_id(value))
        except BadValue as exc:
            batch.fail(line_no, name, f"{name}: {exc}")
    return ends


def _is_partial_date(raw: str) -> bool:
    text = raw.strip()
    return len(text) in {4, 7} and text[:4].isdigit() and (len(text) == 4 or text[4] == "-")


def _read_extension(
    line_no: int, draft: _Draft, extension: Any, batch: ImportBatch, dropped: set[str]
) -> None:
    """The ``"vigil"`` object: subject membership and properties FtM has no place for."""
    if not isinstance(extension, dict):
        batch.fail(line_no, "vigil", "vigil: must be an object")
        return
    for key in sorted(set(extension) - _EXTENSION_KEYS):
        batch.fail(line_no, f"vigil.{key}", f"vigil.{key}: is not a Vigil extension field")
    if not isinstance(extension.get(_NAME_FROM_PARTS, False), bool):
        batch.fail(
            line_no, f"vigil.{_NAME_FROM_PARTS}", f"vigil.{_NAME_FROM_PARTS}: must be true or false"
        )
    subject_raw = {name: extension[name] for name in SUBJECT_COLUMNS if name in extension}
    for name, value in subject_raw.items():
        if not isinstance(value, str):
            batch.fail(line_no, f"vigil.{name}", f"vigil.{name}: must be a string")
    if all(isinstance(value, str) for value in subject_raw.values()):
        draft.subject, problems = make_subject(subject_raw)
        for column, message in problems:
            batch.fail(line_no, f"vigil.{column}", f"vigil.{message}")
    extra = extension.get("properties", {})
    if not isinstance(extra, dict):
        batch.fail(line_no, "vigil.properties", "vigil.properties: must be an object")
        return
    allowed = ENTITY_PROPERTIES[draft.kind]
    for name, raw in extra.items():
        column = f"vigil.properties.{name}"
        values = _strings(raw)
        if name not in allowed:
            batch.fail(line_no, column, f"{column}: a {draft.kind} has no {name!r} property")
        elif values is None:
            batch.fail(line_no, column, f"{column}: must be a list of strings")
        else:
            _add_values(line_no, draft, name, column, values, batch, dropped)


def _read_tie(
    line_no: int, entity_id: str, schema: Schema, properties: dict[str, Any], reading: _Reading
) -> None:
    """An entity Vigil does not store: keep the ties it makes and any identity numbers."""
    batch = reading.batch
    errors_before = len(batch.errors)
    ends: list[str] = []
    numbers: list[str] = []
    holders: list[str] = []
    for name, raw in properties.items():
        found = _values(line_no, schema, name, raw, batch)
        if found is None:
            continue
        prop, values = found
        if name in _IDENTITY_DOCUMENTS.get(schema.name, ()):
            numbers += values
        elif _links_to_stored(prop):
            linked = _ends(line_no, name, values, batch)
            ends += linked
            if name == "holder":
                holders += linked
    if len(batch.errors) > errors_before:
        return
    reading.others.add(entity_id)
    if numbers and holders:
        reading.documents.append((line_no, schema.name, holders, numbers))
    else:
        reading.ties.append((f"schema:{schema.name}", ends))


def _finish(reading: _Reading) -> None:
    """Resolve ties and identity documents now that every line has been read."""
    batch, drafts = reading.batch, reading.drafts
    related: defaultdict[str, set[str]] = defaultdict(set)
    for source, ends in reading.ties:
        kept = list(dict.fromkeys(end for end in ends if end not in reading.others))
        tied = [end for end in kept if end in drafts]
        if len(kept) < 2 or not tied:
            batch.dropped[source] += 1  # ties nothing Vigil stores
            continue
        for end in tied:
            related[end].update(other for other in kept if other != end)
    for line_no, schema_name, holders, numbers in reading.documents:
        people = [drafts[h] for h in holders if h in drafts and drafts[h].kind is EntityKind.person]
        for person in people:
            for number in numbers:
                try:
                    value = normalise_property(EntityKind.person, "id_number", number)
                except BadValue as exc:
                    batch.fail(line_no, "number", f"number: {exc}")
                    continue
                if value is not None:
                    person.add("id_number", value)
        if not people:
            batch.dropped[f"schema:{schema_name}"] += 1
    batch.records.extend(
        draft.record(sorted(related.get(entity_id, ()))) for entity_id, draft in drafts.items()
    )


def _tie_id(left: str, right: str) -> str:
    digest = hashlib.sha1(f"{left}\x1f{right}".encode(), usedforsecurity=False).hexdigest()
    return f"vigil-tie-{digest}"


def entity_dict(record: EntityRecord) -> dict[str, Any]:
    """The FtM entity dict for one record, with the ``"vigil"`` extension when needed."""
    schema_name = SCHEMA_OF_KIND.get(record.kind)
    if schema_name is None:
        raise ValueError(
            f"{record.id} is a {record.kind}; FollowTheMoney has no schema for it "
            "(export it as a property of its owner instead)"
        )
    proxy = model.make_entity(schema_name)
    proxy.id = record.id
    extra: dict[str, list[str]] = {}
    mapping = EXPORT_MAP[record.kind]
    for name, values in record.properties.items():
        if name not in ENTITY_PROPERTIES[record.kind]:
            raise ValueError(f"{record.id}: a {record.kind} has no {name!r} property")
        if name in mapping:
            proxy.add(mapping[name], list(values), cleaned=True)
        elif values:
            extra[name] = list(values)
    extension: dict[str, Any] = {
        name: value for name, value in subject_values(record.subject).items() if value
    }
    parts = [part for name in _NAME_PARTS for part in record.properties.get(name, ())[:1]]
    if record.kind is EntityKind.person and not record.properties.get("name") and parts:
        # FtM requires a Person's name; say it was composed so the reader ignores it.
        proxy.add("name", " ".join(parts), cleaned=True)
        extension[_NAME_FROM_PARTS] = True
    data = proxy.to_dict()
    if extra:
        extension["properties"] = extra
    if extension:
        data["vigil"] = extension
    return data


def write_ftm(records: Iterable[EntityRecord], stream: TextIO) -> int:
    """Write records as FtM JSON lines; returns how many records were written.

    Each record's ``related`` ids are written once per pair as an UnknownLink entity after
    it. Phone and e-mail records have no FtM schema and are refused (ValueError); filter
    on FTM_KINDS first.
    """
    written_ties: set[tuple[str, str]] = set()
    written = 0
    for record in records:
        stream.write(orjson.dumps(entity_dict(record)).decode() + "\n")
        written += 1
        for other in record.related:
            pair = (min(record.id, other), max(record.id, other))
            if pair in written_ties or other == record.id:
                continue
            written_ties.add(pair)
            tie = model.make_entity(_TIE)
            tie.id = _tie_id(*pair)
            tie.add("subject", record.id, cleaned=True)
            tie.add("object", other, cleaned=True)
            stream.write(orjson.dumps(tie.to_dict()).decode() + "\n")
    return written
