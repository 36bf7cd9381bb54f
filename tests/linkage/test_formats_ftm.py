"""FollowTheMoney JSON lines: the FtM model decides what is valid, what Vigil cannot store is
counted, protected characteristics never get in, ties become related ids, and an export
reads back as the same records."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from followthemoney import model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.linkage import ftm
from vigil.linkage.formats import (
    MAX_ERRORS,
    BadValue,
    ImportBatch,
    RowError,
    normalise_property,
    read_people_csv,
)
from vigil.linkage.ftm import FTM_KINDS, entity_dict, read_ftm, write_ftm
from vigil.linkage.records import (
    ENTITY_PROPERTIES,
    PROTECTED_PROPERTIES,
    EntityKind,
    EntityRecord,
    SubjectRef,
    SubjectStatus,
)

FIXTURES = Path(__file__).parent / "fixtures"


def line(schema: str, entity_id: str = "e1", **properties: Any) -> dict[str, Any]:
    return {"id": entity_id, "schema": schema, "properties": properties}


def read_lines(*entities: dict[str, Any] | str) -> ImportBatch:
    text = "".join(
        (item if isinstance(item, str) else orjson.dumps(item).decode()) + "\n" for item in entities
    )
    return read_ftm(io.StringIO(text))


def read_fixture() -> ImportBatch:
    with (FIXTURES / "opensanctions_sample.ftm.json").open(encoding="utf-8") as handle:
        return read_ftm(handle)


def by_id(batch: ImportBatch) -> dict[str, EntityRecord]:
    return {record.id: record for record in batch.records}


def where(batch: ImportBatch) -> list[tuple[int, str | None]]:
    return [(error.row, error.column) for error in batch.errors]


def exported(records: list[EntityRecord]) -> str:
    out = io.StringIO()
    assert write_ftm(records, out) == len(records)
    return out.getvalue()


# --- reading ---------------------------------------------------------------------------


def test_the_sample_maps_each_stored_schema_to_its_kind() -> None:
    batch = read_fixture()
    assert batch.errors == []
    kinds = {record.id: record.kind for record in batch.records}
    assert kinds == {
        "vs-person-ardenne": EntityKind.person,
        "vs-person-ksenya": EntityKind.person,
        "vs-addr-1": EntityKind.location,
        "vs-org-1": EntityKind.organisation,
        "vs-veh-1": EntityKind.vehicle,
        "vs-acct-1": EntityKind.online_account,
    }


def test_person_properties_are_mapped_and_normalised_like_the_csv() -> None:
    person = by_id(read_fixture())["vs-person-ardenne"]
    assert dict(person.properties) == {
        "name": ("Lucan Ardenne-Vey", "Luke Vey"),  # aliases are more names to match
        "first_name": ("Lucan",),
        "last_name": ("Ardenne-Vey",),
        "date_of_birth": ("1979-02-14",),
        "phone": ("+442079460999",),
        "email": ("L.Vey@example.com",),
        "id_number": ("QQ9876543",),
        "postcode": ("ZW1 1AA",),  # from the vigil extension
        "town": ("Marlow Staithe",),
    }


def test_other_kinds_keep_only_the_properties_vigil_stores() -> None:
    records = by_id(read_fixture())
    assert dict(records["vs-addr-1"].properties) == {
        "address": ("7 Tansy Close, Marlow Staithe ZW1 1AB",),
        "postcode": ("ZW1 1AB",),
        "town": ("Marlow Staithe",),
    }
    assert dict(records["vs-org-1"].properties) == {"name": ("Quillon Freight Ltd", "QFL")}
    assert dict(records["vs-veh-1"].properties) == {
        "registration": ("ZZ51 QFL",),
        "model": ("Transit",),
    }
    assert dict(records["vs-acct-1"].properties) == {
        "platform": ("Chirper",),
        "handle": ("@lucan_v",),
    }


def test_protected_and_harmless_extras_are_dropped_and_counted() -> None:
    batch = read_fixture()
    assert batch.dropped == {
        "nationality": 1,
        "religion": 1,
        "gender": 1,
        "citizenship": 1,
        "topics": 1,
        "notes": 1,
        "sourceUrl": 1,
        "country": 1,
        "jurisdiction": 1,
        "birthDate:partial": 1,
        "schema:Sanction": 1,
        "schema:Position": 1,
        "schema:Occupancy": 1,
    }
    for record in batch.records:
        assert not set(record.properties) & PROTECTED_PROPERTIES
        assert "zz" not in repr(record) and "Synthetic faith" not in repr(record)


@pytest.mark.parametrize(
    "name", ["nationality", "citizenship", "religion", "ethnicity", "political", "gender"]
)
def test_each_protected_characteristic_is_dropped_even_on_a_subject(name: str) -> None:
    person = line("Person", firstName=["Ivo"])
    person["properties"][name] = ["x"]
    person["vigil"] = {"subject_ref": "S-1"}
    batch = read_lines(person)
    assert batch.errors == []
    assert batch.dropped == {name: 1}
    assert dict(batch.records[0].properties) == {"first_name": ("Ivo",)}


def test_a_topic_alone_does_not_make_a_subject_but_the_vigil_extension_does() -> None:
    records = by_id(read_fixture())
    assert records["vs-person-ardenne"].subject == SubjectRef(
        "SUBJ-0900", SubjectStatus.closed, team="London CT", marking="SECRET"
    )
    flagged = read_lines(line("Person", name=["Ivo Penrose"], topics=["crime.terror"]))
    assert flagged.records[0].subject is None
    assert flagged.dropped == {"topics": 1}


def test_partial_birth_dates_are_dropped_and_counted_not_guessed() -> None:
    batch = read_lines(line("Person", birthDate=["1983", "1983-04", "1983-04-05"]))
    assert batch.errors == []
    assert batch.records[0].properties["date_of_birth"] == ("1983-04-05",)
    assert batch.dropped == {"birthDate:partial": 1}


def test_identity_documents_give_their_number_to_the_holder() -> None:
    ksenya = by_id(read_fixture())["vs-person-ksenya"]
    assert ksenya.properties["id_number"] == ("QQ1122334",)
    passport = line("Passport", "doc", holder=["p1"], passportNumber=["QQ5"], number=["QQ6"])
    batch = read_lines(passport, line("Person", "p1", idNumber=["QQ4"]))
    assert batch.records[0].properties["id_number"] == ("QQ4", "QQ5", "QQ6")


def test_metadata_beside_the_entity_is_accepted_and_blank_lines_are_skipped() -> None:
    entity = {**line("Person", name=["Ivo Penrose"]), "datasets": ["x"], "caption": "Ivo"}
    batch = read_lines("", entity, "   ")
    assert batch.errors == []
    assert [r.id for r in batch.records] == ["e1"]


def test_a_bom_on_the_first_line_is_fine() -> None:
    batch = read_ftm(io.StringIO("\ufeff" + orjson.dumps(line("Person")).decode() + "\n"))
    assert batch.errors == [] and batch.records[0].id == "e1"


# --- ties ------------------------------------------------------------------------------


def test_relationship_entities_become_related_ids_in_both_directions() -> None:
    records = by_id(read_fixture())
    assert records["vs-person-ardenne"].related == ("vs-acct-1", "vs-person-ksenya")
    assert records["vs-person-ksenya"].related == ("vs-addr-1", "vs-org-1", "vs-person-ardenne")
    assert records["vs-org-1"].related == ("vs-person-ksenya", "vs-veh-1")  # owner + director
    assert records["vs-addr-1"].related == ("vs-person-ksenya",)


@pytest.mark.parametrize(
    ("schema", "ends"),
    [
        ("Associate", ("person", "associate")),
        ("Family", ("person", "relative")),
        ("UnknownLink", ("subject", "object")),
        ("Ownership", ("owner", "asset")),
        ("Employment", ("employee", "employer")),
    ],
)
def test_each_kind_of_relationship_ties_its_two_ends(schema: str, ends: tuple[str, str]) -> None:
    source, target = ends
    target_schema = "Company" if schema in {"Ownership", "Employment"} else "Person"
    batch = read_lines(
        line("Person", "a"),
        line(target_schema, "b"),
        line(schema, "tie", **{source: ["a"], target: ["b"]}),
    )
    assert batch.errors == []
    assert [(r.id, r.related) for r in batch.records] == [("a", ("b",)), ("b", ("a",))]
    assert batch.dropped == {}


def test_ties_to_ids_outside_the_file_are_kept_for_the_importer_to_resolve() -> None:
    batch = read_lines(line("Person", "a"), line("Associate", "t", person=["a"], associate=["z"]))
    assert batch.records[0].related == ("z",)


def test_ties_that_reach_nothing_vigil_stores_are_counted_not_kept() -> None:
    batch = read_lines(
        line("Position", "post"),
        line("Person", "a"),
        line("Occupancy", "o", holder=["a"], post=["post"]),
        line("Associate", "t", person=["x"], associate=["y"]),
    )
    assert batch.records[0].related == ()
    assert batch.dropped == {"schema:Position": 1, "schema:Occupancy": 1, "schema:Associate": 1}


# --- errors ----------------------------------------------------------------------------


def test_an_unknown_schema_is_an_error_on_its_line() -> None:
    batch = read_lines(line("Person", "ok"), line("Persn", "bad"))
    assert batch.errors == [RowError(2, "schema", "schema: 'Persn' is not a FollowTheMoney schema")]


def test_an_abstract_schema_is_an_error() -> None:
    assert where(read_lines(line("Thing"))) == [(1, "schema")]


def test_a_property_not_in_the_schema_is_an_error_naming_it() -> None:
    batch = read_lines(line("Person", "ok", name=["A"]), line("Vehicle", "v", firstName=["Ivo"]))
    assert batch.errors == [RowError(2, "firstName", "firstName: is not a property of Vehicle")]


def test_a_reverse_property_is_an_error() -> None:
    assert where(read_lines(line("Person", ownershipOwner=["x"]))) == [(1, "ownershipOwner")]


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        ("birthDate", "1980-02-31", "birthDate: '1980-02-31' is not a date"),
        ("birthDate", "2999-01-01", "birthDate: '2999-01-01' is in the future"),
        ("phone", "12345", "phone: '12345' is not a valid phone number"),
    ],
)
def test_invalid_values_are_errors_naming_the_ftm_property(
    prop: str, value: str, message: str
) -> None:
    batch = read_lines(line("Person", "ok"), line("Person", "bad", **{prop: [value]}))
    assert batch.errors == [RowError(2, prop, message)]
    assert [r.id for r in batch.records] == ["ok"]


def test_invalid_coordinates_are_errors() -> None:
    batch = read_lines(line("Address", latitude=["91"], longitude=["east"]))
    assert where(batch) == [(1, "latitude"), (1, "longitude")]


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        ('{"schema": "Person", "properties": {}}', "id"),
        ('{"id": "a", "properties": {}}', "schema"),
        ('{"id": 7, "schema": "Person", "properties": {}}', "id"),
        ('{"id": "a", "schema": "Person", "properties": []}', "properties"),
        ('{"id": "a", "schema": "Person", "properties": {"name": "Ivo"}}', None),
        ('{"id": "a", "schema": "Person", "properties": {"name": [1]}}', "name"),
    ],
)
def test_malformed_lines_are_errors_with_their_line_number(text: str, column: str | None) -> None:
    batch = read_lines(line("Person", "first"), "", text)
    if column is None and "Ivo" in text:
        assert batch.errors == []  # a single string is read as a one-value list
        assert batch.records[1].properties["name"] == ("Ivo",)
    else:
        assert where(batch) == [(3, column)]


def test_nested_entities_are_refused_with_a_hint() -> None:
    batch = read_lines(line("Person", addressEntity=[{"id": "a", "schema": "Address"}]))
    assert where(batch) == [(1, "addressEntity")]
    assert "export flat FtM" in batch.errors[0].message


def test_a_repeated_id_is_an_error_on_the_later_line() -> None:
    batch = read_lines(line("Person", "a"), line("Company", "a"))
    assert batch.errors == [RowError(2, "id", "id: 'a' is already used on line 1")]


@pytest.mark.parametrize(
    ("extension", "column"),
    [
        ({"subject_ref": "S-1", "subject_status": "paused"}, "vigil.subject_status"),
        ({"subject_status": "closed"}, "vigil.subject_status"),
        ({"subject_ref": "S-1", "marking": "TOP SECRET"}, "vigil.marking"),
        ({"subject_ref": 5}, "vigil.subject_ref"),
        ({"subject": "S-1"}, "vigil.subject"),
        ({"properties": {"colour": ["red"]}}, "vigil.properties.colour"),
        ({"properties": {"postcode": "ZW1 1AA"}}, None),
        ({"properties": {"phone": ["12"]}}, "vigil.properties.phone"),
        ("S-1", "vigil"),
        ({"name_from_parts": "yes"}, "vigil.name_from_parts"),
    ],
)
def test_a_bad_vigil_extension_is_an_error_naming_the_field(
    extension: Any, column: str | None
) -> None:
    batch = read_lines({**line("Person"), "vigil": extension})
    if column is None:
        assert batch.errors == []
    else:
        assert where(batch) == [(1, column)]


def test_the_vigil_extension_only_belongs_on_stored_entities() -> None:
    tie = {**line("Associate", person=["a"]), "vigil": {"subject_ref": "S-1"}}
    assert where(read_lines(tie)) == [(1, "vigil")]


def test_more_entities_than_the_limit_is_an_error() -> None:
    people = [line("Person", f"p{i}") for i in range(4)]
    assert read_lines("", *people[:3], "").errors == []
    batch = read_ftm(
        io.StringIO("".join(orjson.dumps(p).decode() + "\n" for p in people)), max_rows=3
    )
    assert batch.errors == [RowError(4, None, "the file has more than 3 entities, the limit")]


def test_a_line_longer_than_the_limit_is_refused_without_reading_it_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ftm, "MAX_LINE_CHARS", 200)
    fits = orjson.dumps(line("Person", "a", notes=["x"])).decode()
    fits = fits.replace('"x"', '"' + "x" * (200 - len(fits) + 1) + '"')
    assert len(fits) == 200
    batch = read_lines(fits, line("Person", "b", notes=["x" * 300]))
    assert batch.errors == [RowError(2, None, "the line is longer than 200 characters")]
    assert [r.id for r in batch.records] == ["a"]


def test_reading_stops_after_the_error_limit() -> None:
    batch = read_lines(*[line("Nope", f"n{i}") for i in range(MAX_ERRORS + 20)])
    assert len(batch.errors) == MAX_ERRORS + 1
    assert batch.errors[-1].message == f"stopped reading after {MAX_ERRORS} errors"


# --- writing ---------------------------------------------------------------------------


def test_the_sample_round_trips() -> None:
    batch = read_fixture()
    again = read_ftm(io.StringIO(exported(batch.records)))
    assert again.errors == [] and again.dropped == {}
    assert again.records == batch.records


def test_people_from_the_csv_survive_a_trip_through_ftm() -> None:
    with (FIXTURES / "people.csv").open(newline="", encoding="utf-8") as handle:
        people = read_people_csv(handle).records
    assert read_ftm(io.StringIO(exported(people))).records == people


def test_the_export_is_valid_ftm_that_ftm_itself_would_not_change() -> None:
    with (FIXTURES / "people.csv").open(newline="", encoding="utf-8") as handle:
        people = [p for p in read_people_csv(handle).records if p.id != "KP-0001"]  # drama phone
    for text in exported(read_fixture().records + people).splitlines():
        data = orjson.loads(text)
        data.pop("vigil", None)
        proxy = model.get_proxy(data, cleaned=False)  # FtM re-validates and re-cleans
        assert proxy.schema.validate(data) is None
        assert proxy.to_dict()["properties"] == data["properties"]
        assert all(proxy.has(name) for name in proxy.schema.required), text


def test_a_person_known_only_by_name_parts_gets_a_composed_name_that_reads_back_as_none() -> None:
    person = EntityRecord(EntityKind.person, "p1", {"first_name": ("Ivo",), "last_name": ("Rowe",)})
    data = entity_dict(person)
    assert data["properties"]["name"] == ["Ivo Rowe"]
    assert data["vigil"] == {"name_from_parts": True}
    assert read_ftm(io.StringIO(exported([person]))).records == [person]
    edited = {**data, "vigil": {"name_from_parts": False}}
    assert read_lines(edited).records[0].properties["name"] == ("Ivo Rowe",)


def test_what_ftm_has_no_property_for_travels_in_the_vigil_extension() -> None:
    vehicle = EntityRecord(
        EntityKind.vehicle,
        "v1",
        {"registration": ("ZZ51 QFL",), "make": ("Fordson",), "colour": ("red",)},
        SubjectRef("S-1", SubjectStatus.open, team="Wales CT"),
    )
    data = entity_dict(vehicle)
    assert data["properties"] == {"registrationNumber": ["ZZ51 QFL"]}
    assert data["vigil"] == {
        "subject_ref": "S-1",
        "subject_status": "open",
        "team": "Wales CT",
        "properties": {"make": ["Fordson"], "colour": ["red"]},
    }
    assert read_ftm(io.StringIO(exported([vehicle]))).records == [vehicle]


def test_each_tie_is_written_once_as_an_unknown_link() -> None:
    a = EntityRecord(EntityKind.person, "a", {}, related=("b", "z"))
    b = EntityRecord(EntityKind.person, "b", {}, related=("a",))
    lines = [orjson.loads(text) for text in exported([a, b]).splitlines()]
    ties = [(d["properties"]["subject"], d["properties"]["object"]) for d in lines[1:3]]
    assert [d["schema"] for d in lines] == ["Person", "UnknownLink", "UnknownLink", "Person"]
    assert ties == [(["a"], ["b"]), (["a"], ["z"])]


def test_kinds_ftm_cannot_hold_and_properties_vigil_does_not_have_are_refused() -> None:
    phone = EntityRecord(EntityKind.phone, "ph1", {"number": ("+447911123456",)})
    with pytest.raises(ValueError, match="no schema"):
        write_ftm([phone], io.StringIO())
    odd = EntityRecord(EntityKind.person, "p1", {"nationality": ("x",)})
    with pytest.raises(ValueError, match="has no 'nationality' property"):
        write_ftm([odd], io.StringIO())


# --- properties ------------------------------------------------------------------------

SAMPLES: dict[str, st.SearchStrategy[str]] = {
    "date_of_birth": st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)).map(str),
    "phone": st.sampled_from([f"07700 900{n:03d}" for n in range(0, 1000, 41)]),
    "number": st.sampled_from(["07911 123456", "020 7946 0123"]),
    "email": st.from_regex(r"[a-z]{1,8}@[a-z]{2,8}\.(org|com)", fullmatch=True),
    "latitude": st.floats(-90, 90).map(lambda f: f"{f:.5f}"),
    "longitude": st.floats(-180, 180).map(lambda f: f"{f:.5f}"),
}
ids = st.from_regex(r"[a-z]{1,3}-[0-9]{1,4}", fullmatch=True)


def stored(kind: EntityKind, name: str, raw: str) -> str | None:
    try:
        return normalise_property(kind, name, raw)
    except BadValue:
        return None


@st.composite
def records(draw: st.DrawFn) -> list[EntityRecord]:
    entity_ids = draw(st.lists(ids, min_size=1, max_size=5, unique=True))
    pairs = draw(st.sets(st.tuples(st.sampled_from(entity_ids), st.sampled_from(entity_ids))))
    made = []
    for entity_id in entity_ids:
        kind = draw(st.sampled_from(sorted(FTM_KINDS)))
        properties = {}
        for name in draw(st.sets(st.sampled_from(ENTITY_PROPERTIES[kind]))):
            raw = draw(st.lists(SAMPLES.get(name, st.text(max_size=20)), min_size=1, max_size=3))
            values = [v for v in (stored(kind, name, r) for r in raw) if v is not None]
            if values:
                properties[name] = tuple(dict.fromkeys(values))
        subject = None
        if draw(st.booleans()):
            subject = SubjectRef(
                draw(ids),
                draw(st.sampled_from(SubjectStatus)),
                draw(st.none() | st.just("Operation Larch")),
                draw(st.none() | st.just("Wales CT")),
                draw(st.none() | st.sampled_from(["OFFICIAL", "SECRET"])),
            )
        tied = {b for a, b in pairs if a == entity_id} | {a for a, b in pairs if b == entity_id}
        made.append(
            EntityRecord(kind, entity_id, properties, subject, tuple(sorted(tied - {entity_id})))
        )
    return made


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_any_exported_records_read_back_the_same(made: list[EntityRecord]) -> None:
    again = read_ftm(io.StringIO(exported(made)))
    assert again.errors == []
    assert again.records == made
