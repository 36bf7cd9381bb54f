"""Identifiers are found however they are spelt: the plate, phone, e-mail address and
postcode as the system shows them (alerts, entities, subject pages) find the report whose
reporter typed them another way, and the other way round, still only for those who may see
the report. Existing documents are rebuilt by migration 0016."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from tests.factories import staff_token
from tests.search import OTHER_FORCE, found, ids, move_report, submit
from vigil import migrate
from vigil.access.markings import Classification
from vigil.access.models import Organisation
from vigil.linkage.models import Entity, Identity
from vigil.search import identifiers, index
from vigil.search.models import SearchDocument, SearchPending
from vigil.web.runtime import Runtime

PLATE = {"registration": "MN73 VOX", "make": "Ford", "colour": "blue"}


def vehicle_entity(rt: Runtime, registration: str) -> int:
    """A vehicle entity as linkage or an import stores it."""

    def work(session: Session) -> int:
        owner = session.scalar(
            select(Organisation.id).where(Organisation.name == rt.settings.receiving_org)
        )
        assert owner is not None
        identity = Identity(kind="vehicle")
        session.add(identity)
        session.flush()
        entity = Entity(
            kind="vehicle",
            identity_id=identity.id,
            label=registration,
            properties={"registration": [registration], "colour": ["silver"]},
            source_type="analyst",
            owning_org_id=owner,
            classification=Classification.official_sensitive.value,
        )
        session.add(entity)
        session.flush()
        return entity.id

    return rt.db.write_sync(work)


# --- spellings, without a database ----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "spellings"),
    [
        ("MN73 VOX", ["MN73VOX", "MN73 VOX"]),
        ("mn73-vox", ["MN73VOX", "MN73 VOX"]),
        ("A123BCD", ["A123BCD", "A123 BCD"]),
        ("ABC123D", ["ABC123D", "ABC 123D"]),
        ("1234 AB", ["1234AB"]),  # dateless: no one way to space it
        ("not a plate!", []),
    ],
)
def test_a_plate_is_spelt_without_spaces_and_as_the_dvla_prints_it(
    typed: str, spellings: list[str]
) -> None:
    assert identifiers.vrm_spellings(typed) == spellings


def test_a_phone_is_spelt_as_e164_and_nationally() -> None:
    assert identifiers.phone_spellings("07700 900123") == [
        "+447700900123",
        "447700900123",
        "07700 900123",
        "07700900123",
    ]
    assert identifiers.phone_spellings("12345") == []


def test_postcodes_and_emails_take_their_normalised_forms() -> None:
    assert identifiers.postcode_spellings("ls62qt") == ["LS6 2QT", "LS62QT"]
    assert identifiers.postcode_spellings("not one") == []
    assert identifiers.email_spellings("Jo [at] Example [dot] org") == ["jo@example.org"]


def test_only_spellings_the_text_lacks_are_added_once() -> None:
    text = "Blue Ford mn73 vox parked; ring +447700900123."
    forms = ["MN73VOX", "MN73 VOX", "+447700900123", "447700900123", "MN73VOX"]
    assert identifiers.missing_from(text, forms) == "MN73VOX 447700900123"
    assert identifiers.missing_from("MN73VOX", ["MN73VOX"]) == ""


# --- searching --------------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["MN73VOX", "mn73vox", "MN73 VOX", '"MN73 VOX"'])
def test_a_plate_reported_with_a_space_is_found_as_the_system_shows_it(
    client: TestClient, rt: Runtime, q: str
) -> None:
    analyst = staff_token(rt)
    ref = submit(client, "A car kept circling the depot after dark.", vehicles=[PLATE])
    other = submit(client, "A car kept circling the depot at noon.")

    page = found(client, analyst, q)
    assert ids(page) == [ref]
    assert page["total"] == 1 and other not in ids(page)
    assert "<mark>" in page["hits"][0]["snippet"]


def test_a_plate_reported_without_a_space_is_found_with_one(
    client: TestClient, rt: Runtime
) -> None:
    analyst = staff_token(rt)
    ref = submit(client, "Van parked on the verge, reg MN73VOX, engine running.")
    for q in ("MN73 VOX", "mn73vox", '"MN73 VOX"'):
        assert ids(found(client, analyst, q)) == [ref], q


def test_phones_emails_and_postcodes_are_found_in_their_normalised_forms(
    client: TestClient, rt: Runtime
) -> None:
    analyst = staff_token(rt)
    ref = submit(
        client,
        "The man said to ring 07700 900123 or write to jo.hale [at] example [dot] org.",
        where={"postcode": "ls62qt", "address": "Mill Lane"},
    )
    submit(client, "Nothing to do with the others.")
    for q in (
        "+447700900123",
        "447700900123",
        "07700900123",
        "07700 900123",
        "jo.hale@example.org",
        "LS6 2QT",
        "LS62QT",
    ):
        assert ids(found(client, analyst, q)) == [ref], q


def test_a_vehicle_entity_is_found_by_the_plate_spaced_or_not(
    client: TestClient, rt: Runtime
) -> None:
    analyst = staff_token(rt)
    entity_id = vehicle_entity(rt, "MN73VOX")
    for q in ("MN73VOX", "MN73 VOX", "mn73 vox"):
        assert ids(found(client, analyst, q, type="entity")) == [str(entity_id)], q


@pytest.mark.parametrize("q", ["MN73VOX", "mn73vox", "MN73 VOX"])
def test_a_reader_who_may_not_see_the_report_finds_it_by_no_spelling(
    client: TestClient, rt: Runtime, q: str
) -> None:
    hub = staff_token(rt)
    north = staff_token(rt, "north@example.org", org=OTHER_FORCE, teams=("North",))
    theirs = submit(client, "A car kept circling the depot after dark.", vehicles=[PLATE])
    move_report(rt, theirs, OTHER_FORCE)

    nothing = found(client, hub, q)
    assert nothing["hits"] == [] and nothing["total"] == 0
    assert all(values == [] for values in nothing["facets"].values())
    assert ids(found(client, north, q)) == [theirs]


# --- existing documents ---------------------------------------------------------------------


def test_the_migration_rebuilds_existing_documents_with_the_spellings(
    owner_connection: Connection,
) -> None:
    """A report indexed before this revision (its document without ``MN73VOX``) is queued by
    migration 0016 and rebuilt with it; cases, which carry no identifiers, are not queued."""
    conn = owner_connection
    migrate.downgrade(connection=conn, revision="0015")
    conn.execute(
        text(
            "INSERT INTO organisations (id, name, kind, created_at) "
            "VALUES (990, 'Backfill Force', 'police', :at)"
        ),
        {"at": datetime(2026, 1, 1, tzinfo=UTC)},
    )
    conn.execute(
        text(
            "INSERT INTO reports (id, reference, received_at, channel, kind, description, "
            "owning_org_id, classification, anonymous, when_ongoing, when_unsure, "
            "content_sha256) VALUES (991, 'VGL-OLD0-0991', :at, 'api', 'behaviour', "
            "'A car circling the depot.', 990, 'OFFICIAL', false, false, false, 'x')"
        ),
        {"at": datetime(2026, 1, 20, tzinfo=UTC)},
    )
    conn.execute(
        text(
            "INSERT INTO report_vehicles (report_id, position, registration, "
            "registration_normalised) VALUES (991, 0, 'MN73 VOX', 'MN73VOX')"
        )
    )
    # As the code before this revision indexed it: the plate only as the reporter typed it.
    conn.execute(text("DELETE FROM search_pending"))
    conn.execute(
        text(
            "INSERT INTO search_documents (record_type, record_id, at, title, body) "
            "VALUES ('report', 991, :at, 'VGL-OLD0-0991 behaviour', "
            "'A car circling the depot.\nMN73 VOX')"
        ),
        {"at": datetime(2026, 1, 20, tzinfo=UTC)},
    )

    migrate.upgrade(connection=conn)
    queued = conn.execute(text("SELECT record_type, record_id FROM search_pending")).all()
    assert ("report", 991) in [tuple(r) for r in queued]
    assert {r[0] for r in queued} <= {"report", "entity"}

    session = Session(bind=conn)
    while index.catch_up(session, 500):
        pass
    body = session.scalar(
        select(SearchDocument.body).where(
            SearchDocument.record_type == "report", SearchDocument.record_id == 991
        )
    )
    assert body is not None and "MN73VOX" in body.split()
    assert session.scalar(select(SearchPending.id).limit(1)) is None
