"""People's decisions on linkage and the input they decide on: match labels (changed only
on purpose, a positive taken back un-merges), alert decisions (a flow, with who and why),
the review list (need-to-know in SQL, paged), person details (checked as the import checks
them) and the known-benign list (valid values only, with who added them)."""

from __future__ import annotations

import base64
import io
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.console.test_console_pages import post, signed_in
from tests.console.test_console_pages import web as web  # fixture
from tests.factories import auth, minimal_report, staff_token
from vigil.access.markings import Classification
from vigil.access.models import Organisation
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.jobs.worker import Worker
from vigil.linkage.formats import read_people_csv
from vigil.linkage.models import Alert, BenignValue, Entity, Identity, Match, Subject
from vigil.triage.tasks import default_registry
from vigil.web.runtime import Runtime

OTHER_ORG = "Security Service North"
ROBERT = {
    "first_name": "Robert",
    "last_name": "Sharp",
    "date_of_birth": "1979-06-14",
    "postcode": "LS6 2QT",
    "town": "Leeds",
}
BOB = {**ROBERT, "first_name": "Bob", "date_of_birth": "14/06/1979"}
KARL = {"first_name": "Karl", "last_name": "Brandt", "phone": "07700900456"}
PHONE_REPORT = (
    "A man keeps photographing the gates of the water treatment works at night and "
    "told the guard to call him on 07700 900123 if anyone asked questions."
)


def investigator(rt: Runtime, email: str = "inv@example.org", **kw: Any) -> str:
    return staff_token(rt, email, role=Role.investigator, clearance=Classification.secret, **kw)


def add_subject(client: TestClient, token: str, **body: Any) -> dict[str, Any]:
    payload = {"name": "Operation Larch subject", "classification": "SECRET", **body}
    response = client.post("/api/v1/linkage/subjects", json=payload, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def refer(client: TestClient, token: str, person: dict[str, str]) -> dict[str, Any]:
    body = {"person": person, "reason": "A partner's referral of a person of concern."}
    response = client.post("/api/v1/linkage/referrals", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def review(
    client: TestClient, token: str, match_id: int, label: str, reason: str, **extra: Any
) -> Any:
    body = {"label": label, "reason": reason, **extra}
    return client.post(f"/api/v1/linkage/matches/{match_id}/review", json=body, headers=auth(token))


def identity_of(rt: Runtime, *entity_ids: int) -> list[int]:
    with rt.db.session() as session:
        found = dict(
            session.execute(
                select(Entity.id, Entity.identity_id).where(Entity.id.in_(entity_ids))
            ).all()
        )
    return [found[e] for e in entity_ids]


def same_identity(client: TestClient, token: str, entity_id: int) -> list[str]:
    page = client.get(f"/api/v1/linkage/entities/{entity_id}", headers=auth(token))
    assert page.status_code == 200, page.text
    return [e["label"] for e in page.json()["identity"]]


def match_row(rt: Runtime, match_id: int) -> Match:
    with rt.db.session() as session:
        row = session.get(Match, match_id)
        assert row is not None
        session.expunge(row)
        return row


def audit(rt: Runtime, prefix: str, record_id: int) -> list[AuditEvent]:
    with rt.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like(prefix + "%")).order_by(AuditEvent.seq)
        ).all()
        for event in events:
            session.expunge(event)
    return [e for e in events if str(record_id) in e.record_ids]


# --- match review: rules, un-merging, history ------------------------------------------


def bob_and_robert(client: TestClient, rt: Runtime, token: str) -> tuple[dict[str, Any], int]:
    """Robert Sharp is a subject's person; Bob Sharp is referred and matched by the model."""
    known = add_subject(client, token, person=ROBERT)
    referral = refer(client, token, BOB)
    (match,) = referral["matches"]
    assert match["method"] == "model"
    assert match["other"]["id"] == known["entity_ids"][0]
    return match, known["entity_ids"][0]


def test_taking_back_a_positive_label_un_merges_the_two_identities(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    match, robert = bob_and_robert(client, rt, token)
    bob = match["entity"]["id"]
    before = identity_of(rt, bob, robert)
    assert review(
        client, token, match["id"], "positive", "Same man: DOB and address"
    ).status_code == (200)
    assert same_identity(client, token, bob) == ["Robert Sharp (born 1979-06-14)"]

    changed = review(
        client, token, match["id"], "negative", "Twin brothers: the GP confirmed", change=True
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["state"] == "negative"
    assert same_identity(client, token, bob) == []
    assert same_identity(client, token, robert) == []
    assert identity_of(rt, bob, robert) == before  # each back on its own, older id kept


def test_a_decided_match_is_labelled_again_only_as_an_explicit_change(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    match, robert = bob_and_robert(client, rt, token)
    first = "Different people: different fathers' names"
    assert review(client, token, match["id"], "negative", first).status_code == 200

    silent = review(client, token, match["id"], "positive", "Looks like the same man to me")
    assert silent.status_code == 409
    assert "already labelled Different (negative)" in silent.json()["detail"]
    again = review(client, token, match["id"], "negative", "Still different", change=True)
    assert again.status_code == 409 and "already labelled" in again.json()["detail"]
    row = match_row(rt, match["id"])
    assert (row.state, row.review_reason) == ("negative", first)

    changed = review(client, token, match["id"], "positive", "Passport seen: one man", change=True)
    assert changed.status_code == 200 and changed.json()["state"] == "positive"
    bob = match["entity"]["id"]
    assert len(set(identity_of(rt, bob, robert))) == 1


def test_an_unsure_match_takes_a_second_opinion_without_a_change(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    match, robert = bob_and_robert(client, rt, token)
    assert review(client, token, match["id"], "unsure", "Cannot tell from this").status_code == 200
    second = investigator(rt, "second@example.org")
    answer = review(client, second, match["id"], "positive", "Same address history")
    assert answer.status_code == 200 and answer.json()["state"] == "positive"
    assert len(set(identity_of(rt, match["entity"]["id"], robert))) == 1


def test_every_label_is_kept_in_the_audit_log_with_who_and_why(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    other = investigator(rt, "second@example.org")
    match, _ = bob_and_robert(client, rt, token)
    review(client, token, match["id"], "positive", "First: same date of birth")
    review(client, other, match["id"], "negative", "Second: twin brother", change=True)
    review(client, token, match["id"], "unsure", "Third: asking the GP", change=True)

    events = audit(rt, "match.", match["id"])
    assert [(e.action, e.purpose) for e in events] == [
        ("match.positive", "First: same date of birth"),
        ("match.negative", "Second: twin brother"),
        ("match.unsure", "Third: asking the GP"),
    ]
    assert events[0].actor_user_id == events[2].actor_user_id != events[1].actor_user_id
    row = match_row(rt, match["id"])
    assert (row.state, row.review_reason) == ("unsure", "Third: asking the GP")


def three_referrals_of_karl(
    client: TestClient, rt: Runtime, token: str
) -> tuple[int, int, int, dict[frozenset[int], int]]:
    """A subject's Karl and two referrals of him: three entities, three pairwise matches."""
    known = add_subject(client, token, person=KARL)
    first = refer(client, token, KARL)
    second = refer(client, token, KARL)
    subject_entity = known["entity_ids"][0]
    a, b = first["entity"]["id"], second["entity"]["id"]
    pairs = {
        frozenset((m["entity"]["id"], m["other"]["id"])): m["id"]
        for m in first["matches"] + second["matches"]
    }
    assert set(pairs) == {
        frozenset((a, subject_entity)),
        frozenset((b, subject_entity)),
        frozenset((a, b)),
    }
    return subject_entity, a, b, pairs


def test_entities_still_linked_by_other_positive_matches_stay_together(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    known, a, b, pairs = three_referrals_of_karl(client, rt, token)
    own = identity_of(rt, known, a, b)  # each entity's own identity, before any merge
    for pair in ((a, known), (b, known)):
        assert review(
            client, token, pairs[frozenset(pair)], "positive", "Same Karl"
        ).status_code == (200)
    (merged,) = set(identity_of(rt, known, a, b))
    assert merged == min(identity_of(rt, known))

    # a's only positive link goes: a leaves; the subject's entity and b stay one identity.
    change = {"change": True}
    review(client, token, pairs[frozenset((a, known))], "negative", "Not him", **change)
    assert identity_of(rt, known, a, b) == [merged, own[1], merged]  # a has its own back

    # a is linked to b instead; then the subject's link to b goes: a and b stay together,
    # apart from the subject's entity, which keeps the identity (it is the oldest).
    review(client, token, pairs[frozenset((a, b))], "positive", "Both referrals: one man")
    assert set(identity_of(rt, known, a, b)) == {merged}
    review(client, token, pairs[frozenset((b, known))], "negative", "Other Karl", **change)
    assert identity_of(rt, known, a, b) == [merged, own[1], own[1]]
    with rt.db.session() as session:
        identities = {i.id: i.merged_into_id for i in session.scalars(select(Identity))}
    assert identities[merged] is None and identities[own[1]] is None
    assert identities[own[2]] == own[1]  # b's own identity is merged into a's again


def test_a_reason_longer_than_the_history_keeps_is_refused_not_cut(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    match, _ = bob_and_robert(client, rt, token)
    answer = review(client, token, match["id"], "negative", "x" * 501)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"].endswith("/reason")
    assert match_row(rt, match["id"]).state == "pending"
    assert review(client, token, match["id"], "negative", "x" * 500).status_code == 200
    assert audit(rt, "match.", match["id"])[-1].purpose == "x" * 500


# --- alert decisions --------------------------------------------------------------------


def alerted(client: TestClient, rt: Runtime, token: str) -> int:
    """One new alert for the caller's team: a report sharing a closed subject's phone."""
    add_subject(
        client, token, status="closed", person={"first_name": "Karl", "phone": "07700900123"}
    )
    response = client.post("/api/v1/reports", json=minimal_report(description=PHONE_REPORT))
    assert response.status_code == 201, response.text
    Worker(rt, default_registry(), poll_s=0.01).run_until_idle()
    with rt.db.session() as session:
        return int(session.scalars(select(Alert.id)).one())


def decide(client: TestClient, token: str, alert_id: int, state: str, reason: str | None) -> Any:
    body = {"state": state, **({"reason": reason} if reason is not None else {})}
    return client.post(
        f"/api/v1/linkage/alerts/{alert_id}/decision", json=body, headers=auth(token)
    )


def test_alert_decisions_go_forward_and_a_final_one_keeps_its_reason(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    alert_id = alerted(client, rt, token)
    assert decide(client, token, alert_id, "reviewed", None).status_code == 200
    assert decide(client, token, alert_id, "reviewed", "again").status_code == 409
    dismissed = decide(client, token, alert_id, "dismissed", "Phone reassigned in 2024")
    assert dismissed.status_code == 200, dismissed.text

    actioned = decide(client, token, alert_id, "actioned", "Raid planned")
    assert actioned.status_code == 409
    assert "dismissed, which is final" in actioned.json()["detail"]
    silent_reopen = decide(client, token, alert_id, "reviewed", None)
    assert silent_reopen.status_code == 422
    assert silent_reopen.json()["errors"][0]["pointer"] == "#/body/reason"

    (alert,) = client.get("/api/v1/linkage/alerts", headers=auth(token)).json()
    assert (alert["state"], alert["reason"]) == ("dismissed", "Phone reassigned in 2024")
    assert alert["decided_by"] == "inv@example.org" and alert["decided_at"]


def test_a_decided_alert_is_re_opened_only_with_a_reason_and_every_reason_is_kept(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    lead = investigator(rt, "lead@example.org")
    alert_id = alerted(client, rt, token)
    assert decide(client, token, alert_id, "actioned", "Passed to the local team").status_code == (
        200
    )
    reopened = decide(client, lead, alert_id, "reviewed", "Local team says wrong man")
    assert reopened.status_code == 200, reopened.text
    body = reopened.json()
    assert (body["state"], body["reason"]) == ("reviewed", "Local team says wrong man")
    assert body["decided_by"] == "lead@example.org"
    assert decide(client, lead, alert_id, "dismissed", "Wrong man, checked").status_code == 200

    assert [(e.action, e.purpose) for e in audit(rt, "alert.", alert_id)] == [
        ("alert.actioned", "Passed to the local team"),
        ("alert.reviewed", "Local team says wrong man"),
        ("alert.dismissed", "Wrong man, checked"),
    ]


def test_the_qa_sequence_actioned_dismissed_reviewed_is_refused_after_the_first(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    alert_id = alerted(client, rt, token)
    assert decide(client, token, alert_id, "actioned", None).status_code == 200
    assert decide(client, token, alert_id, "dismissed", "Not him").status_code == 409
    assert decide(client, token, alert_id, "reviewed", None).status_code == 422
    with rt.db.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None and (alert.state, alert.reason) == ("actioned", None)


def test_the_console_shows_who_decided_an_alert_and_offers_only_what_may_follow(
    web: TestClient, rt: Runtime
) -> None:
    client = web
    token = investigator(rt)
    alert_id = alerted(client, rt, token)
    decide(client, token, alert_id, "dismissed", "Phone reassigned in 2024")

    signed_in(
        client, rt, "lead@example.org", role=Role.investigator, clearance=Classification.secret
    )
    page = client.get("/console/alerts?state=dismissed")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Decided by" in html and "inv@example.org" in html
    assert "Phone reassigned in 2024" in html
    assert "Re-open for review" in html and 'type="radio" value="actioned"' not in html

    action = f"/console/alerts/{alert_id}/decision"
    reopen = post(client, action, {"state": "reviewed", "reason": "Asked again"}, "/console/alerts")
    assert reopen.status_code == 303
    html = client.get("/console/alerts?state=reviewed").text
    assert "lead@example.org" in html and "Asked again" in html
    assert 'type="radio" value="actioned"' in html and 'type="radio" value="dismissed"' in html


def test_the_console_changes_a_decided_match_through_its_change_form(
    web: TestClient, rt: Runtime
) -> None:
    client = web
    token = investigator(rt)
    match, robert = bob_and_robert(client, rt, token)
    bob = match["entity"]["id"]
    review(client, token, match["id"], "positive", "Same man: DOB and address")

    signed_in(
        client, rt, "rev@example.org", role=Role.investigator, clearance=Classification.secret
    )
    path = f"/console/entities/{bob}"
    html = client.get(path).text
    assert 'name="change" value="1"' in html and "Change the decision" in html
    form = {"entity": str(bob), "label": "negative", "reason": "Twin", "change": "1"}
    done = post(client, f"/console/matches/{match['id']}/review", form, path)
    assert done.status_code == 303, done.text
    assert len(set(identity_of(rt, bob, robert))) == 2


# --- the review list --------------------------------------------------------------------


def org_id(rt: Runtime, name: str) -> int:
    with rt.db.session() as session:
        found = session.scalar(select(Organisation.id).where(Organisation.name == name))
    assert found is not None
    return int(found)


def stored_matches(rt: Runtime, owner: int, probabilities: list[float]) -> list[int]:
    """One known person of ``owner`` matched by new ones at these probabilities."""

    def person(session: Session, n: int) -> int:
        identity = Identity(kind="person")
        session.add(identity)
        session.flush()
        entity = Entity(
            kind="person",
            identity_id=identity.id,
            label=f"Synthetic Person {n}",
            properties={"first_name": ["Synthetic"], "last_name": [f"Person{n}"]},
            source_type="analyst",
            owning_org_id=owner,
            classification="OFFICIAL-SENSITIVE",
        )
        session.add(entity)
        session.flush()
        return entity.id

    def work(session: Session) -> list[int]:
        known = person(session, 0)
        rows = [
            Match(
                entity_id=person(session, n + 1),
                other_entity_id=known,
                method="model",
                match_probability=p,
                match_weight=None,
                is_match=p > 0.9,
                model_version="test",
                explanation=[],
            )
            for n, p in enumerate(probabilities)
        ]
        session.add_all(rows)
        session.flush()
        return [m.id for m in rows]

    return rt.db.write_sync(work)


def listed(client: TestClient, token: str, **params: Any) -> Any:
    return client.get("/api/v1/linkage/matches", params=params, headers=auth(token))


def test_a_hub_investigator_sees_their_match_behind_thousands_of_another_organisations(
    client: TestClient, rt: Runtime
) -> None:
    hub = investigator(rt)
    theirs = investigator(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",))
    hidden = stored_matches(rt, org_id(rt, OTHER_ORG), [0.99 - i * 1e-5 for i in range(400)])
    (own,) = stored_matches(rt, org_id(rt, rt.settings.receiving_org), [0.9156])

    page = listed(client, hub, state="pending")
    assert page.status_code == 200, page.text
    body = page.json()
    assert [m["id"] for m in body["items"]] == [own]
    assert body["total"] == 1 and body["next_cursor"] is None
    other = listed(client, theirs, limit=200).json()
    assert other["total"] == 400 and [m["id"] for m in other["items"]] == hidden[:200]


def test_the_review_list_pages_by_probability_with_a_cursor_and_a_total(
    client: TestClient, rt: Runtime
) -> None:
    hub = investigator(rt)
    owner = org_id(rt, rt.settings.receiving_org)
    ids = stored_matches(rt, owner, [0.60, 0.97, 0.80, 0.80, 0.99])
    best_first = [ids[4], ids[1], ids[2], ids[3], ids[0]]  # equal scores in id order

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = listed(client, hub, **params).json()
        assert body["total"] == 5
        seen += [m["id"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (best_first, 3)


def test_a_blind_reviewers_cursor_carries_no_score(client: TestClient, rt: Runtime) -> None:
    hub = investigator(rt)
    ids = stored_matches(rt, org_id(rt, rt.settings.receiving_org), [0.9156, 0.8123])
    body = listed(client, hub, blind="true", limit=1).json()
    assert body["items"][0]["match_probability"] is None
    cursor = body["next_cursor"]
    decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert decoded == ["match", ids[0]]


def test_the_review_list_refuses_unknown_parameters_and_foreign_cursors(
    client: TestClient, rt: Runtime
) -> None:
    hub = investigator(rt)
    investigator(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",))
    (foreign,) = stored_matches(rt, org_id(rt, OTHER_ORG), [0.99])

    unknown = listed(client, hub, page=2, sort="score")
    assert unknown.status_code == 422
    pointers = {e["pointer"] for e in unknown.json()["errors"]}
    assert pointers == {"#/query/page", "#/query/sort"}
    assert listed(client, hub, cursor="not-a-cursor").status_code == 422
    crafted = base64.urlsafe_b64encode(orjson.dumps(["match", foreign])).decode()
    refused = listed(client, hub, cursor=crafted)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "#/query/cursor"


# --- person details -----------------------------------------------------------------------

BAD_PERSON_VALUES = [
    ("date_of_birth", "yesterday-ish"),
    ("date_of_birth", "1980-02-30"),
    ("date_of_birth", "31/02/1964"),
    ("date_of_birth", "soon"),
    ("phone", "notaphone"),
    ("phone", "call me"),
    ("email", "bad@"),
]


def entity_count(rt: Runtime) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(Entity)) or 0


@pytest.mark.parametrize(("field", "value"), BAD_PERSON_VALUES)
def test_a_referral_or_subject_with_an_invalid_detail_is_refused_and_stores_nothing(
    client: TestClient, rt: Runtime, field: str, value: str
) -> None:
    token = investigator(rt)
    person = {"first_name": "Karl", field: value}
    body = {"person": person, "reason": "A partner's referral of a person of concern."}
    referral = client.post("/api/v1/linkage/referrals", json=body, headers=auth(token))
    assert referral.status_code == 422, referral.text
    (error,) = referral.json()["errors"]
    assert error["pointer"] == f"#/body/person/{field}" and repr(value) in error["detail"]
    subject = {"name": "Operation Larch", "person": person}
    answer = client.post("/api/v1/linkage/subjects", json=subject, headers=auth(token))
    assert answer.status_code == 422 and answer.json()["errors"][0]["pointer"].endswith(field)
    assert entity_count(rt) == 0
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subject)) == 0


@pytest.mark.parametrize(("field", "value"), BAD_PERSON_VALUES)
def test_the_csv_import_refuses_the_same_values(field: str, value: str) -> None:
    batch = read_people_csv(io.StringIO(f"id,first_name,{field}\nKP-1,Karl,{value}\n"))
    assert [e.column for e in batch.errors] == [field]


def test_every_invalid_field_of_a_person_is_named_at_once(client: TestClient, rt: Runtime) -> None:
    token = investigator(rt)
    person = {"first_name": "Karl", "date_of_birth": "soon", "phone": "call me", "email": "bad@"}
    body = {"person": person, "reason": "A partner's referral of a person of concern."}
    response = client.post("/api/v1/linkage/referrals", json=body, headers=auth(token))
    assert response.status_code == 422
    pointers = sorted(e["pointer"] for e in response.json()["errors"])
    assert pointers == [f"#/body/person/{f}" for f in ("date_of_birth", "email", "phone")]


def test_valid_details_are_stored_as_the_import_stores_them(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    person = {
        "first_name": "  Karl  ",
        "date_of_birth": "3rd Apr 1961",
        "phone": "07700 900 456",
        "email": "Karl.B@Example.ORG",
    }
    entity = refer(client, token, person)["entity"]
    batch = read_people_csv(
        io.StringIO(
            "id,first_name,date_of_birth,phone,email\n"
            f"KP-1,{person['first_name']},{person['date_of_birth']},{person['phone']},"
            f"{person['email']}\n"
        )
    )
    (imported,) = batch.records
    assert entity["properties"] == {k: list(v) for k, v in imported.properties.items()}
    assert entity["properties"]["date_of_birth"] == ["1961-04-03"]
    assert entity["properties"]["phone"] == ["+447700900456"]


# --- the known-benign list ----------------------------------------------------------------


def add_benign(client: TestClient, token: str, kind: str, value: str, reason: str) -> Any:
    body = {"kind": kind, "value": value, "reason": reason}
    return client.post("/api/v1/linkage/benign", json=body, headers=auth(token))


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("phone", "banana"),
        ("vrm", "!!!"),
        ("vrm", "BANANA"),
        ("email", "bad@"),
        ("id_number", "--"),
        ("account", "two words"),
    ],
)
def test_a_benign_value_that_is_no_identifier_of_its_kind_is_refused(
    client: TestClient, rt: Runtime, kind: str, value: str
) -> None:
    admin = staff_token(rt, "admin@example.org", role=Role.administrator)
    answer = add_benign(client, admin, kind, value, "The force's own numbers")
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert error["pointer"] == "#/body/value" and error["detail"].startswith("is not")
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(BenignValue)) == 0


def test_benign_values_are_stored_normalised_with_who_added_them(
    client: TestClient, rt: Runtime
) -> None:
    admin = staff_token(rt, "admin@example.org", role=Role.administrator)
    plate = add_benign(client, admin, "vrm", "ab12 cde", "The force's own pool car")
    assert plate.status_code == 201, plate.text
    assert plate.json()["value"] == "AB12CDE"
    assert plate.json()["added_by"] == "admin@example.org" and plate.json()["added_at"]
    mail = add_benign(client, admin, "email", "Control@Example.ORG", "The control room")
    assert mail.status_code == 201 and mail.json()["value"] == "control@example.org"

    other = staff_token(rt, "admin2@example.org", role=Role.administrator)
    listing = client.get("/api/v1/linkage/benign", headers=auth(other))
    assert [(b["value"], b["added_by"]) for b in listing.json()] == [
        ("control@example.org", "admin@example.org"),
        ("AB12CDE", "admin@example.org"),
    ]


def test_a_benign_reason_longer_than_the_history_keeps_is_refused(
    client: TestClient, rt: Runtime
) -> None:
    admin = staff_token(rt, "admin@example.org", role=Role.administrator)
    answer = add_benign(client, admin, "name", "Some Body", "x" * 501)
    assert answer.status_code == 422  # on PostgreSQL this was a 500 (audit purpose limit)


def test_confirming_a_match_alerts_a_subjects_team_the_reviewer_may_not_see(
    client: TestClient, rt: Runtime
) -> None:
    """The confirmed pair's identity already holds another organisation's SECRET subject
    (an earlier confirmation by someone who could see both): the reviewer sees neither that
    subject nor its entity, yet the merge takes it along and its team is alerted."""
    theirs = investigator(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",))
    known = add_subject(client, theirs, person={"first_name": "Karl", "last_name": "Brandt"})
    (subject_entity,) = known["entity_ids"]
    hub = investigator(rt)
    hub_org = org_id(rt, rt.settings.receiving_org)
    (match_id,) = stored_matches(rt, hub_org, [0.5])  # below any alert threshold

    def already_confirmed(session: Session) -> None:  # the known side shares their identity
        match = session.get(Match, match_id)
        assert match is not None
        known_side = session.get(Entity, match.other_entity_id)
        theirs_entity = session.get(Entity, subject_entity)
        assert known_side is not None and theirs_entity is not None
        known_side.identity_id = theirs_entity.identity_id

    rt.db.write_sync(already_confirmed)
    before = alerts_of(rt, known["reference"])

    answer = review(client, hub, match_id, "positive", "Same person: same date of birth.")

    assert answer.status_code == 200, answer.text
    assert alerts_of(rt, known["reference"]) == before + 1  # their team hears of it
    with rt.db.session() as session:
        match = session.get(Match, match_id)
        assert match is not None
        ids = {match.entity_id, match.other_entity_id, subject_entity}
        identities = session.scalars(select(Entity.identity_id).where(Entity.id.in_(ids))).all()
    assert len(set(identities)) == 1  # one identity, the entity they may not see included


def alerts_of(rt: Runtime, subject_reference: str) -> int:
    with rt.db.session() as session:
        counted = (
            select(func.count())
            .select_from(Alert)
            .join(Subject, Subject.id == Alert.subject_id)
            .where(Subject.reference == subject_reference)
        )
        return session.scalar(counted) or 0
