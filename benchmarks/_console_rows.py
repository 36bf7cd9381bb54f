"""Rows for ``benchmarks/console.py``'s dataset, and the engines' bulk paths to write them.

:class:`Maker` turns the plan drawn by ``_console_data.plan`` into the rows of every table,
report by report, exactly as the service path would have left them (the search documents
as ``vigil.search.index`` builds them); :func:`load` streams them, in chunks of reports,
through a :class:`Sink`: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from benchmarks._console_data import (
    BOOL_COLS,
    CATEGORY_FOR_KIND,
    COLUMNS,
    DUE,
    FACTORS,
    KINDS,
    MARKINGS,
    MATCH_SHARE,
    OPEN_DAYS,
    PRIORITY_P,
    REF_ALPHABET,
    TIME_COLS,
    Ids,
    Plan,
    pg_time,
    sqlite_time,
)


class Chunk:
    """Rows for every table from a run of consecutive reports."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {
            t: [] for t in ("reports", "triage_results", "triage_items", "report_people",
                            "report_vehicles", "report_online", "linkage_entities",
                            "linkage_values", "search_documents", "search_names",
                            "record_shares", "triage_cluster_links")
        }  # fmt: skip
        self.terms: set[str] = set()


class Maker:
    """Turns the plan into rows, report by report (seeded; the same plan, the same rows)."""

    def __init__(self, p: Plan, ids: Ids) -> None:
        from vigil import demo
        from vigil.search import index, phonetic

        self.p, self.ids, self.demo, self.index, self.phonetic = p, ids, demo, index, phonetic
        self.rng = random.Random(p.sizes.seed)
        refs: set[str] = set()
        nrng = np.random.default_rng(p.sizes.seed + 1)
        while len(refs) < p.sizes.reports:
            raw = nrng.integers(0, len(REF_ALPHABET), (p.sizes.reports - len(refs) + 16, 8))
            for row in raw:
                refs.add("".join(REF_ALPHABET[i] for i in row))
                if len(refs) == p.sizes.reports:
                    break
        self.refs = [f"VGL-{r[:4]}-{r[4:]}" for r in sorted(refs, key=lambda s: hash(s))]
        self.doc_id = 0
        self.item_id = 0
        # Plain lists: indexing numpy arrays one element at a time is slow.
        self.times, self.owner = p.times.tolist(), p.owner.tolist()
        self.marking, self.shared = p.marking.tolist(), p.shared.tolist()
        self.ent_kind, self.ent_group = p.ent_kind.tolist(), p.ent_group.tolist()
        self.first_entity, self.cluster = p.first_entity.tolist(), p.cluster.tolist()
        self.priority_cum = np.cumsum(PRIORITY_P).tolist()

    def reference(self, i: int) -> str:
        return self.refs[i]

    def marking_of(self, i: int) -> tuple[int, int | None, str]:
        owner = self.owner[i]
        if owner == 0:
            org, team = self.ids.hub_org, self.ids.hub_team
        elif owner == 1:
            org, team = self.ids.hub_org, self.ids.hub_other_team
        else:
            org, team = self.ids.region_orgs[owner - 2], self.ids.region_teams[owner - 2]
        return org, team, MARKINGS[self.marking[i]]

    def chunk(self, start: int, end: int) -> Chunk:
        out = Chunk()
        for i in range(start, end):
            self._report(i, out)
        return out

    def _report(self, i: int, out: Chunk) -> None:
        rng, demo, p = self.rng, self.demo, self.p
        rid = i + 1
        at = self.times[i]
        ref = self.refs[i]
        org, team, marking = self.marking_of(i)
        kind = rng.choices(demo.KINDS, demo.KIND_WEIGHTS)[0]
        town, lat, lon, outward = demo.PLACES[rng.randrange(len(demo.PLACES))]
        make, model = demo.VEHICLES[rng.randrange(len(demo.VEHICLES))]
        fill = {
            "venue": rng.choice(demo.VENUES), "town": town, "colour": rng.choice(demo.COLOURS),
            "make": make, "model": model, "n": rng.randint(2, 6), "qty": rng.randint(4, 30),
            "minutes": rng.choice((15, 20, 30, 45)), "transport": rng.choice(demo.TRANSPORT),
            "event": rng.choice(demo.EVENTS),
        }  # fmt: skip
        text = rng.choice(demo.TEMPLATES[kind]).format(**fill) + rng.choice(demo.EXTRAS)
        e0 = self.first_entity[i]
        e1 = self.first_entity[i + 1] if i + 1 < len(self.first_entity) else len(self.ent_kind)
        people: list[tuple[Any, ...]] = []
        vehicles: list[tuple[Any, ...]] = []
        online: list[tuple[Any, ...]] = []
        names: list[str | None] = []
        items: list[tuple[str, str, str, float, str]] = []
        entities: list[tuple[int, str, str, dict[str, list[str]], list[tuple[str, str]]]] = []
        for e in range(e0, e1):
            k = KINDS[self.ent_kind[e]]
            g = self.ent_group[e]
            groups = p.groups
            if k == "person":
                name = groups.person(g)
                pos = len(people) + 1
                age, clothing = rng.choice(demo.AGES), rng.choice(demo.CLOTHES)
                people.append(
                    (
                        rid,
                        pos,
                        name,
                        age,
                        rng.choice(demo.BUILDS),
                        clothing,
                        rng.choice(demo.ACTIONS),
                    )
                )
                names.append(name)
                label = name or f"Unnamed person ({age}, {clothing})"
                props = {"name": [name]} if name else {"description": [f"{age}, {clothing}"]}
                entities.append((e, k, label, props, []))
                if name:
                    items.append(("person", name, name, 0.9, "reporter"))
            elif k == "vehicle":
                plate = groups.plate(g)
                norm = plate.replace(" ", "")
                vehicles.append((rid, len(vehicles) + 1, plate, norm, make, model, fill["colour"]))
                props = {"registration": [plate], "make": [make], "colour": [str(fill["colour"])]}
                entities.append((e, k, plate, props, [("vrm", norm)]))
                items.append(("vrm", norm, plate, 0.95, "reporter"))
            elif k == "online_account":
                url = groups.url(g)
                online.append((rid, len(online) + 1, url, rng.choice(demo.WHERE_SEEN)))
                entities.append((e, k, url, {"url": [url]}, [("account", url.lower())]))
                items.append(("url", url, url, 0.95, "reporter"))
            elif k == "email":
                mail = groups.email(g)
                text += f" They gave the e-mail address {mail}."
                entities.append((e, k, mail, {"address": [mail]}, [("email", mail)]))
                items.append(("email", mail, mail, 0.97, "text"))
            elif k == "phone":
                phone = groups.phone(g)
                shown = "0" + phone[3:] if phone.startswith("+44") else phone
                text += f" Their number is {shown}."
                entities.append((e, k, phone, {"number": [phone]}, [("phone", phone)]))
                items.append(("phone", phone, shown, 0.97, "text"))
            else:
                address, postcode, place_town = groups.address(g)
                text += f" It was seen again at {address}."
                props = {"address": [address], "postcode": [postcode], "town": [place_town]}
                entities.append((e, "location", address, props, []))
                items.append(("postcode", postcode, postcode, 0.9, "text"))
        # where / when, as the demo draws them
        where_desc = where_addr = postcode = None
        wlat = wlon = None
        if rng.random() < 0.95:
            where_desc = f"near the {fill['venue']} in {town}"
            if rng.random() < 0.6:
                where_addr = (
                    f"{rng.randint(1, 240)} {rng.choice(('Mill', 'Park', 'High'))} Street, {town}"
                )
            if rng.random() < 0.8:
                inward = "".join(rng.choices(demo.INWARD_LETTERS, k=2))
                postcode = f"{rng.choice(outward)} {rng.randint(0, 9)}{inward}"
            if rng.random() < 0.75:
                wlat, wlon = (
                    round(lat + rng.uniform(-0.03, 0.03), 5),
                    round(lon + rng.uniform(-0.04, 0.04), 5),
                )
        when_start = at - rng.randint(30, 60 * 24 * 14) * 60
        when_desc = rng.choice(demo.WHEN_WORDS)
        rows = out.rows
        rows["reports"].append(
            (rid, ref, at, "web", kind.value, text, org, team, marking, rng.random() < 2 / 3,
             when_start, None, False, False, when_desc, where_desc, where_addr, postcode,
             wlat, wlon, hashlib.sha256(text.encode()).hexdigest())
        )  # fmt: skip
        rows["report_people"] += people
        rows["report_vehicles"] += vehicles
        rows["report_online"] += online
        # triage
        pr = 1 + bisect(self.priority_cum, rng.random())
        pr = min(pr, 4)
        cats = list(
            dict.fromkeys(rng.sample(CATEGORY_FOR_KIND[kind.value], 1 + (rng.random() < 0.3)))
        )
        categories = [
            {"code": c, "label": c.replace("_", " ").capitalize(), "tier": 1, "confidence": 0.8,
             "source": "rules", "status": "active",
             "evidence": [{"rule": c, "text": fill["venue"], "start": -1, "end": -1}]}
            for c in cats
        ]  # fmt: skip
        factors = [
            {"code": c, "label": lab, "weight": w, "evidence": fill["venue"]}
            for c, lab, w in rng.sample(FACTORS, rng.randint(1, 3))
        ]
        age_days = (p.now - at) / 86400
        state, claimed_by, claimed_at, outcome, reason, decided_by, decided_at = (
            "new", None, None, None, None, None, None,
        )  # fmt: skip
        if age_days > OPEN_DAYS and rng.random() < 0.99:
            state = "decided"
            decided_by = self.ids.staff[rng.randrange(len(self.ids.staff))]
            decided_at = at + rng.randint(600, 86400 * 3)
            outcome = rng.choice(
                ("no_further_action", "no_further_action", "refer_to_partner", "escalate")
            )
            reason = "Synthetic benchmark decision."
        elif rng.random() < 0.2:
            state = "claimed"
            claimed_by = self.ids.staff[rng.randrange(len(self.ids.staff))]
            claimed_at = at + 600
        cl = self.cluster[i]
        rows["triage_results"].append(
            (rid, at, "done", 1, f"P{pr}", pr, round(rng.uniform(0, 10), 2), json.dumps(factors),
             json.dumps(categories), "," + ",".join(cats) + ",", 1, cl or None,
             at + DUE[pr].total_seconds(), at + 60, state, claimed_by, claimed_at, outcome,
             reason, decided_by, decided_at)
        )  # fmt: skip
        if cl and cl != rid:
            rows["triage_cluster_links"].append(
                (rid, cl, "text", "similar wording", round(rng.uniform(0.6, 0.95), 3), at + 60)
            )
        if postcode:
            items.append(("postcode", postcode, postcode, 0.9, "reporter"))
        items.append(("place", town, town, 0.8, "text"))
        for ik, value, shown, conf, source in items:
            self.item_id += 1
            start = text.find(shown)
            rows["triage_items"].append(
                (self.item_id, rid, ik, value, shown, start,
                 start + len(shown) if start >= 0 else -1, conf, source, "active")
            )  # fmt: skip
        if self.shared[i]:
            rows["record_shares"].append(
                ("report", rid, self.ids.hub_org, "Regional referral", at + 3600)
            )
        # the report's search document, as vigil.search.index.report_documents builds it
        index, phonetic = self.index, self.phonetic
        lines = [index._join(*r[2:]) for r in people]
        lines += [index._join(v[2], v[6], v[4], v[5]) for v in vehicles]
        lines += [index._join(o[2], o[3]) for o in online]
        body = [
            index.clean(text),
            index._join(when_desc),
            index._join(where_desc, where_addr, postcode),
            *lines,
        ]
        self._doc(out, "report", rid, at, f"{ref} {kind.value}", "\n".join(b for b in body if b),
                  index.outward(postcode), phonetic.name_words(names))  # fmt: skip
        # entities and their documents
        for e, k, label, props, values in entities:
            eid = e + 1
            created = at + 120
            rows["linkage_entities"].append(
                (eid, k, self.ent_group[e] + 1, label[:300], json.dumps(props), "report", rid,
                 ref, org, team, marking, False, created)
            )  # fmt: skip
            for vk, vv in values:
                rows["linkage_values"].append((eid, vk, vv))
            flat = [str(v) for key in sorted(props) for v in props[key] if v]
            named = (
                [label, *list(props.get("name", ()))] if k == "person" and "name" in props else []
            )
            pcs = props.get("postcode") or []
            self._doc(out, "entity", eid, created, index.clean(label)[:300],
                      "\n".join(c for c in (index.clean(label), k, *map(index.clean, flat)) if c),
                      index.outward(pcs[0] if pcs else None),
                      phonetic.name_words(named))  # fmt: skip

    def _doc(self, out: Chunk, rtype: str, rid: int, at: float, title: str, body: str,
             place: str | None, names: list[str]) -> None:  # fmt: skip
        self.doc_id += 1
        out.rows["search_documents"].append((self.doc_id, rtype, rid, at, place, title[:300], body))
        for t in names:
            out.rows["search_names"].append((self.doc_id, t))
            out.terms.add(t)

    def identities(self) -> Iterator[tuple[Any, ...]]:
        first_time = np.full(len(self.p.group_kind), self.p.now)
        np.minimum.at(first_time, self.p.ent_group, self.p.times[self.p.ent_report] + 120)
        for g, k in enumerate(self.p.group_kind):
            yield (g + 1, KINDS[int(k)], float(first_time[g]))

    def matches(self) -> Iterator[tuple[Any, ...]]:
        p = self.p
        rng = np.random.default_rng(p.sizes.seed + 2)
        seen: set[tuple[int, int]] = set()
        for k in range(len(KINDS)):
            members = np.flatnonzero(p.ent_kind == k)
            if len(members) < 2:
                continue
            chosen = members[rng.random(len(members)) < MATCH_SHARE]
            partners = members[rng.integers(0, len(members), len(chosen))]
            probs = rng.uniform(0.5, 0.99, len(chosen))
            for a, b, prob in zip(chosen, partners, probs, strict=True):
                if a == b or p.ent_group[a] == p.ent_group[b]:
                    continue
                pair = (int(max(a, b)) + 1, int(min(a, b)) + 1)
                if pair in seen:
                    continue
                seen.add(pair)
                at = float(p.times[p.ent_report[pair[0] - 1]]) + 300
                yield (pair[0], pair[1], "model", float(prob), None, bool(prob > 0.8),
                       "bench", "[]", "pending", at)  # fmt: skip


# --- writing ----------------------------------------------------------------------------------


class Sink:
    """Where rows go: one engine's bulk path. ``convert`` makes times and booleans fit."""

    def write(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def converter(self, table: str) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        cols = COLUMNS[table]
        times = [i for i, c in enumerate(cols) if c in TIME_COLS]
        bools = [i for i, c in enumerate(cols) if c in BOOL_COLS]
        to_time, to_bool = self.time_fn(), self.bool_fn()

        def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
            if not times and not bools:
                return row
            out = list(row)
            for i in times:
                out[i] = to_time(out[i])
            for i in bools:
                out[i] = to_bool(out[i])
            return tuple(out)

        return convert

    def time_fn(self) -> Callable[[Any], Any]:
        raise NotImplementedError

    def bool_fn(self) -> Callable[[Any], Any]:
        raise NotImplementedError


def load(
    sink: Sink, p: Plan, ids: Ids, *, chunk: int = 20_000, say: Callable[[str], None] = print
) -> dict[str, int]:
    """Write the whole dataset through ``sink``; returns rows written per table."""
    from vigil.search import phonetic

    maker = Maker(p, ids)
    counts: dict[str, int] = {}
    terms: set[str] = set()
    began = time.monotonic()
    n = p.sizes.reports
    for start in range(0, n, chunk):
        part = maker.chunk(start, min(n, start + chunk))
        for table, rows in part.rows.items():
            if rows:
                conv = sink.converter(table)
                sink.write(table, [conv(r) for r in rows])
                counts[table] = counts.get(table, 0) + len(rows)
        terms |= part.terms
        done = min(n, start + chunk)
        if done % (chunk * 10) == 0 or done == n:
            rate = done / max(time.monotonic() - began, 1e-9)
            say(f"    {done:,} reports written ({rate:,.0f}/s)")
    for table, rows_iter in (("linkage_identities", maker.identities()),
                             ("linkage_matches", maker.matches())):  # fmt: skip
        conv = sink.converter(table)
        batch: list[tuple[Any, ...]] = []
        for row in rows_iter:
            batch.append(conv(row))
            if len(batch) >= 50_000:
                sink.write(table, batch)
                counts[table] = counts.get(table, 0) + len(batch)
                batch = []
        if batch:
            sink.write(table, batch)
            counts[table] = counts.get(table, 0) + len(batch)
    keys = [tuple(vars(phonetic.keys(t)).values()) for t in sorted(terms)]
    sink.write("search_name_keys", keys)
    counts["search_name_keys"] = len(keys)
    return counts


class SqliteSink(Sink):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def time_fn(self) -> Callable[[Any], Any]:
        return sqlite_time

    def bool_fn(self) -> Callable[[Any], Any]:
        return lambda v: None if v is None else int(bool(v))

    def write(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        cols = COLUMNS[table]
        quoted = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        self.conn.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", rows)


class PgSink(Sink):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def time_fn(self) -> Callable[[Any], Any]:
        return pg_time

    def bool_fn(self) -> Callable[[Any], Any]:
        return lambda v: None if v is None else bool(v)

    def write(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        cols = ", ".join(f'"{c}"' for c in COLUMNS[table])
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
