"""Protected characteristics are never a signal (DEVELOPERS.md principle 3; domain-facts §2:
Tier 2 "must never rest on race, ethnicity, religion or other protected characteristics").

Saying that a person is of a religion, ethnicity or nationality, holds a political view or
has a health condition must change neither the categories, nor the priority, nor the factors
behind it. The reports go through the real extractor, then the real rules, as in production.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.triage.categories import RULES_PATH, categorise, load_rules
from vigil.triage.config import DEFAULT_CONFIG_PATH, load_default_config
from vigil.triage.items import Extracted
from vigil.triage.priority import prioritise

REPORTED = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)

RELIGION = [
    "muslim", "muslims", "islam", "islamic", "islamist", "jihad", "jihadi", "christian",
    "catholic", "protestant", "jewish", "jew", "jews", "judaism", "hindu", "sikh", "buddhist",
    "atheist", "mosque", "church", "synagogue", "temple", "gurdwara", "hijab", "niqab", "burka",
    "burqa", "turban", "kippah", "yarmulke", "allah", "quran", "koran", "bible", "torah", "imam",
    "rabbi", "priest", "pray", "prayer", "praying", "convert", "religious", "devout", "beard",
    "christmas", "ramadan", "eid",
]  # fmt: skip
ETHNICITY = [
    "black", "white", "brown", "asian", "arab", "arabic", "african", "caribbean", "gypsy",
    "roma", "traveller", "travellers", "ethnic", "race", "racial", "immigrant", "migrant",
    "refugee", "asylum", "foreign", "foreigner", "foreigners", "middle eastern",
    "eastern european",
]  # fmt: skip
NATIONALITY = [
    "polish", "romanian", "pakistani", "indian", "bangladeshi", "somali", "syrian", "afghan",
    "iraqi", "iranian", "kurdish", "turkish", "russian", "chinese", "irish", "nigerian",
    "albanian", "english", "scottish", "welsh", "british", "french", "american", "nationality",
]  # fmt: skip
POLITICS = [
    "labour", "tory", "tories", "conservative", "liberal", "socialist", "communist",
    "nationalist", "anarchist", "left-wing", "right-wing", "far-right", "far-left", "brexit",
    "ukip", "reform uk", "green party", "antifa", "voter", "votes", "political", "politics",
]  # fmt: skip
HEALTH = [
    "schizophrenia", "schizophrenic", "autism", "autistic", "adhd", "depression", "depressed",
    "bipolar", "psychosis", "psychotic", "mental", "mentally", "disabled", "disability",
    "wheelchair", "medication", "epilepsy", "hiv", "pregnant", "ptsd", "dementia",
    "gay", "lesbian", "transgender",
]  # fmt: skip
PROTECTED = RELIGION + ETHNICITY + NATIONALITY + POLITICS + HEALTH


def protected_words_in(text: str) -> list[str]:
    return sorted(
        word
        for word in PROTECTED
        if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text, re.IGNORECASE)
    )


def test_rules_and_weights_name_no_protected_characteristic() -> None:
    for path in (RULES_PATH, DEFAULT_CONFIG_PATH):
        assert protected_words_in(path.read_text(encoding="utf-8")) == [], path.name


def test_the_scan_would_catch_a_protected_word() -> None:
    assert protected_words_in("lexicons:\n  suspects: ['muslim men', 'Polish', far-right]") == [
        "far-right",
        "muslim",
        "polish",
    ]


def test_no_rule_or_signal_matches_a_protected_word_on_its_own() -> None:
    rules = load_rules()
    sentence = ". ".join(f"A {word} person" for word in PROTECTED) + "."
    assert categorise(sentence, []) == []
    for lexicon in rules.lexicons:
        assert rules.find(lexicon, sentence, negatable=False) == [], lexicon


# --- the same report, with and without words about who the people are ------------------------

BASE_REPORTS = [
    "{who} said he is going to bomb Victoria Coach Station tonight, he has a gun.",
    "{who} was taking photos of the CCTV cameras at the back entrance of the shopping centre.",
    "Apparently {who} has been buying large amounts of fertiliser and storing it in a garage.",
    "I saw {who} climb over the fence at the depot yesterday and drive off in AB12 CDE.",
    "{who} keeps asking staff what time the guards change shifts at the town hall.",
    "I bought a kitchen knife at the shop today and {who} served me.",
    "{who} seems a bit odd and keeps himself to himself.",
    "My neighbour said {who} showed him a machete and said he'd make them pay tomorrow.",
    "{who} posted a beheading video at https://video.example.org/watch?v=abc123 last night.",
    "{who} asked me how busy the concert at the arena gets. His number is 07700 900123.",
    "I heard {who} say he wants to attack the school on Monday with a knife.",
    "{who} was filming the security gates at the airport and writing notes.",
]
PEOPLE = ["a man", "a woman", "a young man", "an older woman", "two men", "a lad"]
ADJECTIVES = [
    "muslim", "jewish", "polish", "black", "white", "asian", "sikh", "christian", "hindu",
    "catholic", "romanian", "pakistani", "somali", "irish", "arab", "chinese", "gay",
    "disabled", "foreign", "devout", "autistic", "left-wing", "right-wing",
]  # fmt: skip
SUFFIXES = [
    "with schizophrenia", "with autism", "who is depressed", "in a wheelchair",
    "wearing a hijab", "wearing a turban", "wearing a kippah", "wearing a niqab",
    "with a long beard", "who supports Labour", "who votes Conservative", "from Poland",
    "from Pakistan", "on medication",
    "with mental health problems", "who is a refugee",
]  # fmt: skip
REPLACEMENTS = [
    "a labour supporter", "a tory voter", "a refugee", "an asylum seeker", "a muslim convert",
    "a jewish woman", "a black man", "a polish builder", "a man with schizophrenia",
    "an immigrant", "a traveller", "a sikh man in a turban", "a woman in a hijab",
]  # fmt: skip
SENTENCES = [
    "He is Muslim.", "She is Jewish.", "He is Polish.", "They are Somali.", "He is black.",
    "He has bipolar disorder.", "He votes Green.", "He is a Labour party member.",
    "She wears a hijab.", "He prays every Friday.", "He has a long beard.",
    "He is on medication for depression.", "They are asylum seekers from Syria.",
    "He goes to the mosque on Fridays.", "She attends the synagogue.",
    "He walks to the gurdwara with his family.",
]  # fmt: skip


def an(phrase: str) -> str:
    return re.sub(r"^a (?=[aeiou])", "an ", phrase)


def described(person: str, adjective: str) -> str:
    article, _, rest = person.partition(" ")
    return an(f"{'a' if article == 'an' else article} {adjective} {rest}")


def capitalised(edit: str, capital: bool) -> str:
    """Real reports capitalise these words ("a Polish man"); both must be ignored."""
    if not capital:
        return edit
    return re.sub(
        r"\b(" + "|".join(re.escape(w) for w in PROTECTED) + r")\b",
        lambda m: m.group(0).capitalize(),
        edit,
        flags=re.IGNORECASE,
    )


EDITS = st.one_of(
    st.tuples(st.just("adjective"), st.sampled_from(ADJECTIVES)),
    st.tuples(st.just("suffix"), st.sampled_from(SUFFIXES)),
    st.tuples(st.just("replace"), st.sampled_from(REPLACEMENTS)),
    st.tuples(st.just("sentence"), st.sampled_from(SENTENCES)),
)


def edited(template: str, person: str, edit: tuple[str, str], capital: bool) -> str:
    kind, words = edit
    words = capitalised(words, capital)
    if kind == "adjective":
        who = described(person, words)
    elif kind == "suffix":
        who = f"{person} {words}"
    elif kind == "replace":
        who = words
    else:
        who = person
    text = template.format(who=who)
    text = text[0].upper() + text[1:]
    return f"{text} {words}" if kind == "sentence" else text


def extract_items(text: str) -> list[Extracted]:
    """The real extractor: this test is about the whole path, never a stand-in."""
    from vigil.triage.extraction import extract

    return extract(text, reported_at=REPORTED)


def outcome(text: str) -> dict[str, Any]:
    """Everything triage advises, without character offsets (the edit moves the words)."""
    items = extract_items(text)
    categories = categorise(text, items)
    result = prioritise(text, items, categories, reported_at=REPORTED, config=load_default_config())
    return {
        "categories": [
            (c.code, c.tier, c.confidence, sorted((e.rule, e.text) for e in c.evidence))
            for c in categories
        ],
        "priority": result.priority,
        "score": result.score,
        "factors": [(f.code, f.label, f.weight) for f in result.factors],
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    template=st.sampled_from(BASE_REPORTS),
    person=st.sampled_from(PEOPLE),
    edit=EDITS,
    capital=st.booleans(),
)
def test_words_about_who_people_are_change_nothing(
    template: str, person: str, edit: tuple[str, str], capital: bool
) -> None:
    plain = template.format(who=person)
    plain = plain[0].upper() + plain[1:]
    changed = edited(template, person, edit, capital)
    assert changed != plain
    assert outcome(changed) == outcome(plain), changed


def test_every_base_report_exercises_the_triage() -> None:
    """Guard against a vacuous property: between them the base reports reach every
    priority band except none, several categories and most factors."""
    results = [outcome(template.format(who="A man")) for template in BASE_REPORTS]
    assert {r["priority"] for r in results} >= {"P1", "P3", "P4"}
    factor_codes = {code for r in results for code, _, _ in r["factors"]}
    assert {"explicit_threat", "imminent", "crowded_place", "hearsay", "specifics"} <= factor_codes
    assert len({c[0] for r in results for c in r["categories"]}) >= 6
