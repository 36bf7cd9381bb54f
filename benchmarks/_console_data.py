"""The synthetic national dataset of ``benchmarks/console.py``: its shape and vocabulary.

A million reports cannot go through the service path in a benchmark's time (each one is
validated, sealed, triaged and audited), so the benchmark writes the rows the service path
would have left behind straight into a migrated database: reports with their people,
vehicles and online sightings, triage results and items, clusters, entities with their
identities, exact values and proposed matches, record shares, and the search index
(documents built exactly as ``vigil.search.index`` builds them, name words and their
phonetic keys). Triggers and secondary indexes are switched off while loading and rebuilt
once at the end (FTS5 ``rebuild`` on SQLite; ``tsvector`` by the table's own trigger and a
fresh GIN index on PostgreSQL), which is what makes it minutes rather than hours.

This module draws the plan (who owns what, which entity belongs to which identity, times,
markings, clusters) with numpy; ``_console_rows`` turns it into rows and writes them;
``_console_build`` owns the engines, the switching off and on, and the cache.

Everything is synthetic and seeded (numpy and ``random``): texts follow ``vigil.demo``,
names come from ``vigil.linkage.synthetic_tables``, phones are Ofcom drama numbers, e-mail
and web addresses use the reserved example domains, postcodes are real outward codes with
random inward halves, plates are random. Entities of one identity share a value, with a
heavy-tailed identity size (Zipf, capped), so that a typical two-hop graph has tens of
nodes and some entities are hubs.

The built database is cached under ``var/bench-cache/`` (SQLite: the file; PostgreSQL: a
database kept as a template) keyed by sizes, seed and :data:`DATA_VERSION`; a later
migration is applied to the cache in place by ``vigil db upgrade``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

DATA_VERSION = 1
YEARS = 3
HUB_ORG, HUB_TEAM = "National CT Reporting Hub", "Triage"
HUB_OTHER_TEAM = "Investigations"
REGIONS = ("CTP North West", "CTP North East", "CTP West Midlands", "CTP Wales", "CTP Scotland")
REGION_TEAM = "Regional Desk"
KINDS = ("person", "vehicle", "email", "online_account", "phone", "location")
KIND_RATE = (0.95, 0.40, 0.25, 0.20, 0.05, 0.15)  # entities per report, sums to 2.0
ZIPF_A, MAX_GROUP = 2.0, 200
MATCH_SHARE = 0.15  # entities with one proposed (pending) match to another identity
PRIORITY_P = (0.02, 0.10, 0.40, 0.48)
DUE = {1: timedelta(hours=1), 2: timedelta(days=1), 3: timedelta(days=7), 4: timedelta(days=30)}
OPEN_DAYS = 30  # reports younger than this are still open in the queue
STAFF = 12  # analysts who claim and decide
# Ofcom's drama ranges: numbers reserved for fiction, never real lines (1,000 each).
DRAMA = (
    "+447700900", "+441134960", "+441144960", "+441154960", "+441164960", "+441174960",
    "+441184960", "+441214960", "+441314960", "+441414960", "+441514960", "+441614960",
    "+442079460", "+442896496", "+442920180", "+441632960",
)  # fmt: skip
PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
PATHS = ("forum/thread", "watch", "channel", "post", "user")
CATEGORY_FOR_KIND = {
    "behaviour": ("observation_surveillance", "photography", "testing_security"),
    "item": ("sabotage_tampering", "materials_acquisition"),
    "vehicle": ("observation_surveillance", "testing_security"),
    "purchase": ("materials_acquisition", "acquisition_of_expertise"),
    "threat": ("expressed_threat", "weapons"),
    "online": ("online_material", "recruiting_financing"),
    "other": ("misrepresentation", "recruiting_financing", "sector_specific"),
}
FACTORS = (
    ("threat_language", "Threat language", 2.0),
    ("imminence", "Imminent timing", 1.5),
    ("weapon", "Weapon mentioned", 1.5),
    ("crowded_place", "Crowded place", 1.0),
    ("identifier", "Identifier given", 0.5),
    ("hearsay", "Hearsay", -0.5),
)


@dataclass(frozen=True)
class Sizes:
    reports: int
    entities: int
    seed: int

    @property
    def key(self) -> str:
        return f"r{self.reports}-e{self.entities}-s{self.seed}-v{DATA_VERSION}"


# --- time and text helpers ------------------------------------------------------------------


def sqlite_time(epoch: float | None) -> str | None:
    """The text SQLAlchemy stores for a UTC datetime on SQLite."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(" ", "microseconds")[:26]


def pg_time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _name_tables() -> tuple[tuple[list[str], np.ndarray], tuple[list[str], np.ndarray]]:
    """First names and surnames with cumulative weights, from the linkage generator."""
    from vigil.linkage import synthetic_tables

    firsts: list[str] = []
    weights: list[float] = []
    for table in (synthetic_tables.MALE, synthetic_tables.FEMALE):
        for names, cum in table.values():
            prev = 0.0
            for name, c in zip(names, cum, strict=True):
                firsts.append(name)
                weights.append(c - prev)
                prev = c
    sur_names, sur_cum = synthetic_tables.ANY_SURNAME
    return (firsts, np.cumsum(weights)), (list(sur_names), np.asarray(sur_cum, dtype=float))


class Groups:
    """What each identity (a group of entities of one kind) is: its name, plate, number."""

    def __init__(self, rng: np.random.Generator, kinds: np.ndarray) -> None:
        n = len(kinds)
        self.kinds = kinds
        (firsts, fcum), (surs, scum) = _name_tables()
        fi = np.searchsorted(fcum, rng.random(n) * fcum[-1]).clip(0, len(firsts) - 1)
        si = np.searchsorted(scum, rng.random(n) * scum[-1]).clip(0, len(surs) - 1)
        self.firsts, self.surs, self.fi, self.si = firsts, surs, fi.tolist(), si.tolist()
        self.named = (rng.random(n) < 0.6).tolist()
        self.num = rng.integers(0, 1_000_000_000, n).tolist()
        self.num2 = rng.integers(0, 1_000_000, n).tolist()

    def person(self, g: int) -> str | None:
        if not self.named[g]:
            return None
        return f"{self.firsts[self.fi[g]]} {self.surs[self.si[g]]}"

    def plate(self, g: int) -> str:
        x = int(self.num[g])
        letters = PLATE_LETTERS
        return (
            letters[x % 24]
            + letters[(x // 24) % 24]
            + f"{10 + (x // 576) % 65:02d} "
            + "".join(letters[(x // 37440 // 24**i) % 24] for i in range(3))
        )

    def phone(self, g: int) -> str:
        x = int(self.num[g]) % (len(DRAMA) * 1000)
        return DRAMA[x // 1000] + f"{x % 1000:03d}"

    def email(self, g: int) -> str:
        name = (self.firsts[self.fi[g]] + "." + self.surs[self.si[g]]).lower()
        name = "".join(c for c in name if c == "." or (c.isascii() and c.isalpha()))
        host = ("example.org", "example.com", "example.net")[int(self.num2[g]) % 3]
        return f"{name}{int(self.num2[g]) % 1000}@{host}"

    def url(self, g: int) -> str:
        host = ("example.org", "example.com", "example.net")[int(self.num[g]) % 3]
        return f"https://{host}/{PATHS[int(self.num2[g]) % 5]}/item-{int(self.num[g]) % 99_991}"

    def address(self, g: int) -> tuple[str, str, str]:
        from vigil import demo

        town, _lat, _lon, outward = demo.PLACES[int(self.num[g]) % len(demo.PLACES)]
        x = int(self.num2[g])
        inward = demo.INWARD_LETTERS[x % 20] + demo.INWARD_LETTERS[(x // 20) % 20]
        return (
            f"{1 + x % 240} {('Mill', 'Church', 'Station', 'Park', 'High')[x % 5]} Road, {town}",
            f"{outward[x % len(outward)]} {x % 10}{inward}",
            town,
        )


@dataclass
class Plan:
    """The dataset's skeleton, drawn with numpy before any row is written."""

    sizes: Sizes
    now: float
    times: np.ndarray  # received_at per report (epoch s), ascending
    owner: np.ndarray  # 0 hub Triage, 1 hub Investigations, 2.. a region
    marking: np.ndarray  # 0 OFFICIAL, 1 OFFICIAL-SENSITIVE, 2 SECRET
    shared: np.ndarray  # a regional report shared with the hub organisation
    ent_report: np.ndarray  # per entity (id = index + 1): its report index
    ent_kind: np.ndarray
    ent_group: np.ndarray  # identity id - 1
    first_entity: np.ndarray  # per report: index of its first entity (entities are contiguous)
    groups: Groups
    group_kind: np.ndarray
    cluster: np.ndarray  # per report: cluster id or 0


def plan(sizes: Sizes, now: float) -> Plan:
    rng = np.random.default_rng(sizes.seed)
    n = sizes.reports
    span = YEARS * 365 * 86400
    times = np.sort(now - rng.random(n) * span)
    roll = rng.random(n)
    owner = np.where(roll < 0.80, 0, np.where(roll < 0.84, 1, 2 + rng.integers(0, len(REGIONS), n)))
    mroll = rng.random(n)
    marking = np.where(mroll < 0.05, 0, np.where(mroll < 0.97, 1, 2))
    shared = (owner >= 2) & (rng.random(n) < 0.5)
    scale = sizes.entities / (n * sum(KIND_RATE))
    counts = np.zeros((n, len(KINDS)), dtype=np.int64)
    for k, rate in enumerate(KIND_RATE):
        r = rate * scale
        whole = int(r)
        counts[:, k] = whole + (rng.random(n) < (r - whole))
    per_report = counts.sum(axis=1)
    first_entity = np.concatenate(([0], np.cumsum(per_report)[:-1]))
    total = int(per_report.sum())
    ent_report = np.repeat(np.arange(n), per_report)
    # Kinds inside each report, in KINDS order: from the counts matrix in one pass.
    ent_kind = np.repeat(np.tile(np.arange(len(KINDS)), n), counts.reshape(-1))
    ent_group = np.zeros(total, dtype=np.int64)
    group_kinds: list[np.ndarray] = []
    next_group = 0
    for k in range(len(KINDS)):
        members = np.flatnonzero(ent_kind == k)
        need = len(members)
        sizes_k: list[np.ndarray] = []
        have = 0
        while have < need:
            draw = np.minimum(rng.zipf(ZIPF_A, max(1024, need // 2)), MAX_GROUP)
            sizes_k.append(draw)
            have += int(draw.sum())
        sz = np.concatenate(sizes_k)
        cut = int(np.searchsorted(np.cumsum(sz), need)) + 1
        sz = sz[:cut]
        slots = np.repeat(np.arange(next_group, next_group + len(sz)), sz)[:need]
        rng.shuffle(slots)
        ent_group[members] = slots
        group_kinds.append(np.full(len(sz), k))
        next_group += len(sz)
    group_kind = np.concatenate(group_kinds)
    cluster = np.zeros(n, dtype=np.int64)
    starts = rng.choice(n - 6, size=max(1, n // 40), replace=False) if n > 10 else np.array([], int)
    for s in np.sort(starts):
        if cluster[s]:
            continue
        size = 2 + int(rng.random() < 0.3) + int(rng.random() < 0.1)
        for j in range(size):
            if s + j * 2 < n and not cluster[s + j * 2]:
                cluster[s + j * 2] = s + 1
    return Plan(
        sizes, now, times, owner, marking, shared, ent_report, ent_kind, ent_group,
        first_entity, Groups(rng, group_kind), group_kind, cluster,
    )  # fmt: skip


# --- rows -------------------------------------------------------------------------------------

REPORT_COLS = (
    "id", "reference", "received_at", "channel", "kind", "description", "owning_org_id",
    "owning_team_id", "classification", "anonymous", "when_start", "when_end", "when_ongoing",
    "when_unsure", "when_description", "where_description", "where_address", "where_postcode",
    "where_lat", "where_lon", "content_sha256",
)  # fmt: skip
TRIAGE_COLS = (
    "report_id", "received_at", "status", "pipeline_version", "priority", "priority_rank",
    "score", "factors", "categories", "category_codes", "config_version", "cluster_id",
    "due_at", "triaged_at", "state", "claimed_by_user_id", "claimed_at", "outcome",
    "outcome_reason", "decided_by_user_id", "decided_at",
)  # fmt: skip
ITEM_COLS = (
    "id", "report_id", "kind", "value", "text", "start", "end", "confidence", "source", "status",
)  # fmt: skip
PEOPLE_COLS = ("report_id", "position", "name", "age", "appearance", "clothing", "behaviour")
VEHICLE_COLS = (
    "report_id", "position", "registration", "registration_normalised", "make", "model", "colour",
)  # fmt: skip
ONLINE_COLS = ("report_id", "position", "url", "where_seen")
ENTITY_COLS = (
    "id", "kind", "identity_id", "label", "properties", "source_type", "source_id", "source_ref",
    "owning_org_id", "owning_team_id", "classification", "benign", "created_at",
)  # fmt: skip
VALUE_COLS = ("entity_id", "kind", "value")
DOC_COLS = ("id", "record_type", "record_id", "at", "place", "title", "body")
SHARE_COLS = ("record_type", "record_id", "org_id", "purpose", "shared_at")
LINK_COLS = ("report_id", "other_report_id", "reason", "detail", "score", "made_at")
IDENTITY_COLS = ("id", "kind", "created_at")
MATCH_COLS = (
    "entity_id", "other_entity_id", "method", "match_probability", "match_weight", "is_match",
    "model_version", "explanation", "state", "created_at",
)  # fmt: skip
TIME_COLS = {
    "received_at", "when_start", "when_end", "due_at", "triaged_at", "claimed_at",
    "decided_at", "created_at", "at", "shared_at", "made_at",
}  # fmt: skip
BOOL_COLS = {"anonymous", "when_ongoing", "when_unsure", "benign", "is_match"}
MARKINGS = ("OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET")


@dataclass
class Ids:
    """Organisation, team and staff ids the rows refer to (made before loading)."""

    hub_org: int
    hub_team: int
    hub_other_team: int
    region_orgs: list[int]
    region_teams: list[int]
    staff: list[int]


COLUMNS = {
    "reports": REPORT_COLS, "triage_results": TRIAGE_COLS, "triage_items": ITEM_COLS,
    "report_people": PEOPLE_COLS, "report_vehicles": VEHICLE_COLS, "report_online": ONLINE_COLS,
    "linkage_entities": ENTITY_COLS, "linkage_values": VALUE_COLS, "search_documents": DOC_COLS,
    "search_names": ("doc_id", "term"), "record_shares": SHARE_COLS,
    "triage_cluster_links": LINK_COLS, "linkage_identities": IDENTITY_COLS,
    "linkage_matches": MATCH_COLS,
    "search_name_keys": ("term", "metaphone", "soundex", "head", "tail"),
}  # fmt: skip


def staff_rows(now: float) -> tuple[list[tuple[Any, ...]], ...]:
    """Organisations, teams, staff and memberships the dataset refers to (fixed ids)."""
    orgs = [(1, HUB_ORG, "ct_policing", now)]
    orgs += [(2 + i, name, "ct_policing", now) for i, name in enumerate(REGIONS)]
    teams = [(1, 1, HUB_TEAM, now), (2, 1, HUB_OTHER_TEAM, now)]
    teams += [(3 + i, 2 + i, REGION_TEAM, now) for i in range(len(REGIONS))]
    users = [
        (i + 1, f"bench-staff-{i + 1}@example.org", 1, "triage_analyst", "OFFICIAL-SENSITIVE", now)
        for i in range(STAFF)
    ]
    members = [(i + 1, 1) for i in range(STAFF)]
    return orgs, teams, users, members


def ids_for() -> Ids:
    return Ids(
        hub_org=1,
        hub_team=1,
        hub_other_team=2,
        region_orgs=[2 + i for i in range(len(REGIONS))],
        region_teams=[3 + i for i in range(len(REGIONS))],
        staff=[i + 1 for i in range(STAFF)],
    )
