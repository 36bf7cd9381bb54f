"""A refusal reads the same in English everywhere and can be said in Welsh on a page."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError, field_validator

from vigil.web.jsonresp import dumps
from vigil.web.problems import Problem, field_error, told, validation_problem
from vigil.web.said import said, spoken

WELSH = {
    "No team called %(team)s in this %(record)s.": "Dim tîm o'r enw %(team)s yn y %(record)s hwn.",
    "case": "achos",
    "Invalid request": "Cais annilys",
    "is required": "mae'n ofynnol",
    "String should have at least %(n)s characters": "Dylai fod o leiaf %(n)s nod",
    "Say why.": "Dywedwch pam.",
}


def welsh(message: str, **values: Any) -> str:
    text = WELSH.get(message, message)
    return text % values if values else text


def test_marked_words_are_plain_english_to_the_api() -> None:
    words = said("No team called %(team)s in this %(record)s.", team="Leeds", record=said("case"))
    assert words == "No team called Leeds in this case."
    body = Problem(422, said("Invalid request"), words, errors=[field_error("#/team", words)])
    assert orjson.loads(dumps(body.body()))["errors"][0]["detail"] == words


def test_a_page_says_marked_words_in_its_language_and_puts_data_in_as_typed() -> None:
    words = said("No team called %(team)s in this %(record)s.", team="case", record=said("case"))
    assert spoken(welsh, words) == "Dim tîm o'r enw case yn y achos hwn."  # the typed name stays
    assert spoken(welsh, "Invalid request") == "Cais annilys"  # plain words looked up as they are
    assert spoken(welsh, "Something unknown") == "Something unknown"


def test_told_translates_title_detail_and_every_field_error() -> None:
    problem = Problem(
        422,
        said("Invalid request"),
        said("Say why."),
        errors=[field_error("#/reason", said("is required"))],
        kind="invalid-request",
    )
    shown = told(problem, welsh)
    assert (shown.title, shown.detail, shown.errors[0]["detail"]) == (
        "Cais annilys",
        "Dywedwch pam.",
        "mae'n ofynnol",
    )
    assert (shown.status, shown.kind, shown.errors[0]["pointer"]) == (
        422,
        "invalid-request",
        "#/reason",
    )
    assert problem.title == "Invalid request"  # the original is left for the API


class _Form(BaseModel):
    reason: str = Field(min_length=5)
    team: str
    code: str = ""

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if value and not value.isdigit():
            raise ValueError(said("Say why."))
        return value


def test_validation_messages_keep_pydantic_english_and_can_be_said_in_welsh() -> None:
    try:
        _Form.model_validate({"reason": "ab", "code": "x"})
    except ValidationError as exc:
        problem = validation_problem(exc)
    details = {e["pointer"]: e["detail"] for e in problem.errors}
    assert details == {
        "#/reason": "String should have at least 5 characters",
        "#/team": "is required",
        "#/code": "Say why.",
    }
    shown = {e["pointer"]: e["detail"] for e in told(problem, welsh).errors}
    assert shown == {
        "#/reason": "Dylai fod o leiaf 5 nod",
        "#/team": "mae'n ofynnol",
        "#/code": "Dywedwch pam.",
    }


def test_a_pydantic_message_our_template_does_not_match_is_left_as_pydantic_said_it() -> None:
    class _One(BaseModel):
        name: str = Field(min_length=1)

    try:
        _One.model_validate({"name": ""})
    except ValidationError as exc:
        problem = validation_problem(exc)
    assert problem.errors[0]["detail"] == "String should have at least 1 character"
    assert told(problem, welsh).errors[0]["detail"] == "String should have at least 1 character"
