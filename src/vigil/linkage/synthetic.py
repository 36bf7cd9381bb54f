"""A synthetic UK population with noisy re-sightings, for testing and benchmarking linkage.

Matching quality can only be measured against a known truth, and real people may never be
used (principle 5), so this module invents people, households and their later sightings,
and remembers which record belongs to whom. Everything it makes is visibly synthetic:
postcodes use area letters no real postcode starts with (``Z`` then a letter, never
Shetland's ``ZE``), towns are invented, phones come only from Ofcom's drama range
07700 900000-900999, e-mails only at example.com/.org/.net, and id numbers use the ``QQ``
prefix that is never issued.

What makes it hard is what makes real data hard: names follow a Zipf-like frequency so
namesakes abound; households put relatives (and sometimes twins) at one address with one
surname; re-sightings carry nicknames, transliterations, one-edit typos, swapped names,
married and double-barrelled surnames, day/month-swapped or off-by-one dates of birth,
house moves and missing fields. It is seeded and pure Python, fast enough for a million
people in well under a minute or two on one core.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from bisect import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple

from vigil.linkage import synthetic_tables as tables
from vigil.linkage.records import PERSON_COLUMNS, PersonRecord


# --------------------------------------------------------------------------------------
# The population
# --------------------------------------------------------------------------------------
@dataclass
class Population:
    """Every generated record (shuffled) and the person each one truly belongs to."""

    records: list[PersonRecord]
    cluster_of: dict[str, str]  # record id -> true person id
    primary_of: dict[str, str] = field(default_factory=dict)  # person id -> first sighting


class Sighting(NamedTuple):
    """One generated record, whose person it is, and whether it is their first sighting."""

    record: PersonRecord
    person_id: str
    primary: bool


@dataclass(frozen=True, slots=True)
class _Person:
    pid: str
    first: str
    middle: str | None
    last: str
    dob: dt.date
    address: str
    postcode: str
    town: str
    phone: str | None
    email: str | None
    id_number: str | None
    female: bool


class _Streets:
    """Invented streets per town. The street and a run of sixteen house numbers fix the
    postcode, so neighbours share one as in the UK, and unrelated households sometimes
    share an address, as flats and lodgers do."""

    def __init__(self, rng: random.Random, n_households: int) -> None:
        self.towns = tables.TOWNS
        weights = [1.0 / (i + 1) ** 0.8 for i in range(len(tables.TOWNS))]
        self.town_cum = list(accumulate(weights))
        total = self.town_cum[-1]
        # About twenty households per street of up to 150 numbers: some share by chance.
        self.streets: list[list[tuple[str, str, int]]] = []
        for i in range(len(tables.TOWNS)):
            # Towns share an area letter pair in turn, each with its own band of districts.
            area = "Z" + tables.AREA_LETTERS[i % len(tables.AREA_LETTERS)]
            band = 20 * (i // len(tables.AREA_LETTERS))
            count = max(8, int(n_households * weights[i] / total / 20))
            districts = max(1, min(20, count // 60 + 1))
            seen: set[tuple[str, int]] = set()
            streets: list[tuple[str, str, int]] = []
            while len(streets) < count:
                name = f"{rng.choice(tables.STREET_STEMS)} {rng.choice(tables.STREET_KINDS)}"
                district = band + rng.randint(1, districts)
                if (name, district) in seen:
                    continue
                seen.add((name, district))
                streets.append((name, f"{area}{district}", rng.randrange(10)))
            self.streets.append(streets)

    def random_address(self, rng: random.Random) -> tuple[str, str, str]:
        t = min(bisect(self.town_cum, rng.random() * self.town_cum[-1]), len(self.towns) - 1)
        streets = self.streets[t]
        s = rng.randrange(len(streets))
        name, outward, sector = streets[s]
        number = 1 + int(rng.random() ** 1.6 * 150)  # low numbers are commoner
        block = (s * 31 + number // 16) % (len(tables.INWARD_LETTERS) ** 2)
        unit = (
            tables.INWARD_LETTERS[block // len(tables.INWARD_LETTERS)]
            + tables.INWARD_LETTERS[block % len(tables.INWARD_LETTERS)]
        )
        return f"{number} {name}", f"{outward} {sector}{unit}", self.towns[t]


def _record_id(index: int, seed: int) -> str:
    """An opaque, unique id for the ``index``-th record: a bijection of 40-bit integers,
    so ids reveal neither the person nor the order of generation."""
    mask = (1 << 40) - 1
    x = (index + seed * 0x9E3779B1) & mask
    x ^= x >> 19
    x = (x * 0xD6E8FEB86659FD93) & mask
    x ^= x >> 23
    x = (x * 0xA0761D6478BD642F) & mask
    x ^= x >> 17
    return f"R{x:010x}"


class _Generator:
    def __init__(self, n_people: int, seed: int, resighting_rate: float) -> None:
        if n_people < 0:
            raise ValueError("n_people must not be negative")
        if not 0.0 <= resighting_rate <= 1.0:
            raise ValueError("resighting_rate must be between 0 and 1")
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
        self.n_people = n_people
        self.seed = seed
        self.resighting_rate = resighting_rate
        self.streets = _Streets(self.rng, max(1, int(n_people / 2.4)))
        phones = list(range(tables.DRAMA_FIRST, tables.DRAMA_FIRST + tables.DRAMA_COUNT))
        self.rng.shuffle(phones)
        self.phones = phones  # each drama number goes to at most one person
        self.phone_rate = min(0.25, 800 / max(1, n_people))
        self.emails: set[str] = set()
        self.ids = self.rng.sample(range(4_000_000), min(n_people, 4_000_000))
        self.made = 0
        self.record_index = 0

    # -- people ------------------------------------------------------------------------
    def _first_name(self, culture: str, female: bool) -> str:
        return tables.pick(self.rng, (tables.FEMALE if female else tables.MALE)[culture])

    def _culture(self) -> str:
        r = self.rng.random()
        return tables.CULTURES[
            min(bisect(tables.CULTURE_CUM, r * tables.CULTURE_CUM[-1]), len(tables.CULTURES) - 1)
        ]

    def _person(
        self, culture: str, last: str, dob: dt.date, place: tuple[str, str, str], female: bool
    ) -> _Person:
        rng = self.rng
        pid = f"P{self.made:07d}"
        first = self._first_name(culture, female)
        middle = self._first_name(culture, female) if rng.random() < 0.35 else None
        if middle == first:
            middle = None
        phone = None
        if self.phones and rng.random() < self.phone_rate:
            phone = f"07700 {self.phones.pop()}"
        email = self._email(first, last, dob) if rng.random() < 0.4 else None
        id_number = None
        if self.made < len(self.ids) and rng.random() < 0.3:
            n = self.ids[self.made]
            id_number = f"QQ{n % 1_000_000:06d}{'ABCD'[n // 1_000_000]}"
        self.made += 1
        address, postcode, town = place
        return _Person(
            pid, first, middle, last, dob, address, postcode, town, phone, email, id_number, female
        )

    def _email(self, first: str, last: str, dob: dt.date) -> str:
        rng = self.rng
        f, s = _ascii(first).lower(), _ascii(last).lower()
        style = rng.random()
        if style < 0.5:
            local = f"{f}.{s}"
        elif style < 0.7:
            local = f"{f}{s}"
        elif style < 0.85:
            local = f"{f[0]}{s}{dob.year % 100:02d}"
        else:
            local = f"{f}{rng.randrange(1, 999)}"
        domain = tables.EMAIL_DOMAINS[rng.randrange(3)]
        email = f"{local}@{domain}"
        while email in self.emails:
            email = f"{local}{rng.randrange(10, 99999)}@{domain}"
        self.emails.add(email)
        return email

    def _dob(self, lo: int, hi: int) -> dt.date:
        year = self.rng.randint(lo, hi)
        return dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))

    def households(self) -> Iterator[list[_Person]]:
        """Households of one to six: singles, couples, families (3% of them with twins)
        and some three-generation homes, sharing an address and mostly a surname."""
        rng = self.rng
        while self.made < self.n_people:
            culture = self._culture()
            last = tables.pick(rng, tables.SURNAME[culture])
            place = self.streets.random_address(rng)
            kind = rng.random()
            head_female = rng.random() < 0.5
            head_dob = self._dob(1935, 2004)
            members = [self._person(culture, last, head_dob, place, head_female)]
            if kind < 0.30 or self.made >= self.n_people:
                yield members
                continue
            partner_culture = culture if rng.random() < 0.9 else self._culture()
            partner_last = (
                last if rng.random() < 0.8 else tables.pick(rng, tables.SURNAME[partner_culture])
            )
            year = min(2005, max(1930, head_dob.year + rng.randint(-8, 8)))
            members.append(
                self._person(
                    partner_culture, partner_last, self._dob(year, year), place, not head_female
                )
            )
            if kind >= 0.60:
                youngest_parent = max(head_dob.year, year)
                n_children = rng.choice((1, 1, 2, 2, 2, 3, 4))
                lo, hi = youngest_parent + 20, min(2009, youngest_parent + 42)
                twins_at = rng.randrange(n_children) if rng.random() < 0.03 else -1
                for c in range(n_children):
                    if self.made >= self.n_people or lo > hi:
                        break
                    female = rng.random() < 0.5
                    child_dob = self._dob(lo, hi)
                    members.append(self._person(culture, last, child_dob, place, female))
                    if c == twins_at and self.made < self.n_people:
                        members.append(
                            self._person(culture, last, child_dob, place, rng.random() < 0.5)
                        )
                if kind >= 0.93 and self.made < self.n_people:  # a grandparent
                    g_year = max(1925, min(head_dob.year, year) - rng.randint(20, 35))
                    members.append(
                        self._person(
                            culture, last, self._dob(g_year, g_year), place, rng.random() < 0.5
                        )
                    )
            yield members

    # -- sightings ---------------------------------------------------------------------
    def _next_id(self) -> str:
        rid = _record_id(self.record_index, self.seed)
        self.record_index += 1
        return rid

    def primary(self, p: _Person) -> PersonRecord:
        """The first sighting: clean, though not every field is always known."""
        rng = self.rng
        return PersonRecord(
            id=self._next_id(),
            first_name=p.first,
            middle_name=p.middle if rng.random() < 0.8 else None,
            last_name=p.last,
            date_of_birth=p.dob.isoformat() if rng.random() < 0.97 else None,
            address=p.address if rng.random() < 0.95 else None,
            postcode=p.postcode if rng.random() < 0.95 else None,
            town=p.town if rng.random() < 0.9 else None,
            phone=p.phone,
            email=p.email,
            id_number=p.id_number,
        )

    def resighting(self, p: _Person) -> PersonRecord:
        """A later, noisier record of the same person (see the module docstring)."""
        rng = self.rng
        r = rng.random
        first, last, middle = p.first, p.last, p.middle
        if r() < 0.6 and (options := tables.VARIANTS.get(first)):
            first = rng.choice(options)
        if r() < 0.5 and (options := tables.VARIANTS.get(last)):
            last = rng.choice(options)
        if r() < 0.25 and (options := tables.NICK.get(first)):
            first = rng.choice(options)
        if r() < 0.08:
            first = _typo(rng, first)
        if r() < 0.08:
            last = _typo(rng, last)
        if r() < (0.10 if p.female else 0.02):  # marriage: new or double-barrelled surname
            other = tables.pick(rng, tables.ANY_SURNAME)
            last = f"{last}-{other}" if r() < 0.4 else other
        if r() < 0.04:
            first, last = last, first
        dob: str | None = _noisy_dob(rng, p.dob)
        address, postcode, town = p.address, p.postcode, p.town
        if r() < 0.15:
            address, postcode, town = self.streets.random_address(rng)
        if r() < 0.1:
            address = _address_style(rng, address)
        if r() < 0.1:
            postcode = postcode.replace(" ", "").lower() if r() < 0.5 else postcode.lower()
        phone = p.phone if r() < 0.6 else None
        if phone is not None and r() < 0.5:
            digits = phone.replace(" ", "")
            phone = rng.choice((digits, f"+44 {digits[1:5]} {digits[5:]}", f"+44{digits[1:]}"))
        if r() < 0.05:
            last = last.upper()
        return PersonRecord(
            id=self._next_id(),
            first_name=first if r() < 0.98 else None,
            middle_name=middle if r() < 0.5 else None,
            last_name=last if r() < 0.98 else None,
            date_of_birth=dob if r() < 0.9 else None,
            address=address if r() < 0.8 else None,
            postcode=postcode if r() < 0.85 else None,
            town=town if r() < 0.7 else None,
            phone=phone,
            email=p.email if r() < 0.6 else None,
            id_number=p.id_number if r() < 0.5 else None,
        )

    def sightings(self) -> Iterator[Sighting]:
        rng = self.rng
        rate = self.resighting_rate
        for household in self.households():
            for person in household:
                yield Sighting(self.primary(person), person.pid, True)
                if rng.random() < rate:
                    extra = 1 if rng.random() < 0.7 else 2 if rng.random() < 0.67 else 3
                    for _ in range(extra):
                        yield Sighting(self.resighting(person), person.pid, False)


def _ascii(name: str) -> str:
    out = name.replace("Ł", "L").replace("ł", "l").replace("ó", "o").replace("ś", "s")
    return "".join(ch for ch in out.replace("ę", "e").replace("ą", "a") if ch.isalnum())


def _typo(rng: random.Random, text: str) -> str:
    """One edit: substitute, delete, insert or swap two neighbouring letters."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    letter = rng.choice("aeiourstnlmdhc")
    if kind == 0:
        return text[:i] + letter + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + letter + text[i:]
    i = max(i, 2)  # swap two letters, never the capital
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def _noisy_dob(rng: random.Random, dob: dt.date) -> str:
    """The date as written on a later form: sometimes mistyped, sometimes not ISO."""
    year, month, day = dob.year, dob.month, dob.day
    roll = rng.random()
    if roll < 0.04 and day <= 12 and day != month:
        month, day = day, month
    elif roll < 0.07:
        day = day + 1 if day < 28 else day - 1
    elif roll < 0.09:
        month, day = (month + 1 if month < 12 else month - 1), min(day, 28)
    elif roll < 0.11:
        year, day = year + rng.choice((-1, 1)), min(day, 28)
    style = rng.random()
    if style < 0.85:
        return f"{year:04d}-{month:02d}-{day:02d}"
    if style < 0.93:
        return f"{day:02d}/{month:02d}/{year:04d}"
    if style < 0.97:
        return f"{day} {tables.MONTHS[month - 1]} {year}"
    return f"{day}.{month}.{year}"


def _address_style(rng: random.Random, address: str) -> str:
    number, _, street = address.partition(" ")
    kind = street.rsplit(" ", 1)[-1]
    if kind in tables.STREET_ABBREVIATIONS and rng.random() < 0.6:
        street = street[: -len(kind)] + tables.STREET_ABBREVIATIONS[kind]
    return f"{number}, {street}" if rng.random() < 0.5 else f"{number} {street}".upper()


def iter_population(
    n_people: int, *, seed: int, resighting_rate: float = 0.2
) -> Iterator[Sighting]:
    """Stream the population person by person (not shuffled), for sizes where holding
    every record at once would cost more memory than the caller wants.

    ``resighting_rate`` is the share of people seen more than once; those are seen one to
    three more times (1.4 on average)."""
    yield from _Generator(n_people, seed, resighting_rate).sightings()


def generate_population(n_people: int, *, seed: int, resighting_rate: float = 0.2) -> Population:
    """The whole population in memory, records shuffled so order says nothing."""
    records: list[PersonRecord] = []
    cluster_of: dict[str, str] = {}
    primary_of: dict[str, str] = {}
    for record, person_id, primary in iter_population(
        n_people, seed=seed, resighting_rate=resighting_rate
    ):
        records.append(record)
        cluster_of[record.id] = person_id
        if primary:
            primary_of[person_id] = record.id
    random.Random(seed ^ 0x5EED).shuffle(records)  # noqa: S311
    return Population(records, cluster_of, primary_of)


def split_known_new(
    pop: Population, *, seed: int, unseen_rate: float = 0.1
) -> tuple[list[PersonRecord], list[PersonRecord], dict[str, str | None]]:
    """Split into what is already known and what arrives later.

    Known holds each person's first sighting, except for ``unseen_rate`` of people who are
    not known at all; new holds every re-sighting of known people (truth: the id of their
    known record) and the first sighting of each unknown person (truth: None)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not security
    primary_of = pop.primary_of or _most_complete(pop)
    unseen = {pid for pid in sorted(primary_of) if rng.random() < unseen_rate}
    primary_ids = set(primary_of.values())
    known: list[PersonRecord] = []
    new: list[PersonRecord] = []
    truth: dict[str, str | None] = {}
    for record in pop.records:
        pid = pop.cluster_of[record.id]
        if pid in unseen:
            if record.id in primary_ids:
                new.append(record)
                truth[record.id] = None
        elif record.id in primary_ids:
            known.append(record)
        else:
            new.append(record)
            truth[record.id] = primary_of[pid]
    return known, new, truth


def _most_complete(pop: Population) -> dict[str, str]:
    best: dict[str, tuple[int, str]] = {}
    for record in pop.records:
        filled = sum(1 for name in PERSON_COLUMNS[1:] if getattr(record, name))
        pid = pop.cluster_of[record.id]
        if pid not in best or (-filled, record.id) < (-best[pid][0], best[pid][1]):
            best[pid] = (filled, record.id)
    return {pid: rid for pid, (_, rid) in best.items()}


def write_people_csv(records: Iterable[PersonRecord], path: Path) -> None:
    """Write the documented person CSV (``PERSON_COLUMNS`` header; empty for unknown)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PERSON_COLUMNS)
        for r in records:
            writer.writerow(
                (
                    r.id,
                    r.first_name or "",
                    r.middle_name or "",
                    r.last_name or "",
                    r.date_of_birth or "",
                    r.address or "",
                    r.postcode or "",
                    r.town or "",
                    r.phone or "",
                    r.email or "",
                    r.id_number or "",
                )
            )
