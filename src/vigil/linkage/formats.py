"""Reading and writing the person CSV, and what every import format reports back.

Partners send lists of known people as spreadsheets, so the reader accepts what people
actually type (day-first dates in several spellings, national phone numbers, a BOM, CRLF,
blank trailing lines) but refuses anything it would have to guess, row by row with the
column named, so the person importing can fix the file. The importer (the lead's service)
stores nothing when a batch carries any error: a half-imported list of subjects is worse
than none, because nobody can tell which half is missing.

Protected characteristics are never a signal (principle 3), so their columns are dropped
and counted rather than refused: a partner's file that carries them can still be used,
and the person importing sees that they were there.

The value normalisers here are shared with the FollowTheMoney reader in
``vigil.linkage.ftm`` so that one person is stored the same way whichever format
brought them in.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from vigil.access.markings import Classification
from vigil.linkage.records import (
    PERSON_COLUMNS,
    PERSON_FIELDS,
    PROTECTED_PROPERTIES,
    EntityKind,
    EntityRecord,
    SubjectRef,
    SubjectStatus,
    person_record,
)

SUBJECT_COLUMNS: tuple[str, ...] = (
    "subject_ref",
    "subject_status",
    "subject_name",
    "team",
    "marking",
)
"""Optional person CSV columns that say which subject of interest a person belongs to."""

MAX_ID_LENGTH = 200
"""Longest id accepted, FollowTheMoney's own limit for entity ids, so ids cross both ways."""

MAX_ERRORS = 1000
"""Readers stop collecting after this many errors: the file needs fixing either way."""

EARLIEST_BIRTH_YEAR = 1900

_GB = "GB"
# Ofcom reserves these ranges for drama; phonenumbers calls them invalid, but synthetic data
# (principle 5) must be able to use them, so they are accepted as well-formed UK numbers.
_DRAMA_NUMBER = re.compile(r"\+44(7700900|1632960)\d{3}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class RowError:
    """One specific problem, where the person importing can find it.

    ``row`` is the 1-based data row of a CSV (0 is the header) or the line number of a
    JSON-lines file; ``column`` is the CSV column or FollowTheMoney property at fault.
    """

    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass
class ImportBatch:
    """Everything a reader made of one file; import it only when ``errors`` is empty."""

    records: list[EntityRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    """Properties left out, by name: how many rows or entities carried each one."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def fail(self, row: int, column: str | None, message: str) -> None:
        self.errors.append(RowError(row, column, message))

    @property
    def full(self) -> bool:
        """Whether enough errors were collected to stop reading."""
        return len(self.errors) >= MAX_ERRORS


class BadValue(ValueError):
    """A value that cannot be stored; the message names the value but not the column."""


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """Trim and collapse whitespace; line breaks become ", " as in a one-line address.

    Control characters are refused: they never belong in a name or an address and are a
    common sign of a file read in the wrong encoding.
    """
    if _CONTROL.search(value):
        raise BadValue(f"{value!r} contains a control character")
    lines = (" ".join(line.split()) for line in value.splitlines())
    return ", ".join(line for line in lines if line)


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_ISO_DATE = re.compile(rf"(\d{{4}})([-/.])(\d{{1,2}})\2(\d{{1,2}}){_TIME}")
_DAY_FIRST = re.compile(rf"(\d{{1,2}})([-/. ])(\d{{1,2}})\2(\d{{2}}|\d{{4}}){_TIME}")
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_DAY_MONTH_NAME = re.compile(
    rf"{_ORDINAL}(?:\s+of)?[\s\-/.,]+([a-z]+)\.?[\s\-/.,]+(\d{{2}}|\d{{4}})", re.IGNORECASE
)
_MONTH_NAME_DAY = re.compile(rf"([a-z]+)\.?\s+{_ORDINAL},?\s+(\d{{4}})", re.IGNORECASE)


def parse_date_of_birth(text: str, *, today: dt.date | None = None) -> str:
    """The ISO date (YYYY-MM-DD) a person wrote, reading numeric dates day first (UK).

    Two-digit years take the latest century that does not put the birth in the future.
    Impossible dates, future dates and dates before 1900 are refused rather than guessed:
    a wrong date of birth makes a wrong match more likely, never less.
    """
    today = today or dt.date.today()
    value = " ".join(text.split())
    day: str
    month: int | str
    year: str
    if match := _ISO_DATE.fullmatch(value):
        year, _, month, day = match.groups()
    elif match := _DAY_FIRST.fullmatch(value):
        day, _, month, year = match.groups()
    elif match := _DAY_MONTH_NAME.fullmatch(value):
        day, month_name, year = match.groups()
        month = _MONTHS.get(month_name.lower(), 0)
    elif match := _MONTH_NAME_DAY.fullmatch(value):
        month_name, day, year = match.groups()
        month = _MONTHS.get(month_name.lower(), 0)
    else:
        raise BadValue(f"{text!r} is not a date (write it as 1985-04-03 or 03/04/1985)")
    full_year = int(year)
    if len(year) == 2:
        full_year += 2000
        if (full_year, int(month), int(day)) > (today.year, today.month, today.day):
            full_year -= 100
    try:
        born = dt.date(full_year, int(month), int(day))
    except ValueError:
        raise BadValue(f"{text!r} is not a date") from None
    if born > today:
        raise BadValue(f"{text!r} is in the future")
    if born.year < EARLIEST_BIRTH_YEAR:
        raise BadValue(f"{text!r} is before {EARLIEST_BIRTH_YEAR}")
    return born.isoformat()


def normalise_phone(text: str) -> str:
    """The E.164 form of a phone number, reading national numbers as British."""
    try:
        number = phonenumbers.parse(text, _GB)
    except phonenumbers.NumberParseException:
        raise BadValue(f"{text!r} is not a phone number") from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(number) and not _DRAMA_NUMBER.fullmatch(e164):
        raise BadValue(f"{text!r} is not a valid phone number")
    return e164


def normalise_email(text: str) -> str:
    """A syntactically valid e-mail address with its domain lower-cased (never looked up)."""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise BadValue(f"{text!r} is not an e-mail address ({exc})") from None


def _coordinate(limit: float) -> Callable[[str], str]:
    def check(text: str) -> str:
        try:
            number = float(text)
        except ValueError:
            raise BadValue(f"{text!r} is not a number") from None
        if not -limit <= number <= limit:
            raise BadValue(f"{text!r} is outside -{limit:g} to {limit:g}")
        return text

    return check


_NORMALISERS: dict[tuple[EntityKind, str], Callable[[str], str]] = {
    (EntityKind.person, "date_of_birth"): parse_date_of_birth,
    (EntityKind.person, "phone"): normalise_phone,
    (EntityKind.person, "email"): normalise_email,
    (EntityKind.phone, "number"): normalise_phone,
    (EntityKind.email, "address"): normalise_email,
    (EntityKind.location, "latitude"): _coordinate(90),
    (EntityKind.location, "longitude"): _coordinate(180),
}


def normalise_property(kind: EntityKind, name: str, raw: str) -> str | None:
    """The stored form of one property value, or None when it is empty.

    Raises BadValue with a message that names the value, for the caller to prefix with
    the column or property it came from.
    """
    value = clean_text(raw)
    if not value:
        return None
    normalise = _NORMALISERS.get((kind, name))
    return normalise(value) if normalise else value


def check_id(raw: str) -> str:
    """A record id as stored: present, one line, and no longer than MAX_ID_LENGTH."""
    value = clean_text(raw)
    if not value:
        raise BadValue("is empty; every record needs an id")
    if len(value) > MAX_ID_LENGTH:
        raise BadValue(f"is {len(value)} characters long; the limit is {MAX_ID_LENGTH}")
    return value


def normalise_marking(text: str) -> str:
    """A handling marking as the access policy spells it (OFFICIAL-SENSITIVE, ...)."""
    wanted = "-".join(text.upper().replace("_", " ").replace("-", " ").split())
    if wanted not in {c.value for c in Classification}:
        allowed = ", ".join(c.value for c in Classification)
        raise BadValue(f"{text!r} is not a marking (use one of {allowed})")
    return wanted


def make_subject(values: dict[str, str]) -> tuple[SubjectRef | None, list[tuple[str, str]]]:
    """The subject named by SUBJECT_COLUMNS-style values, and (column, message) problems.

    A subject needs its reference: status, team or marking alone would attach a person to
    nobody, so they are refused rather than ignored.
    """
    problems: list[tuple[str, str]] = []
    cleaned: dict[str, str] = {}
    for name in SUBJECT_COLUMNS:
        try:
            cleaned[name] = clean_text(values.get(name, ""))
        except BadValue as exc:
            problems.append((name, f"{name}: {exc}"))
    ref = cleaned.get("subject_ref", "")
    if not ref:
        given = [name for name in SUBJECT_COLUMNS[1:] if cleaned.get(name)]
        problems += [(name, f"{name}: is given without a subject_ref") for name in given]
        return None, problems
    if len(ref) > MAX_ID_LENGTH:
        problems.append(("subject_ref", f"subject_ref: is longer than {MAX_ID_LENGTH}"))
    status = SubjectStatus.open
    if raw_status := cleaned.get("subject_status", ""):
        try:
            status = SubjectStatus(raw_status.lower())
        except ValueError:
            problems.append(
                ("subject_status", f"subject_status: {raw_status!r} is not open, closed or never")
            )
    marking = None
    if raw_marking := cleaned.get("marking", ""):
        try:
            marking = normalise_marking(raw_marking)
        except BadValue as exc:
            problems.append(("marking", f"marking: {exc}"))
    subject = SubjectRef(
        ref=ref,
        status=status,
        name=cleaned.get("subject_name") or None,
        team=cleaned.get("team") or None,
        marking=marking,
    )
    return subject, problems


def subject_values(subject: SubjectRef | None) -> dict[str, str]:
    """The SUBJECT_COLUMNS values for a subject (all empty for none)."""
    if subject is None:
        return dict.fromkeys(SUBJECT_COLUMNS, "")
    return {
        "subject_ref": subject.ref,
        "subject_status": subject.status.value,
        "subject_name": subject.name or "",
        "team": subject.team or "",
        "marking": subject.marking or "",
    }


# --------------------------------------------------------------------------------------
# Spreadsheet formula guard
# --------------------------------------------------------------------------------------
# A cell that starts with = + - or @ is run as a formula when the export is opened in a
# spreadsheet (CSV injection). Such cells are written with a leading apostrophe, which
# spreadsheets hide, and the reader removes it again, so the guard never changes a value.
# Plain signed numbers (an E.164 phone) are harmless and left alone.
_FORMULA_START = frozenset("=+-@\t\r")  # tab and CR too (OWASP), which some spreadsheets skip
_SIGNED_NUMBER = re.compile(r"[+-][\d ]*\d[\d ]*")


def _needs_guard(value: str) -> bool:
    bare = value.lstrip("'")
    return bool(bare) and bare[0] in _FORMULA_START and not _SIGNED_NUMBER.fullmatch(bare)


def guard_cell(value: str) -> str:
    return "'" + value if _needs_guard(value) else value


def unguard_cell(value: str) -> str:
    return value[1:] if value.startswith("'") and _needs_guard(value[1:]) else value


# --------------------------------------------------------------------------------------
# Person CSV
# --------------------------------------------------------------------------------------
KNOWN_COLUMNS: tuple[str, ...] = (*PERSON_COLUMNS, *SUBJECT_COLUMNS)


def _column_name(raw: str) -> str:
    """Header names are matched loosely: case, spaces and hyphens do not matter."""
    return "_".join(raw.strip().lower().replace("-", " ").split())


def _read_header(header: list[str], batch: ImportBatch) -> list[str] | None:
    """Each column's normalised name, or None when the header is refused."""
    if header:
        header[0] = header[0].removeprefix("\ufeff")
    names = [_column_name(raw) for raw in header]
    unknown = [
        raw
        for raw, name in zip(header, names, strict=True)
        if name not in KNOWN_COLUMNS and name not in PROTECTED_PROPERTIES
    ]
    if unknown:
        listed = ", ".join(
            repr(raw) if raw.strip() else "(a column with no name)" for raw in unknown
        )
        batch.fail(0, None, f"unknown columns {listed}; the columns are {', '.join(KNOWN_COLUMNS)}")
    repeated = sorted({name for name in names if names.count(name) > 1 and name})
    if repeated:
        batch.fail(0, None, f"columns appear more than once: {', '.join(repeated)}")
    if "id" not in names:
        batch.fail(0, "id", "id: the header has no id column (every row needs an id)")
    if batch.errors:
        return None
    return names


def _csv_rows(reader: Iterator[list[str]], batch: ImportBatch) -> Iterator[list[str]]:
    """Rows of the file, turning a broken file into one error at the row it broke on."""
    row = -1  # the header is row 0
    while True:
        row += 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            batch.fail(row, None, f"the file cannot be read as CSV from here ({exc})")
            return
        except UnicodeDecodeError:
            batch.fail(row, None, "the file is not UTF-8 text from here; save it as UTF-8 CSV")
            return
        yield values


def read_people_csv(stream: TextIO, *, max_rows: int = 2_000_000) -> ImportBatch:
    """Read the documented person CSV into person EntityRecords.

    Open the file with ``newline=""``. Every error names the data row (1 is the first row
    after the header, 0 the header itself) and the column. Rows whose cells are all empty
    are skipped. Reading stops after ``max_rows`` non-empty rows (an error) or MAX_ERRORS
    errors; in both cases the batch must not be imported.
    """
    batch = ImportBatch()
    rows = _csv_rows(csv.reader(stream), batch)
    header = next(rows, None)
    if header is None:
        if not batch.errors:
            batch.fail(0, None, "the file is empty; it needs a header row with an id column")
        return batch
    columns = _read_header(header, batch)
    if columns is None:
        return batch
    width = len(columns)
    seen: dict[str, int] = {}
    taken = 0
    for number, cells in enumerate(rows, start=1):
        if not any(cell.strip() for cell in cells):
            continue
        taken += 1
        if taken > max_rows:
            batch.fail(number, None, f"the file has more than {max_rows:,} rows, the limit")
            break
        if len(cells) != width:
            batch.fail(number, None, f"the row has {len(cells)} values; the header has {width}")
        else:
            _read_person_row(number, dict(zip(columns, cells, strict=True)), seen, batch)
        if batch.full:
            batch.fail(number, None, f"stopped reading after {MAX_ERRORS} errors")
            break
    return batch


def _read_person_row(
    row: int, cells: dict[str, str], seen: dict[str, int], batch: ImportBatch
) -> None:
    errors_before = len(batch.errors)
    record_id = ""
    try:
        record_id = check_id(unguard_cell(cells["id"]))
    except BadValue as exc:
        batch.fail(row, "id", f"id: {exc}")
    if record_id in seen:
        batch.fail(row, "id", f"id: {record_id!r} is already used on row {seen[record_id]}")
    elif record_id:
        seen[record_id] = row
    properties: dict[str, tuple[str, ...]] = {}
    for name in PERSON_FIELDS:
        raw = unguard_cell(cells.get(name, ""))
        try:
            value = normalise_property(EntityKind.person, name, raw)
        except BadValue as exc:
            batch.fail(row, name, f"{name}: {exc}")
            continue
        if value is not None:
            properties[name] = (value,)
    subject, problems = make_subject(
        {name: unguard_cell(cells[name]) for name in SUBJECT_COLUMNS if name in cells}
    )
    for column, message in problems:
        batch.fail(row, column, message)
    if len(batch.errors) == errors_before:
        batch.records.append(EntityRecord(EntityKind.person, record_id, properties, subject))
        for name, cell in cells.items():
            if name in PROTECTED_PROPERTIES and cell.strip():
                batch.dropped[name] += 1


def write_people_csv(
    records: Iterable[EntityRecord], stream: TextIO, *, with_subjects: bool = True
) -> int:
    """Write person records as the documented CSV; returns how many rows were written.

    The CSV holds one value per field (the first); use FollowTheMoney to carry every
    value. Cells a spreadsheet would run as a formula get a leading apostrophe, which
    ``read_people_csv`` removes. Non-person records are refused (ValueError).
    """
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(KNOWN_COLUMNS if with_subjects else PERSON_COLUMNS)
    written = 0
    for entity in records:
        person = person_record(entity)
        cells = [person.id] + [getattr(person, name) or "" for name in PERSON_FIELDS]
        if with_subjects:
            cells += list(subject_values(entity.subject).values())
        writer.writerow([guard_cell(cell) for cell in cells])
        written += 1
    return written


__all__ = [
    "KNOWN_COLUMNS",
    "MAX_ID_LENGTH",
    "SUBJECT_COLUMNS",
    "BadValue",
    "ImportBatch",
    "RowError",
    "check_id",
    "clean_text",
    "make_subject",
    "normalise_property",
    "parse_date_of_birth",
    "read_people_csv",
    "subject_values",
    "write_people_csv",
]
