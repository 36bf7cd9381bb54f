"""Generate Vigil's labelled triage evaluation set: ``benchmarks/data/triage_eval.jsonl``.

Every report is synthetic. It is assembled from hand-written sentence templates whose slots are
filled from invented pools (names, places, organisations, plates, postcodes, reserved-range
phone numbers, example-domain e-mails and URLs). A slot that carries intelligence is written
into the text together with its label, so the expected items, their spans and their
normalised values are known exactly; only the prose between the slots gets the register
(text-speak, lower case, non-native English...) and the typos.

Run from the repository root (deterministic: a fixed seed gives the same file every time)::

    .venv/bin/python tools/make_triage_eval.py            # writes the set
    .venv/bin/python tools/make_triage_eval.py --check    # fails if the file is stale
    .venv/bin/python tools/make_triage_eval.py --show 12  # prints a few reports to read

The conventions (what is labelled and how values are normalised) are in
``benchmarks/data/README.md``; change them there and here together.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

SEED = 20260314
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "data" / "triage_eval.jsonl"
LONDON = ZoneInfo("Europe/London")

CATEGORY_CODES = (
    "breach",
    "misrepresentation",
    "theft_loss_diversion",
    "sabotage_tampering",
    "cyberattack",
    "expressed_threat",
    "aviation",
    "eliciting_information",
    "testing_security",
    "recruiting_financing",
    "photography",
    "observation_surveillance",
    "materials_acquisition",
    "acquisition_of_expertise",
    "weapons",
    "sector_specific",
    "online_material",
)
PRIORITIES = ("P1", "P2", "P3", "P4")
REPORT_KINDS = ("behaviour", "item", "vehicle", "purchase", "threat", "online", "other")

# Weapon lexicon: canonical term -> surface forms used in the set (the span is the surface).
WEAPONS: dict[str, tuple[str, ...]] = {
    "hydrogen peroxide": ("hydrogen peroxide", "peroxide", "Hydrogen Peroxide"),
    "acetone": ("acetone", "acetone", "Acetone"),
    "ammonium nitrate": ("ammonium nitrate", "ammonium nitrate", "Ammonium Nitrate"),
    "nitromethane": ("nitromethane",),
    "knife": ("knife", "knives"),
    "machete": ("machete", "machetes"),
    "gun": ("gun", "guns"),
    "shotgun": ("shotgun", "shotguns"),
    "pipe bomb": ("pipe bomb", "pipe bombs"),
    "detonator": ("detonator", "detonators"),
    "ricin": ("ricin",),
    "bomb": ("bomb",),
    "crossbow": ("crossbow",),
}
PLURAL_FORMS = {"knives", "machetes", "guns", "shotguns", "pipe bombs", "detonators"}

PART_HOURS = {"morning": 9, "lunchtime": 12, "afternoon": 15, "evening": 19, "night": 22}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class It:
    """A labelled mention: written as ``text``, normalised to ``value``."""

    kind: str
    text: str
    value: str


@dataclass(frozen=True)
class Lit:
    """Verbatim prose: may change case with the register but gets no typos or word swaps.

    Used for quantities and for deliberate unlabelled look-alikes ("the other night",
    "every Friday") that the prose checker would otherwise refuse.
    """

    text: str


Seg = str | It | Lit
Slot = Seg | list[Seg]


def titlecase(text: str) -> str:
    """Tidy whitespace and title-case a written name ("kings cross" -> "Kings Cross")."""

    def word(w: str) -> str:
        parts = w.split("-")
        out = []
        for p in parts:
            if not p:
                out.append(p)
                continue
            if p.islower() or p.isupper():
                p = p[0].upper() + p[1:].lower()
                if p.startswith("O'") and len(p) > 2:
                    p = "O'" + p[2].upper() + p[3:]
                if p.startswith("Mc") and len(p) > 2:
                    p = "Mc" + p[2].upper() + p[3:]
            out.append(p)
        return "-".join(out)

    return " ".join(word(w) for w in text.split())


def canonical_url(written: str) -> str:
    """The contract's canonical URL (see the README): the generator's reference normaliser."""
    text = written if re.match(r"(?i)^https?://", written) else "https://" + written
    parts = urlsplit(text)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (k.lower().startswith("utm_") or k.lower() in {"fbclid", "gclid", "si", "igshid"})
    ]
    path = "" if parts.path == "/" else parts.path
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query, safe=":/"), "")
    )


def e164(written: str) -> str:
    digits = re.sub(r"\D", "", written.replace("(0)", ""))
    if digits.startswith("0044"):
        digits = digits[4:]
    elif digits.startswith("44"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = digits[1:]
    return "+44" + digits


# --------------------------------------------------------------------------- styles


@dataclass(frozen=True)
class Style:
    name: str
    typo: float  # chance per eligible word
    lower: bool = False
    textspeak: bool = False
    caps: float = 0.0  # chance a prose segment is shouted
    drop_articles: bool = False
    name_lower: float = 0.1  # chance a name or place is written in lower case
    exclaim: bool = False


STYLES = {
    "plain": Style("plain", 0.02, name_lower=0.15),
    "plain_lower": Style("plain_lower", 0.03, lower=True, name_lower=0.6),
    "formal": Style("formal", 0.004, name_lower=0.0),
    "breathless": Style("breathless", 0.04, caps=0.12, name_lower=0.2, exclaim=True),
    "rambling": Style("rambling", 0.03, name_lower=0.2),
    "textspeak": Style("textspeak", 0.05, lower=True, textspeak=True, name_lower=0.75),
    "nonnative": Style("nonnative", 0.03, drop_articles=True, name_lower=0.2),
}
STYLE_WEIGHTS = {
    "plain": 26,
    "plain_lower": 14,
    "formal": 12,
    "breathless": 10,
    "rambling": 12,
    "textspeak": 14,
    "nonnative": 12,
}

MISSPELLINGS = {
    "definitely": "definately",
    "suspicious": "suspicous",
    "necessary": "neccessary",
    "separate": "seperate",
    "believe": "beleive",
    "weird": "wierd",
    "received": "recieved",
    "receipt": "reciept",
    "because": "becuase",
    "their": "there",
    "which": "wich",
    "probably": "probly",
    "really": "realy",
    "security": "securty",
    "until": "untill",
    "neighbour": "nieghbour",
    "happened": "happend",
    "strange": "strnage",
    "address": "adress",
    "police": "polcie",
    "business": "buisness",
    "immediately": "immediatly",
    "noticed": "noticced",
    "building": "biulding",
    "different": "diffrent",
    "behaviour": "behavior",
    "camera": "camra",
    "cameras": "camras",
    "though": "tho",
}

TEXTSPEAK = [
    (r"\byou're\b", "ur"),
    (r"\byou\b", "u"),
    (r"\byour\b", "ur"),
    (r"\bare\b", "r"),
    (r"\bbecause\b", "cos"),
    (r"\bpeople\b", "ppl"),
    (r"\bplease\b", "pls"),
    (r"\breally\b", "rly"),
    (r"\bthough\b", "tho"),
    (r"\bsomething\b", "summat"),
    (r"\bgoing to\b", "gonna"),
    (r"\bwant to\b", "wanna"),
    (r"\bdon't know\b", "dunno"),
    (r"\bprobably\b", "prob"),
    (r"\babout\b", "abt"),
    (r"\bthanks\b", "thx"),
    (r"\bI'm\b", "im"),
    (r"\bdon't\b", "dont"),
    (r"\bcan't\b", "cant"),
    (r"\bdidn't\b", "didnt"),
    (r"\bwasn't\b", "wasnt"),
    (r"\bit's\b", "its"),
    (r"\bhe's\b", "hes"),
    (r"\bthat's\b", "thats"),
    (r"\bseriously\b", "srsly"),
    (r"\bto be honest\b", "tbh"),
]


def _typo_word(word: str, rng: random.Random) -> str:
    low = word.lower()
    if low in MISSPELLINGS and rng.random() < 0.6:
        fixed = MISSPELLINGS[low]
        return fixed[0].upper() + fixed[1:] if word[0].isupper() else fixed
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("swap", "drop", "double", "swap"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def style_prose(text: str, st: Style, rng: random.Random) -> str:
    if st.textspeak:
        for pattern, repl in TEXTSPEAK:
            text = re.sub(pattern, repl, text, flags=re.IGNORECASE)
    if st.drop_articles:
        text = re.sub(
            r"\b(the|a) (?=[a-z])", lambda m: "" if rng.random() < 0.35 else m.group(0), text
        )
    if st.typo:
        text = re.sub(
            r"[A-Za-z]{4,}",
            lambda m: _typo_word(m.group(0), rng) if rng.random() < st.typo else m.group(0),
            text,
        )
    if st.lower:
        text = text.lower()
    elif st.caps and rng.random() < st.caps:
        text = text.upper()
    return text


# Patterns that must never appear in unlabelled prose: if they did, the text would hold an
# identifier, a time or a weapon that the labels do not mention.
_FORBIDDEN = [
    r"\b(mon|tues|wednes|thurs|fri|satur|sun)day\b",
    r"\b(yesterday|today|tonight|tomorrow|morning|afternoon|evening|lunchtime|midday)\b",
    r"\bnight\b",
    r"\b\d{1,2}[:.]\d{2}\b",
    r"\b\d{1,2} ?(am|pm)\b",
    r"\bdays? ago\b",
    r"@",
    r"https?:",
    r"www\.",
    r"\.(com|org|net|me|uk)\b",
    r"\d{5,}",
    r"[£$€]|\bquid\b|\bgrand\b|\bpounds\b|\beuros?\b",
    r"\b(knife|knives|machetes?|guns?|shotguns?|rifles?|pistols?|bombs?|detonators?)\b",
    r"\b(peroxide|acetone|nitrate|nitromethane|ricin|crossbows?|explosives?|grenades?)\b",
    r"\bfirearms?\b",
    r"\b[a-z]{2}\d{2} ?[a-z]{3}\b",
    r"\b[a-z]{1,2}\d[a-z\d]? ?\d[a-z]{2}\b",
]
FORBIDDEN = re.compile("|".join(f"(?:{p})" for p in _FORBIDDEN), re.IGNORECASE)


# --------------------------------------------------------------------------- pools

# community -> (male first names, female first names, male surnames, female surnames)
NAMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "english": (
        ("Dave", "Gary", "Kyle", "Liam", "Craig", "Terry", "Oliver", "Shane", "Bradley", "Darren"),
        ("Stacey", "Kayleigh", "Louise", "Sharon", "Jade", "Gemma"),
        ("Smith", "Walsh", "Jenkins", "Holloway", "Nuttall", "Cartwright", "Bainbridge", "Foster"),
        ("Marsh", "Dunn", "Hartley", "Pickering", "Thornton", "Ackroyd"),
    ),
    "celtic": (
        ("Callum", "Connor", "Rhys", "Sean", "Gareth", "Fraser"),
        ("Siobhan", "Niamh", "Cerys", "Morag"),
        ("McLeod", "O'Neill", "Doyle", "Pritchard", "Gallagher", "MacKenzie"),
        ("Hughes", "Fitzgerald", "Quinn", "Lloyd"),
    ),
    "south_asian": (
        ("Imran", "Sanjay", "Rahul", "Faisal", "Tariq", "Harjit", "Zubair", "Naveed", "Arjun"),
        ("Priya", "Nadia", "Shabana", "Simran", "Rukhsana"),
        ("Patel", "Qureshi", "Mistry", "Sharma", "Hussain", "Mirza", "Chaudhry", "Sandhu"),
        ("Begum", "Akhtar", "Kaur", "Rahman", "Iqbal", "Malik"),
    ),
    "arab": (
        ("Mohammed", "Ahmed", "Khalid", "Omar", "Hamza", "Yasir"),
        ("Layla", "Mariam", "Huda"),
        ("Al-Rashid", "Farouk", "Haddad", "Al-Amin", "Nasser", "Saleh"),
        ("Haddad", "Nasser", "Khalil"),
    ),
    "somali": (
        ("Abdi", "Mahad", "Liban", "Yusuf"),
        ("Hodan", "Sagal", "Ayaan"),
        ("Warsame", "Farah", "Jama", "Osman", "Hirsi"),
        ("Warsame", "Jama", "Abdullahi"),
    ),
    "west_african": (
        ("Chukwuemeka", "Kwame", "Tunde", "Kofi", "Emeka"),
        ("Ngozi", "Abena", "Folake"),
        ("Okafor", "Mensah", "Adeyemi", "Boateng", "Okonkwo", "Asante"),
        ("Okafor", "Mensah", "Adebayo"),
    ),
    "caribbean": (
        ("Delroy", "Jamal", "Tyrone", "Winston", "Marcus"),
        ("Shanice", "Marcia", "Keisha"),
        ("Campbell", "Richards", "Thompson", "Beckford", "Francis"),
        ("Campbell", "Grant", "Clarke"),
    ),
    "polish": (
        ("Piotr", "Tomasz", "Krzysztof", "Marek"),
        ("Ewa", "Agnieszka", "Kasia"),
        ("Nowak", "Kowalski", "Zielinski", "Wojcik"),
        ("Nowak", "Kowalska", "Zielinska"),
    ),
    "romanian": (
        ("Andrei", "Florin", "Mihai", "Ionut"),
        ("Ioana", "Elena"),
        ("Popescu", "Ionescu", "Dumitru", "Stan"),
        ("Popescu", "Ionescu"),
    ),
    "turkish_kurdish": (
        ("Mehmet", "Emre", "Baran", "Serkan"),
        ("Elif", "Zeynep", "Rojda"),
        ("Yilmaz", "Demir", "Kaya", "Aydin", "Dogan"),
        ("Yilmaz", "Demir", "Kaya"),
    ),
    "east_asian": (
        ("Wei", "Jun", "Hao", "Minh", "Tuan"),
        ("Mei", "Linh", "Xiu"),
        ("Chen", "Wong", "Zhang", "Lau", "Nguyen", "Tran"),
        ("Chen", "Wong", "Nguyen", "Pham"),
    ),
    "baltic_iberian": (
        ("Lukas", "Darius", "Joao", "Tiago", "Rui"),
        ("Ana", "Ines", "Ruta"),
        ("Petrauskas", "Kazlauskas", "Ferreira", "Silva", "Costa"),
        ("Ferreira", "Silva", "Pereira"),
    ),
}

# Places: (written forms, type). Values are the written form, tidied and title-cased.
PLACES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Piccadilly Gardens", "piccadilly gardens"), "crowded"),
    (("Arndale Centre", "arndale centre", "Arndale"), "crowded"),
    (("Millennium Square", "millenium square"), "crowded"),
    (("Trafalgar Square",), "crowded"),
    (("Bullring", "Bull Ring"), "crowded"),
    (("Cabot Circus",), "crowded"),
    (("Centenary Square",), "crowded"),
    (("Leicester Square",), "crowded"),
    (("Kirkgate Market", "kirkgate market"), "crowded"),
    (("Briggate",), "crowded"),
    (("Kings Cross Station", "Kings Cross station", "King's Cross", "kings cross"), "transport"),
    (("New Street Station", "New Street station", "new street"), "transport"),
    (("Piccadilly Station", "Piccadilly station"), "transport"),
    (("Leeds Station", "Leeds station", "leeds train station"), "transport"),
    (("Victoria Station", "Victoria station"), "transport"),
    (("Queen Street Station", "Queen Street station"), "transport"),
    (("Temple Meads", "temple meads"), "transport"),
    (("Lime Street Station", "Lime Street"), "transport"),
    (("Leeds Bradford Airport", "leeds bradford airport", "LBA"), "airport"),
    (("Manchester Airport", "manchester airport"), "airport"),
    (("Luton Airport",), "airport"),
    (("Birmingham Airport",), "airport"),
    (("Elland Road", "elland road"), "stadium"),
    (("Villa Park",), "stadium"),
    (("Hampden Park",), "stadium"),
    (("St James' Park", "St James Park"), "stadium"),
    (("Wembley Stadium", "Wembley", "wembley"), "stadium"),
    (("Kirkstall Water Treatment Works",), "infra"),
    (("Brackley Lane Substation", "Brackley Lane substation"), "infra"),
    (("Harrowfield Gas Terminal",), "infra"),
    (("Eastmoor Reservoir", "eastmoor reservoir"), "infra"),
    (("Calder Bridge", "calder bridge"), "infra"),
    (("Thornbury Power Station",), "infra"),
    (("St Bede's Hospital", "St Bedes Hospital"), "infra"),
    (("Leeds", "leeds"), "city"),
    (("Manchester", "manchester"), "city"),
    (("Birmingham", "birmingham", "brum"), "city"),
    (("Bradford", "bradford"), "city"),
    (("Cardiff",), "city"),
    (("Glasgow",), "city"),
    (("Bristol",), "city"),
    (("Leicester", "leicester"), "city"),
    (("Sheffield",), "city"),
    (("Luton",), "city"),
    (("London", "london"), "city"),
    (("Coventry",), "city"),
    (("Harehills Lane", "harehills lane"), "street"),
    (("Stockport Road", "stockport road"), "street"),
    (("Coventry Road",), "street"),
    (("Belgrave Road", "belgrave road"), "street"),
    (("Oldham Road",), "street"),
    (("Elm Grove", "elm grove"), "street"),
    (("Westfield Lane",), "street"),
    (("Chapeltown Road", "chapeltown road"), "street"),
    (("Roundhay Park", "roundhay park"), "park"),
    (("Heaton Park",), "park"),
    (("Victoria Park", "victoria park"), "park"),
    (("Sefton Park",), "park"),
    (("Oakfield Park",), "park"),
)

ORGS: dict[str, tuple[str, ...]] = {
    "van_hire": ("Northway Van Hire", "Kestrel Van & Truck Hire", "Moorside Self Drive Hire"),
    "chem_shop": (
        "Greenvale Garden Supplies",
        "Pennine Agri Supplies",
        "Bluewater Pool Supplies",
        "Coleridge Hardware",
        "Ashdown Hair & Beauty Wholesale",
        "Meadowbank Farm Supplies",
        "Crescent Pharmacy",
    ),
    "security": ("Summit Security Services", "Sentinel Guarding Ltd", "Redline Stewarding Ltd"),
    "flight": ("Hollybank Flight Training", "Skyward Aviation Academy"),
    "gun_club": ("Ironbridge Rifle Club", "Dale Valley Clay Shooting Club"),
    "gym": ("Forge Fitness", "Titan Boxing Club", "Ironworks Gym"),
    "money": ("Harbourside Money Transfer", "Swiftpay Remittance Ltd", "Globelink Exchange"),
    "letting": ("Blue Anchor Lettings", "Keystone Property Management"),
    "courier": ("Kestrel Couriers", "Rapid Route Logistics Ltd"),
    "charity": ("Riverside Community Trust", "Hope Valley Aid Trust", "Brightpath Youth Project"),
    "utility": ("Brightwater Utilities Ltd", "Northfield Energy Ltd", "Calder Valley Water Ltd"),
    "employer": (
        "Westmoor Logistics Ltd",
        "Calder Valley Housing Association",
        "Fenwick Engineering Ltd",
        "Harlow & Finch Solicitors",
    ),
    "phone_shop": ("Quickfix Phone Repairs", "Mobile Zone Unlocking"),
}

POSTCODE_OUTWARD = (
    "LS6", "LS8", "LS11", "M14", "M8", "B11", "B10", "BD3", "BD8", "SW1A", "E1", "E17", "N7",
    "CF24", "G42", "L8", "S2", "NG7", "LE4", "BS5", "NE6", "LU1", "CV6", "WF13", "OL9", "SE15",
    "W1D", "EC1V", "M16", "LS9", "HX1", "HD1", "DN4", "PR1",
)  # fmt: skip
POSTCODE_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXY"
PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXY"
PLATE_AGE = ("51", "61", "12", "62", "14", "64", "15", "65", "17", "67", "18", "68", "19", "69",
             "20", "70", "21", "71", "22", "72", "23", "73", "24", "74", "25", "75")  # fmt: skip
RUDE = ("ASS", "BUM", "FUK", "SEX", "WTF", "POO", "GOD", "KKK", "NAZ", "ISS", "JEW", "PIG")

SUSPECTS = (
    "a man in his thirties in a grey puffer jacket",
    "a man, maybe 40, with a shaved head and a grey tracksuit",
    "a young lad in a dark hoodie and trackie bottoms",
    "a lad in his twenties with a baseball cap",
    "a man with a big holdall and a long dark coat",
    "an older man with glasses and a flat cap",
    "a tall man with a black rucksack and a beanie hat",
    "a stocky bloke in a hi-vis vest",
    "a skinny lad on an electric scooter",
    "a man with a ginger beard and a green parka",
    "a man pushing an empty pram",
    "a man in a smart suit carrying a clipboard",
)
PAIRS = (
    "two men, one in a grey puffer jacket",
    "two lads in their twenties with rucksacks",
    "a man and a woman with an empty pushchair",
    "two older men in dark coats",
)
VEHICLES = (
    "a white Transit van",
    "a silver hatchback",
    "a black Audi",
    "a dark blue Vauxhall Astra",
    "a red Fiesta",
    "a white Luton van",
    "a grey Qashqai",
    "a black BMW",
    "a silver people carrier",
    "a green Land Rover",
)
PLATFORMS = ("Telegram", "TikTok", "YouTube", "Facebook", "Instagram", "X", "Discord")
URL_PLATFORM = {
    "telegram": "Telegram",
    "youtube": "YouTube",
    "x": "X",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "tiktok": "TikTok",
    "discord": "Discord",
}


# --------------------------------------------------------------------------- the report


@dataclass
class Report:
    """One report being written: segments by sentence, labels, fields."""

    rng: random.Random
    rep_utc: datetime
    style: Style
    facts: dict[str, Any]
    secondhand: tuple[str, str, str] | None  # (subject, object, possessive) pronouns
    in_group: bool = False
    sentences: list[list[Seg]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    priority: str = "P4"
    kind: str = "other"
    fields: dict[str, Any] = field(default_factory=dict)
    field_items: list[It] = field(default_factory=list)

    # ---- basics
    @property
    def local(self) -> datetime:
        return self.rep_utc.astimezone(LONDON)

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[self.rng.randrange(len(seq))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def fact(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.facts:
            self.facts[key] = make()
        return self.facts[key]

    def cat(self, *codes: str) -> None:
        for code in codes:
            assert code in CATEGORY_CODES, code
            if code not in self.categories:
                self.categories.append(code)

    def prio(self, level: str) -> None:
        """Raise the priority to ``level`` (never lowers it)."""
        self.priority = min(self.priority, level)

    # ---- sentences
    def say(
        self,
        template: str,
        cats: Sequence[str] = (),
        prio: str | None = None,
        **slots: Slot,
    ) -> None:
        text = re.sub(r"\[([^\[\]]*)\]", lambda m: self.pick(m.group(1).split("|")), template)
        sentence: list[Seg] = []
        for i, part in enumerate(re.split(r"\{(\w+)\}", text)):
            if i % 2 == 0:
                if part:
                    sentence.append(part)
                continue
            value = slots[part] if part in slots else self._pronoun(part)
            if isinstance(value, list):
                sentence.extend(value)
            else:
                sentence.append(value)
        if sentence:
            self.sentences.append(sentence)
        self.cat(*cats)
        if prio:
            self.prio(prio)

    def _pronoun(self, slot: str) -> str:
        first = {"who": "I", "me": "me", "my": "my", "am": "was"}
        if self.secondhand:
            subj, obj, poss = self.secondhand
            first = {"who": subj, "me": obj, "my": poss, "am": "was"}
        key = slot.lower()
        if key not in first:
            raise KeyError(f"unfilled slot {{{slot}}}")
        word = first[key]
        return word[0].upper() + word[1:] if slot[0].isupper() else word

    # ---- items
    def _case(self, text: str, p: float | None = None) -> str:
        if self.chance(self.style.name_lower if p is None else p):
            return text.lower()
        return text

    def person(self, who: tuple[str, str, str], form: str | None = None) -> list[Seg]:
        """A named person; ``who`` is (first, last, sex). Returns segments (title not in span)."""
        first, last, _sex = who
        form = form or self.pick(("full", "full", "full", "full", "first", "title"))
        if form == "title":
            title = self.pick(("Mr", "Mr", "Mr.") if who[2] == "m" else ("Mrs", "Ms", "Miss"))
            written = self._case(last)
            return [title + " ", It("person", written, titlecase(written))]
        written = first if form == "first" else f"{first} {last}"
        if self.chance(0.06) and len(first) > 4:
            # a reporter who cannot spell the name: labelled as written
            written = first[:-2] + first[-1] + first[-2] + written[len(first) :]
        written = self._case(written)
        return [It("person", written, titlecase(written))]

    def place(self, entry: tuple[tuple[str, ...], str]) -> It:
        written = self._case(self.pick(entry[0]))
        if written.lower().startswith("the "):  # "the Bull Ring": the article is not the name
            raise ValueError("place forms must not start with an article")
        return It("place", written, titlecase(written))

    def org(self, name: str) -> It:
        written = self._case(name, self.style.name_lower / 2)
        return It("organisation", written, titlecase(written))

    def vrm(self, plate: str) -> It:
        compact = plate.replace(" ", "")
        forms = [plate, compact, plate.lower(), compact.lower(), plate.title()]
        if len(compact) == 7 and compact[:2].isalpha() and compact[2:4].isdigit():
            forms.append(f"{compact[:2]} {compact[2:4]} {compact[4:]}")
        written = self.pick(forms)
        if self.style.lower:
            written = written.lower()
        return It("vrm", written, compact.upper())

    def postcode(self, code: str) -> It:
        compact = code.replace(" ", "")
        written = self.pick((code, code, compact, code.lower(), compact.lower(), code.title()))
        return It("postcode", written, code.upper())

    def phone(self, national: str) -> It:
        """``national`` is the 11-digit national form, e.g. 07700900123."""
        n = national
        if n.startswith("07"):
            forms = [
                f"{n[:5]} {n[5:]}",
                n,
                f"{n[:5]} {n[5:8]} {n[8:]}",
                f"+44 {n[1:5]} {n[5:]}",
                f"+44{n[1:]}",
                f"+44 (0){n[1:5]} {n[5:]}",
                f"0044 {n[1:5]} {n[5:8]} {n[8:]}",
                f"{n[:5]}-{n[5:8]}-{n[8:]}",
            ]
        elif n.startswith("016"):
            forms = [f"{n[:5]} {n[5:]}", f"({n[:5]}) {n[5:]}", n]
        else:  # 0113 496 0xxx or 020 7946 0xxx
            if n.startswith("020"):
                forms = [f"{n[:3]} {n[3:7]} {n[7:]}", n, f"+44 20 {n[3:7]} {n[7:]}"]
            else:
                forms = [f"{n[:4]} {n[4:7]} {n[7:]}", f"{n[:4]} {n[4:]}", n]
        written = self.pick(forms)
        value = e164(written)
        assert value == "+44" + n[1:], (written, value)
        return It("phone", written, value)

    def email(self, address: str) -> It:
        local, domain = address.split("@")
        written = self.pick(
            (address, address, local.title() + "@" + domain, local + "@" + domain.title())
        )
        return It("email", written, written.lower())

    def url(self, written: str) -> It:
        return It("url", written, canonical_url(written))

    def handle(self, name: str) -> It:
        written = "@" + (name if not self.chance(0.3) else name.title())
        return It("handle", written, written.lower())

    def money(self, amount: int, currency: str = "GBP") -> It:
        a = amount
        if currency == "GBP":
            forms = [f"£{a:,}", f"£{a}", f"{a} quid", f"{a} pounds"]
            if a % 1000 == 0:
                forms += [f"£{a // 1000}k", f"{a // 1000} grand", f"£{a // 1000}K"]
            if a >= 10000:
                forms = [f for f in forms if "quid" not in f]
        elif currency == "USD":
            forms = [f"${a:,}", f"{a} dollars"]
        else:
            forms = [f"€{a:,}", f"{a} euros"]
        return It("money", self.pick(forms), f"{currency} {a}.00")

    def weapon(self, term: str, plural: bool | None = None) -> It:
        forms = WEAPONS[term]
        if plural is not None:
            forms = tuple(f for f in forms if (f in PLURAL_FORMS) == plural) or forms
        written = self.pick(forms)
        if self.style.lower:
            written = written.lower()
        return It("weapon", written, term)

    # ---- time
    def past_event(
        self, min_off: int = 0, max_off: int = 6, hours: tuple[int, int] = (7, 22)
    ) -> datetime:
        lo = self.local
        first, last = hours
        offs = [o for o in range(min_off, max_off + 1) if o > 0 or lo.hour > first + 1]
        off = self.pick(offs or [max(1, min_off)])
        day = lo.date() - timedelta(days=off)
        top = min(last, lo.hour - 1) if off == 0 else last
        hour = self.rng.randint(first, max(first, top))
        minute = self.pick((0, 0, 0, 5, 10, 15, 20, 30, 30, 40, 45, 50))
        if off == 0 and (hour, minute) >= (lo.hour, lo.minute):
            minute = 0
        return datetime.combine(day, time(hour, minute))

    def future_event(self, min_off: int = 0, max_off: int = 12) -> datetime:
        lo = self.local
        offs = [o for o in range(min_off, max_off + 1) if o > 0 or lo.hour <= 18]
        off = self.pick(offs)
        day = lo.date() + timedelta(days=off)
        bottom = lo.hour + 2 if off == 0 else 8
        hour = self.rng.randint(bottom, 22) if bottom <= 22 else 22
        minute = self.pick((0, 0, 0, 0, 30, 30, 15, 45))
        return datetime.combine(day, time(hour, minute))

    def when(
        self, ev: datetime, precision: str | None = None, cap: bool = False, bare: bool = False
    ) -> list[Seg]:
        """A datetime mention for the naive local ``ev``, as segments (prefix prose + item).

        ``bare`` drops the leading preposition ("since Monday", not "since on Monday").
        """
        order = ["clock", "part", "date"]
        if precision is None:
            precision = self.pick(("clock", "clock", "clock", "part", "part", "date", "date"))
        h, m = ev.hour, ev.minute
        if precision == "clock" and m and self.chance(0.25):  # "about 3pm" for 14:50
            rh, rm = (min(h + 1, 23), 0) if m >= 30 else (h, 0)
            now = self.local.replace(tzinfo=None)
            if (datetime.combine(ev.date(), time(rh, rm)) < now) == (ev < now):
                h, m = rh, rm
        for prec in [precision] + [p for p in order if p != precision]:
            options = self._when_options(ev.date(), h, m, prec)
            if options:
                prefix, text, value = self.pick(options)
                break
        else:  # pragma: no cover - every date has a date-only form
            raise AssertionError(ev)
        if self.style.lower or self.chance(0.1):
            text = text.lower()
        segs: list[Seg] = []
        if prefix and not bare:
            segs.append(prefix)
        segs.append(It("datetime", text, value))
        if cap:
            first = segs[0]
            if isinstance(first, str):
                segs[0] = first[0].upper() + first[1:]
            else:
                segs[0] = It(first.kind, first.text[0].upper() + first.text[1:], first.value)
        return segs

    def _clock(self, h: int, m: int) -> str:
        h12 = h % 12 or 12
        ampm = "am" if h < 12 else "pm"
        if m == 0:
            forms = [
                f"{h12}{ampm}",
                f"{h12}{ampm}",
                f"{h12} {ampm}",
                f"{h:02d}:00",
                f"{h12}.00{ampm}",
            ]
        else:
            forms = [f"{h12}:{m:02d}{ampm}", f"{h12}.{m:02d}{ampm}", f"{h:02d}:{m:02d}"]
            forms += [f"{h12}.{m:02d} {ampm}", f"{h:02d}{m:02d}hrs"] if self.chance(0.2) else []
        return self.pick(forms)

    def _date_text(self, d: date, with_year: bool) -> list[str]:
        day = d.day
        suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        month = MONTHS[d.month - 1]
        if with_year:
            return [
                f"{day:02d}/{d.month:02d}/{d.year}",
                f"{day}/{d.month}/{d.year}",
                f"{day} {month} {d.year}",
                f"{day}{suffix} {month} {d.year}",
            ]
        return [f"{day}{suffix} {month}", f"{day} {month}", f"{month} {day}{suffix}",
                f"the {day}{suffix} of {month}"]  # fmt: skip

    def _when_options(self, d: date, h: int, m: int, prec: str) -> list[tuple[str, str, str]]:
        lo = self.local
        off = (lo.date() - d).days  # >0 past, <0 future
        past = datetime.combine(d, time(h, m)) < lo.replace(tzinfo=None)
        wd = WEEKDAYS[d.weekday()]
        same_year = d.year == lo.year
        dates = self._date_text(d, with_year=False) if same_year else []
        dates_y = self._date_text(d, with_year=True)
        part = (
            "morning"
            if h < 12
            else "lunchtime"
            if h < 14 and m == 0 and h == 12
            else "afternoon"
            if h < 18
            else "evening"
            if h < 21
            else "night"
        )
        opts: list[tuple[str, str, str]] = []
        if prec == "clock":
            v = utc_value(d, h, m)
            c = self._clock(h, m)
            day_part = "morning" if h < 12 else "afternoon" if h < 18 else "evening"
            # (no "this afternoon at 12pm": at noon the clock is said alone)
            half = f"half {h % 12 or 12}" if m == 30 else None
            if off == 0 and past:
                opts += [("at ", c, v), ("", f"today at {c}", v), ("earlier ", f"today at {c}", v)]
                opts += [("at ", f"{c} today", v), ("around ", c, v)]
                if h != 12:
                    opts += [("about ", f"{c} this {day_part}", v)]
                    opts += [("", f"this {day_part} at {c}", v)]
                if half and h < 18:
                    opts.append(("at ", f"{half} this {day_part}", v))
            elif off == 0:
                opts += [("at ", f"{c} today", v), ("later ", f"today at {c}", v)]
                opts += [("", f"today at {c}", v)]
                opts += [("", f"this {day_part} at {c}", v)] if h != 12 else []
                if h >= 19:
                    opts += [("", f"tonight at {c}", v), ("at ", f"{c} tonight", v)]
            elif off == 1:
                opts += [("", f"yesterday at {c}", v), ("", f"yesterday about {c}", v)]
                opts += [("", f"yesterday around {c}", v), ("at ", f"{c} yesterday", v)]
                opts += [("on ", f"{wd} at {c}", v)]
                opts += [("", f"yesterday {day_part} at {c}", v)] if h != 12 else []
                if h >= 19:
                    opts += [("", f"last night at {c}", v), ("", f"last night about {c}", v)]
                if half and 19 <= h <= 22:
                    opts.append(("at ", f"{half} last night", v))
            elif 2 <= off <= 6:
                opts += [("on ", f"{wd} at {c}", v), ("", f"{wd} at {c}", v)]
                opts += [("", f"last {wd} at {c}", v), ("at ", f"{c} on {wd}", v)]
                opts += [("on ", f"{wd} {day_part} at {c}", v)] if h != 12 else []
            elif off == -1:
                opts += [("", f"tomorrow at {c}", v), ("at ", f"{c} tomorrow", v)]
                opts += [("", f"tomorrow about {c}", v)]
                opts += [("", f"tomorrow {day_part} at {c}", v)] if h != 12 else []
            else:
                opts += [("on ", f"{t} at {c}", v) for t in dates + dates_y[:1]]
                opts += [("at ", f"{c} on {t}", v) for t in dates[:2]]
        elif prec == "part":
            v = utc_value(d, PART_HOURS[part], 0)
            if off == 0:
                if part == "lunchtime":
                    if (lo.hour >= 13) == past:
                        opts += [("at ", "lunchtime today", v), ("", "today at lunchtime", v)]
                elif part == "night":
                    if not past and lo.hour < 21:
                        opts += [("", "tonight", v), ("", "tonight", v)]
                elif past and lo.hour > PART_HOURS[part]:
                    opts += [("", f"this {part}", v), ("earlier ", f"this {part}", v)]
                elif not past and lo.hour < PART_HOURS[part]:
                    opts += [("", f"this {part}", v), ("later ", f"this {part}", v)]
            elif off == 1:
                if part == "night":
                    opts += [
                        ("", "last night", v),
                        ("", "last night", v),
                        ("on ", f"{wd} night", v),
                    ]
                elif part == "lunchtime":
                    opts += [("", "yesterday lunchtime", v), ("", "yesterday at lunchtime", v)]
                else:
                    opts += [("", f"yesterday {part}", v), ("on ", f"{wd} {part}", v)]
            elif 2 <= off <= 6:
                opts += [("on ", f"{wd} {part}", v), ("", f"{wd} {part}", v)]
                opts += [("", f"last {wd} {part}", v)]
            elif off == -1:
                opts += [("", f"tomorrow {part}", v)]
                if part == "night":
                    opts += [("", "tomorrow night", v)]
        else:
            v = d.isoformat()
            if off == 0:
                opts += [("", "today", v), ("earlier " if past else "later ", "today", v)]
            elif off == 1:
                opts += [("", "yesterday", v), ("", "yesterday", v), ("on ", wd, v)]
            elif 2 <= off <= 6:
                n = NUMBER_WORDS[off] if self.chance(0.4) else str(off)
                opts += [("", f"{n} days ago", v), ("on ", wd, v), ("", f"last {wd}", v)]
                opts += [("on ", t, v) for t in dates[:2]]
            elif off == -1:
                opts += [("", "tomorrow", v)]
            else:
                opts += [("on ", t, v) for t in dates]
                opts += [("on ", t, v) for t in dates_y]
        return opts

    # ---- structured fields
    def add_fields(self, g: Gen) -> None:
        """Sometimes the reporter also filled in the form's fields (mostly they do not)."""
        items = [s for sent in self.sentences for s in sent if isinstance(s, It)]
        fields: dict[str, Any] = {
            "people": [],
            "vehicles": [],
            "urls": [],
            "postcode": None,
            "phones": [],
            "emails": [],
        }
        if self.chance(0.22):
            for it in items:
                if not self.chance(0.6):
                    continue
                if it.kind == "vrm":
                    fields["vehicles"].append(self.pick((it.value, it.text, it.value.lower())))
                elif it.kind == "person" and " " in it.value:
                    fields["people"].append(it.value)
                elif it.kind == "url":
                    fields["urls"].append(it.text)
                elif it.kind == "postcode" and fields["postcode"] is None:
                    fields["postcode"] = it.text
                elif it.kind == "phone":
                    fields["phones"].append(it.text)
                elif it.kind == "email":
                    fields["emails"].append(it.text)
            # a value typed only into a field (where it happened, a plate not in the text)
            if fields["postcode"] is None and self.chance(0.4):
                typed = self.postcode(g.postcode()).text
                fields["postcode"] = typed
                self.field_items.append(It("postcode", typed, postcode_value(typed)))
            if self.chance(0.12):
                typed = self.vrm(g.plate()).text
                fields["vehicles"].append(typed)
                self.field_items.append(It("vrm", typed, typed.replace(" ", "").upper()))
        self.fields = fields


def utc_value(d: date, h: int, m: int) -> str:
    local = datetime.combine(d, time(h, m), tzinfo=LONDON)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def postcode_value(written: str) -> str:
    compact = written.replace(" ", "").upper()
    return f"{compact[:-3]} {compact[-3:]}"


# --------------------------------------------------------------------------- invented values

CHANNEL_WORDS = (
    "sunrise", "northern", "iron", "dawn", "lion", "truth", "awakening", "patriot", "eagle",
    "vanguard", "storm", "phoenix", "outpost", "signal", "harbour", "brotherhood", "falcon",
)  # fmt: skip
HANDLE_WORDS = (
    "wolfpack_north", "dawn_rider_21", "the_real_kez", "northern_lion_77", "truth_seeker_uk",
    "grim_reaper_xo", "silent_storm", "kaz_on_road", "mr_nobody_404", "stormfront_lad",
    "lone_eagle_99", "real_talk_rizz", "vengeance_inbound", "deadeye_dan", "the_outsider_x",
)  # fmt: skip


class Gen:
    """Pools of invented values (deterministic through the shared ``rng``)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[self.rng.randrange(len(seq))]

    def name(self, sex: str | None = None) -> tuple[str, str, str]:
        community = self.pick(sorted(NAMES))
        males, females, lasts_m, lasts_f = NAMES[community]
        sex = sex or ("m" if self.rng.random() < 0.8 else "f")
        if sex == "m":
            return (self.pick(males), self.pick(lasts_m), "m")
        return (self.pick(females), self.pick(lasts_f), "f")

    def place(self, *types: str) -> tuple[tuple[str, ...], str]:
        pool = [p for p in PLACES if p[1] in types]
        return self.pick(pool)

    def org(self, kind: str) -> str:
        return self.pick(ORGS[kind])

    def plate(self, fmt: str | None = None) -> str:
        fmt = fmt or self.pick(("current",) * 8 + ("prefix", "suffix"))
        letters = PLATE_LETTERS
        while True:
            if fmt == "current":
                area = self.pick("ABCDEFGHKLMNOPRSVWY") + self.pick("ABCDEFGHJKLMNOPRSTUVWXY")
                tail = "".join(self.pick(letters) for _ in range(3))
                plate = f"{area}{self.pick(PLATE_AGE)} {tail}"
            elif fmt == "prefix":
                head = self.pick("ABCDEFGHJKLMNPRSTVWXY")
                tail = "".join(self.pick(letters) for _ in range(3))
                plate = f"{head}{self.rng.randint(10, 999)} {tail}"
            elif fmt == "suffix":
                head = "".join(self.pick(letters) for _ in range(3))
                plate = f"{head} {self.rng.randint(10, 999)}{self.pick('ABCDEFGHJKLMNPRSTVWXY')}"
            else:  # dateless: only ever written with vehicle context
                head = "".join(self.pick(letters) for _ in range(3))
                plate = f"{head} {self.rng.randint(10, 999)}"
            if not any(bad in plate.replace(" ", "") for bad in RUDE):
                return plate

    def postcode(self) -> str:
        inward = str(self.rng.randint(1, 9)) + "".join(
            self.pick(POSTCODE_INWARD_LETTERS) for _ in range(2)
        )
        return f"{self.pick(POSTCODE_OUTWARD)} {inward}"

    def mobile(self) -> str:
        return f"07700900{self.rng.randint(0, 999):03d}"

    def landline(self) -> str:
        kind = self.pick(("01632", "0113", "020"))
        tail = f"{self.rng.randint(0, 999):03d}"
        if kind == "01632":
            return f"01632960{tail}"
        if kind == "0113":
            return f"01134960{tail}"
        return f"02079460{tail}"

    def email(self, who: tuple[str, str, str] | None = None) -> str:
        domain = self.pick(("example.com", "example.org", "example.net"))
        if who and self.rng.random() < 0.6:
            first, last, _ = who
            local = self.pick(
                (
                    f"{first}.{last}",
                    f"{first[0]}{last}",
                    f"{first}{self.rng.randint(1, 99)}",
                    f"{last}.{first[0]}",
                )
            )
            local = re.sub(r"[^A-Za-z0-9.]", "", local).lower()
        else:
            local = self.pick(
                ("info", "admin", "noreply", "justice.now", "the.watcher", "anon.tips")
            ) + str(self.rng.randint(1, 999))
        return f"{local}@{domain}"

    def handle(self) -> str:
        return self.pick(HANDLE_WORDS)

    def slug(self, sep: str = "_") -> str:
        a, b = self.rng.sample(CHANNEL_WORDS, 2)
        return f"{a}{sep}{b}" + (
            f"{sep}{self.rng.randint(2, 99)}" if self.rng.random() < 0.4 else ""
        )

    def _token(self, n: int) -> str:
        chars = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
        return "".join(self.pick(chars) for _ in range(n))

    def url(self, kind: str = "any") -> str:
        """An invented URL as a reporter might paste or type it."""
        kinds = (
            "telegram",
            "youtube",
            "x",
            "facebook",
            "instagram",
            "tiktok",
            "example",
            "discord",
        )
        kind = self.pick(kinds) if kind == "any" else kind
        r = self.rng
        if kind == "telegram":
            chan = self.slug()
            return self.pick(
                (
                    f"t.me/{chan}",
                    f"https://t.me/{chan}",
                    f"https://t.me/{chan}/{r.randint(10, 9999)}",
                    f"T.me/{chan}",
                    f"https://t.me/s/{chan}?utm_source=share",
                )
            )
        if kind == "youtube":
            vid = self._token(11)
            return self.pick(
                (
                    f"https://www.youtube.com/watch?v={vid}",
                    f"https://www.youtube.com/watch?v={vid}&si={self._token(16)}",
                    f"https://youtu.be/{vid}?si={self._token(16)}",
                    f"youtube.com/watch?v={vid}&t=42s",
                    f"https://m.youtube.com/watch?v={vid}&feature=share&utm_source=wa",
                )
            )
        if kind == "x":
            user = self.slug()
            status = "".join(str(r.randint(0, 9)) for _ in range(19))
            return self.pick(
                (
                    f"https://x.com/{user}/status/1{status[1:]}",
                    f"https://twitter.com/{user}/status/1{status[1:]}?s=20",
                    f"x.com/{user}",
                    f"https://X.com/{user}/",
                )
            )
        if kind == "facebook":
            slug = self.slug("-")
            return self.pick(
                (
                    f"https://www.facebook.com/groups/{slug}/?fbclid=IwAR{self._token(20)}",
                    f"https://www.facebook.com/{slug}",
                    f"facebook.com/groups/{slug}",
                    f"https://m.facebook.com/story.php?story_fbid={r.randint(10**9, 10**10)}"
                    f"&id={r.randint(10**9, 10**10)}&mibextid=Nif5oz",
                )
            )
        if kind == "instagram":
            code = self._token(11)
            return self.pick(
                (
                    f"https://www.instagram.com/p/{code}/?igshid={self._token(12)}",
                    f"instagram.com/{self.slug()}",
                    f"https://www.instagram.com/reel/{code}/?utm_source=ig_web_copy_link",
                )
            )
        if kind == "tiktok":
            user = self.slug()
            vid = "7" + "".join(str(r.randint(0, 9)) for _ in range(18))
            return self.pick(
                (
                    f"https://www.tiktok.com/@{user}/video/{vid}",
                    f"https://www.tiktok.com/@{user}/video/{vid}?is_from_webapp=1&sender_device=pc",
                    f"tiktok.com/@{user}",
                )
            )
        if kind == "discord":
            return self.pick(
                (f"discord.gg/{self._token(8)}", f"https://discord.gg/{self._token(7)}")
            )
        page = self.slug("-")
        return self.pick(
            (
                f"www.example.com/{page}",
                f"WWW.Example.com/{page.title()}",
                f"http://forum.example.net/threads/{page}.{r.randint(100, 99999)}/"
                "?utm_source=telegram&utm_medium=share",
                "https://example.org/",
                f"https://example.org/{page}#comments",
                f"HTTPS://Blog.Example.org/{r.randint(2019, 2026)}/{page}#top",
                f"example.net/files/{page}.pdf?gclid={self._token(14)}",
                f"https://www.example.com/watch?id={r.randint(100, 9999)}&utm_campaign=x&ref=tg",
                f"https://archive.example.net/{page}/",
            )
        )


# --------------------------------------------------------------------------- report pieces

OPENERS = {
    "plain": (
        "Hi.",
        "Not sure if this is anything but here goes.",
        "I want to report something I saw.",
        "Probably nothing but I thought I should say.",
        "Hello,",
    ),
    "plain_lower": ("hi", "not sure this is the right place", "hello,", "ok so"),
    "formal": (
        "Dear Sir or Madam,",
        "I wish to report an incident which I believe may be of interest to you.",
        "I am writing to report the following observation.",
        "Hello. I would like to pass on some information.",
    ),
    "breathless": (
        "PLEASE READ THIS!!",
        "omg I need to tell someone about this",
        "Please help, I don't know who else to tell!!",
        "I'm literally shaking writing this.",
    ),
    "rambling": (
        "Right, I'm not one for making a fuss, never have been, but I think I should tell someone.",
        "I've been going back and forth on whether to write this for a while now.",
        "So I was telling my sister about this on the phone and she said I should put it on here.",
    ),
    "textspeak": ("hiya", "ok so", "not being funny but", "idk if this is the right place but"),
    "nonnative": (
        "Hello, I write because I see something is not normal.",
        "Good day. Sorry for my english, I try to explain.",
        "Hello sir, I want to inform you about one situation.",
    ),
}
CLOSERS = {
    "plain": ("Thanks.", "Hope this helps.", "Sorry if it's nothing.", "Cheers."),
    "plain_lower": ("thanks", "hope its nothing", "cheers"),
    "formal": (
        "I am happy to be contacted if further details would assist.",
        "Kind regards.",
        "CONTACT_PHONE",
        "CONTACT_EMAIL",
    ),
    "breathless": (
        "PLEASE look into this!!!",
        "please do something before something happens",
        "I can't stop thinking about it!!",
    ),
    "rambling": (
        "Anyway that's all, sorry it's so long.",
        "My husband says I'm being daft but better safe than sorry as they say.",
        "Anyway I'll leave it with you, I've got to get the tea on.",
        "CONTACT_PHONE",
    ),
    "textspeak": ("thx", "pls check it out", "dont want my name on this tho", "anyway ye"),
    "nonnative": (
        "Sorry for my English.",
        "Thank you for your attention.",
        "Please check this, I am worry.",
        "CONTACT_PHONE",
    ),
}
FILLERS = (
    "I'd just been to the chemist for my prescription, which took ages as usual.",
    "My knees aren't what they were so I was sat on a bench for a bit.",
    "My daughter says I watch too much telly.",
    "You hear such awful things on the news these days.",
    "I used to work in security myself years ago so I notice these things.",
    "The buses round here are a joke by the way, but that's another story.",
    "Anyway, I'm getting off the point.",
    "I'd gone out for milk because we'd run out, typical.",
    "I don't normally go that way but the road was shut for roadworks.",
)
SECONDHAND = (
    ("My cousin told me about this and asked me to put it on here.", ("she", "her", "her")),
    ("This is from my husband, he doesn't do computers.", ("he", "him", "his")),
    ("A mate of mine saw this and asked me to report it for him.", ("he", "him", "his")),
    ("My daughter told me about this.", ("she", "her", "her")),
    ("My neighbour told me this, she was too scared to report it herself.", ("she", "her", "her")),
    ("My brother-in-law saw this, I'm just passing it on.", ("he", "him", "his")),
)
QUANTITIES = {
    "liquid": (
        "twenty litres of",
        "six 5 litre tubs of",
        "12 big bottles of",
        "all the",
        "about 30 litres of",
        "four big drums of",
    ),
    "solid": ("eight 25kg bags of", "a whole pallet of", "ten big sacks of", "all the"),
}
# Which invented shop would sell which precursor.
SHOPS_FOR = {
    "ammonium nitrate": (
        "Pennine Agri Supplies",
        "Meadowbank Farm Supplies",
        "Greenvale Garden Supplies",
    ),
    "hydrogen peroxide": (
        "Ashdown Hair & Beauty Wholesale",
        "Bluewater Pool Supplies",
        "Crescent Pharmacy",
    ),
    "acetone": ("Coleridge Hardware", "Crescent Pharmacy", "Ashdown Hair & Beauty Wholesale"),
}


# --------------------------------------------------------------------------- scenarios
# Each scenario writes sentences into a Report and sets its categories and priority from the
# sentences it chose. Facts go through ``r.fact`` so that a duplicate group (the same incident
# reported by several people) shares them while each reporter words it differently.

Scenario = Callable[[Report, Gen], None]


def _suspect(r: Report, g: Gen) -> tuple[str, str, str]:
    return r.fact("suspect", lambda: g.name("m"))


# ---- P1: act now


def sc_threat_person(r: Report, g: Gen) -> None:
    r.kind = "threat"
    who = _suspect(r, g)
    target = r.fact("target", lambda: g.place("crowded", "transport", "stadium"))
    seen = r.fact("seen", lambda: r.past_event(0, 1))
    attack = r.fact("attack", lambda: r.future_event(1 if r.in_group else 0, 2))
    wpn = r.fact("weapon", lambda: g.pick(("knife", "machete", "gun", "bomb")))
    plate = r.fact("plate", g.plate)
    r.say(
        "[A man called|A regular called|This guy] {p} came into {my} [shop|cafe|barbers] "
        "{when} and started ranting about [the government|immigrants|the council|everyone].",
        p=r.person(who, "full"),
        when=r.when(seen),
    )
    if wpn == "bomb":
        r.say(
            "He said he's going to put a {w} [in|at] {t} {att} and "
            "'[take as many as I can with me|they'll all see]'.",
            cats=("expressed_threat",),
            prio="P1",
            w=r.weapon("bomb"),
            t=r.place(target),
            att=r.when(attack),
        )
    else:
        r.say(
            "He said he was going to take a {w} to {t} {att} and "
            "'[get as many as he can|make them pay|finish it]'.",
            cats=("expressed_threat",),
            prio="P1",
            w=r.weapon(wpn, plural=False),
            t=r.place(target),
            att=r.when(attack),
        )
        if r.chance(0.6):
            r.say(
                "[He opened his jacket and showed {me} the {w}|{Who} saw the handle of "
                "the {w} sticking out of his bag].",
                cats=("weapons",),
                w=It("weapon", wpn, wpn),
            )
    r.say(
        "[He wasn't joking, he was really calm about it|He meant it, he was dead calm|"
        "He has said stuff before but never like this].",
    )
    if r.chance(0.7):
        r.say("He drives {v}, [reg|registration|plate] {x}.", v=g.pick(VEHICLES), x=r.vrm(plate))
    if r.chance(0.5):
        r.say(
            "[His number is|He gave {me} his number once for a job,] {ph}.",
            ph=r.phone(r.fact("phone", g.mobile)),
        )


def sc_threat_online(r: Report, g: Gen) -> None:
    r.kind = "online"
    target = r.fact("target", lambda: g.place("crowded", "transport", "stadium", "city"))
    attack = r.fact("attack", lambda: r.future_event(1 if r.in_group else 0, 3))
    ukind = r.fact("ukind", lambda: g.pick(("telegram", "x", "tiktok", "instagram")))
    url = r.fact("url", lambda: g.url(ukind))
    handle = r.fact("handle", g.handle)
    wpn = r.fact("weapon", lambda: g.pick(("gun", "knife", "bomb", "machete")))
    plat = URL_PLATFORM[ukind]
    r.say(
        "[This account|Someone called|A user] {h} on {plat} [just posted|has posted|put up a "
        "post] saying they are going to [attack|shoot up|blow up|hurt people at] {t} {att}.",
        cats=("expressed_threat", "online_material"),
        prio="P1",
        h=r.handle(handle),
        plat=plat,
        t=r.place(target),
        att=r.when(attack),
    )
    r.say("[Here is the link|Link|This is the post]: {u}", u=r.url(url))
    if r.chance(0.6):
        r.say(
            "[The post has a photo of a|There's a picture with it of a|They posted a pic of a] "
            "{w} [and it says 'see you all there'|with a countdown|next to a map of the area].",
            w=r.weapon(wpn, plural=False),
        )
    if r.chance(0.5):
        r.say(
            "[Loads of people have shared it|It has hundreds of views already|"
            "People in the comments are egging them on]."
        )
    if r.chance(0.3):
        r.say(
            "[I screenshotted it in case it gets deleted|I've reported it to {plat} as well "
            "but nothing has happened].",
            plat=plat,
        )
    if r.chance(0.2):
        r.say(
            "The same person emailed [the venue|our office] from {e} saying the same thing.",
            e=r.email(r.fact("email", g.email)),
        )


def sc_threat_message(r: Report, g: Gen) -> None:
    r.kind = "threat"
    sent = r.fact("sent", lambda: r.past_event(0, 1))
    if r.chance(0.5):
        org = r.fact("org", lambda: g.org(g.pick(("employer", "charity", "utility"))))
        email = r.fact("email", g.email)
        when_off = r.fact("attack", lambda: r.future_event(0, 1))
        r.say(
            "I work [on reception|in the office] at {o} and {when} we got an email from {e} "
            "saying there is a {w} in the building.",
            cats=("expressed_threat",),
            prio="P1",
            o=r.org(org),
            when=r.when(sent),
            e=r.email(email),
            w=r.weapon("bomb"),
        )
        r.say(
            "It says it will go off {att} unless we [close the building|pay|shut down the "
            "clinic] and that '[nobody will walk out|it will be a bloodbath]'.",
            att=r.when(when_off, "clock"),
        )
        r.say(
            "[My manager says it's probably a hoax but I didn't want to take the chance|"
            "We have about 200 staff and visitors in the building]."
        )
        return
    phone = r.fact("phone", g.mobile)
    pc = r.fact("postcode", g.postcode)
    r.say(
        "I got a [text|WhatsApp|voicemail] from {ph} {when} saying they are going to kill me "
        "and my [family|kids] and that they know I live at {pc}.",
        cats=("expressed_threat",),
        prio="P1",
        ph=r.phone(phone),
        when=r.when(sent),
        pc=r.postcode(pc),
    )
    if r.chance(0.6):
        name = r.fact("sender", lambda: g.name("m"))
        r.say(
            "I think it's {p}, [my ex's new partner|a man I had a row with at work|a lad I "
            "reported for dealing], he said [he'd do it|he's got a {w}].",
            p=r.person(name),
            w=r.weapon("gun", plural=False),
        )
    r.say("[I'm really scared|I've locked the doors|I'm staying at my mum's].")


def sc_armed_now(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    street = r.fact("street", lambda: g.place("street"))
    wpn = r.fact("weapon", lambda: g.pick(("machete", "knife", "gun", "crossbow")))
    org = r.fact("org", lambda: g.org(g.pick(("phone_shop", "money", "gym"))))
    desc = r.fact("desc", lambda: g.pick(SUSPECTS[:3] + SUSPECTS[6:10]))
    r.say(
        "[There's|There is] a man with a {w} on {s} outside {o}, he's [waving it at people|"
        "chasing people with it|pointing it at cars] and shouting he's going to kill someone.",
        cats=("weapons", "expressed_threat"),
        prio="P1",
        w=r.weapon(wpn, plural=False),
        s=r.place(street),
        o=r.org(org),
    )
    r.say("He's {d}.", d=desc)
    if r.chance(0.5):
        r.say(
            "He [went into|is walking towards|ran off towards] {p2}.",
            p2=r.place(r.fact("place2", lambda: g.place("crowded", "transport", "park"))),
        )
    r.say(
        "[Please send someone|Police need to come NOW|People are running into the shops]"
        "[!!|.| please]",
    )
    if r.chance(0.4):
        r.say("My number is {ph}.", ph=r.phone(g.mobile()))


def sc_device_building(r: Report, g: Gen) -> None:
    r.kind = "item"
    who = _suspect(r, g)
    street = r.fact("street", lambda: g.place("street"))
    pc = r.fact("postcode", g.postcode)
    target = r.fact("target", lambda: g.place("crowded", "transport", "stadium"))
    r.say(
        "Through the gap in the curtains of the flat opposite {who} could see a man taping "
        "what looked like {pb} together on the kitchen table.",
        cats=("weapons",),
        prio="P1",
        pb=r.weapon("pipe bomb", plural=True),
    )
    r.say(
        "There were wires, a load of batteries and [some|a box of] {d} laid out next to them.",
        cats=("weapons", "materials_acquisition"),
        d=r.weapon("detonator", plural=True),
    )
    if r.chance(0.7):
        r.say(
            "{Who} [has seen|saw] him carrying in tubs of {a} and {h} and the whole landing "
            "stinks of chemicals.",
            cats=("materials_acquisition",),
            a=r.weapon("acetone"),
            h=r.weapon("hydrogen peroxide"),
        )
    if r.chance(0.6):
        r.say(
            "He told the lad downstairs that {t} '[won't know what hit it|will be on the "
            "news]' {att}.",
            cats=("expressed_threat",),
            t=r.place(target),
            att=r.when(r.fact("attack", lambda: r.future_event(0, 1))),
        )
    r.say(
        "The flat is on {s}, {pc}[, second floor|, top floor| above the takeaway].",
        s=r.place(street),
        pc=r.postcode(pc),
    )
    if r.chance(0.5):
        r.say("His name is {p} I think.", p=r.person(who))


def sc_vehicle_attack(r: Report, g: Gen) -> None:
    r.kind = "vehicle"
    who = _suspect(r, g)
    org = r.fact("org", lambda: g.org("van_hire"))
    target = r.fact("target", lambda: g.place("crowded"))
    attack = r.fact("attack", lambda: r.future_event(1 if r.in_group else 0, 1))
    r.say(
        "A lad [at work|I know from the gym|from our road], {p}, has hired a [7.5 tonne lorry|"
        "big box van|Luton van] from {o} for {att} and he doesn't [drive for a job|even have a "
        "reason to].",
        p=r.person(who, "full"),
        o=r.org(org),
        att=r.when(attack, "date"),
    )
    r.say(
        "He keeps watching videos of lorries driving into crowds and saying {t} would be "
        "'perfect' because it's packed and there's no barriers.",
        cats=("expressed_threat",),
        prio="P1",
        t=r.place(target),
    )
    if r.chance(0.6):
        r.say(
            "He asked me if I knew [where the bollards are|if the police close the road] at {t}.",
            cats=("eliciting_information",),
            t=r.place(target),
        )
    if r.chance(0.5):
        r.say("He paid {m} cash for the hire.", m=r.money(g.pick((350, 480, 600, 900))))
    if r.chance(0.5):
        r.say("[The van is|It's] {x}.", x=r.vrm(r.fact("plate", g.plate)))


def sc_school_threat(r: Report, g: Gen) -> None:
    r.kind = "threat"
    who = r.fact("pupil", lambda: g.name("m"))
    attack = r.fact("attack", lambda: r.future_event(1, 1))
    street = r.fact("street", lambda: g.place("street"))
    r.say(
        "My [son|daughter|lad] told me that a boy in [his|her] year, {p}, has been telling "
        "people he's bringing his dad's {w} into school {att} and '[sorting out|shooting] "
        "the people who bullied him'.",
        cats=("expressed_threat",),
        prio="P1",
        p=r.person(who, g.pick(("full", "first"))),
        w=r.weapon(g.pick(("gun", "shotgun")), plural=False),
        att=r.when(attack, g.pick(("date", "part"))),
    )
    if r.chance(0.6):
        r.say(
            "He showed [some of them|a group of lads] a video of him [holding it|loading it] "
            "in his bedroom.",
            cats=("weapons",),
        )
    r.say(
        "The school is the [academy|high school] on {s}.",
        s=r.place(street),
    )
    if r.chance(0.4):
        r.say("[I've rung the school but it's closed|I don't know what else to do].")


def sc_poison_plot(r: Report, g: Gen) -> None:
    r.kind = g.pick(("purchase", "other", "threat"))
    who = _suspect(r, g)
    org = r.fact("org", lambda: g.org(g.pick(("employer", "courier"))))
    r.say(
        "My housemate {p} ordered [a big bag of|kilos of] castor beans online and has been "
        "grinding them up in the kitchen wearing a mask and gloves.",
        cats=("materials_acquisition",),
        p=r.person(who, "full"),
    )
    r.say(
        "He told me he has made {rc} and he's going to put it in the food at the canteen at "
        "{o} {att} because of how they treated him.",
        cats=("weapons", "expressed_threat"),
        prio="P1",
        rc=r.weapon("ricin"),
        o=r.org(org),
        att=r.when(r.fact("attack", lambda: r.future_event(0, 2))),
    )
    if r.chance(0.6):
        r.say("There's a jar of white powder in the fridge with a label on it.")
    if r.chance(0.5):
        r.say("[I'm scared to stay here|I've moved out to a friend's].")


def sc_recon_intent(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    place = r.fact("place", lambda: g.place("crowded", "stadium", "transport"))
    ev = r.fact("event", lambda: r.past_event(0, 1))
    attack = r.fact("attack", lambda: r.future_event(0, 1))
    r.say(
        "{Who} saw {d} filming the [entrances|exits|security cameras] at {p} {when}.",
        cats=("photography", "observation_surveillance"),
        d=r.fact("desc", lambda: g.pick(PAIRS)),
        p=r.place(place),
        when=r.when(ev),
    )
    r.say(
        "{Who} heard one of them say '[this is where we'll do it|this is the spot]' and the "
        "other one said '{att}, when it's busiest'.",
        cats=("expressed_threat",),
        prio="P1",
        att=r.when(attack),
    )
    if r.chance(0.7):
        r.say(
            "They [got into|drove off in] {v}, {x}.",
            v=g.pick(VEHICLES),
            x=r.vrm(r.fact("plate", g.plate)),
        )


# ---- P2: urgent


def sc_hostile_recon(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P2")
    place = r.fact("place", lambda: g.place("crowded", "stadium", "transport"))
    ev = r.fact("event", lambda: r.past_event(0, 3))
    desc = r.fact("desc", lambda: g.pick(SUSPECTS))
    plate = r.fact("plate", g.plate)
    photo = r.fact("photo", lambda: g.pick((True, True, False)))
    if photo:
        r.say(
            "{Who} saw {d} [filming|taking photos of|photographing] the [entrances and the "
            "CCTV cameras|security cameras and the barriers|doors the stewards use|emergency "
            "exits] at {p} {when}.",
            cats=("photography", "observation_surveillance"),
            d=desc,
            p=r.place(place),
            when=r.when(ev),
        )
        if r.chance(0.6):
            r.say(
                "[He wasn't filming the crowds or the shops, just the security|"
                "It wasn't touristy photos, it was all cameras and doors|He kept zooming in on "
                "the cameras on the corners]."
            )
    else:
        r.say(
            "{Who} saw {d} hanging around {p} {when}, [walking up and down between the barriers "
            "and the main doors counting his steps|sat on the wall for over an hour watching the "
            "security staff|drawing a map of the entrances in a notebook].",
            cats=("observation_surveillance",),
            d=desc,
            p=r.place(place),
            when=r.when(ev),
        )
    if r.chance(0.6):
        r.say(
            "He seemed to be timing when the [security guards|police van|stewards] went past, "
            "checking his watch every time.",
            cats=("observation_surveillance",),
        )
    if r.chance(0.35):
        r.say(
            "He asked [a steward|one of the staff|the lady at the kiosk] what time the gates "
            "open and how many security staff they have [for the big game|on a busy day].",
            cats=("eliciting_information",),
        )
    if r.chance(0.7):
        r.say(
            "When [a steward|security] went over he put his phone away sharpish and walked off "
            "to {v}, [reg|registration] {x}.",
            v=g.pick(VEHICLES),
            x=r.vrm(plate),
        )
    if r.chance(0.3):
        r.say("{Who} saw the same man there [a few days before|the week before] doing the same.")


def sc_precursor_purchase(r: Report, g: Gen) -> None:
    r.kind = "purchase"
    r.prio("P2")
    chem = r.fact("chem", lambda: g.pick(("hydrogen peroxide", "acetone", "ammonium nitrate")))
    org = r.fact("org", lambda: g.pick(SHOPS_FOR[chem]))
    state = "solid" if chem == "ammonium nitrate" else "liquid"
    who = _suspect(r, g)
    ev = r.fact("event", lambda: r.past_event(0, 4))
    r.say(
        "I work at {o} and {when} a customer bought {q} {c}.",
        cats=("materials_acquisition",),
        o=r.org(org),
        when=r.when(ev),
        q=Lit(r.fact("qty", lambda: g.pick(QUANTITIES[state]))),
        c=r.weapon(chem),
    )
    if r.chance(0.7):
        r.say(
            "He paid {m} in cash and [didn't want a receipt|wouldn't give a name for the "
            "receipt|had it all in a bank envelope].",
            m=r.money(r.fact("amount", lambda: g.pick((180, 240, 300, 420, 650, 1000)))),
        )
    r.say(
        "[When I asked what it was for he said cleaning a pool but he got flustered when I "
        "asked where|He said it was for his allotment but he couldn't tell me what he was "
        "growing|He said he was a hairdresser but didn't seem to know anything about hair|He "
        "said it was for work but wouldn't say what work].",
    )
    if r.chance(0.4):
        r.say(
            "He asked which [strength|grade] was the strongest and whether we could order more in "
            "without putting it through an account.",
            cats=("materials_acquisition",),
        )
    if r.chance(0.4):
        r.say(
            "The name he gave was {p} but the name on his bank card was different.",
            cats=("misrepresentation",),
            p=r.person(who, "full"),
        )
    elif r.chance(0.4):
        r.say(
            "He gave the name {p} and a number {ph} for the order.",
            p=r.person(who),
            ph=r.phone(r.fact("phone", g.mobile)),
        )
    if r.chance(0.6):
        r.say(
            "He loaded it all into {v}, {x}.",
            v=g.pick(VEHICLES),
            x=r.vrm(r.fact("plate", g.plate)),
        )
    if r.chance(0.4):
        r.say("He has been in [three times|a few times] in the last fortnight buying the same.")
    if r.chance(0.25):
        r.say(
            "He [ordered|set up the account] online with the email {e}.",
            e=r.email(r.fact("email", lambda: g.email(who))),
        )


def sc_precursor_storage(r: Report, g: Gen) -> None:
    r.kind = "item"
    r.prio("P2")
    street = r.fact("street", lambda: g.place("street"))
    pc = r.fact("postcode", g.postcode)
    tenant = _suspect(r, g)
    chem = r.fact("chem", lambda: g.pick(("hydrogen peroxide", "acetone", "ammonium nitrate")))
    r.say(
        "I'm a landlord and I went round to my property on {s}, {pc} for an inspection {when}.",
        s=r.place(street),
        pc=r.postcode(pc),
        when=r.when(r.fact("event", lambda: r.past_event(0, 3))),
    )
    r.say(
        "The back bedroom was full of [blue drums|plastic containers|big tubs] of {c} and there "
        "was a chemical smell that made my eyes water.",
        cats=("materials_acquisition",),
        c=r.weapon(chem),
    )
    if r.chance(0.7):
        r.say(
            "There were also boxes of [cheap phones|kitchen timers|batteries and wire] and "
            "[a soldering iron|a set of digital scales|rubber gloves and masks].",
            cats=("materials_acquisition",),
        )
    if r.chance(0.6):
        r.say(
            "The tenant, {p}, paid six months rent up front in cash, {m}, which nobody does.",
            cats=("recruiting_financing",),
            p=r.person(tenant),
            m=r.money(g.pick((3600, 4200, 5000, 5400))),
        )
    if r.chance(0.5):
        r.say("[The windows had foil over them|There was an extractor fan taped into the window].")
    if r.chance(0.3):
        r.say("The agency is {o}.", o=r.org(g.org("letting")))


def sc_weapon_seen(r: Report, g: Gen) -> None:
    r.kind = g.pick(("behaviour", "vehicle"))
    r.prio("P2")
    place = r.fact("place", lambda: g.place("crowded", "transport", "street", "park"))
    ev = r.fact("event", lambda: r.past_event(0, 2))
    plate = r.fact("plate", g.plate)
    variant = r.fact("variant", lambda: g.pick(("waistband", "boot", "boot")))
    if variant == "waistband":
        r.say(
            "{Who} saw a man with a {w} tucked in his waistband outside {p} {when}.",
            cats=("weapons",),
            w=r.weapon(r.fact("weapon", lambda: g.pick(("gun", "knife", "machete"))), False),
            p=r.place(place),
            when=r.when(ev),
        )
        r.say(
            "[He didn't threaten anyone|He wasn't doing anything with it], he just [had it on "
            "him|showed it to his mate|kept touching it]."
        )
    else:
        r.say(
            "{When} in the car park at {p} {who} saw the boot of {v} open and inside there was "
            "{stuff}.",
            cats=("weapons",),
            When=r.when(ev, cap=True),
            p=r.place(place),
            v=g.pick(VEHICLES),
            stuff=r.fact(
                "stuff",
                lambda: g.pick(
                    (
                        ["a ", r.weapon("shotgun", False), " wrapped in a blanket"],
                        ["two ", r.weapon("machete", True), " and a ", r.weapon("crossbow")],
                        ["a ", r.weapon("gun", False), " in a carrier bag"],
                    )
                ),
            ),
        )
    r.say(
        "[He got into|They drove off in|The car was] {v}, [reg|registration] {x}.",
        v=g.pick(VEHICLES),
        x=r.vrm(plate),
    )
    if r.chance(0.4):
        r.say(
            "[He headed towards|It went off in the direction of] {p2}.",
            p2=r.place(r.fact("place2", lambda: g.place("city", "street"))),
        )


def sc_weapon_find(r: Report, g: Gen) -> None:
    r.kind = "item"
    r.prio("P2")
    park = r.fact("park", lambda: g.place("park"))
    r.say(
        "Walking the dog in {p} {when} {who} found a holdall in the bushes with {stuff} in it.",
        cats=("weapons",),
        p=r.place(park),
        when=r.when(r.fact("event", lambda: r.past_event(0, 1))),
        stuff=g.pick(
            (
                ["a ", r.weapon("shotgun", False), " and boxes of cartridges"],
                ["three ", r.weapon("machete", True), " and a big ", r.weapon("knife", False)],
                [r.weapon("knife", True), " and what looked like a ", r.weapon("gun", False)],
            )
        ),
    )
    if r.chance(0.4):
        r.say(
            "There were also some {d} in a sandwich bag.",
            cats=("weapons",),
            d=r.weapon("detonator", True),
        )
    r.say(
        "[I've left it where it was and I'm standing nearby|I didn't touch it, it's by the "
        "bench near the pond|My husband is waiting there so nobody takes it]."
    )
    if r.chance(0.5):
        r.say("My number is {ph}.", ph=r.phone(g.mobile()))


def sc_drone(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P2")
    site = r.fact("site", lambda: g.place("airport", "stadium"))
    ev = r.fact("event", lambda: r.past_event(0, 1))
    if site[1] == "airport":
        r.say(
            "A drone was hovering [over the runway end|near the approach lights|just outside the "
            "perimeter fence] at {p} {when}, really close to the planes coming in.",
            cats=("aviation",),
            p=r.place(site),
            when=r.when(ev),
        )
    else:
        r.say(
            "A drone was flying over the stands at {p} {when} during the match, going up and down "
            "over the exits and the turnstiles.",
            cats=("aviation", "observation_surveillance"),
            p=r.place(site),
            when=r.when(ev),
        )
    if r.chance(0.6):
        r.say(
            "{Who} could see [the person flying it|a man with the controller] sat in {v} in the "
            "lay-by, {x}.",
            v=g.pick(VEHICLES),
            x=r.vrm(r.fact("plate", g.plate)),
        )
    if r.chance(0.5):
        r.say(
            "[It had a camera underneath|It stayed up for about twenty minutes|It went off "
            "towards the houses when a police car came]."
        )


def sc_breach(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P2")
    site = r.fact("site", lambda: g.place("transport", "infra", "stadium", "airport"))
    employer = r.fact("employer", lambda: g.org(g.pick(("security", "utility", "employer"))))
    ev = r.fact("event", lambda: r.past_event(0, 2))
    r.say(
        "A man in a hi-vis vest with a contractor lanyard [followed one of our staff through|"
        "tailgated through|walked straight through] the staff door at {p} {when}.",
        cats=("breach",),
        p=r.place(site),
        when=r.when(ev),
    )
    if r.chance(0.7):
        r.say(
            "When I asked to see his pass he said he was from {o} but they have never worked "
            "for us and he left quickly.",
            cats=("misrepresentation",),
            o=r.org(r.fact("claimed", lambda: g.org(g.pick(("utility", "courier"))))),
        )
    r.say(
        "He was in the [plant room|server room|control room corridor] for about ten minutes "
        "before [anyone noticed|he came out]."
    )
    if r.chance(0.5):
        r.say(
            "[He tried|He also tried] the doors to [the roof|the electrical cupboard] on his way.",
            cats=("testing_security",),
        )
    r.say("I work for {o}, our CCTV should have him.", o=r.org(employer))


def sc_testing_security(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P2")
    place = r.fact("place", lambda: g.place("crowded", "transport", "stadium"))
    r.say(
        "The same man has left a rucksack by the [entrance|ticket barriers|lifts] at {p} "
        "[three times|twice] now and stood back watching how long it takes security to come.",
        cats=("testing_security", "observation_surveillance"),
        p=r.place(place),
    )
    r.say(
        "{When} he did it again and [walked off when the guard picked it up|filmed the guard "
        "checking it].",
        cats=("testing_security",),
        When=r.when(r.fact("event", lambda: r.past_event(0, 2)), cap=True),
    )
    if r.chance(0.5):
        r.say(
            "He also tried the fire doors along the side of the building.",
            cats=("testing_security",),
        )
    if r.chance(0.5):
        r.say("He is {d}.", d=r.fact("desc", lambda: g.pick(SUSPECTS)))


def sc_sabotage(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.prio("P2")
    site = r.fact("site", lambda: g.place("infra"))
    ev = r.fact("event", lambda: r.past_event(0, 2))
    r.say(
        "Someone has cut through the fence at {p} and [the cables in the junction box have been "
        "pulled out|the valves on the outlet pipe have been tampered with|the padlock on the "
        "chlorine store was smashed].",
        cats=("sabotage_tampering", "sector_specific"),
        p=r.place(site),
    )
    if r.chance(0.75):
        r.say(
            "{Who} saw {d} there {when} with bolt cutters.",
            d=r.fact("desc", lambda: g.pick(SUSPECTS)),
            when=r.when(ev),
        )
    if r.chance(0.6):
        r.say(
            "[They drove off in|There was] {v}, {x}.",
            v=g.pick(VEHICLES),
            x=r.vrm(r.fact("plate", g.plate)),
        )
    if r.chance(0.4):
        r.say("It's the site run by {o}.", o=r.org(r.fact("org", lambda: g.org("utility"))))


def sc_laser(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P2")
    street = r.fact("street", lambda: g.place("street"))
    r.say(
        "Someone shone a green laser at the [police helicopter|air ambulance|plane coming in to "
        "land] from a back garden on {s} {when}.",
        cats=("aviation",),
        s=r.place(street),
        when=r.when(r.past_event(0, 1), g.pick(("clock", "part"))),
    )
    r.say(
        "[It kept following it round|They did it about six times|The helicopter had to turn away]."
    )
    if r.chance(0.5):
        r.say(
            "I think it's the house with {v} outside, {x}.", v=g.pick(VEHICLES), x=r.vrm(g.plate())
        )


def sc_sector_missing(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.prio("P2")
    chem = g.pick(("ammonium nitrate", "hydrogen peroxide", "nitromethane"))
    org = r.fact("org", lambda: g.pick(SHOPS_FOR.get(chem, ORGS["chem_shop"])))
    amount = "[a pallet|eight sacks]" if chem == "ammonium nitrate" else "[two drums|six tubs]"
    r.say(
        "I work at {o} and our stock count {when} shows " + amount + " of "
        "{c} missing and nobody signed it out.",
        cats=("theft_loss_diversion", "materials_acquisition", "sector_specific"),
        o=r.org(org),
        when=r.when(r.past_event(0, 3), "date"),
        c=r.weapon(chem),
    )
    r.say(
        "[The lock on the store wasn't forced|A driver we don't know collected an order the "
        "week before]."
    )
    if r.chance(0.5):
        r.say("[The van that collected was|The reg on the gate log is] {x}.", x=r.vrm(g.plate()))


# ---- P3: routine


def sc_eliciting(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P3")
    site = r.fact("site", lambda: g.place("crowded", "transport", "infra", "stadium"))
    employer = r.fact("employer", lambda: g.org("security"))
    r.say(
        "I work [nights|days|weekends] as a security guard at {p} for {o}.",
        p=r.place(site),
        o=r.org(employer),
    )
    r.say(
        "{When} a man came up and started asking loads of questions: [what time the shifts "
        "change|how many of us are on|whether the cameras at the back actually work|where the "
        "control room is], and [if the loading bay gets locked|how long the police take to "
        "come|whether we search bags].",
        cats=("eliciting_information",),
        When=r.when(r.fact("event", lambda: r.past_event(0, 5)), cap=True),
    )
    r.say(
        "[He said he was thinking of applying for a job but he didn't ask anything about the "
        "job|He said he was just curious|He said he was writing a book]."
    )
    if r.chance(0.5):
        r.say(
            "He gave his name as {p} [but I'm not sure that's real|and said he lives nearby].",
            p=r.person(r.fact("suspect", lambda: g.name("m"))),
        )
    if r.chance(0.4):
        r.say(
            "He [came back later|has been back since] and [took photos of the fence|wrote "
            "something in his phone].",
            cats=("photography",) if r.chance(0.5) else ("observation_surveillance",),
        )


def sc_online_material(r: Report, g: Gen) -> None:
    r.kind = "online"
    r.prio("P3")
    ukind = r.fact("ukind", lambda: g.pick((*URL_PLATFORM, "example", "example")))
    url = r.fact("url", lambda: g.url(ukind))
    plat = URL_PLATFORM.get(ukind) or r.fact("platform", lambda: g.pick(("a forum", "a site")))
    r.say(
        "I found [a channel|a group|a page|an account] on {plat} posting [beheading videos|videos "
        "telling people to go and attack|speeches by dead terrorist leaders|guides on making "
        "weapons at home|racist 'manifestos' and shooter worship]: {u}",
        cats=("online_material",),
        plat=plat,
        u=r.url(url),
    )
    if r.chance(0.6):
        r.say("It's run by {h}[ who also posts on other sites|, same name everywhere].",
              h=r.handle(r.fact("handle", g.handle)))  # fmt: skip
    if r.chance(0.5):
        r.say(
            "There's about [300|2,000|50] [members|followers] and [kids can find it|it's been "
            "up for months|they post every day]."
        )
    r.say(
        "[It's not threatening anything specific but it's vile|They aren't saying they'll do "
        "anything themselves, it's just propaganda|Can you get it taken down]."
    )
    if r.chance(0.25):
        r.say("[There's also a second one|Another link they share]: {u}", u=r.url(g.url("any")))
    if r.chance(0.25):
        r.say(
            "[The page lists a contact email,|They tell people to email] {e}[ to join|].",
            e=r.email(r.fact("email", g.email)),
        )


def sc_recruiting(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P3")
    org = r.fact("org", lambda: g.org(g.pick(("gym", "charity"))))
    who = _suspect(r, g)
    r.say(
        "At {o} a man called {p} has been getting the younger lads on their own and talking to "
        "them about [a coming race war|'taking the country back'|a 'holy war'|the system being "
        "the enemy] and inviting them to private meetings.",
        cats=("recruiting_financing",),
        o=r.org(org),
        p=r.person(who, "full"),
    )
    if r.chance(0.6):
        r.say(
            "He's offered to pay for [flights|a trip abroad|a training weekend] for two of them "
            "and asked for copies of their passports.",
            cats=("recruiting_financing",),
        )
    if r.chance(0.6):
        r.say("He gives them a group link: {u}", u=r.url(g.url(g.pick(("telegram", "discord")))))
    if r.chance(0.3):
        r.say("He emails them from {e}.", e=r.email(g.email(who)))
    if r.chance(0.4):
        r.say(
            "He keeps asking one of them for his bank details to 'move money for the cause'.",
            cats=("recruiting_financing",),
        )
    if r.chance(0.3):
        r.say("His number is {ph}.", ph=r.phone(g.mobile()))


def sc_finance(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.prio("P3")
    org = r.fact("org", lambda: g.org("money"))
    if r.chance(0.35):
        r.say(
            "There's a crowdfunding page raising money for '[equipment|training|kit]' for a "
            "[militia|'defence force'] and it's already got {m}: {u}",
            cats=("recruiting_financing",),
            m=r.money(g.pick((4000, 12000, 2500, 8000))),
            u=r.url(g.url("example")),
        )
        organiser = g.name()
        r.say("[The organiser is|It's set up by] {p}.", p=r.person(organiser, "full"))
        if r.chance(0.5):
            r.say("The contact on the page is {e}.", e=r.email(g.email(organiser)))
        return
    r.say(
        "I work at {o} and a customer sends money abroad every week, always about {m} in cash, "
        "just under the amount where we need ID.",
        cats=("recruiting_financing",),
        o=r.org(org),
        m=r.money(g.pick((900, 950, 990, 1000)), g.pick(("GBP", "GBP", "EUR", "USD"))),
    )
    if r.chance(0.6):
        a, b = g.name("m"), g.name("m")
        r.say(
            "He uses different names [each time|on the forms], {p} and once {q}.",
            cats=("misrepresentation",),
            p=r.person(a, "full"),
            q=r.person(b, "full"),
        )
    if r.chance(0.5):
        r.say(
            "[The last transfer was|He came in again] {when}.",
            when=r.when(r.past_event(0, 6), "date"),
        )


def sc_misrep_docs(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.prio("P3")
    if r.chance(0.5):
        street = r.place(g.place("street"))
        r.say(
            "I clean flats for {o} and at a flat on {s} {who} saw [three|four] passports with the "
            "same man's photo but different names.",
            cats=("misrepresentation",),
            o=r.org(g.org("letting")),
            s=street,
        )
        r.say(
            "One of the names was {p}[ and another was {q}|].",
            p=r.person(g.name("m"), "full"),
            q=r.person(g.name("m"), "full"),
        )
        if r.chance(0.5):
            r.say(
                "There was also a stack of bank cards in other people's names.",
                cats=("misrepresentation", "recruiting_financing"),
            )
        return
    r.say(
        "A man saying he was from {o} came round {when}, had no ID, and spent ages asking "
        "about the building's layout and where the main supply was.",
        cats=("misrepresentation", "eliciting_information"),
        o=r.org(g.org("utility")),
        when=r.when(r.past_event(0, 4)),
    )
    r.say("When I rang them they said nobody had been sent.")
    if r.chance(0.5):
        r.say("He left in {v}, {x}.", v=g.pick(VEHICLES), x=r.vrm(g.plate()))


def sc_expertise(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P3")
    variant = g.pick(("flight", "gun", "chem", "video"))
    if variant == "flight":
        r.say(
            "A man paying cash for lessons at {o} only wants to practise [turning and flying "
            "level|steering in the air] and keeps saying he doesn't need to learn landing.",
            cats=("aviation", "acquisition_of_expertise"),
            o=r.org(g.org("flight")),
        )
        r.say("He booked as {p}.", p=r.person(g.name("m"), "full"))
    elif variant == "gun":
        r.say(
            "A new member at {o} keeps asking [how to convert|whether you can convert] "
            "blank-firers into real {g} and where to get parts without a licence.",
            cats=("acquisition_of_expertise",),
            o=r.org(g.org("gun_club")),
            g=r.weapon("gun", True),
        )
        r.say("He's not interested in the shooting itself.")
    elif variant == "chem":
        r.say(
            "A student on my course keeps asking the technician how to make {c} 'more "
            "concentrated' and at what temperature it becomes unstable.",
            cats=("acquisition_of_expertise",),
            c=r.weapon(g.pick(("hydrogen peroxide", "acetone"))),
        )
        r.say("It's nothing to do with our [coursework|module] and he got cagey when asked.")
    else:
        r.say(
            "My nephew {p} has been watching videos on how to make {pb} and saving them to a "
            "folder on his laptop.",
            cats=("acquisition_of_expertise",),
            p=r.person(g.name("m"), "first"),
            pb=r.weapon("pipe bomb", True),
        )
        r.say("He's [16|17|19] and he's got really withdrawn.")
    if r.chance(0.3):
        r.say("It's been going on [a few weeks|since the summer|for a while].")


def sc_cyber(r: Report, g: Gen) -> None:
    r.kind = "online"
    r.prio("P3")
    org = r.fact("org", lambda: g.org(g.pick(("employer", "charity", "utility"))))
    variant = r.fact("variant", lambda: g.pick(("ransom", "phish", "boast")))
    if variant == "ransom":
        r.say(
            "Our systems at {o} got hit with ransomware {when} and the note mentions {h} and "
            "a channel {u}.",
            cats=("cyberattack",),
            o=r.org(org),
            when=r.when(r.fact("event", lambda: r.past_event(0, 2))),
            h=r.handle(r.fact("handle", g.handle)),
            u=r.url(r.fact("url", lambda: g.url("telegram"))),
        )
        r.say("[Everything is locked|We can't get into the housing records|IT are on it].")
    elif variant == "phish":
        r.say(
            "Staff at {o} got emails from {e} pretending to be IT and asking for passwords to "
            "the [control system|payroll|building access system].",
            cats=("cyberattack",),
            o=r.org(org),
            e=r.email(r.fact("email", g.email)),
        )
        r.say("[Two people clicked it|One of my colleagues typed hers in]{when}.",
              when=[" ", *r.when(r.past_event(0, 3))] if r.chance(0.6) else "")  # fmt: skip
    else:
        site = r.fact("site", lambda: g.place("infra"))
        r.say(
            "Someone on a forum is boasting they have access to the control system at {p} and "
            "posted screenshots: {u}",
            cats=("cyberattack", "sector_specific"),
            prio="P2",
            p=r.place(site),
            u=r.url(r.fact("url", lambda: g.url("example"))),
        )
        r.say("They say they will '[turn it off|mess with it]' [soon|when they feel like it].")


def sc_photography_thin(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    r.prio("P3")
    site = r.fact("site", lambda: g.place("infra"))
    r.say(
        "{Who} saw {d} taking photos of [the bridge supports|the fence and gates|the air vents|"
        "the back entrance] at {p} {when}.",
        cats=("photography",),
        d=r.fact("desc", lambda: g.pick(SUSPECTS)),
        p=r.place(site),
        when=r.when(r.fact("event", lambda: r.past_event(0, 5))),
    )
    r.say(
        "[When someone asked what he was doing he said he was a student and walked off|He went "
        "red and put his phone away when he saw {me} looking|He wasn't photographing the view, "
        "just the gates]."
    )
    if r.chance(0.5):
        r.say(
            "He had {v}, {x}.",
            v=g.pick(VEHICLES),
            x=r.vrm(r.fact("plate", g.plate)),
        )


def sc_surveillance_past(r: Report, g: Gen) -> None:
    r.kind = "vehicle"
    r.prio("P3")
    site = r.place(g.place("crowded", "transport", "street", "infra"))
    r.say(
        "A few weeks back a car, {x}, kept parking across from {p} [every day|at the same "
        "time each day|most days] with two men sat in it watching the entrance.",
        cats=("observation_surveillance",),
        x=r.vrm(g.plate()),
        p=site,
    )
    r.say(
        "[They were writing things down|One of them had binoculars|They moved off whenever "
        "anyone looked at them].",
        cats=("observation_surveillance",),
    )
    r.say(
        "I haven't seen them since {when}.",
        when=r.when(r.past_event(7, 30), "date", bare=True),
    )


def sc_theft_pass(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.prio("P3")
    site = g.place("airport", "transport", "infra")
    r.say(
        "My car was broken into on {s} {when} and the only thing taken was my work ID pass and "
        "uniform for {p}.",
        cats=("theft_loss_diversion",),
        s=r.place(g.place("street")),
        when=r.when(r.past_event(0, 3)),
        p=r.place(site),
    )
    r.say("[Nothing else was touched, my laptop was still on the back seat|They left my wallet].")
    if r.chance(0.5):
        r.say("I've told {o} and they've cancelled the pass.", o=r.org(g.org("security")))


def sc_materials_thin(r: Report, g: Gen) -> None:
    r.kind = "purchase"
    r.prio("P3")
    r.say(
        "A customer at {o} bought [ten|twelve|fifteen] cheap pay-as-you-go phones and SIMs and "
        "paid cash, {m}.",
        cats=("materials_acquisition",),
        o=r.org(g.org("phone_shop")),
        m=r.money(g.pick((200, 250, 300, 400))),
    )
    r.say(
        "[He asked us to take the batteries out|He wanted the cheapest ones with an alarm "
        "function|He didn't want them set up]."
    )
    if r.chance(0.5):
        r.say("It was {when}.", when=r.when(r.past_event(0, 5), "date"))


# ---- P4: no useful intelligence (labelled items still count for extraction)


def sc_vague(r: Report, g: Gen) -> None:
    r.kind = g.pick(("behaviour", "other"))
    r.say(
        "[Something isn't right about|I've got a bad feeling about|I'm worried about] the "
        "[people|man|family] at number [12|7|23|41|3]."
    )
    for t in g.rng.sample(
        (
            "They keep themselves to themselves and there's cars coming and going at all hours.",
            "I don't know what he does for a living.",
            "The curtains are always shut.",
            "He never says hello.",
            "He gets loads of parcels.",
            "I don't want to make a fuss but you hear about these things.",
            "Call it intuition.",
            "They moved in a few months ago and nobody knows anything about them.",
        ),
        g.pick((2, 3)),
    ):
        r.say(t)
    if r.chance(0.3):
        r.say("It's on {s}.", s=r.place(g.place("street")))


def sc_protected(r: Report, g: Gen) -> None:
    """Reports resting only on religion, ethnicity, nationality, language or clothing."""
    r.kind = g.pick(("behaviour", "behaviour", "other"))
    variant = r.fact("variant", lambda: g.rng.randrange(13))
    texts = (
        ("There's a man with a long beard and a robe who prays in the car park behind {o} "
         "[most days|all the time].", ("city",)),
        ("Saw three Asian lads on the train to {p} talking in a foreign language and laughing, "
         "didn't feel right.", ("city",)),
        ("A woman in a full face veil got on my bus at {p} with a big bag.", ("transport",)),
        ("A new family moved in on {p}, they're Muslims and they have a lot of visitors {lit}.",
         ("street",)),
        ("There's loads of Eastern Europeans living in the house opposite, no idea how many, "
         "they could be anything.", ("city",)),
        ("A man in a turban was looking at the departures board at {p} for ages.",
         ("airport", "transport")),
        ("My neighbour's son has converted to Islam and grown a beard and wears the long dress "
         "now.", ("city",)),
        ("Two men speaking Arabic in the queue at {p} kept looking at their phones.",
         ("crowded", "airport")),
        ("A group of black lads in hoodies were hanging around by {p}.", ("crowded", "transport")),
        ("A woman in a hijab was filming her kids on the swings in {p}.", ("park",)),
        ("I think the man at the end of our road is Muslim because he has a prayer mat in his "
         "van.", ("city",)),
        ("A man with a Middle Eastern accent asked me for directions to {p}.",
         ("crowded", "transport", "stadium")),
        ("There was a Jewish man with a big black hat and the side curls walking round {p} "
         "looking at everything.", ("crowded",)),
    )  # fmt: skip
    text, types = texts[variant]
    place = r.fact("place", lambda: g.place(*types))
    r.say(
        text,
        o=r.org(r.fact("org", lambda: g.org(g.pick(("employer", "courier"))))),
        p=r.place(place),
        lit=Lit(g.pick(("on Fridays", "every Friday", "at weekends"))),
    )
    r.say(
        g.pick(
            (
                "[You can't be too careful|Better safe than sorry|You never know these days].",
                "[Just thought you should know|I'm not being racist but it's worrying].",
                "[It didn't feel right|Something about them wasn't right].",
                "[Somebody should keep an eye on them|Can someone check them out].",
            )
        )
    )


def sc_neighbour(r: Report, g: Gen) -> None:
    r.kind = g.pick(("other", "vehicle", "behaviour"))
    who = g.name()
    he, his = ("he", "his") if who[2] == "m" else ("she", "her")
    dateless = r.chance(0.25)
    r.say(
        "My neighbour {p} at {pc} keeps parking "
        + (
            "{his} Range Rover with the private plate {x}"
            if dateless
            else "[{his} van|{his} car] {x}"
        )
        + " across my drive.",
        p=r.person(who, g.pick(("full", "full", "title"))),
        pc=r.postcode(g.postcode()),
        x=r.vrm(g.plate("dateless" if dateless else None)),
        his=his,
    )
    r.say(
        g.pick(
            (
                f"{he.title()} plays loud music [until all hours|every weekend] and the dog "
                "barks non stop.",
                f"{he.title()} shouted at my kids over the fence about the football.",
                f"I've reported {he if he == 'she' else 'him'} to the council about the bins too.",
                "The hedge is [a disgrace|over my side] and nobody does anything.",
            )
        )
    )
    r.say(
        g.pick(
            (
                f"I think {he}'s dodgy, {he} looks the type to be a terrorist honestly.",
                "Someone should check them out, they're probably up to something.",
                "I'm sick of it, can you look into them.",
                f"Wouldn't surprise me if {he} was a terrorist.",
            )
        )
    )
    if r.chance(0.35):
        r.say("Their number's {ph} if you want to ring and sort it.", ph=r.phone(g.mobile()))
    if r.chance(0.25):
        r.say(
            "My ex {q} still owes me {m} as well, {pr} a nasty piece of work.",
            q=r.person(g.name(), "first"),
            m=r.money(g.pick((300, 450, 1200, 2000))),
            pr=g.pick(("they're", "they are")),
        )


def sc_hearsay(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.say(
        g.pick(
            (
                "My cousin said someone at her work has been radicalised but she won't tell me "
                "who.",
                "Heard in the pub there's a terror cell operating somewhere round {c}.",
                "Someone on the estate group chat said there's a suspicious van about, no details.",
                "A friend of a friend says a lad from school went abroad to fight, years ago.",
                "People are saying the new shop on the corner is a front for something.",
                "My mum heard from her friend that there's going to be trouble in {c}.",
            )
        ),
        c=r.place(g.place("city")),
    )
    if r.chance(0.6):
        r.say(
            "[I don't know any more than that|That's all I know|Sorry I can't give more "
            "details|I don't know names or anything]."
        )


def sc_conspiracy(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.say(
        g.pick(
            (
                "The new 5G mast on {s} is making everyone ill and the council are in on it.",
                "The planes are spraying chemicals over {c}, I've got photos of the trails.",
                "Someone is reading my thoughts through the smart meter.",
                "The people in the flat above are using a machine to listen to me through the "
                "walls.",
            )
        ),
        s=r.place(g.place("street")),
        c=r.place(g.place("city")),
    )
    r.say("[I've reported this before and nobody listens|Wake up|This is the truth].")


def sc_not_ct(r: Report, g: Gen) -> None:
    r.kind = g.pick(("other", "vehicle", "item"))
    variant = g.rng.randrange(7)
    street = r.place(g.place("street", "park", "crowded"))
    if variant == 0:
        r.say(
            "Someone nicked the catalytic converter off my car on {s} {when}.",
            s=street,
            when=r.when(r.past_event(0, 3)),
        )
    elif variant == 1:
        r.say(
            "There's drug dealing from {v} {x} outside the shops on {s} {lit}.",
            v=g.pick(VEHICLES),
            x=r.vrm(g.plate()),
            s=street,
            lit=Lit(g.pick(("most evenings", "every night", "all the time"))),
        )
    elif variant == 2:
        r.say("Kids on motorbikes racing round {s} again, somebody will get killed.", s=street)
    elif variant == 3:
        r.say(
            "My bike was stolen from outside {s} {when}.",
            s=street,
            when=r.when(r.past_event(0, 4)),
        )
    elif variant == 4:
        r.say(
            "Someone keeps ringing me from {ph} trying to sell me insurance.",
            ph=r.phone(g.mobile()),
        )
    elif variant == 5:
        r.say("Got a scam email from {e} saying I'd won {m}.", e=r.email(g.email()),
              m=r.money(g.pick((5000, 25000, 1000))))  # fmt: skip
    else:
        r.say(
            "Someone has fly-tipped a load of mattresses and a fridge on {s} {when}.",
            s=street,
            when=r.when(r.past_event(0, 2), "date"),
        )
    if r.chance(0.5):
        r.say("[It's not terrorism I know but nobody else answers|Not sure who else to tell].")


def sc_bag_nothing(r: Report, g: Gen) -> None:
    r.kind = "item"
    place = r.fact("place", lambda: g.place("transport", "crowded"))
    ev = r.fact("event", lambda: r.past_event(0, 1))
    r.say(
        "There was a [bag|rucksack|suitcase] left on a bench at {p} {when}.",
        p=r.place(place),
        when=r.when(ev),
    )
    r.say(
        g.pick(
            (
                "It was there about ten minutes then a woman came back for it.",
                "I told a member of staff and it was just someone's gym stuff.",
                "A man came running back for it, he'd forgotten it.",
                "Staff took it away and said it was lost property.",
            )
        )
    )
    if r.chance(0.4):
        r.say("[Just letting you know|Probably nothing|All fine in the end].")


def sc_hobby(r: Report, g: Gen) -> None:
    r.kind = "behaviour"
    variant = g.rng.randrange(4)
    if variant == 0:
        r.say(
            "Man flying a drone over the lake at {p} {when}, [filming the ducks|doing loops].",
            p=r.place(g.place("park")),
            when=r.when(r.past_event(0, 3)),
        )
    elif variant == 1:
        r.say(
            "Group of tourists taking loads of photos of {p} and the buildings round it.",
            p=r.place(g.place("crowded", "city")),
        )
    elif variant == 2:
        r.say(
            "A lad was photographing the old railway bridge at {p} with a big camera and a "
            "tripod, [said he was a trainspotter|he had a notebook of train numbers].",
            p=r.place(g.place("city")),
        )
    else:
        r.say(
            "An older man sits on a bench near {p} [every day|most days] watching people go by.",
            p=r.place(g.place("crowded", "park")),
        )
    r.say("[Is that allowed|Not sure if that's normal|Probably harmless but thought I'd say].")


def sc_online_vague(r: Report, g: Gen) -> None:
    r.kind = "online"
    variant = g.rng.randrange(4)
    if variant == 0:
        r.say("There's a lot of hate on social media these days, someone should do something.")
    elif variant == 1:
        r.say("My neighbour's Facebook page is full of flags and angry posts about immigrants.")
    elif variant == 2:
        r.say(
            "This account {h} is always arguing with people about politics and being rude to me.",
            h=r.handle(g.handle()),
        )
    else:
        r.say("Saw a video on TikTok that was a bit dodgy, can't remember who posted it.")
    if r.chance(0.4):
        r.say("[Can you ban them|Is that illegal|Just thought you should know].")


def sc_nonsense(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.say(
        g.pick(
            (
                "test",
                "Just seeing if this form works.",
                "Why do you never answer the phone?!",
                "I reported something ages ago and nobody got back to me. Useless.",
                "hello? is anyone reading these",
            )
        )
    )


def sc_bang(r: Report, g: Gen) -> None:
    r.kind = "other"
    place = r.fact("place", lambda: g.place("street", "park", "crowded"))
    ev = r.fact("event", lambda: r.past_event(0, 1, hours=(18, 22)))
    r.say(
        "[Heard a massive bang|There was a huge bang|Loud bang] near {p} {when}, "
        "[like an explosion|shook the windows|set all the car alarms off].",
        p=r.place(place),
        when=r.when(ev, g.pick(("clock", "part"))),
    )
    r.say(
        g.pick(
            (
                "Then there were coloured lights in the sky so I think it was fireworks.",
                "My husband says it was just fireworks from a wedding.",
                "Nothing on the news so probably fireworks.",
                "Couldn't see any smoke or anything.",
            )
        )
    )


def sc_protest(r: Report, g: Gen) -> None:
    """Lawful protest: nothing for counter-terrorism, however strongly the reporter feels."""
    r.kind = "other"
    r.say(
        "There's a [protest|march|demo] planned at {p} {when} by [a climate group|the "
        "pro-Palestine lot|some anti-lockdown types|a union|the flag lot] and it'll be chaos.",
        p=r.place(g.place("crowded", "city")),
        when=r.when(r.future_event(1, 10), g.pick(("date", "clock"))),
    )
    r.say(
        g.pick(
            (
                "They block the roads and nobody can get to work.",
                "Last time they left litter everywhere.",
                "Why are they allowed to do this, they should all be arrested.",
                "I just think someone should know.",
            )
        )
    )


def sc_cannabis(r: Report, g: Gen) -> None:
    r.kind = "other"
    r.say(
        "There's a strong chemical smell coming from the house at {pc}, "
        "[pretty sure it's weed|smells like skunk] and the lights are on all the time.",
        pc=r.postcode(g.postcode()),
    )
    r.say(
        "[Men come and go in {v} and never stay long|They've blacked out the windows upstairs]"
        "[|, could be a farm].",
        v=g.pick(VEHICLES),
    )
    r.say("[Not sure if this is for you|Could be anything going on in there, who knows].")


# --------------------------------------------------------------------------- the plan

# name -> (scenario, may the reporter be passing on what someone else saw)
SCENARIOS: dict[str, tuple[Scenario, bool]] = {
    "threat_person": (sc_threat_person, False),
    "threat_online": (sc_threat_online, True),
    "threat_message": (sc_threat_message, False),
    "armed_now": (sc_armed_now, False),
    "device_building": (sc_device_building, True),
    "vehicle_attack": (sc_vehicle_attack, False),
    "school_threat": (sc_school_threat, False),
    "poison_plot": (sc_poison_plot, False),
    "recon_intent": (sc_recon_intent, True),
    "hostile_recon": (sc_hostile_recon, True),
    "precursor_purchase": (sc_precursor_purchase, False),
    "precursor_storage": (sc_precursor_storage, False),
    "weapon_seen": (sc_weapon_seen, True),
    "weapon_find": (sc_weapon_find, True),
    "drone": (sc_drone, True),
    "breach": (sc_breach, False),
    "testing_security": (sc_testing_security, True),
    "sabotage": (sc_sabotage, True),
    "laser": (sc_laser, True),
    "sector_missing": (sc_sector_missing, False),
    "eliciting": (sc_eliciting, False),
    "online_material": (sc_online_material, True),
    "recruiting": (sc_recruiting, True),
    "finance": (sc_finance, False),
    "misrep_docs": (sc_misrep_docs, True),
    "expertise": (sc_expertise, False),
    "cyber": (sc_cyber, False),
    "photography_thin": (sc_photography_thin, True),
    "surveillance_past": (sc_surveillance_past, True),
    "theft_pass": (sc_theft_pass, False),
    "materials_thin": (sc_materials_thin, False),
    "vague": (sc_vague, False),
    "protected": (sc_protected, True),
    "neighbour": (sc_neighbour, False),
    "hearsay": (sc_hearsay, False),
    "conspiracy": (sc_conspiracy, False),
    "not_ct": (sc_not_ct, False),
    "bag_nothing": (sc_bag_nothing, True),
    "hobby": (sc_hobby, True),
    "online_vague": (sc_online_vague, False),
    "nonsense": (sc_nonsense, False),
    "bang": (sc_bang, True),
    "protest": (sc_protest, False),
    "cannabis": (sc_cannabis, False),
}

SINGLES = {
    # P1
    "threat_person": 6,
    "threat_online": 5,
    "threat_message": 5,
    "armed_now": 4,
    "device_building": 4,
    "vehicle_attack": 3,
    "school_threat": 3,
    "poison_plot": 2,
    "recon_intent": 2,
    # P2
    "hostile_recon": 9,
    "precursor_purchase": 8,
    "precursor_storage": 5,
    "weapon_seen": 6,
    "weapon_find": 4,
    "drone": 4,
    "breach": 5,
    "testing_security": 4,
    "sabotage": 4,
    "laser": 2,
    "sector_missing": 3,
    # P3
    "eliciting": 7,
    "online_material": 9,
    "recruiting": 5,
    "finance": 6,
    "misrep_docs": 5,
    "expertise": 7,
    "cyber": 5,
    "photography_thin": 6,
    "surveillance_past": 5,
    "theft_pass": 4,
    "materials_thin": 3,
    # P4
    "vague": 24,
    "protected": 36,
    "neighbour": 24,
    "hearsay": 14,
    "conspiracy": 7,
    "not_ct": 24,
    "bag_nothing": 8,
    "hobby": 12,
    "protest": 6,
    "cannabis": 4,
    "online_vague": 8,
    "nonsense": 5,
    "bang": 5,
}

# The same incident reported by several people in their own words.
GROUPS = (
    ("threat_online", 5),
    ("armed_now", 4),
    ("armed_now", 3),
    ("threat_person", 2),
    ("school_threat", 3),
    ("hostile_recon", 4),
    ("drone", 5),
    ("weapon_seen", 3),
    ("hostile_recon", 2),
    ("breach", 2),
    ("sabotage", 3),
    ("precursor_purchase", 2),
    ("weapon_find", 2),
    ("online_material", 4),
    ("eliciting", 2),
    ("photography_thin", 3),
    ("cyber", 3),
    ("bang", 6),
    ("protected", 3),
    ("bag_nothing", 4),
)

FIRST_DAY = date(2025, 10, 6)
LAST_DAY = date(2026, 4, 26)
# Around the clock changes (last Sundays of October and March) resolution is easiest to get
# wrong, so a share of the reports falls in the week after each.
CLOCK_CHANGE_WEEKS = (date(2025, 10, 26), date(2026, 3, 29))


def report_time(rng: random.Random, lo_hour: int = 8, hi_hour: int = 23) -> datetime:
    roll = rng.random()
    if roll < 0.16:
        day = CLOCK_CHANGE_WEEKS[roll < 0.08] + timedelta(days=rng.randint(0, 6))
    else:
        day = FIRST_DAY + timedelta(days=rng.randint(0, (LAST_DAY - FIRST_DAY).days))
    local = datetime.combine(
        day, time(rng.randint(lo_hour, hi_hour - 1), rng.randint(0, 59)), tzinfo=LONDON
    )
    return local.astimezone(UTC)


# --------------------------------------------------------------------------- rendering


class GenerationError(Exception):
    pass


def _assemble(r: Report) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    items: list[dict[str, Any]] = []
    pos = 0
    st = r.style
    for si, sentence in enumerate(r.sentences):
        if si:
            sep = "\n" if st.name in {"formal", "rambling"} and r.chance(0.2) else " "
            out.append(sep)
            pos += len(sep)
        for k, seg in enumerate(sentence):
            if isinstance(seg, It):
                items.append(
                    {
                        "kind": seg.kind,
                        "value": seg.value,
                        "text": seg.text,
                        "start": pos,
                        "end": pos + len(seg.text),
                    }
                )
                text = seg.text
            elif isinstance(seg, Lit):
                text = seg.text.lower() if st.lower else seg.text
            else:
                if FORBIDDEN.search(seg):  # a template bug, not bad luck: do not retry
                    raise ValueError(f"unlabelled look-alike in template prose: {seg!r}")
                text = style_prose(seg, st, r.rng)
                if st.exclaim and k == len(sentence) - 1 and text.endswith(".") and r.chance(0.5):
                    text = text[:-1] + r.pick(("!", "!!", "!!!"))
                if FORBIDDEN.search(text):
                    raise GenerationError(f"styling made a look-alike: {text!r}")
            out.append(text)
            pos += len(text)
    description = "".join(out)
    for it in items:
        s, e = it["start"], it["end"]
        if description[s:e] != it["text"]:
            raise GenerationError("span drift")
        if (s > 0 and description[s - 1].isalnum()) or (
            e < len(description) and description[e].isalnum()
        ):
            raise GenerationError(f"item glued to a word: {description[max(0, s - 5) : e + 5]!r}")
    return description, items


def _contact(r: Report, g: Gen, what: str) -> list[Seg]:
    if what == "CONTACT_PHONE":
        number = g.mobile() if r.chance(0.75) else g.landline()
        return [r.pick(("You can call me on ", "My number is ", "Please ring me on ")),
                r.phone(number), "."]  # fmt: skip
    who = g.name()
    return ["My email is ", r.email(g.email(who)), " if you need it."]


def render(
    rng: random.Random,
    g: Gen,
    name: str,
    rep_utc: datetime,
    facts: dict[str, Any],
    style_name: str,
    in_group: bool,
) -> Report:
    scenario, secondhand_ok = SCENARIOS[name]
    secondhand = rng.choice(SECONDHAND) if secondhand_ok and rng.random() < 0.2 else None
    r = Report(
        rng=rng,
        rep_utc=rep_utc,
        style=STYLES[style_name],
        facts=facts,
        secondhand=secondhand[1] if secondhand else None,
        in_group=in_group,
    )
    scenario(r, g)
    if name == "nonsense":
        r.add_fields(g)
        return r
    body = r.sentences
    if style_name == "rambling":
        for filler in rng.sample(FILLERS, rng.choice((1, 2))):
            body.insert(rng.randint(1, len(body)), [filler])
    if secondhand:
        body.insert(0, [secondhand[0]])
    elif rng.random() < 0.55:
        body.insert(0, [rng.choice(OPENERS[style_name])])
    if rng.random() < 0.5:
        closer = rng.choice(CLOSERS[style_name])
        body.append(_contact(r, g, closer) if closer.startswith("CONTACT_") else [closer])
    r.add_fields(g)
    return r


def make_record(r: Report, name: str, group: str | None) -> dict[str, Any]:
    description, items = _assemble(r)
    for it in r.field_items:
        items.append({"kind": it.kind, "value": it.value, "text": it.text, "start": None,
                      "end": None})  # fmt: skip
    kind = r.kind
    if r.rng.random() < 0.12:  # reporters often pick the wrong box
        kind = r.rng.choice(REPORT_KINDS)
    return {
        "id": "",
        "reported_at": r.rep_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": kind,
        "description": description,
        "fields": r.fields,
        "expected": {
            "items": items,
            "categories": [c for c in CATEGORY_CODES if c in r.categories],
            "priority": r.priority,
            "duplicate_group": group,
            "scenario": name,
        },
    }


def _style_names(rng: random.Random, n: int) -> list[str]:
    names = list(STYLE_WEIGHTS)
    weights = [STYLE_WEIGHTS[s] for s in names]
    chosen: list[str] = []
    while len(chosen) < n:
        s = rng.choices(names, weights)[0]
        if s not in chosen or len(chosen) >= len(names):
            chosen.append(s)
    return chosen


def _render_record(
    rng: random.Random,
    g: Gen,
    name: str,
    rep: datetime,
    facts: dict[str, Any],
    style: str,
    group: str | None,
) -> dict[str, Any]:
    last: Exception | None = None
    for _attempt in range(40):
        try:
            r = render(rng, g, name, rep, facts, style, group is not None)
            return make_record(r, name, group)
        except GenerationError as exc:
            last = exc
    raise RuntimeError(f"could not render {name}: {last}")


def build(seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not security
    g = Gen(rng)
    plan: list[tuple[str, str | None, int]] = []
    for name, n in SINGLES.items():
        plan += [(name, None, 1)] * n
    for i, (name, size) in enumerate(GROUPS, start=1):
        plan.append((name, f"D{i:02d}", size))
    rng.shuffle(plan)
    records: list[dict[str, Any]] = []
    for name, group, size in plan:
        if group is None:
            rep = report_time(rng)
            records.append(_render_record(rng, g, name, rep, {}, _style_names(rng, 1)[0], None))
            continue
        rep = report_time(rng, 8, 19)
        facts: dict[str, Any] = {}
        for style in _style_names(rng, size):
            records.append(_render_record(rng, g, name, rep, facts, style, group))
            rep += timedelta(minutes=rng.randint(7, 150))
    records.sort(key=lambda rec: (rec["reported_at"], rec["description"]))
    for i, rec in enumerate(records, start=1):
        rec["id"] = f"E{i:04d}"
    return records


def dumps(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)


def summary(records: list[dict[str, Any]]) -> str:
    from collections import Counter

    kinds: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    prios: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    for rec in records:
        exp = rec["expected"]
        kinds.update(it["kind"] for it in exp["items"])
        cats.update(exp["categories"])
        prios[exp["priority"]] += 1
        if exp["duplicate_group"]:
            groups[exp["duplicate_group"]] += 1
    lines = [
        f"reports: {len(records)}",
        "items: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
        f"items total: {sum(kinds.values())}",
        "categories: " + ", ".join(f"{c} {cats[c]}" for c in CATEGORY_CODES),
        "priorities: " + ", ".join(f"{p} {prios[p]}" for p in PRIORITIES),
        f"duplicate groups: {len(groups)} covering {sum(groups.values())} reports "
        f"(sizes {sorted(groups.values())})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    parser.add_argument("--show", type=int, default=0, help="print N random reports and exit")
    args = parser.parse_args(argv)
    records = build(args.seed)
    text = dumps(records)
    if args.show:
        pick = random.Random(args.show).sample(records, args.show)  # noqa: S311
        for rec in pick:
            print(json.dumps(rec, ensure_ascii=False, indent=1))
        return 0
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run tools/make_triage_eval.py", file=sys.stderr)
            return 1
        print(summary(records))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    print(summary(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
