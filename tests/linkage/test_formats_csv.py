"""The person CSV: what people type is read, what cannot be read is named by row and column,
protected characteristics never get in, and whatever is read comes back out unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.linkage.formats import (
    KNOWN_COLUMNS,
    MAX_ERRORS,
    BadValue,
    ImportBatch,
    RowError,
    guard_cell,
    parse_date_of_birth,
    read_people_csv,
    unguard_cell,
    write_people_csv,
)
from vigil.linkage.records import (
    PERSON_COLUMNS,
    PROTECTED_PROPERTIES,
    EntityKind,
    EntityRecord,
    PersonRecord,
    SubjectRef,
    SubjectStatus,
    person_entity,
)

FIXTURES = Path(__file__).parent / "fixtures"


def read_text(text: str, **kw: int) -> ImportBatch:
    return read_people_csv(io.StringIO(text, newline=""), **kw)


def read_fixture(name: str) -> ImportBatch:
    with (FIXTURES / name).open(newline="", encoding="utf-8") as handle:
        return read_people_csv(handle)


def where(batch: ImportBatch) -> list[tuple[int, str | None]]:
    return [(error.row, error.column) for error in batch.errors]


def by_id(batch: ImportBatch) -> dict[str, EntityRecord]:
    return {record.id: record for record in batch.records}


def round_trip(records: list[EntityRecord], **kw: bool) -> ImportBatch:
    out = io.StringIO(newline="")
    assert write_people_csv(records, out, **kw) == len(records)
    return read_text(out.getvalue())


# --- reading the documented format ------------------------------------------------------


def test_the_documented_sample_reads_with_values_in_their_stored_form() -> None:
    batch = read_fixture("people.csv")
    assert batch.errors == []
    people = by_id(batch)
    assert list(people) == ["KP-0001", "KP-0002", "KP-0003", "KP-0004", "KP-0005"]
    first = people["KP-0001"]
    assert first.kind is EntityKind.person
    assert first.first("phone") == "+447700900412"  # Ofcom drama range accepted
    assert first.first("email") == "olwen.t@example.org"
    assert first.first("id_number") == "QQ 12 34 56 A"
    assert first.subject == SubjectRef(
        "SUBJ-0042", SubjectStatus.open, "Operation Kestrel", "North East CT", "OFFICIAL-SENSITIVE"
    )
    assert people["KP-0002"].first("date_of_birth") == "1985-04-03"
    assert people["KP-0002"].first("address") == "Flat 2, 9 Quillon Street"
    assert people["KP-0002"].first("phone") == "+442079460321"
    assert "email" not in people["KP-0002"].properties  # empty cells are absent, not ""
    assert people["KP-0003"].first("date_of_birth") == "1961-04-03"
    assert people["KP-0003"].subject is not None
    assert people["KP-0003"].subject.status is SubjectStatus.closed
    assert people["KP-0004"].subject is None
    only_surname = people["KP-0005"]
    assert dict(only_surname.properties) == {"last_name": ("Marchbank",)}
    assert only_surname.subject == SubjectRef("SUBJ-0200", SubjectStatus.never, team="Wales CT")


def test_a_file_with_only_the_id_column_is_enough() -> None:
    batch = read_text("id\nA1\nA2\n")
    assert batch.errors == []
    assert [(r.id, dict(r.properties), r.subject) for r in batch.records] == [
        ("A1", {}, None),
        ("A2", {}, None),
    ]


def test_a_bom_crlf_and_blank_trailing_lines_are_fine() -> None:
    batch = read_fixture("partner_with_protected.csv")
    assert batch.errors == []
    assert [r.id for r in batch.records] == ["KP-1001", "KP-1002"]
    assert batch.records[1].first("date_of_birth") == "1990-02-01"


def test_header_names_are_matched_without_regard_to_case_spaces_or_hyphens() -> None:
    batch = read_text("ID, First Name ,LAST-NAME,Date of birth\nX1,Ann,Lowry,2/3/1970\n")
    assert batch.errors == []
    assert dict(batch.records[0].properties) == {
        "first_name": ("Ann",),
        "last_name": ("Lowry",),
        "date_of_birth": ("1970-03-02",),
    }


def test_whitespace_is_collapsed_and_line_breaks_in_addresses_become_commas() -> None:
    text = 'id,first_name,address\nX1,"  Mary   Ann ","12 Acacia Road\r\nBrackenford\n"\n'
    record = read_text(text).records[0]
    assert record.first("first_name") == "Mary Ann"
    assert record.first("address") == "12 Acacia Road, Brackenford"


def test_rows_whose_cells_are_all_empty_are_skipped_but_still_counted() -> None:
    batch = read_text("id,last_name\nA1,Rowe\n,\n\nA2,Wren\nA3,\n")
    assert [r.id for r in batch.records] == ["A1", "A2", "A3"]
    bad = read_text("id,last_name\nA1,Rowe\n,\n,Wren\n")
    assert where(bad) == [(3, "id")]  # the skipped row still has its number


# --- values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("1985-04-03", "1985-04-03"),
        ("03/04/1985", "1985-04-03"),
        ("3/4/85", "1985-04-03"),
        ("3 April 1985", "1985-04-03"),
        ("3rd Apr 1985", "1985-04-03"),
        ("3rd of April 1985", "1985-04-03"),
        ("April 3, 1985", "1985-04-03"),
        ("Sept 21st 1985", "1985-09-21"),
        ("21-SEP-85", "1985-09-21"),
        ("03.04.1985", "1985-04-03"),
        ("03-04-1985", "1985-04-03"),
        ("1985/04/03", "1985-04-03"),
        ("1985-04-03 00:00:00", "1985-04-03"),
        ("29/02/2000", "2000-02-29"),
    ],
)
def test_dates_are_read_as_people_write_them_day_first(written: str, stored: str) -> None:
    assert parse_date_of_birth(written, today=dt.date(2026, 1, 1)) == stored
    batch = read_text(f'id,date_of_birth\nA1,"{written}"\n')
    assert batch.records[0].first("date_of_birth") == stored


def test_two_digit_years_take_the_latest_century_not_in_the_future() -> None:
    assert parse_date_of_birth("3/4/25", today=dt.date(2026, 1, 1)) == "2025-04-03"
    assert parse_date_of_birth("3/4/25", today=dt.date(2025, 4, 2)) == "1925-04-03"
    assert parse_date_of_birth("3/4/25", today=dt.date(2025, 4, 3)) == "2025-04-03"
    assert parse_date_of_birth("1/1/00", today=dt.date(2026, 1, 1)) == "2000-01-01"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("31/02/1980", "date_of_birth: '31/02/1980' is not a date"),
        ("29/02/1981", "date_of_birth: '29/02/1981' is not a date"),
        ("13/13/1980", "date_of_birth: '13/13/1980' is not a date"),
        ("3 Smarch 1985", "date_of_birth: '3 Smarch 1985' is not a date"),
        ("1899-12-31", "date_of_birth: '1899-12-31' is before 1900"),
        ("2999-01-01", "date_of_birth: '2999-01-01' is in the future"),
        (
            "last spring",
            "date_of_birth: 'last spring' is not a date (write it as 1985-04-03 or 03/04/1985)",
        ),
        ("1985", "date_of_birth: '1985' is not a date (write it as 1985-04-03 or 03/04/1985)"),
    ],
)
def test_impossible_early_future_and_unreadable_dates_are_row_errors(
    written: str, message: str
) -> None:
    batch = read_text(f"id,last_name,date_of_birth\nA1,Ash,2/2/1970\nA2,Birch,{written}\n")
    assert batch.errors == [RowError(2, "date_of_birth", message)]
    assert [r.id for r in batch.records] == ["A1"]


def test_tomorrow_is_in_the_future_and_today_is_not() -> None:
    today = dt.date(2026, 5, 6)
    assert parse_date_of_birth("06/05/2026", today=today) == "2026-05-06"
    with pytest.raises(BadValue, match="in the future"):
        parse_date_of_birth("07/05/2026", today=today)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("07700 900123", "+447700900123"),
        ("01632 960001", "+441632960001"),
        ("020 7946 0123", "+442079460123"),
        ("(0113) 496-0555", "+441134960555"),
        ("+44 7911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+1 202 555 0143", "+12025550143"),
    ],
)
def test_phones_are_stored_in_e164_reading_national_numbers_as_british(
    written: str, stored: str
) -> None:
    batch = read_text(f'id,phone\nA1,"{written}"\n')
    assert batch.errors == []
    assert batch.records[0].first("phone") == stored


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("12345", "phone: '12345' is not a valid phone number"),
        ("07700 9001234", "phone: '07700 9001234' is not a valid phone number"),
        ("call me", "phone: 'call me' is not a phone number"),
    ],
)
def test_invalid_phones_are_row_errors(written: str, message: str) -> None:
    batch = read_text(f"id,phone\nA1,07911 123456\nA2,{written}\n")
    assert batch.errors == [RowError(2, "phone", message)]


def test_emails_keep_their_local_part_and_lower_case_their_domain() -> None:
    batch = read_text("id,email\nA1,Ann.Lowry@Example.ORG\nA2,not-an-address\n")
    assert batch.records[0].first("email") == "Ann.Lowry@example.org"
    assert where(batch) == [(2, "email")]
    assert batch.errors[0].message.startswith("email: 'not-an-address' is not an e-mail address")


def test_control_characters_are_refused_with_their_column() -> None:
    batch = read_text("id,first_name,town\nA1,Ann,Brack\x00enford\n")
    assert where(batch) == [(1, "town")]
    assert "control character" in batch.errors[0].message


# --- subjects ---------------------------------------------------------------------------


def test_subject_status_defaults_to_open_and_markings_are_spelt_as_the_policy_spells_them() -> None:
    text = "id,subject_ref,subject_status,marking\nA1,S-1,,official sensitive\nA2,S-2,CLOSED,\n"
    first, second = read_text(text).records
    assert first.subject == SubjectRef("S-1", SubjectStatus.open, marking="OFFICIAL-SENSITIVE")
    assert second.subject == SubjectRef("S-2", SubjectStatus.closed)


def test_subject_details_without_a_reference_attach_to_nobody_and_are_refused() -> None:
    text = "id,subject_ref,subject_status,team,marking\nA1,,closed,Wales CT,SECRET\n"
    assert where(read_text(text)) == [(1, "subject_status"), (1, "team"), (1, "marking")]


def test_the_error_sample_names_every_row_and_column_at_fault() -> None:
    batch = read_fixture("people_errors.csv")
    assert batch.records == []  # every row has something wrong
    assert where(batch) == [
        (1, "date_of_birth"),
        (2, "phone"),
        (3, "email"),
        (4, "id"),
        (5, "id"),
        (6, "subject_status"),
        (6, "marking"),
        (7, "subject_status"),
    ]
    assert batch.errors[3].message == "id: 'KP-2001' is already used on row 1"
    assert batch.errors[4].message == "id: is empty; every record needs an id"
    assert batch.errors[5].message == "subject_status: 'paused' is not open, closed or never"


def test_a_duplicate_id_is_reported_on_the_later_row_only() -> None:
    batch = read_text("id,last_name\nA1,Ash\nA2,Birch\nA1,Cedar\n")
    assert batch.errors == [RowError(3, "id", "id: 'A1' is already used on row 1")]
    assert [r.id for r in batch.records] == ["A1", "A2"]


# --- the header and the file -----------------------------------------------------------


def test_unknown_columns_are_one_error_for_the_header_and_no_rows_are_read() -> None:
    batch = read_text("id,first_name,nickname,shoe_size\nA1,Ann,Annie,5\n")
    assert where(batch) == [(0, None)]
    assert "'nickname', 'shoe_size'" in batch.errors[0].message
    assert batch.records == []


def test_a_header_without_an_id_column_is_refused() -> None:
    batch = read_text("first_name,last_name\nAnn,Lowry\n")
    assert batch.errors == [
        RowError(0, "id", "id: the header has no id column (every row needs an id)")
    ]


def test_a_column_given_twice_is_refused() -> None:
    batch = read_text("id,phone,Phone\nA1,,\n")
    assert batch.errors == [RowError(0, None, "columns appear more than once: phone")]


def test_an_empty_file_is_an_error_not_an_empty_import() -> None:
    assert where(read_text("")) == [(0, None)]


def test_a_row_with_the_wrong_number_of_values_is_an_error() -> None:
    batch = read_text("id,first_name,last_name\nA1,Ann,Lowry\nA2,Bea\nA3,Cy,Dunn,extra\n")
    assert where(batch) == [(2, None), (3, None)]
    assert batch.errors[0].message == "the row has 2 values; the header has 3"


def test_more_rows_than_the_limit_is_an_error_but_blank_lines_do_not_count() -> None:
    assert read_text("id\nA1\nA2\nA3\n\n\n", max_rows=3).errors == []
    batch = read_text("id\nA1\nA2\nA3\nA4\nA5\n", max_rows=3)
    assert batch.errors == [RowError(4, None, "the file has more than 3 rows, the limit")]


def test_text_that_is_not_utf8_is_an_error_rather_than_garbled_names() -> None:
    raw = b"id,last_name\nA1,Ash\n" + "A2,Bj\xf6rk\n".encode("latin-1")
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline="")
    batch = read_people_csv(stream)
    assert [error.column for error in batch.errors] == [None]
    assert "not UTF-8" in batch.errors[0].message
    assert all(record.first("last_name") != "Bj\ufffdrk" for record in batch.records)


def test_a_cell_larger_than_the_csv_field_limit_is_an_error_on_its_row() -> None:
    huge = "x" * (csv.field_size_limit() + 1)
    batch = read_text(f'id,address\nA1,Ash\nA2,"{huge}"\n')
    assert where(batch) == [(2, None)]


def test_reading_stops_after_the_error_limit() -> None:
    rows = "".join(f"A{i},not a phone\n" for i in range(MAX_ERRORS + 50))
    batch = read_text("id,phone\n" + rows)
    assert len(batch.errors) == MAX_ERRORS + 1
    assert batch.errors[-1].message == f"stopped reading after {MAX_ERRORS} errors"


# --- protected characteristics --------------------------------------------------------


def test_protected_characteristic_columns_are_dropped_and_counted_not_refused() -> None:
    batch = read_fixture("partner_with_protected.csv")
    assert batch.errors == []
    assert batch.dropped == {"nationality": 1, "religion": 1}
    for record in batch.records:
        assert not set(record.properties) & PROTECTED_PROPERTIES
        assert "Ruritanian" not in repr(record) and "Pastafarian" not in repr(record)


def test_every_protected_characteristic_column_is_dropped() -> None:
    header = "id," + ",".join(sorted(PROTECTED_PROPERTIES))
    row = "A1," + ",".join("x" for _ in PROTECTED_PROPERTIES)
    batch = read_text(f"{header}\n{row}\n")
    assert batch.errors == []
    assert batch.dropped == dict.fromkeys(PROTECTED_PROPERTIES, 1)
    assert dict(batch.records[0].properties) == {}


# --- writing ---------------------------------------------------------------------------


def test_the_documented_sample_round_trips() -> None:
    batch = read_fixture("people.csv")
    assert round_trip(batch.records).records == batch.records


def test_export_writes_the_documented_header_in_order() -> None:
    out = io.StringIO()
    write_people_csv([], out)
    assert out.getvalue() == ",".join(KNOWN_COLUMNS) + "\r\n"
    out = io.StringIO()
    write_people_csv([], out, with_subjects=False)
    assert out.getvalue() == ",".join(PERSON_COLUMNS) + "\r\n"


def test_export_without_subject_columns_drops_only_the_subject() -> None:
    records = read_fixture("people.csv").records
    again = round_trip(records, with_subjects=False).records
    assert [dict(r.properties) for r in again] == [dict(r.properties) for r in records]
    assert all(r.subject is None for r in again)


def test_export_writes_the_first_value_and_splits_a_lone_full_name() -> None:
    record = EntityRecord(
        EntityKind.person,
        "F1",
        {"name": ("Ann Bea Lowry",), "phone": ("+447911123456", "+442079460123")},
    )
    (again,) = round_trip([record]).records
    assert dict(again.properties) == {
        "first_name": ("Ann",),
        "middle_name": ("Bea",),
        "last_name": ("Lowry",),
        "phone": ("+447911123456",),
    }


def test_export_refuses_records_that_are_not_people() -> None:
    vehicle = EntityRecord(EntityKind.vehicle, "V1", {"registration": ("ZZ51 ABC",)})
    with pytest.raises(ValueError, match="V1 is a vehicle"):
        write_people_csv([vehicle], io.StringIO())


def test_cells_a_spreadsheet_would_run_are_guarded_on_export_and_restored_on_import() -> None:
    person = person_entity(
        PersonRecord("A1", first_name="=HYPERLINK(0)", last_name="@SUM(1)", phone="+447911123456")
    )
    out = io.StringIO(newline="")
    write_people_csv([person], out)
    row = out.getvalue().splitlines()[1].split(",")
    assert row[1] == "'=HYPERLINK(0)" and row[3] == "'@SUM(1)"
    assert row[8] == "+447911123456"  # a signed number is not a formula
    assert read_text(out.getvalue()).records == [person]
    # a cell opening with a tab or carriage return is guarded too (some spreadsheets skip them)
    assert guard_cell("\t=1+1") == "'\t=1+1" and guard_cell("\r@A1") == "'\r@A1"


@given(st.text())
def test_the_formula_guard_never_changes_a_value(value: str) -> None:
    assert unguard_cell(guard_cell(value)) == value
    first = guard_cell(value)[:1]
    assert first not in {"=", "@"}
    if first in {"+", "-"}:
        assert re.fullmatch(r"[+-][\d ]*\d[\d ]*", value)


# --- properties ------------------------------------------------------------------------

DRAMA_PHONES = [f"07700 900{n:03d}" for n in range(0, 1000, 37)] + ["020 7946 0123"]
anything = st.text(max_size=30)
plausible: dict[str, st.SearchStrategy[str]] = {
    "date_of_birth": st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)).flatmap(
        lambda d: st.sampled_from(
            [
                d.isoformat(),
                d.strftime("%d/%m/%Y"),
                d.strftime("%d %B %Y"),
                f"{d.day}/{d.month}/{d.year}",
            ]
        )
    ),
    "phone": st.sampled_from(DRAMA_PHONES),
    "email": st.from_regex(
        r"[a-z][a-z0-9]{0,8}(\.[a-z0-9]{1,5})?@[A-Za-z]{2,8}\.(org|com|net)", fullmatch=True
    ),
    "id": st.from_regex(r"[A-Z]{1,2}-?[0-9]{1,3}", fullmatch=True),
    "subject_ref": st.sampled_from(["", "S-1", "OP LARCH/7"]),
    "subject_status": st.sampled_from(["", "open", "closed", "never", "Closed"]),
    "marking": st.sampled_from(["", "OFFICIAL", "official-sensitive", "Secret"]),
}


# Text a person might type: any printable character, plus the ones CSV and spreadsheets
# treat specially (separators, quotes, line breaks, formula starts).
typed = st.text(
    st.one_of(st.characters(exclude_categories=("Cc", "Cs")), st.sampled_from("\t\n\r ,\"'=+-@")),
    max_size=20,
)


@st.composite
def row(draw: st.DrawFn) -> dict[str, str]:
    """A row of plausible values, half the time with one cell of anything at all."""
    values = {column: draw(plausible.get(column, typed)) for column in KNOWN_COLUMNS}
    if draw(st.booleans()):
        values[draw(st.sampled_from(KNOWN_COLUMNS))] = draw(anything)
    return values


rows = st.lists(row(), min_size=1, max_size=5)


def as_csv(table: list[dict[str, str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(KNOWN_COLUMNS))
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_any_row_that_parses_round_trips(table: list[dict[str, str]]) -> None:
    batch = read_text(as_csv(table))
    assert len(batch.records) + len({e.row for e in batch.errors}) <= len(table)
    again = round_trip(batch.records)
    assert again.errors == []
    assert again.records == batch.records


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "first_name": st.from_regex(r"[A-Z][a-z]{1,9}( [A-Z][a-z]{1,9})?", fullmatch=True),
                "last_name": st.from_regex(r"[A-Z][a-z]{1,9}(-[A-Z][a-z]{1,9})?", fullmatch=True),
                **{name: plausible[name] for name in ("date_of_birth", "phone", "email")},
                "subject_ref": st.from_regex(r"S-[0-9]{1,4}", fullmatch=True),
                **{name: plausible[name] for name in ("subject_status", "marking")},
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_plausible_rows_all_parse_and_round_trip(table: list[dict[str, str]]) -> None:
    for number, row in enumerate(table):
        row["id"] = f"P{number}"
    text = as_csv([{**dict.fromkeys(KNOWN_COLUMNS, ""), **row} for row in table])
    batch = read_text(text)
    assert batch.errors == []
    assert [r.first("last_name") for r in batch.records] == [row["last_name"] for row in table]
    assert all(r.subject is not None for r in batch.records)
    assert round_trip(batch.records).records == batch.records
