"""The words of dates and times, for ``vigil.triage.when``: weekdays, months, parts of the
day and counts, each with the misspellings reporters make, and the pattern pieces built
from them.

They live apart from the resolver so that the vocabulary can grow (another misspelling,
another part of the day) without the resolving rules growing past a readable size.
"""

from __future__ import annotations

import re

WEEKDAYS = {
    0: "monday|mondy|monady|munday|mon",
    1: "tuesday|tuesdy|tusday|teusday|tuseday|tuesay|tues|tue",
    2: "wednesday|wednsday|wensday|wendsday|wedensday|wednesdy|wedsday|wednessday|weds|wed",
    3: "thursday|thrusday|thursdy|thurday|thirsday|thurs|thur|thu",
    4: "friday|fridy|firday|frday|fri",
    5: "saturday|saterday|satuday|saturdy|satarday|sat",
    6: "sunday|sundy|sun",
}
MONTHS = {
    1: "january|janurary|januray|jan",
    2: "february|febuary|febrary|feburary|febraury|feb",
    3: "march|mar",
    4: "april|apr",
    5: "may",
    6: "june|jun",
    7: "july|jul",
    8: "august|augest|aug",
    9: "september|septmber|setember|sept|sep",
    10: "october|ocotber|octobre|oct",
    11: "november|novmber|novemeber|nov",
    12: "december|decmber|decemeber|dec",
}
DAY_WORD = {w: n for n, words in WEEKDAYS.items() for w in words.split("|")}
MONTH_WORD = {w: n for n, words in MONTHS.items() for w in words.split("|")}
WD = "|".join(sorted(DAY_WORD, key=len, reverse=True))
MON = "|".join(sorted(MONTH_WORD, key=len, reverse=True))
ABBREVIATED_DAYS = frozenset({"mon", "tue", "tues", "wed", "weds", "thu", "thur", "thurs", "fri"})
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "couple of": 2, "a couple of": 2, "half an": 0.5, "half a": 0.5,
}  # fmt: skip
PARTS = {
    "morning": 9, "mornin": 9, "moring": 9, "mornign": 9, "lunchtime": 12, "lunch time": 12,
    "lunch": 12, "afternoon": 15, "afternon": 15,
    "aftenoon": 15, "arvo": 15, "evening": 19, "evenin": 19, "evning": 19, "teatime": 18,
    "night": 22, "nite": 22, "nigth": 22, "early hours": 3,
}  # fmt: skip
PART = "|".join(sorted((re.escape(p).replace(r"\ ", r"\s+") for p in PARTS), key=len, reverse=True))
AP = r"(?:am|pm|a\.m\.?|p\.m\.?)"
DAYNUM = r"(?:[0-2]?\d|3[01])(?:st|nd|rd|th)?"
COUNT = (
    r"\d{1,3}|a\s+couple\s+of|couple\s+of|half\s+an|half\s+a|an|a|one|two|three|four|five"
    r"|six|seven|eight|nine|ten|eleven|twelve"
)
UNIT = r"min(?:ute)?s?|hours?|hrs?|days?|weeks?|wks?"
