"""The index follows the records: triggers note every change, a search catches up first, a
bigger backlog goes to the ``search.index`` job, and a rebuild re-indexes everything."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, func, select, text, update
from sqlalchemy.orm import Session

from tests.factories import staff_token
from tests.search import found, ids, person, person_entity, submit
from vigil import migrate
from vigil.intake.models import Report, ReportPerson
from vigil.jobs.models import Job
from vigil.jobs.registry import Registry
from vigil.linkage.models import Entity
from vigil.search import index, tasks
from vigil.search.models import SearchDocument, SearchName, SearchNameKey, SearchPending
from vigil.web.runtime import Runtime


def count(rt: Runtime, model: type[object]) -> int:
    return int(rt.db.write_sync(lambda s: s.scalar(select(func.count()).select_from(model))))


def test_edited_records_are_found_by_their_new_words_only(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    ref = submit(client, "Grey hatchback circling the barracks.", people=[person("Rhys Pryce")])
    entity_id = person_entity(rt, "Nadia Voss")
    assert ids(found(client, analyst, "hatchback")) == [ref]
    assert ids(found(client, analyst, "name:Voss")) == [str(entity_id)]

    def edit(session: Session) -> None:
        session.execute(
            update(Report).where(Report.reference == ref).values(description="Grey estate car.")
        )
        session.execute(update(ReportPerson).values(name="Rhys Pugh"))
        session.execute(
            update(Entity)
            .where(Entity.id == entity_id)
            .values(label="Nadia Vance", properties={"name": ["Nadia Vance"]})
        )

    rt.db.write_sync(edit)
    assert found(client, analyst, "hatchback")["total"] == 0
    assert ids(found(client, analyst, "estate")) == [ref]
    assert found(client, analyst, "name:Pryce")["total"] == 0
    assert ids(found(client, analyst, "name:Pugh")) == [ref]
    assert found(client, analyst, "name:Voss")["total"] == 0
    assert ids(found(client, analyst, "name:Vance")) == [str(entity_id)]
    # Name words nobody uses any more are forgotten.
    gone = rt.db.write_sync(
        lambda s: list(
            s.scalars(select(SearchNameKey.term).where(SearchNameKey.term.in_(["pryce", "voss"])))
        )
    )
    assert gone == []


def test_a_backlog_is_handed_to_the_job_which_drains_it(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    refs = [submit(client, f"Parcel number {n} left at the kiosk.") for n in range(3)]
    found(client, analyst, "parcel")
    rounds = index.CATCH_UP_BATCH // 3 + 5
    for _ in range(rounds):
        rt.db.write_sync(index.mark_all)
    assert count(rt, SearchPending) == 3 * rounds

    page = found(client, analyst, "kiosk")
    assert sorted(ids(page)) == sorted(refs)
    assert count(rt, SearchPending) == 3 * rounds - index.CATCH_UP_BATCH
    # changes still wait: the answer says it may be incomplete and counts nothing as exact
    assert page["index_complete"] is False and page["total_exact"] is False
    asked = rt.db.write_sync(
        lambda s: s.scalar(select(Job.kind).where(Job.key == f"{tasks.SEARCH_INDEX}:backlog"))
    )
    assert asked == tasks.SEARCH_INDEX

    tasks.index_backlog(rt, [{}])
    assert count(rt, SearchPending) == 0
    settled = found(client, analyst, "kiosk")
    assert settled["index_complete"] is True and settled["total_exact"] is True
    more = rt.db.write_sync(
        lambda s: s.scalar(select(func.count()).where(Job.key.like(f"{tasks.SEARCH_INDEX}:more%")))
    )
    assert more == 0
    registry = Registry()
    tasks.register(registry)
    assert tasks.SEARCH_INDEX in registry


def test_a_rebuild_restores_a_lost_index(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    ref = submit(client, "Cyclist photographing the signal box.", people=[person("Ines Duarte")])
    assert ids(found(client, analyst, "signal")) == [ref]

    def lose_index(session: Session) -> None:
        session.execute(delete(SearchName))
        session.execute(delete(SearchNameKey))
        session.execute(delete(SearchDocument))

    rt.db.write_sync(lose_index)
    assert count(rt, SearchDocument) == 0
    rt.db.write_sync(index.mark_all)
    assert tasks.catch_up_all(rt) >= 1
    assert count(rt, SearchPending) == 0
    assert ids(found(client, analyst, "signal name:Duarte")) == [ref]


def test_the_migration_queues_records_that_already_exist_oldest_first(
    owner_connection: Connection,
) -> None:
    conn = owner_connection
    migrate.downgrade(connection=conn, revision="0012")
    conn.execute(
        text(
            "INSERT INTO organisations (id, name, kind, created_at) "
            "VALUES (990, 'Backfill Force', 'police', :at)"
        ),
        {"at": datetime(2026, 1, 1, tzinfo=UTC)},
    )
    for rid, day in ((991, 20), (992, 10)):
        conn.execute(
            text(
                "INSERT INTO reports (id, reference, received_at, channel, kind, description, "
                "owning_org_id, classification, anonymous, when_ongoing, when_unsure, "
                "content_sha256) VALUES (:id, :ref, :at, 'api', 'behaviour', 'Old report.', "
                "990, 'OFFICIAL', false, false, false, 'x')"
            ),
            {"id": rid, "ref": f"VGL-OLD0-{rid}", "at": datetime(2026, 1, day, tzinfo=UTC)},
        )
    migrate.upgrade(connection=conn, revision="0013")
    queued = conn.execute(
        text("SELECT record_type, record_id FROM search_pending ORDER BY id")
    ).all()
    assert [tuple(r) for r in queued] == [("report", 992), ("report", 991)]


def test_a_search_takes_the_writer_to_catch_up_only_when_something_waits(
    client: TestClient, rt: Runtime
) -> None:
    """With nothing waiting to be indexed a search writes once (its audit event) and never
    queues for the writer before reading; with a change waiting it catches up first, so the
    change is found at once."""
    analyst = staff_token(rt)
    ref = submit(client, "Grey hatchback circling the barracks.")
    assert ids(found(client, analyst, "hatchback")) == [ref]  # caught up
    assert count(rt, SearchPending) == 0
    writes = rt.db.writer.batches
    assert ids(found(client, analyst, "hatchback")) == [ref]
    assert rt.db.writer.batches == writes + 1

    rt.db.write_sync(
        lambda s: s.execute(
            update(Report).where(Report.reference == ref).values(description="Grey estate car.")
        )
    )
    writes = rt.db.writer.batches
    assert ids(found(client, analyst, "estate")) == [ref]
    assert rt.db.writer.batches == writes + 2  # the catch-up, then the audit event
