"""Synthetic demo data: realistic reports about nobody, submitted through the real service path.

Demonstrations, manual testing and benchmarks need a database that looks like live use without
holding anything about real people. Every value here is made up: names come from Faker, phone
numbers from Ofcom's drama range (07700 900000-900999), e-mail addresses and web links from the
reserved example.org/.com/.net domains, and registration marks are random. The scenarios follow
the published UK counter-terrorism guidance on what to report (hostile reconnaissance, unusual
purchases, unattended items, threats, extremist material online). Suspicion is always about
behaviour, never about religion, ethnicity, nationality or a group's appearance.

Reports go through :func:`vigil.intake.services.submit_report`, so they are validated, sealed,
audited and group-committed exactly as public submissions are.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from faker import Faker
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.models import User
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import create_user, issue_token
from vigil.audit.services import Actor
from vigil.intake.schemas import ReportAccepted, ReportIn, ReportKind
from vigil.intake.services import ensure_receiving_org, submit_report
from vigil.intake.storage import StagedFile
from vigil.settings import Environment
from vigil.web.runtime import Runtime

DEMO_ACTOR = Actor(label="demo-seed")  # audit events say the data is synthetic, not public
CHANNEL = "demo"
CHUNK = 50  # submissions in flight at once: enough for the writer to commit them together
DEMO_STAFF = (
    ("analyst@example.org", Role.triage_analyst),
    ("admin@example.org", Role.administrator),
)

# Town, approximate centre (lat, lon) and real outward codes of its postcode area.
PLACES: tuple[tuple[str, float, float, tuple[str, ...]], ...] = (
    ("London", 51.5072, -0.1276, ("E1", "E14", "SE1", "SW1A", "N1", "NW1", "W2", "EC1A", "WC2N")),
    ("Birmingham", 52.4862, -1.8904, ("B1", "B5", "B12", "B19", "B29")),
    ("Manchester", 53.4808, -2.2426, ("M1", "M4", "M13", "M14", "M20")),
    ("Leeds", 53.8008, -1.5491, ("LS1", "LS2", "LS6", "LS9", "LS11")),
    ("Glasgow", 55.8642, -4.2518, ("G1", "G2", "G3", "G11", "G41")),
    ("Edinburgh", 55.9533, -3.1883, ("EH1", "EH3", "EH6", "EH7", "EH11")),
    ("Cardiff", 51.4816, -3.1791, ("CF10", "CF11", "CF24", "CF5")),
    ("Belfast", 54.5973, -5.9301, ("BT1", "BT2", "BT7", "BT9", "BT12")),
    ("Liverpool", 53.4084, -2.9916, ("L1", "L3", "L8", "L15", "L17")),
    ("Bristol", 51.4545, -2.5879, ("BS1", "BS2", "BS5", "BS6", "BS8")),
    ("Sheffield", 53.3811, -1.4701, ("S1", "S2", "S3", "S10", "S11")),
    ("Newcastle upon Tyne", 54.9783, -1.6178, ("NE1", "NE2", "NE4", "NE6")),
    ("Nottingham", 52.9548, -1.1581, ("NG1", "NG2", "NG5", "NG7")),
    ("Leicester", 52.6369, -1.1398, ("LE1", "LE2", "LE3", "LE5")),
    ("Southampton", 50.9097, -1.4044, ("SO14", "SO15", "SO17")),
    ("Portsmouth", 50.8198, -1.0880, ("PO1", "PO4", "PO5")),
    ("Plymouth", 50.3755, -4.1427, ("PL1", "PL4", "PL6")),
    ("Norwich", 52.6309, 1.2974, ("NR1", "NR2", "NR3")),
    ("Cambridge", 52.2053, 0.1218, ("CB1", "CB2", "CB4")),
    ("Oxford", 51.7520, -1.2577, ("OX1", "OX2", "OX4")),
    ("Brighton", 50.8225, -0.1372, ("BN1", "BN2", "BN3")),
    ("York", 53.9600, -1.0873, ("YO1", "YO10", "YO31")),
    ("Hull", 53.7676, -0.3274, ("HU1", "HU2", "HU5")),
    ("Aberdeen", 57.1497, -2.0943, ("AB10", "AB11", "AB24")),
    ("Dundee", 56.4620, -2.9707, ("DD1", "DD3", "DD4")),
    ("Inverness", 57.4778, -4.2247, ("IV1", "IV2", "IV3")),
    ("Swansea", 51.6214, -3.9436, ("SA1", "SA2")),
    ("Newport", 51.5842, -2.9977, ("NP19", "NP20")),
    ("Derry", 54.9966, -7.3086, ("BT47", "BT48")),
    ("Coventry", 52.4068, -1.5197, ("CV1", "CV2", "CV5")),
    ("Exeter", 50.7184, -3.5339, ("EX1", "EX2", "EX4")),
    ("Dover", 51.1279, 1.3134, ("CT16", "CT17")),
)

VENUES = (
    "railway station", "shopping centre", "football stadium", "concert arena", "airport terminal",
    "ferry terminal", "bus station", "town hall", "retail park", "Christmas market",
    "university campus", "hospital", "hotel", "multi-storey car park", "electricity substation",
    "office block", "theatre", "place of worship", "primary school", "museum",
)  # fmt: skip
TRANSPORT = ("train", "bus", "tram", "Underground", "ferry")
EVENTS = ("the Saturday match", "the summer festival", "the bonfire night display", "the parade")
VEHICLES = (
    ("Ford", "Transit"), ("Mercedes-Benz", "Sprinter"), ("Renault", "Master"),
    ("Vauxhall", "Corsa"), ("Volkswagen", "Golf"), ("Toyota", "Yaris"), ("Nissan", "Qashqai"),
    ("Peugeot", "208"), ("BMW", "3 Series"), ("Citroën", "Berlingo"), ("Iveco", "Daily"),
)  # fmt: skip
COLOURS = ("white", "silver", "black", "grey", "dark blue", "red", "dark green")
TEMPLATES: dict[ReportKind, tuple[str, ...]] = {
    ReportKind.behaviour: (
        "A person was photographing the CCTV cameras and security doors at the {venue} rather "
        "than the building itself, and walked off quickly when a member of staff approached.",
        "Someone has filmed the staff entrance of the {venue} on {n} different days, always "
        "around the shift change, and writes in a notebook each time.",
        "A visitor asked security at the {venue} detailed questions about when the barriers "
        "are opened and how many guards work at night. They would not say why.",
        "Two people paced out the distance from the entrance of the {venue} to the road while "
        "one of them timed something on a phone.",
        "A drone hovered over the security checkpoint and the queue at the {venue} for several "
        "minutes before flying off towards the car park.",
        "A person tried the fire exits of the {venue} one after another and left when an "
        "alarm sounded. I think I saw the same person there {n} days ago.",
    ),
    ReportKind.item: (
        "An unattended rucksack has been under a bench at the {venue} for over {minutes} "
        "minutes. Nobody nearby says it is theirs.",
        "A holdall was left beside the ticket machines at the {venue}; the person carrying it "
        "walked quickly to the exit without it.",
        "A suitcase has been left by the lifts at the {venue}. Something like wires can be seen "
        "through a tear in the side.",
        "A heavily taped parcel with no address has been left against a door of the {venue}.",
        "Bags of fertiliser and lengths of metal pipe are hidden behind the bins at the back of "
        "the {venue}.",
        "Several gas cylinders appeared overnight in the shared stairwell of the flats next to "
        "the {venue}. Nobody knows whose they are.",
    ),
    ReportKind.vehicle: (
        "A {colour} {make} {model} has been parked outside the {venue} for {n} days. Someone sits "
        "in it watching the entrance and leaves the engine running.",
        "A {colour} {make} {model} was driven onto the pavement by the {venue} and stopped "
        "exactly where the security bollards end.",
        "A customer hired a large van from our depot near the {venue}, paid in cash and could "
        "not say what it was for. They asked whether it had a speed limiter.",
        "A {colour} {make} keeps circling the {venue} slowly, {n} times in half an hour.",
        "A {colour} {make} {model} in the car park of the {venue} sits very low on its "
        "suspension as if heavily loaded, and nobody has come back to it.",
    ),
    ReportKind.purchase: (
        "A customer bought {qty} bags of high-nitrogen fertiliser, paid cash, and could not "
        "say what it was for. They have no garden or farm that we know of.",
        "Someone has bought large amounts of hydrogen peroxide and acetone from our shop over "
        "several weeks, always in cash, and asks when more will be in stock.",
        "A man bought {qty} gas cylinders from our depot in one go, said they were for a "
        "barbecue, and loaded them into a {colour} {make}.",
        "A customer bought several timers, wire and pipe end caps and asked us not to put the "
        "purchase on a receipt.",
        "Large quantities of nails and ball bearings were ordered for delivery to a "
        "self-storage unit near the {venue}.",
        "A tenant receives chemicals in unmarked boxes and there is a strong chemical smell "
        "from the garage; they wear gloves and a mask to carry them in.",
    ),
    ReportKind.threat: (
        "I overheard a man on the {transport} say he would 'make the {venue} pay' and that "
        "people would remember the date.",
        "A colleague said the {venue} 'deserves what is coming' and that he has 'everything "
        "ready'. He has been talking like this for {n} days.",
        "Someone at the gym talked about wanting to hurt people at {event} and asked others "
        "where to get a weapon.",
        "My housemate keeps saying violence is the only answer and named the {venue} as a target.",
        "Two people in a café discussed when the {venue} is busiest and where the cameras do "
        "not reach.",
    ),
    ReportKind.online: (
        "An account is posting violent extremist videos and urging others to carry out "
        "attacks. The link is below.",
        "Someone in a gaming chat group shared instructions for making weapons and asked who "
        "would 'join in'.",
        "A forum post threatens an attack on the {venue} in {town} on a specific date.",
        "A channel is sharing a manual on making explosives; it has {qty} hundred subscribers.",
        "A profile is messaging teenagers privately, trying to recruit them into a violent group.",
    ),
    ReportKind.other: (
        "A person rents a storage unit near the {venue} and only visits late at night, "
        "carrying in heavy boxes and covering the door window.",
        "While fixing a leak in a flat I saw several passports and driving licences with the "
        "same photo but different names.",
        "I work at a bank. A customer makes many cash deposits just under our checking limit "
        "and moves the money on at once through {n} new accounts.",
        "A short-term let near the {venue} is visited at night by different people who carry "
        "in large bags; neighbours mention a chemical smell.",
        "A co-worker has been studying floor plans of the {venue} and notes about crowd sizes, "
        "and became angry when asked about them.",
    ),
}
EXTRAS = (
    "", "", " I may be wrong, but it did not feel right.", " Other people noticed it too.",
    " It has happened before, about a week ago.", " Staff on site were told at the time.",
    " I have a photo if it helps.",
)  # fmt: skip
AGES = ("under 18", "18-25", "20s", "30s", "40s", "50s", "60 or over", "not sure")
BUILDS = ("tall, slim build", "medium height, stocky", "short, heavy build", "average build")
CLOTHES = (
    "dark hoodie and jeans", "hi-vis jacket over work clothes", "black puffer jacket, grey "
    "joggers", "suit with a lanyard", "cap pulled low and sunglasses", "heavy coat on a warm day",
    "cycling gear and a large backpack", "delivery uniform",
)  # fmt: skip
ACTIONS = (
    "kept looking round at the cameras", "took photos of the security doors",
    "made notes after each walk past", "avoided the security staff", "walked the same route "
    "several times", "spoke on the phone describing the entrances",
)  # fmt: skip
WHEN_WORDS = (None, "about then", "give or take an hour")
WHERE_SEEN = ("forum", "video site", "messaging app channel", "social media profile", "game chat")
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the last part of real postcodes
KINDS = tuple(ReportKind)
KIND_WEIGHTS = (30, 15, 15, 12, 8, 12, 8)


class _Maker:
    """Builds one synthetic report at a time; the same seed gives the same sequence."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not security
        self.fake = Faker("en_GB")
        self.fake.seed_instance(seed)
        self.now = now

    def report(self) -> tuple[ReportIn, bool]:
        """A validated report, and whether it should carry a photo."""
        rng = self.rng
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        town, lat, lon, outward = rng.choice(PLACES)
        make, model = rng.choice(VEHICLES)
        fill = {
            "venue": rng.choice(VENUES), "town": town, "colour": rng.choice(COLOURS),
            "make": make, "model": model, "n": rng.randint(2, 6), "qty": rng.randint(4, 30),
            "minutes": rng.choice((15, 20, 30, 45)), "transport": rng.choice(TRANSPORT),
            "event": rng.choice(EVENTS),
        }  # fmt: skip
        text = rng.choice(TEMPLATES[kind]).format(**fill) + rng.choice(EXTRAS)
        data: dict[str, Any] = {"kind": kind.value, "description": text}
        data["when"] = self._when()
        if rng.random() < 0.95:
            data["where"] = self._where(town, lat, lon, outward, str(fill["venue"]))
        if kind in {ReportKind.behaviour, ReportKind.threat} or rng.random() < 0.25:
            data["people"] = [self._person() for _ in range(rng.choice((1, 1, 1, 2)))]
        if kind is ReportKind.vehicle or rng.random() < 0.12:
            data["vehicles"] = [self._vehicle(make, model, str(fill["colour"]))]
        if kind is ReportKind.online or rng.random() < 0.04:
            data["online"] = [self._online() for _ in range(rng.choice((1, 1, 2)))]
        data["reporter"] = self._reporter()
        photo = kind not in {ReportKind.online, ReportKind.threat} and rng.random() < 0.065
        return ReportIn.model_validate(data), photo

    def _when(self) -> dict[str, Any] | None:
        """Mostly a start time; some ranges, some still going on, some unsure of the day."""
        rng = self.rng
        start = self.now - timedelta(minutes=rng.randint(30, 60 * 24 * 60))
        roll = rng.random()
        if roll < 0.05:
            return None
        if roll < 0.55:
            return {"start": start, "description": rng.choice(WHEN_WORDS)}
        if roll < 0.75:
            end = min(start + timedelta(minutes=rng.randint(10, 360)), self.now)
            return {"start": start, "end": end}
        if roll < 0.9:
            return {"start": start, "ongoing": True, "description": "still happening"}
        return {"start": start, "unsure": True, "description": "I am not sure of the day"}

    def _where(
        self, town: str, lat: float, lon: float, outward: tuple[str, ...], venue: str
    ) -> dict[str, Any]:
        rng = self.rng
        where: dict[str, Any] = {"description": f"near the {venue} in {town}"}
        if rng.random() < 0.6:
            where["address"] = f"{rng.randint(1, 240)} {self.fake.street_name()}, {town}"
        if rng.random() < 0.8:
            inward = "".join(rng.choices(INWARD_LETTERS, k=2))
            where["postcode"] = f"{rng.choice(outward)} {rng.randint(0, 9)}{inward}"
        if rng.random() < 0.75:
            where["lat"] = round(lat + rng.uniform(-0.03, 0.03), 5)
            where["lon"] = round(lon + rng.uniform(-0.04, 0.04), 5)
        return where

    def _person(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "name": self.fake.name() if rng.random() < 0.15 else None,
            "age": rng.choice(AGES),
            "appearance": rng.choice(BUILDS) if rng.random() < 0.7 else None,
            "clothing": rng.choice(CLOTHES),
            "behaviour": rng.choice(ACTIONS),
        }

    def _vehicle(self, make: str, model: str, colour: str) -> dict[str, Any]:
        rng, letters = self.rng, "ABCDEFGHJKLMNOPRSTUVWXYZ"
        reg = "".join(rng.choices(letters, k=2)) + f"{rng.randint(10, 74):02d} "
        reg += "".join(rng.choices(letters, k=3))
        if rng.random() < 0.15:
            reg = reg[:4]  # only part of the mark was seen
        return {"registration": reg, "make": make, "model": model, "colour": colour}

    def _online(self) -> dict[str, Any]:
        rng = self.rng
        host = rng.choice(("example.org", "example.com", "example.net"))
        path = rng.choice(("forum/thread", "watch", "channel", "post", "user"))
        return {
            "url": f"https://{host}/{path}/{self.fake.slug()}-{rng.randint(100, 99_999)}",
            "where_seen": rng.choice(WHERE_SEEN),
        }

    def _reporter(self) -> dict[str, Any]:
        rng = self.rng
        if rng.random() >= 1 / 3:
            return {"anonymous": True}
        first, last = self.fake.first_name(), self.fake.last_name()
        local = "".join(
            c for c in f"{first}.{last}".lower() if c == "." or (c.isascii() and c.isalpha())
        )
        reporter: dict[str, Any] = {"anonymous": False, "name": f"{first} {last}"}
        if rng.random() < 0.8:
            reporter["phone"] = f"07700 900{rng.randint(0, 999):03d}"
        if rng.random() < 0.6 or "phone" not in reporter:
            reporter["email"] = f"{local}@{rng.choice(('example.org', 'example.com'))}"
        if rng.random() < 0.3:
            reporter["contact_preference"] = rng.choice(("evenings", "e-mail first", "any time"))
        return reporter

    def photo(self) -> bytes:
        """A plain 320x240 JPEG with a rectangle on it, drawn here (no real photograph)."""
        rng = self.rng
        image = Image.new("RGB", (320, 240), tuple(rng.randint(40, 215) for _ in range(3)))
        x, y = rng.randint(10, 180), rng.randint(10, 120)
        box = (x, y, x + rng.randint(40, 120), y + rng.randint(30, 100))
        ImageDraw.Draw(image).rectangle(box, fill=tuple(rng.randint(0, 255) for _ in range(3)))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=80)
        return buf.getvalue()


def seed_demo(
    rt: Runtime, reports: int, *, seed: int, on_progress: Callable[[int], None]
) -> list[str]:
    """Create ``reports`` synthetic reports (plus demo staff in development) and summarise.

    One event loop runs the whole seeding so the writer can commit each chunk together. The
    summary lines are for people; they carry demo tokens only in development and test.
    """
    ensure_receiving_org(rt)  # as the app does at start: intake then skips looking it up
    staff = _demo_staff(rt)
    stats = asyncio.run(_seed_all(rt, reports, seed, on_progress))
    kinds = ", ".join(f"{stats[k.value]} {k.value}" for k in KINDS if stats[k.value])
    done = f"Created {stats['total']} synthetic reports ({kinds or 'none'}); "
    from vigil.linkage.demo import seed_linkage_demo

    linkage = seed_linkage_demo(rt, seed=seed) if reports else []
    return [
        done + f"{stats['contact']} with contact details, {stats['photo']} with a photo.",
        *staff,
        *linkage,
    ]


async def _seed_all(
    rt: Runtime, reports: int, seed: int, on_progress: Callable[[int], None]
) -> Counter[str]:
    """Submit chunk after chunk, keeping the next chunk in flight while one is committed.

    Reports are generated in order (so a seed always gives the same data); each chunk is
    submitted concurrently so the writer commits it in a few transactions, and overlapping two
    chunks keeps the writer from waiting while the next chunk is generated and sealed.
    """
    maker = _Maker(seed, datetime.now(UTC))
    stats: Counter[str] = Counter()
    in_flight: list[asyncio.Future[list[ReportAccepted]]] = []
    for start in range(0, reports, CHUNK):
        jobs = []
        for number in range(start, min(start + CHUNK, reports)):
            report, photo = maker.report()
            image = maker.photo() if photo else None
            jobs.append(_submit(rt, report, image, f"IMG_{number + 1000:05d}.jpg"))
            stats[report.kind.value] += 1
            stats["contact"] += bool(report.reporter and not report.reporter.anonymous)
            stats["photo"] += photo
        in_flight.append(asyncio.gather(*jobs))
        if len(in_flight) > 1:
            on_progress(len(await in_flight.pop(0)))
    for chunk in in_flight:
        on_progress(len(await chunk))
    stats["total"] = reports
    return stats


async def _submit(rt: Runtime, report: ReportIn, image: bytes | None, name: str) -> ReportAccepted:
    """One submission; a photo is staged (and fsync'd, off the loop) as an upload would be."""
    staged = [await anyio.to_thread.run_sync(_stage, rt, image, name)] if image else []
    return await submit_report(rt, DEMO_ACTOR, report, staged, channel=CHANNEL)


def _stage(rt: Runtime, image: bytes, name: str) -> StagedFile:
    writer = rt.store.stage(name, rt.settings.max_attachment_bytes)
    writer.write(image)
    return writer.finish()


def _demo_staff(rt: Runtime) -> list[str]:
    """Demo accounts with fresh tokens, only in development or test (tokens print in clear)."""
    if rt.settings.environment not in {Environment.development, Environment.test}:
        return [f"No demo staff created ({rt.settings.environment.value} environment)."]
    org = rt.settings.receiving_org

    def work(session: Session) -> list[str]:
        lines = []
        for email, role in DEMO_STAFF:
            user = session.scalar(select(User).where(User.email == email))
            if user is None:
                user = create_user(
                    session,
                    DEMO_ACTOR,
                    email,
                    org,
                    role,
                    OrganisationKind.ct_policing,
                    teams=(rt.settings.receiving_team,),
                )
                lines.append(f"Created demo staff {email} ({role.value}) in {org}.")
            label = "analyst" if role is Role.triage_analyst else "admin"
            token = issue_token(session, DEMO_ACTOR, user)
            lines.append(f"Demo {label} token (dev only): {token}")
        return lines

    return rt.db.write_sync(work)
