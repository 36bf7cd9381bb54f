"""Synthetic reports and a closed-loop intake client for ``benchmarks/triage_speed.py``.

Every report is invented: phones from Ofcom's drama range (07700 900xxx), e-mail addresses
at example.org, web addresses on example.org, made-up people. Texts are 300 to 1,500
characters and mix what triage looks for (phones, plates, postcodes, names, places, times,
some weapon and threat words) with ordinary narrative; about one in eight is a near-duplicate
of an earlier report (another witness, or the same person again), so clustering has work.

The client is the same closed-loop, keep-alive, raw-socket design as ``benchmarks/intake.py``
uses when ``wrk`` is missing, but cycles through many different bodies instead of one, so
the pipeline sees varied reports (one repeated body would fold everything into one cluster).
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass

from benchmarks._measure import closed_loop
from benchmarks._server import HOST

REPORTS_PATH = "/api/v1/reports"
MIN_CHARS, MAX_CHARS = 300, 1500
NEAR_DUPLICATE_SHARE = 0.12
CLIENT_MAX_REQUESTS = 2_000_000  # hard cap per run

_FIRST = [
    "Alex", "Jordan", "Sam", "Priya", "Tomasz", "Morgan", "Casey", "Robin", "Imogen",
    "Declan", "Harriet", "Nia", "Callum", "Ffion", "Rory", "Leona", "Ewan", "Maisie",
]  # fmt: skip
_SURNAMES = [
    "Brackley", "Ormsby", "Quenby", "Thistlewood", "Pargeter", "Ellery", "Fennimore",
    "Holloway", "Marchbank", "Pendry", "Rookwood", "Sallow", "Tarrant", "Wexcombe",
]  # fmt: skip
# (street, town, postcode): real-looking formats, invented combinations.
_PLACES = [
    ("Mill Lane", "Leeds", "LS6 2QT"),
    ("Canal Road", "Bradford", "BD2 1AX"),
    ("Station Approach", "Bristol", "BS1 6QF"),
    ("Victoria Street", "Manchester", "M3 1SQ"),
    ("Queen Street", "Cardiff", "CF10 2BU"),
    ("Argyle Street", "Glasgow", "G2 8AG"),
    ("Prince of Wales Road", "Norwich", "NR1 1BH"),
    ("Granby Street", "Leicester", "LE1 6ES"),
    ("Corporation Street", "Birmingham", "B4 6QB"),
    ("Northumberland Street", "Newcastle", "NE1 7DE"),
    ("High Street", "Reading", "RG1 2AA"),
    ("Park Row", "Nottingham", "NG1 6GR"),
]
_SITES = [
    "the railway station", "the bus station", "the shopping centre", "the arena",
    "the town hall", "the substation behind the retail park", "the football stadium",
    "the main hospital entrance", "the primary school gates", "the water treatment works",
    "the army barracks", "the airport drop-off area", "the market", "the cathedral",
]  # fmt: skip
_TIMES = [
    "at about 14:30 on Tuesday", "yesterday evening around 9pm", "this morning at 07:45",
    "on Saturday at around 11am", "last night just after midnight", "at 18:10 today",
    "on Friday afternoon", "around 6.30pm on Sunday", "two days ago at lunchtime",
    "earlier today, about 10:15",
]  # fmt: skip
_VEHICLES = [
    ("white", "Ford", "Transit"), ("silver", "Vauxhall", "Astra"), ("black", "BMW", "X5"),
    ("blue", "Volkswagen", "Golf"), ("grey", "Toyota", "Prius"), ("red", "Peugeot", "Partner"),
    ("dark green", "Land Rover", "Discovery"), ("white", "Mercedes", "Sprinter"),
]  # fmt: skip
_KINDS = ["behaviour", "vehicle", "item", "purchase", "threat", "online", "other"]
_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"  # no I or Q in current-format plates

_OPENINGS = [
    "I want to report something I saw near {site} in {town} {time}.",
    "This is probably nothing but I noticed a man acting oddly on {street}, {town} {time}.",
    "My neighbour on {street} has been behaving strangely for a few weeks now.",
    "I work at {site} in {town} and something happened {time} that worried me.",
    "A {colour} {make} {model} has been parked outside {site} in {town} several times.",
    "I saw a group of people filming the entrances of {site} {time}.",
]
_DETAILS = [
    "He was about 30, tall, wearing a grey hoodie and a black rucksack.",
    "The {colour} {make} {model}, registration {plate}, was parked on {street} with the "
    "engine running for over an hour.",
    "He asked the staff what time the security guards change shift and where the CCTV "
    "cameras point.",
    "I heard him say that his friend {person} would sort the rest out next week.",
    "He gave the shop assistant his number, {phone}, and asked them to ring when the "
    "order came in.",
    "Later I saw the same person near {site} taking photographs of the fences and gates.",
    "The address he used on the delivery was {street}, {town} {postcode}.",
    "A woman with him used the e-mail address {email} for the order.",
    "They kept looking around as if checking whether anyone was watching them.",
    "There was a strong chemical smell coming from the garage at the back of the house.",
    "He posted a link to {url} and said people should read it before the weekend.",
    "I noticed several large boxes being carried from the van into a lock-up garage.",
    "It has happened at least three times this month, always around the same time.",
    "I might be overreacting, but it did not seem right and I would rather say something.",
    "Another person, who I think is called {person}, arrived in a taxi and left after ten minutes.",
    "The windows of the flat are covered with foil and people come and go at night.",
]
_WORRYING = [
    "I saw what looked like a handgun tucked into his waistband.",
    "He said he would bring a knife next time and that people would be sorry.",
    "He was talking loudly about how easy it would be to make a bomb.",
    "He bought several bags of fertiliser and large bottles of acetone and paid in cash.",
    "He threatened to kill the manager if he called the police.",
    "He showed a video of himself with a machete and said it was ready.",
    "He said something would happen at {site} this weekend.",
    "I overheard him asking where he could buy ammonium nitrate without ID.",
]
_CLOSINGS = [
    "I have not told anyone else about this.",
    "Please let me know if you need more details.",
    "I can describe him again if that helps.",
    "I am not sure if this is relevant, but I thought you should know.",
    "",
]
_SECOND_WITNESS = [
    "I also saw this.",
    "Reporting this again because it happened again today.",
    "My partner saw the same thing and asked me to report it too.",
    "Following up on what I saw earlier:",
]


def _plate(rnd: random.Random) -> str:
    letters = "".join(rnd.choice(_LETTERS) for _ in range(5))
    return f"{letters[:2]}{rnd.randint(10, 75)} {letters[2:]}"


@dataclass
class _Facts:
    """The invented facts one report is written about."""

    street: str
    town: str
    postcode: str
    site: str
    time: str
    colour: str
    make: str
    model: str
    plate: str
    person: str
    phone: str
    email: str
    url: str

    def fill(self, template: str) -> str:
        return template.format(**self.__dict__)


def _facts(rnd: random.Random, index: int) -> _Facts:
    street, town, postcode = rnd.choice(_PLACES)
    colour, make, model = rnd.choice(_VEHICLES)
    first, last = rnd.choice(_FIRST), rnd.choice(_SURNAMES)
    return _Facts(
        street=street,
        town=town,
        postcode=postcode,
        site=rnd.choice(_SITES),
        time=rnd.choice(_TIMES),
        colour=colour,
        make=make,
        model=model,
        plate=_plate(rnd),
        person=f"{first} {last}",
        # Each report its own number (wrapping after 1,000), so identifiers link only the
        # near-duplicates rather than folding the whole run into a few clusters.
        phone=f"07700 900{index % 1000:03d}",
        email=f"{first.lower()}.{last.lower()}{index}@example.org",
        url=f"https://example.org/forum/thread/{index}",
    )


def _description(rnd: random.Random, facts: _Facts) -> str:
    want = rnd.randint(MIN_CHARS, MAX_CHARS)
    parts = [facts.fill(rnd.choice(_OPENINGS))]
    details = rnd.sample(_DETAILS, len(_DETAILS))
    if rnd.random() < 0.35:  # about a third mention a weapon or a threat
        details.insert(rnd.randint(0, 3), rnd.choice(_WORRYING))
    closing = facts.fill(rnd.choice(_CLOSINGS))
    for template in details:
        sentence = facts.fill(template)
        if len(" ".join(parts)) + len(sentence) + len(closing) + 2 > want:
            break
        parts.append(sentence)
    text = " ".join([*parts, closing]).strip()
    while len(text) < MIN_CHARS:  # short draw: pad with more ordinary narrative
        text += " " + facts.fill(rnd.choice(_DETAILS))
    return text[:MAX_CHARS]


def _near_duplicate(rnd: random.Random, original: str) -> str:
    """Another telling of the same event: a lead-in, a few words changed, a sentence cut."""
    sentences = original.split(". ")
    if len(sentences) > 3:
        del sentences[rnd.randrange(1, len(sentences) - 1)]
    text = ". ".join(sentences)
    for old, new in (("I saw", "we saw"), ("about", "roughly"), ("several", "a few")):
        if rnd.random() < 0.5:
            text = text.replace(old, new, 1)
    text = f"{rnd.choice(_SECOND_WITNESS)} {text}"
    while len(text) < MIN_CHARS:
        text += " It looked exactly the same as before."
    return text[:MAX_CHARS]


def make_reports(count: int, seed: int = 2026) -> list[dict[str, object]]:
    """``count`` valid ``POST /api/v1/reports`` documents (deterministic for a seed)."""
    rnd = random.Random(seed)
    docs: list[dict[str, object]] = []
    for index in range(count):
        facts = _facts(rnd, index)
        if index >= 20 and rnd.random() < NEAR_DUPLICATE_SHARE:
            earlier = docs[rnd.randrange(max(0, index - 200), index)]
            doc = json.loads(json.dumps(earlier))  # a deep copy of plain JSON
            doc["description"] = _near_duplicate(rnd, str(earlier["description"]))
            docs.append(doc)
            continue
        doc = {"kind": rnd.choice(_KINDS), "description": _description(rnd, facts)}
        if rnd.random() < 0.7:
            doc["where"] = {"address": f"{facts.street}, {facts.town}", "postcode": facts.postcode}
        if rnd.random() < 0.4:
            day = rnd.randint(1, 28)
            doc["when"] = {"start": f"2026-03-{day:02d}T{rnd.randint(0, 23):02d}:15:00Z"}
        if rnd.random() < 0.3:
            doc["people"] = [{"name": facts.person, "age": "30s", "clothing": "grey hoodie"}]
        if rnd.random() < 0.3:
            doc["vehicles"] = [
                {
                    "registration": facts.plate,
                    "make": facts.make,
                    "model": facts.model,
                    "colour": facts.colour,
                }
            ]
        if doc["kind"] == "online":
            doc["online"] = [{"url": facts.url, "where_seen": "forum"}]
        if rnd.random() < 0.15:
            name = f"{rnd.choice(_FIRST)} {rnd.choice(_SURNAMES)}"
            doc["reporter"] = {
                "anonymous": False,
                "name": name,
                "phone": f"07700 900{(index * 7 + 3) % 1000:03d}",
                "email": f"reporter{index}@example.org",
            }
        else:
            doc["reporter"] = {"anonymous": True}
        docs.append(doc)
    return docs


def request_bytes(port: int, doc: dict[str, object]) -> bytes:
    body = json.dumps(doc, separators=(",", ":")).encode()
    head = (
        f"POST {REPORTS_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class LoadResult:
    elapsed_s: float
    latencies: list[float]  # seconds, sorted
    statuses: Counter[int]
    socket_errors: int
    client_cpu_s: float

    @property
    def created(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def rate(self) -> float:
        return self.created / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code != 201) + self.socket_errors


def run_load(
    port: int,
    requests: list[bytes],
    concurrency: int,
    duration_s: float,
    *,
    start: int = 0,
    rate: float = 0.0,
) -> LoadResult:
    """Closed-loop load for ``duration_s``: each connection sends the next body in turn (at
    most ``rate`` bodies per second in all, when one is given)."""
    started = time.perf_counter()
    cpu_before = time.process_time()
    latencies, statuses, errors = asyncio.run(
        closed_loop(
            port,
            requests,
            concurrency,
            duration_s,
            max_requests=CLIENT_MAX_REQUESTS,
            timeout_s=30,
            start=start,
            rate=rate,
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(elapsed, latencies, statuses, errors, time.process_time() - cpu_before)
