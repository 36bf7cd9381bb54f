"""``name:`` searches find people however their name was written: transliterations, sound,
nicknames and typos, in reports and person entities, and only in names."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import staff_token
from tests.search import found, ids, person, person_entity, submit
from vigil.web.runtime import Runtime


def test_spellings_of_one_name_are_found_and_different_names_are_not(
    client: TestClient, rt: Runtime
) -> None:
    analyst = staff_token(rt)
    mohammed = submit(client, "Man filming the gates.", people=[person("Mohammed Karim")])
    muhammad = submit(client, "Man asking about shifts.", people=[person("Muhammad Karim")])
    mahmood = submit(client, "Man at the fence.", people=[person("Mahmood Karim")])
    hamid = submit(client, "Man near the vans.", people=[person("Hamid Karim")])

    assert sorted(ids(found(client, analyst, "name:Mohamed"))) == sorted([mohammed, muhammad])
    assert sorted(ids(found(client, analyst, "name:Karim"))) == sorted(
        [mohammed, muhammad, mahmood, hamid]
    )
    assert ids(found(client, analyst, 'name:"Mahmud Karim"')) == [mahmood]


def test_a_typo_finds_the_name_and_a_near_name_does_not_come_along(
    client: TestClient, rt: Runtime
) -> None:
    analyst = staff_token(rt)
    hargreaves = submit(client, "Seen near the depot.", people=[person("Ellis Hargreaves")])
    hargrove = submit(client, "Seen near the yard.", people=[person("Ellis Hargrove")])

    assert ids(found(client, analyst, "name:Hargreves")) == [hargreaves]
    assert ids(found(client, analyst, "name:Hsrgreaves")) == [hargreaves]
    assert ids(found(client, analyst, "name:hargrove")) == [hargrove]


def test_a_nickname_finds_the_full_name_and_back(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    david = submit(client, "Driver of the grey van.", people=[person("David Okafor")])
    dave = submit(client, "Passenger of the grey van.", people=[person("Dave Okafor")])

    assert sorted(ids(found(client, analyst, "name:Dave name:Okafor"))) == sorted([david, dave])
    assert sorted(ids(found(client, analyst, "name:David"))) == sorted([david, dave])


def test_names_are_searched_in_names_only(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    street = submit(client, "Parked on Hargreaves Street all night.")
    named = submit(client, "Parked all night.", people=[person("Jo Hargreaves")])

    assert ids(found(client, analyst, "name:Hargreaves")) == [named]
    assert sorted(ids(found(client, analyst, "hargreaves"))) == sorted([street, named])


def test_person_entities_are_found_by_name_variants(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    entity_id = person_entity(
        rt,
        "Aleksandra Nowak",
        properties={"first_name": ["Aleksandra"], "last_name": ["Nowak"], "postcode": ["M1 1AE"]},
    )
    page = found(client, analyst, "name:Alexandra")
    assert ids(page) == [str(entity_id)]
    hit = page["hits"][0]
    assert hit["type"] == "entity" and hit["kind"] == "person"
    assert hit["href"] == f"/api/v1/linkage/entities/{entity_id}"
    assert "<mark>Aleksandra</mark>" in hit["snippet"]
    assert page["facets"]["place"] == [{"value": "M1", "count": 1}]


def test_words_and_names_combine(client: TestClient, rt: Runtime) -> None:
    analyst = staff_token(rt)
    van = submit(client, "White van outside the mosque.", people=[person("Mohamed Ali")])
    submit(client, "Red car outside the mosque.", people=[person("Mohamed Ali")])
    submit(client, "White van outside the church.", people=[person("Peter Ross")])

    page = found(client, analyst, "white van name:Muhammad")
    assert ids(page) == [van]
    assert "<mark>" in page["hits"][0]["snippet"]
