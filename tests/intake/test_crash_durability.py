"""Crash durability: ``kill -9`` a real ``vigil serve`` mid-load and audit what survived.

Each run starts the server as a subprocess on a fresh database and data folder, lets many
concurrent clients submit distinct reports (JSON and multipart with photos, identified and
anonymous, some with an Idempotency-Key), kills the server with SIGKILL at a fixed moment,
restarts it on the same database and folder, and then reads the database directly to prove:

* every acknowledged reference is there exactly once, its stored rows re-assemble into
  exactly the content that was sent, its follow-up code and sealed identity are the ones
  that were acknowledged, and its files are on disk byte for byte;
* nothing is half-written: every report (acknowledged or not) is complete, with its
  credential, identity (or none, when anonymous), audit event and files, and no row points
  at a report that does not exist;
* a request cut off by the crash and retried with its Idempotency-Key is stored once.

A SIGKILL ends the process, not the machine: this proves that acknowledgement follows the
commit and that a commit is all-or-nothing, not that the disk survives a power cut.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from tests.factories import jpeg_bytes, png_bytes
from tests.scratch import fresh_database
from tests.serving import server_env, standby
from vigil import migrate
from vigil.audit.models import AuditEvent
from vigil.db import create_db_engine
from vigil.intake.codes import CodeHasher
from vigil.intake.models import Attachment, FollowupCredential, Report, ReporterIdentity
from vigil.intake.schemas import ReportIn
from vigil.intake.services import canonical_content
from vigil.intake.storage import LocalFileStore
from vigil.sealing import Sealed, Sealer
from vigil.settings import Settings

pytestmark = pytest.mark.slow

SEED = 20261126
CLIENTS = 24
KILL_AFTER_S = (0.3, 1.0, 2.0)
MIN_ACKNOWLEDGED = 20
CLIENT_TIMEOUT_S = 5.0
CHILD_TABLES = (
    "report_people",
    "report_vehicles",
    "report_online",
    "attachments",
    "followups",
    "reporter_identities",
    "followup_credentials",
    "idempotency_records",
)
KINDS = ("behaviour", "item", "vehicle", "purchase", "threat", "online", "other")
SIGHTINGS = (
    "a man filming the entrance to the substation",
    "two people asking about the delivery times for fertiliser",
    "a rucksack left under the bench for over an hour",
    "someone pacing out distances near the stadium gate",
    "a van with false plates parked by the cafe\u0301",  # NFD: stored as NFC
    "repeated questions about the security rota\nand the side door",
)
LETTERS = "ABCDEFGHJKLMNPRSTVWXY"


# --- what the clients send ----------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    payload: dict[str, Any]
    files: tuple[tuple[str, bytes, str], ...]
    multipart: bool
    idempotency_key: str | None

    @property
    def report(self) -> ReportIn:
        return ReportIn.model_validate(self.payload)


@dataclass(frozen=True)
class Answer:
    reference: str
    followup_code: str
    received_at: datetime
    retried: bool = False


def image_pool() -> list[tuple[str, bytes, str]]:
    """Small distinct photos; reports share some of them (storage is content-addressed)."""
    pool: list[tuple[str, bytes, str]] = []
    colours = ("red", "green", "navy", "orange", "purple", "teal")
    for i, colour in enumerate(colours):
        pool.append(
            (f"photo{i}.jpg", jpeg_bytes((40 + i, 30 + i), colour, gps=i % 2 == 0), "image/jpeg")
        )
        pool.append((f"shot{i}.png", png_bytes((20 + i, 24 + i)), "image/png"))
    return pool


def make_report(
    rng: random.Random, tag: str, client: int, seq: int, images: list[tuple[str, bytes, str]]
) -> Sent:
    payload: dict[str, Any] = {
        "kind": rng.choice(KINDS),
        "description": f"[{tag} c{client:02d} n{seq:04d}] {rng.choice(SIGHTINGS)}",
    }
    if rng.random() < 0.5:
        day, hour, minute = rng.randint(1, 25), rng.randint(0, 23), rng.randint(0, 59)
        start = f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z"
        payload["when"] = {
            "start": start,
            "end": None,
            "unsure": rng.random() < 0.3,
            "description": "around then",
        }
    if rng.random() < 0.5:
        payload["where"] = {
            "description": f"near exit {rng.randint(1, 9)}",
            "address": "Mill Lane, Leeds",
            "postcode": rng.choice(("ls6 2qt", "SW1A1AA", "m1 1ae")),
            "lat": round(rng.uniform(50.0, 55.0), 6),
            "lon": round(rng.uniform(-3.0, 1.0), 6),
        }
    payload["people"] = [
        {"age": f"{rng.randint(2, 6)}0s", "appearance": rng.choice(("tall", "short", "beard"))}
        for _ in range(rng.randint(0, 3))
    ]
    payload["vehicles"] = [
        {
            "registration": f"{rng.choice(LETTERS)}{rng.choice(LETTERS)}{rng.randint(10, 99)} "
            f"{''.join(rng.choice(LETTERS) for _ in range(3))}",
            "make": rng.choice(("Ford", "Vauxhall", "Toyota")),
            "colour": rng.choice(("white", "silver", None)),
        }
        for _ in range(rng.randint(0, 2))
    ]
    payload["online"] = [
        {"url": f"https://example.org/{tag}/{client}/{seq}/{i}", "where_seen": "forum"}
        for i in range(rng.randint(0, 2))
    ]
    who = rng.random()
    if who < 0.4:
        payload["reporter"] = {
            "anonymous": False,
            "name": f"Tester {client}-{seq}",
            "phone": f"07700 900{rng.randint(0, 999):03d}",
            "email": f"crash.{client}.{seq}@example.org",
        }
    elif who < 0.7:
        payload["reporter"] = {"anonymous": True}
    files = tuple(rng.sample(images, rng.randint(1, 2))) if rng.random() < 0.3 else ()
    return Sent(
        payload=payload,
        files=files,
        multipart=bool(files) or rng.random() < 0.15,
        idempotency_key=f"{tag}-{client}-{seq}" if rng.random() < 0.3 else None,
    )


def post(http: httpx.Client, sent: Sent) -> httpx.Response:
    headers = {"Idempotency-Key": sent.idempotency_key} if sent.idempotency_key else {}
    if not sent.multipart:
        return http.post("/api/v1/reports", json=sent.payload, headers=headers)
    report = json.dumps(sent.payload)
    if not sent.files:  # httpx sends a form without files as urlencoded: make it multipart
        return http.post("/api/v1/reports", files={"report": (None, report)}, headers=headers)
    return http.post(
        "/api/v1/reports",
        data={"report": report},
        files=[("files", (name, data, ctype)) for name, data, ctype in sent.files],
        headers=headers,
    )


def answer_of(response: httpx.Response, *, retried: bool = False) -> Answer:
    body = response.json()
    return Answer(
        body["reference"],
        body["followup_code"],
        datetime.fromisoformat(body["received_at"]),
        retried,
    )


@dataclass
class Load:
    """Concurrent clients, and everything they sent and were told."""

    base_url: str
    tag: str
    images: list[tuple[str, bytes, str]]
    killing: threading.Event = field(default_factory=threading.Event)
    warmed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: dict[str, Sent] = field(default_factory=dict)  # by description
    acked: dict[str, Answer] = field(default_factory=dict)  # by description
    interrupted: list[Sent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def client(self, number: int, barrier: threading.Barrier) -> None:
        rng = random.Random(f"{SEED}:{self.tag}:{number}")
        with httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT_S) as http:
            barrier.wait()
            seq = 0
            while not self.killing.is_set():
                sent = make_report(rng, self.tag, number, seq, self.images)
                seq += 1
                with self.lock:
                    self.sent[sent.payload["description"]] = sent
                try:
                    response = post(http, sent)
                except httpx.TransportError as exc:
                    with self.lock:
                        self.interrupted.append(sent)
                        if not self.killing.is_set():
                            self.errors.append(f"client {number}: {exc!r} before the kill")
                    return
                with self.lock:
                    if response.status_code == 201:
                        self.acked[sent.payload["description"]] = answer_of(response)
                        if len(self.acked) >= MIN_ACKNOWLEDGED:
                            self.warmed.set()
                    else:
                        self.errors.append(
                            f"client {number}: {response.status_code} {response.text[:300]}"
                        )


# --- databases and servers ------------------------------------------------------------------


# --- checking what survived ---------------------------------------------------------------

PERSON_FIELDS = ("name", "age", "appearance", "clothing", "behaviour")
VEHICLE_FIELDS = ("registration", "make", "model", "colour")
ONLINE_FIELDS = ("url", "where_seen")


def stored_report(row: Report) -> ReportIn:
    """The report re-assembled from its stored rows (what staff would be shown)."""
    when_cols = (row.when_start, row.when_end, row.when_description)
    when = (
        {
            "start": row.when_start,
            "end": row.when_end,
            "ongoing": row.when_ongoing,
            "unsure": row.when_unsure,
            "description": row.when_description,
        }
        if any(v is not None for v in when_cols) or row.when_ongoing or row.when_unsure
        else None
    )
    where_cols = (
        row.where_description,
        row.where_address,
        row.where_postcode,
        row.where_lat,
        row.where_lon,
    )
    where = (
        {
            "description": row.where_description,
            "address": row.where_address,
            "postcode": row.where_postcode,
            "lat": row.where_lat,
            "lon": row.where_lon,
        }
        if any(v is not None for v in where_cols)
        else None
    )
    return ReportIn.model_validate(
        {
            "kind": row.kind,
            "description": row.description,
            "when": when,
            "where": where,
            "people": [{f: getattr(p, f) for f in PERSON_FIELDS} for p in row.people],
            "vehicles": [{f: getattr(v, f) for f in VEHICLE_FIELDS} for v in row.vehicles],
            "online": [{f: getattr(o, f) for f in ONLINE_FIELDS} for o in row.online],
        }
    )


@dataclass
class Audit:
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_report(
    audit: Audit,
    row: Report,
    sent: Sent,
    identity: ReporterIdentity | None,
    credential: FollowupCredential | None,
    sealer: Sealer,
) -> None:
    ref = row.reference
    expected = sent.report
    content = canonical_content(expected)
    audit.check(row.content_sha256 == sha(content), f"{ref}: content_sha256 differs")
    stored = canonical_content(stored_report(row))
    audit.check(stored == content, f"{ref}: stored content {stored!r} != sent {content!r}")
    audit.check(row.description == expected.description, f"{ref}: description differs")
    for name, items in (("people", row.people), ("vehicles", row.vehicles), ("online", row.online)):
        audit.check(
            [item.position for item in items] == list(range(len(getattr(expected, name)))),
            f"{ref}: {name} positions {[i.position for i in items]}",
        )
    audit.check(
        [v.registration_normalised for v in row.vehicles]
        == [v.registration_normalised for v in expected.vehicles],
        f"{ref}: normalised registrations differ",
    )
    anonymous = expected.reporter is None or expected.reporter.anonymous
    audit.check(row.anonymous == anonymous, f"{ref}: anonymous={row.anonymous}")
    audit.check(row.channel == "api", f"{ref}: channel {row.channel!r}")

    audit.check(credential is not None, f"{ref}: no follow-up credential")
    if anonymous:
        audit.check(identity is None, f"{ref}: anonymous report has a reporter identity")
    elif identity is None:
        audit.check(False, f"{ref}: identified report has no reporter identity")
    else:
        sealed = Sealed(identity.key_id, identity.wrapped_key, identity.nonce, identity.ciphertext)
        try:
            opened = orjson.loads(sealer.open(sealed, b"reporter:" + ref.encode()))
        except Exception as exc:
            audit.check(False, f"{ref}: identity does not open ({type(exc).__name__})")
        else:
            assert expected.reporter is not None
            wanted = expected.reporter.model_dump(mode="json", exclude={"anonymous"})
            audit.check(opened == wanted, f"{ref}: identity {opened} != sent {wanted}")

    got = [(a.filename, a.sha256, a.size_bytes, a.media_type) for a in row.attachments]
    want = [(name, sha(data), len(data), ctype) for name, data, ctype in sent.files]
    audit.check(got == want, f"{ref}: attachments {got} != sent {want}")


def check_attachment_files(audit: Audit, session: Session, store: LocalFileStore) -> int:
    rows = session.scalars(select(Attachment)).all()
    for att in rows:
        path = store.path_for(att.storage_key)
        if not path.is_file():
            audit.check(False, f"attachment {att.id}: {att.storage_key} missing on disk")
            continue
        data = path.read_bytes()
        audit.check(sha(data) == att.sha256, f"attachment {att.id}: file sha256 differs")
        audit.check(len(data) == att.size_bytes, f"attachment {att.id}: file size differs")
        if att.display_key is not None:
            shown = store.path_for(att.display_key)
            try:
                with Image.open(io.BytesIO(shown.read_bytes())) as image:
                    image.load()
                    audit.check(image.format == "JPEG", f"attachment {att.id}: display not JPEG")
            except Exception as exc:
                audit.check(False, f"attachment {att.id}: display copy bad ({exc!r})")
    return len(rows)


def audit_database(
    engine: Engine, load: Load, data_dir: Path, *, sqlite: bool
) -> tuple[Audit, dict[str, int]]:
    audit = Audit()
    settings = Settings(environment="test", database_url="sqlite://", data_dir=data_dir)
    sealer = Sealer(settings.keyring, settings.current_key_id)
    hasher = CodeHasher(settings.followup_hash_time_cost, settings.followup_hash_memory_kib)
    store = LocalFileStore(settings.attachments_dir)
    stats: dict[str, int] = {}
    with Session(engine) as session:
        reports = session.scalars(select(Report).order_by(Report.id)).all()
        identities = {i.report_id: i for i in session.scalars(select(ReporterIdentity))}
        credentials = {c.report_id: c for c in session.scalars(select(FollowupCredential))}
        collected = Counter(
            ref
            for ids in session.scalars(
                select(AuditEvent.record_ids).where(AuditEvent.action == "report.collected")
            )
            for ref in ids
        )
        references = Counter(r.reference for r in reports)
        descriptions = Counter(r.description for r in reports)
        by_description = {r.description: r for r in reports}

        for ref, n in references.items():
            audit.check(n == 1, f"{ref}: {n} reports with that reference")
        for desc, n in descriptions.items():
            audit.check(n == 1, f"{n} reports stored for one submission: {desc[:60]!r}")
        for ref, n in collected.items():
            audit.check(ref in references, f"{ref}: audit event for a report that does not exist")
            audit.check(n == 1, f"{ref}: {n} report.collected audit events")

        # Every stored report, acknowledged or not, is one the clients sent, and complete.
        sent_by_stored_description = {s.report.description: s for s in load.sent.values()}
        for row in reports:
            sent = sent_by_stored_description.get(row.description)
            if sent is None:
                audit.check(False, f"{row.reference}: stored report nobody sent")
                continue
            audit.check(row.reference in collected, f"{row.reference}: no audit event")
            check_report(
                audit,
                row,
                sent,
                identities.get(row.id),
                credentials.get(row.id),
                sealer,
            )

        # Every acknowledged report is there, under the reference and code it was given.
        for description, answer in load.acked.items():
            stored_desc = load.sent[description].report.description
            row = by_description.get(stored_desc)
            if row is None:
                audit.check(False, f"{answer.reference}: acknowledged but missing")
                continue
            ref = answer.reference
            audit.check(row.reference == ref, f"{ref}: stored under {row.reference}")
            audit.check(
                row.received_at == answer.received_at,
                f"{ref}: received_at {row.received_at} != answered {answer.received_at}",
            )
            credential = credentials.get(row.id)
            audit.check(
                credential is not None
                and hasher.verify(credential.code_hash, answer.followup_code),
                f"{ref}: acknowledged follow-up code does not verify",
            )

        # Nothing points at a report that is not there.
        for table in CHILD_TABLES:
            orphans = session.scalar(
                text(
                    f"SELECT COUNT(*) FROM {table} c "  # fixed table names
                    "LEFT JOIN reports r ON r.id = c.report_id WHERE r.id IS NULL"
                )
            )
            audit.check(orphans == 0, f"{table}: {orphans} rows without a report")
        stats["attachments"] = check_attachment_files(audit, session, store)
        stats["reports"] = len(reports)
        stats["identities"] = len(identities)

        if sqlite:
            integrity = session.scalars(text("PRAGMA integrity_check")).all()
            audit.check(integrity == ["ok"], f"SQLite integrity_check: {integrity}")
            broken = session.execute(text("PRAGMA foreign_key_check")).all()
            audit.check(not broken, f"SQLite foreign_key_check: {broken[:10]}")
    return audit, stats


# --- the test -------------------------------------------------------------------------------


@pytest.mark.parametrize("kill_after", KILL_AFTER_S, ids=lambda s: f"kill-after-{s}s")
@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
def test_acknowledged_reports_survive_kill_9(
    engine_name: str, kill_after: float, tmp_path: Path
) -> None:
    """Kill at ``kill_after`` seconds of load, or at the MIN_ACKNOWLEDGED-th answer if later."""
    with fresh_database(engine_name, tmp_path, "crash") as url:
        data_dir = tmp_path / "var"
        env = server_env(
            environment="test",
            database_url=url,
            data_dir=str(data_dir),
            public_rate_limit="0",
            log_level="warning",
        )
        first = standby(env, tmp_path / "server-before-kill.log")
        second = standby(env, tmp_path / "server-after-restart.log")
        servers = (first, second)

        def tails() -> str:
            return "\n".join(s.tail() for s in servers)

        try:
            migrate.upgrade(url)
            first.wait_imported()
            second.wait_imported()  # so its start-up does not compete with the load
            first.serve()
            load = Load(first.base_url, f"{engine_name}-{kill_after}", image_pool())
            barrier = threading.Barrier(CLIENTS + 1)
            threads = [
                threading.Thread(target=load.client, args=(n, barrier), daemon=True)
                for n in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            barrier.wait(timeout=30)
            started = time.monotonic()
            time.sleep(kill_after)
            load.warmed.wait(timeout=30)
            load.killing.set()
            first.crash()
            killed_at = time.monotonic() - started
            for thread in threads:
                thread.join(timeout=CLIENT_TIMEOUT_S * 2)
            assert not any(t.is_alive() for t in threads), "clients hang after the kill"
            acked_before = len(load.acked)
            summary = (
                f"{engine_name}, killed after {killed_at:.2f}s of load: {len(load.sent)} sent, "
                f"{acked_before} acknowledged, {len(load.interrupted)} cut off"
            )
            assert not load.errors, f"{summary}\n" + "\n".join(load.errors[:20]) + "\n" + tails()
            assert acked_before >= MIN_ACKNOWLEDGED, f"too few acknowledged: {summary}\n{tails()}"
            assert load.interrupted, f"the kill cut off no request: {summary}"

            restart_began = time.monotonic()
            second.serve()
            restart_s = time.monotonic() - restart_began
            engine = create_db_engine(url, pool_size=1)
            try:
                with Session(engine) as session:
                    present = set(session.scalars(select(Report.description)))
                committed_unacked = sum(
                    1
                    for s in load.interrupted
                    if s.report.description in present
                    and s.payload["description"] not in load.acked
                )
                retried = 0
                with httpx.Client(base_url=second.base_url, timeout=CLIENT_TIMEOUT_S) as http:
                    # A request the crash cut off, retried with its key, is stored once.
                    for sent in load.interrupted:
                        if sent.idempotency_key is None:
                            continue
                        response = post(http, sent)
                        assert response.status_code == 201, f"retry: {response.text}\n{tails()}"
                        load.acked[sent.payload["description"]] = answer_of(response, retried=True)
                        retried += 1
                    probe = make_report(random.Random(SEED), "after-restart", 99, 0, load.images)
                    load.sent[probe.payload["description"]] = probe
                    response = post(http, probe)
                    assert response.status_code == 201, f"after restart: {response.text}\n{tails()}"
                    load.acked[probe.payload["description"]] = answer_of(response)
                audit, stats = audit_database(
                    engine, load, data_dir, sqlite=engine_name == "sqlite"
                )
            finally:
                engine.dispose()
            summary += (
                f"; restart ready in {restart_s:.2f}s with {stats['reports']} reports "
                f"({committed_unacked} committed but unacknowledged, {retried} retried by key, "
                f"{stats['attachments']} attachments, {stats['identities']} identities)"
            )
            print(summary)
            assert not audit.problems, (
                f"{summary}\n{len(audit.problems)} problems:\n"
                + "\n".join(audit.problems[:30])
                + "\n"
                + tails()
            )
        finally:
            for server in servers:
                server.stop()
