"""Keeping the index in step with the records: build each record's document, store it.

Triggers (migration 0013) put a ``search_pending`` row down whenever a report, an entity or
a case (or a child holding its text) changes. :func:`catch_up` takes a batch of those, builds
the current document of each record from the base tables, stores it (or removes it when the
record is gone) and deletes the pending rows it handled. It always runs as the system (on
PostgreSQL it must read every record, not one reader's share of them); a search runs it
first, so what was just written is findable at once, and the ``search.index`` job drains
any larger backlog (an import, a rebuild).

Text is indexed as written; only the few private-use characters snippets use as markers are
removed, so a marker in a snippet is always the index's own. A document's last line adds the
spellings of its phones, e-mail addresses, vehicle marks and postcodes that the text does
not already hold (``vigil.search.identifiers``), so the form the system shows elsewhere
(``MN73VOX``) finds a report that says "MN73 VOX", and the other way round.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, literal, select, tuple_, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vigil.cases.models import Case, CaseDecision, CaseMeeting
from vigil.intake.models import Followup, Report, ReportOnline, ReportPerson, ReportVehicle
from vigil.linkage.models import Entity
from vigil.search import identifiers, phonetic
from vigil.search.models import SearchDocument, SearchName, SearchNameKey, SearchPending

RECORD_TYPES = ("report", "entity", "case")
CATCH_UP_BATCH = 100
# Private-use characters the snippets use: the start and end of a match, and stand-ins for
# "<" and ">" (PostgreSQL's headline would otherwise drop anything shaped like an HTML tag).
MARK_START, MARK_END, LT, GT = "\ue000", "\ue001", "\ue002", "\ue003"
_PRIVATE = str.maketrans("", "", MARK_START + MARK_END + LT + GT + "\x00")
PERSON_NAME_PROPERTIES = ("name", "first_name", "middle_name", "last_name")
_OUTWARD = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*[0-9][A-Z]{2}$")
_TITLE_MAX = 300


@dataclass
class Document:
    record_type: str
    record_id: int
    at: datetime
    title: str
    body: str
    place: str | None = None
    names: list[str] = field(default_factory=list)


def clean(text: str | None) -> str:
    if not text:
        return ""
    return text.translate(_PRIVATE).strip()


def _join(*parts: str | None) -> str:
    return " ".join(c for c in (clean(p) for p in parts) if c)


def _with_spellings(text: str, forms: Iterable[str]) -> str:
    """The text, and on a last line the identifier spellings it does not already hold."""
    extra = clean(identifiers.missing_from(text, forms))
    return f"{text}\n{extra}" if extra and text else extra or text


def outward(postcode: str | None) -> str | None:
    """The outward half of a UK postcode ("LS6 2QT" → "LS6"), the place facet's value."""
    if not postcode:
        return None
    match = _OUTWARD.match(postcode.strip().upper())
    return match.group(1) if match else None


# --- documents from the base tables ---------------------------------------------------------


def report_documents(session: Session, ids: Sequence[int]) -> dict[int, Document]:
    """A report's reference, kind, text, time, place, people, vehicles, online sightings and
    follow-up messages (the reporter's identity is stored apart and never indexed)."""
    lines: dict[int, list[str]] = defaultdict(list)
    names: dict[int, list[str | None]] = defaultdict(list)
    marks: dict[int, list[str]] = defaultdict(list)
    for rid, name, age, appearance, clothing, behaviour in session.execute(
        select(
            ReportPerson.report_id,
            ReportPerson.name,
            ReportPerson.age,
            ReportPerson.appearance,
            ReportPerson.clothing,
            ReportPerson.behaviour,
        )
        .where(ReportPerson.report_id.in_(ids))
        .order_by(ReportPerson.report_id, ReportPerson.position)
    ):
        lines[rid].append(_join(name, age, appearance, clothing, behaviour))
        names[rid].append(name)
    for rid, registration, make, model, colour in session.execute(
        select(
            ReportVehicle.report_id,
            ReportVehicle.registration,
            ReportVehicle.make,
            ReportVehicle.model,
            ReportVehicle.colour,
        )
        .where(ReportVehicle.report_id.in_(ids))
        .order_by(ReportVehicle.report_id, ReportVehicle.position)
    ):
        lines[rid].append(_join(registration, colour, make, model))
        if registration:
            marks[rid] += identifiers.vrm_spellings(registration)
    for rid, url, where_seen in session.execute(
        select(ReportOnline.report_id, ReportOnline.url, ReportOnline.where_seen)
        .where(ReportOnline.report_id.in_(ids))
        .order_by(ReportOnline.report_id, ReportOnline.position)
    ):
        lines[rid].append(_join(url, where_seen))
    for rid, text in session.execute(
        select(Followup.report_id, Followup.text)
        .where(Followup.report_id.in_(ids), Followup.text.is_not(None))
        .order_by(Followup.report_id, Followup.received_at, Followup.id)
    ):
        lines[rid].append(clean(text))
    docs: dict[int, Document] = {}
    for r in session.execute(
        select(
            Report.id,
            Report.reference,
            Report.kind,
            Report.received_at,
            Report.description,
            Report.when_description,
            Report.where_description,
            Report.where_address,
            Report.where_postcode,
        ).where(Report.id.in_(ids))
    ):
        body = [
            clean(r.description),
            _join(r.when_description),
            _join(r.where_description, r.where_address, r.where_postcode),
            *lines[r.id],
        ]
        text = "\n".join(b for b in body if b)
        forms = [
            *marks[r.id],
            *identifiers.postcode_spellings(r.where_postcode or ""),
            *identifiers.in_text(text),
        ]
        docs[r.id] = Document(
            record_type="report",
            record_id=r.id,
            at=r.received_at,
            title=f"{r.reference} {r.kind}",
            body=_with_spellings(text, forms),
            place=outward(r.where_postcode),
            names=phonetic.name_words(names[r.id]),
        )
    return docs


def entity_documents(session: Session, ids: Sequence[int]) -> dict[int, Document]:
    """An entity's label and every property value; a person's names are name words."""
    docs: dict[int, Document] = {}
    for e in session.execute(select(Entity).where(Entity.id.in_(ids))).scalars():
        props: dict[str, list[str]] = e.properties or {}
        values = [str(v) for key in sorted(props) for v in props[key] or () if v]
        named: list[str] = []
        if e.kind == "person":
            named = [e.label] + [v for k in PERSON_NAME_PROPERTIES for v in props.get(k) or ()]
        postcodes = props.get("postcode") or []
        text = "\n".join(c for c in (clean(e.label), e.kind, *map(clean, values)) if c)
        docs[e.id] = Document(
            record_type="entity",
            record_id=e.id,
            at=e.created_at,
            title=clean(e.label)[:_TITLE_MAX],
            body=_with_spellings(text, _entity_spellings(e.kind, props)),
            place=outward(postcodes[0] if postcodes else None),
            names=phonetic.name_words(named),
        )
    return docs


def _entity_spellings(kind: str, props: dict[str, list[str]]) -> list[str]:
    """The other spellings of an entity's identifiers, read from the properties that hold
    them (an imported plate may be "MN73 VOX", a linked one is "MN73VOX")."""
    spell = {
        "registration": identifiers.vrm_spellings,
        "phone": identifiers.phone_spellings,
        "number": identifiers.phone_spellings if kind == "phone" else None,
        "email": identifiers.email_spellings,
        "address": identifiers.email_spellings if kind == "email" else None,
        "postcode": identifiers.postcode_spellings,
    }
    forms: list[str] = []
    for name, values in sorted(props.items()):
        if (speller := spell.get(name)) is not None:
            forms += [f for v in values or () if v for f in speller(str(v))]
    return forms


def case_documents(session: Session, ids: Sequence[int]) -> dict[int, Document]:
    """A case's reference, title, summary, meeting minutes and decisions with reasons.

    Actions are left out: each belongs to one agency and a partner reading the case may see
    only its own, so their text cannot live in a document every reader of the case shares.
    """
    extra: dict[int, list[str]] = defaultdict(list)
    for cid, attendees, minutes in session.execute(
        select(CaseMeeting.case_id, CaseMeeting.attendees, CaseMeeting.minutes)
        .where(CaseMeeting.case_id.in_(ids))
        .order_by(CaseMeeting.case_id, CaseMeeting.held_on, CaseMeeting.id)
    ):
        extra[cid].append(_join(attendees, minutes))
    for cid, decision, reason in session.execute(
        select(CaseDecision.case_id, CaseDecision.decision, CaseDecision.reason)
        .where(CaseDecision.case_id.in_(ids))
        .order_by(CaseDecision.case_id, CaseDecision.decided_at, CaseDecision.id)
    ):
        extra[cid].append(_join(decision, reason))
    docs: dict[int, Document] = {}
    for c in session.execute(select(Case).where(Case.id.in_(ids))).scalars():
        body = [clean(c.title), clean(c.summary), *extra[c.id]]
        docs[c.id] = Document(
            record_type="case",
            record_id=c.id,
            at=c.created_at,
            title=f"{c.reference} {clean(c.title)}"[:_TITLE_MAX],
            body="\n".join(b for b in body if b),
        )
    return docs


BUILDERS: dict[str, Callable[[Session, Sequence[int]], dict[int, Document]]] = {
    "report": report_documents,
    "entity": entity_documents,
    "case": case_documents,
}


# --- storing --------------------------------------------------------------------------------


def _insert(session: Session, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def store_all(session: Session, docs: Sequence[Document]) -> None:
    """Insert or replace the documents of some records (one per record) and their name
    words, a few statements for the whole batch (a backfill indexes millions)."""
    if not docs:
        return
    stmt = _insert(session, SearchDocument)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SearchDocument.record_type, SearchDocument.record_id],
        set_={c: stmt.excluded[c] for c in ("at", "place", "title", "body")},
    )
    session.execute(
        stmt,
        [
            {
                "record_type": d.record_type,
                "record_id": d.record_id,
                "at": d.at,
                "place": d.place,
                "title": d.title[:_TITLE_MAX],
                "body": d.body,
            }
            for d in docs
        ],
    )
    doc_ids = _document_ids(session, [(d.record_type, d.record_id) for d in docs])
    wanted = {doc_ids[(d.record_type, d.record_id)]: set(d.names) for d in docs}
    had: dict[int, set[str]] = defaultdict(set)
    for doc_id, term in session.execute(
        select(SearchName.doc_id, SearchName.term).where(SearchName.doc_id.in_(sorted(wanted)))
    ):
        had[doc_id].add(term)
    dropped = sorted((i, t) for i, terms in wanted.items() for t in had[i] - terms)
    added = sorted((i, t) for i, terms in wanted.items() for t in terms - had[i])
    if dropped:
        session.execute(
            delete(SearchName).where(tuple_(SearchName.doc_id, SearchName.term).in_(dropped))
        )
    if added:
        session.execute(
            _insert(session, SearchNameKey).on_conflict_do_nothing(),
            [asdict(phonetic.keys(t)) for t in sorted({t for _i, t in added})],
        )
        session.execute(
            _insert(session, SearchName).on_conflict_do_nothing(),
            [{"doc_id": i, "term": t} for i, t in added],
        )
    _prune(session, {t for _i, t in dropped})


def _document_ids(session: Session, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
    by_type: dict[str, list[int]] = defaultdict(list)
    for record_type, record_id in keys:
        by_type[record_type].append(record_id)
    found: dict[tuple[str, int], int] = {}
    for record_type, record_ids in by_type.items():
        for doc_id, record_id in session.execute(
            select(SearchDocument.id, SearchDocument.record_id).where(
                SearchDocument.record_type == record_type,
                SearchDocument.record_id.in_(sorted(record_ids)),
            )
        ):
            found[(record_type, record_id)] = doc_id
    return found


def remove_all(session: Session, record_type: str, record_ids: Sequence[int]) -> None:
    """Records that are gone (erased, deleted): so are their documents and name words."""
    doc_ids = sorted(_document_ids(session, [(record_type, r) for r in record_ids]).values())
    if not doc_ids:
        return
    terms = set(session.scalars(select(SearchName.term).where(SearchName.doc_id.in_(doc_ids))))
    session.execute(delete(SearchName).where(SearchName.doc_id.in_(doc_ids)))
    session.execute(delete(SearchDocument).where(SearchDocument.id.in_(doc_ids)))
    _prune(session, terms)


def _prune(session: Session, terms: Iterable[str]) -> None:
    """Forget name words no document uses any more (an erased report's names go too)."""
    gone = sorted(terms)
    if gone:
        used = exists(select(SearchName.doc_id).where(SearchName.term == SearchNameKey.term))
        session.execute(delete(SearchNameKey).where(SearchNameKey.term.in_(gone), ~used))


# --- catching up ----------------------------------------------------------------------------


def catch_up(session: Session, limit: int = CATCH_UP_BATCH) -> int:
    """Index up to ``limit`` pending changes; returns how many pending rows were handled.

    Concurrent indexers (PostgreSQL) each take rows the others have not locked; a record
    changed again while it was being indexed has a newer pending row and is indexed again.
    """
    claimed = session.execute(
        select(SearchPending.id, SearchPending.record_type, SearchPending.record_id)
        .order_by(SearchPending.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not claimed:
        return 0
    wanted: dict[str, set[int]] = defaultdict(set)
    for _pid, record_type, record_id in claimed:
        wanted[record_type].add(record_id)
    built: list[Document] = []
    for record_type, id_set in wanted.items():
        builder = BUILDERS.get(record_type)
        if builder is None:
            continue
        ids = sorted(id_set)
        docs = builder(session, ids)
        built += docs.values()
        remove_all(session, record_type, [r for r in ids if r not in docs])
    # Oldest first, so new documents' ids follow their records' times (hits are newest
    # first by document id).
    store_all(session, sorted(built, key=lambda d: (d.at, d.record_type, d.record_id)))
    session.execute(delete(SearchPending).where(SearchPending.id.in_([c[0] for c in claimed])))
    return len(claimed)


def has_backlog(session: Session) -> bool:
    return session.scalar(select(exists(select(SearchPending.id)))) is True


def mark_all(session: Session) -> None:
    """Ask for every report, entity and case to be indexed again (a rebuild), oldest first
    so that documents made afresh get ids in the order of their records' times."""
    sources = union_all(
        select(literal("report").label("t"), Report.id.label("i"), Report.received_at.label("at")),
        select(literal("entity"), Entity.id, Entity.created_at),
        select(literal("case"), Case.id, Case.created_at),
    ).subquery()
    session.execute(
        insert(SearchPending).from_select(
            [SearchPending.record_type, SearchPending.record_id],
            select(sources.c.t, sources.c.i).order_by(sources.c.at, sources.c.t, sources.c.i),
        )
    )
