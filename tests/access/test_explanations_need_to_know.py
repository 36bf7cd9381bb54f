"""Need-to-know in explanations, on both databases: a priority factor's evidence never counts
or names a record the reader may not see (a cluster's hidden reports, another organisation's
SECRET subject), in the API and on the report page, while the factor and its weight stay (the
score is their sum) and a reader who may see everything reads exactly what was stored; and a
referral's answer never tells the referrer that the person is a subject they may not see,
while the subject's team is still alerted."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.access.test_need_to_know import POLICE, World, share_with_police
from tests.console_more import html, staff
from tests.console_more import web as web  # fixture
from tests.factories import auth, staff_token
from tests.linkage.test_linkage_flow import PHONE_REPORT, alerts, investigator, subject
from tests.triage.test_triage_api import THREAT, report, run_pipeline, submit
from vigil.access.markings import Classification
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import ensure_organisation
from vigil.access.sharing import create_agreement
from vigil.audit.services import SYSTEM
from vigil.intake.models import Report
from vigil.triage.models import TriageResult
from vigil.web.runtime import Runtime

HEALTH = "Synthetic Health Trust"
SERVICE = "Security Service North"  # another organisation, owning a SECRET subject
KNOWN = "linkage matched a known subject"
WITHHELD = "based on records not shared with you"
CLUSTER = 5  # the default "many reports" threshold


def police_may_be_shared_with(rt: Runtime) -> str:
    """The agreement that lets the hub share reports with the police force; returns the
    token of a hub supervisor who shares them."""

    def setup(session: Session) -> None:
        hub = ensure_organisation(session, rt.settings.receiving_org, OrganisationKind.ct_policing)
        ensure_organisation(session, POLICE, OrganisationKind.police)
        create_agreement(
            session,
            SYSTEM,
            hub.name,
            POLICE,
            ["report"],
            Classification.official_sensitive,
            "Joint counter-terrorism casework",
        )

    rt.db.write_sync(setup)
    return staff_token(
        rt, "sharer@example.org", role=Role.supervisor, clearance=Classification.secret
    )


def share(client: TestClient, rt: Runtime, sharer: str, reference: str) -> None:
    assert share_with_police(World(client, rt, reference, sharer, attachment=0)) == 201


def police_analyst(rt: Runtime, email: str = "analyst@police.example.org") -> str:
    return staff_token(
        rt, email, org=POLICE, org_kind=OrganisationKind.police, teams=("Intelligence",)
    )


def stored_factors(rt: Runtime, reference: str) -> list[dict[str, Any]]:
    with rt.db.session() as session:
        factors = session.scalar(
            select(TriageResult.factors)
            .join(Report, Report.id == TriageResult.report_id)
            .where(Report.reference == reference)
        )
    assert factors is not None
    return list(factors)


def by_code(factors: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(f["code"]): f for f in factors}


def without_evidence(factors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in f.items() if k != "evidence"} for f in factors]


# --- a cluster's hidden reports ---------------------------------------------------------------


def many_reports(client: TestClient, rt: Runtime) -> list[str]:
    """Five reports of the same threat, one cluster: each scored with "many reports"."""
    references = [submit(client, THREAT) for _ in range(CLUSTER)]
    run_pipeline(rt)
    for reference in references:
        stored = by_code(stored_factors(rt, reference))
        assert stored["many_reports"]["evidence"] == f"{CLUSTER} reports in this cluster"
    return references


def test_a_partner_is_never_told_how_many_reports_are_in_a_cluster_it_cannot_see(
    client: TestClient, rt: Runtime
) -> None:
    sharer = police_may_be_shared_with(rt)
    first, second, *_ = many_reports(client, rt)
    share(client, rt, sharer, first)
    police = police_analyst(rt)

    answer = client.get(f"/api/v1/reports/{first}", headers=auth(police))
    assert answer.status_code == 200
    triage = answer.json()["triage"]
    assert triage["cluster"]["size"] == 1 and triage["cluster"]["links"] == []
    many = by_code(triage["factors"])["many_reports"]
    assert many["evidence"] == "1 report in this cluster"  # what the cluster shows them
    assert f"{CLUSTER} reports" not in answer.text
    # The factor, its weight and the priority stay: the owner shared the report with them.
    stored = stored_factors(rt, first)
    assert without_evidence(triage["factors"]) == without_evidence(stored)
    owner = report(client, staff_token(rt), first)["triage"]
    assert (triage["priority"], triage["score"]) == (owner["priority"], owner["score"])

    # A second report shared: the count follows what they may see, never beyond it.
    share(client, rt, sharer, second)
    triage = report(client, police, first)["triage"]
    assert triage["cluster"]["size"] == 2
    assert by_code(triage["factors"])["many_reports"]["evidence"] == "2 reports in this cluster"


def test_a_reader_who_sees_every_report_in_the_cluster_reads_the_stored_factors(
    client: TestClient, rt: Runtime
) -> None:
    references = many_reports(client, rt)
    analyst = staff_token(rt)  # the receiving team, which owns them all
    for reference in references:
        triage = report(client, analyst, reference)["triage"]
        assert triage["cluster"]["size"] == CLUSTER
        assert triage["factors"] == stored_factors(rt, reference)


def test_a_report_above_the_readers_clearance_is_not_counted_in_the_evidence(
    client: TestClient, rt: Runtime
) -> None:
    first, hidden, *_ = many_reports(client, rt)
    rt.db.write_sync(
        lambda session: session.execute(
            update(Report)
            .where(Report.reference == hidden)
            .values(classification=Classification.secret.value)
        )
    )
    analyst = staff_token(rt)  # cleared to OFFICIAL-SENSITIVE
    triage = report(client, analyst, first)["triage"]
    assert triage["cluster"]["size"] == CLUSTER - 1
    evidence = by_code(triage["factors"])["many_reports"]["evidence"]
    assert evidence == f"{CLUSTER - 1} reports in this cluster"


def test_the_report_page_shows_a_partner_only_the_count_it_may_see(
    web: TestClient, rt: Runtime
) -> None:
    sharer = police_may_be_shared_with(rt)
    first, *_ = many_reports(web, rt)
    share(web, rt, sharer, first)
    police = staff(
        rt,
        "page@police.example.org",
        org=POLICE,
        org_kind=OrganisationKind.police,
        teams=("Intelligence",),
    )
    page = html(web, police, f"/console/reports/{first}")
    factors = page.split("Priority factors", 1)[1].split("</table>", 1)[0]
    assert "Many independent reports of the same thing" in factors
    assert "1 report in this cluster" in factors
    assert f"{CLUSTER} reports" not in page


# --- another organisation's SECRET subject ----------------------------------------------------


def alerted_report(client: TestClient, rt: Runtime, owner: str) -> str:
    """A hub report whose phone is a subject's: the subject's team is alerted and the report
    scored with the known-subject factor."""
    subject(client, owner, person={"first_name": "Karl", "phone": "07700900123"})
    reference = submit(client, PHONE_REPORT)
    run_pipeline(rt)
    assert len(alerts(client, owner)) == 1
    assert KNOWN in by_code(stored_factors(rt, reference))["known_subject"]["evidence"]
    return reference


def test_a_known_subject_factor_does_not_explain_itself_to_readers_who_cannot_see_the_subject(
    client: TestClient, rt: Runtime
) -> None:
    sharer = police_may_be_shared_with(rt)
    service = investigator(rt, "desk4@example.org", org=SERVICE, teams=("Desk 4",))
    reference = alerted_report(client, rt, service)
    share(client, rt, sharer, reference)
    stored = stored_factors(rt, reference)
    readers = {
        "hub investigator cleared to SECRET": investigator(rt),
        "hub analyst": staff_token(rt),
        "police analyst": police_analyst(rt),
    }
    for who, token in readers.items():
        answer = client.get(f"/api/v1/reports/{reference}", headers=auth(token))
        assert answer.status_code == 200, who
        factors = answer.json()["triage"]["factors"]
        known = by_code(factors)["known_subject"]
        assert known["evidence"] == WITHHELD, who
        assert known["weight"] == by_code(stored)["known_subject"]["weight"], who
        assert without_evidence(factors) == without_evidence(stored), who
        assert KNOWN not in answer.text, who


def test_the_subjects_own_team_reads_the_known_subject_evidence_as_stored(
    client: TestClient, rt: Runtime
) -> None:
    owner = investigator(rt)  # the receiving team, cleared to SECRET: sees report and subject
    reference = alerted_report(client, rt, owner)
    assert report(client, owner, reference)["triage"]["factors"] == stored_factors(rt, reference)
    # The same team's analyst, cleared only to OFFICIAL-SENSITIVE, may not see the subject.
    known = by_code(report(client, staff_token(rt), reference)["triage"]["factors"])
    assert known["known_subject"]["evidence"] == WITHHELD


def test_the_report_page_withholds_the_known_subject_evidence_in_the_readers_language(
    web: TestClient, rt: Runtime
) -> None:
    service = investigator(rt, "desk4@example.org", org=SERVICE, teams=("Desk 4",))
    reference = alerted_report(web, rt, service)
    analyst = staff(rt, "page@example.org")
    page = html(web, analyst, f"/console/reports/{reference}")
    factors = page.split("Priority factors", 1)[1].split("</table>", 1)[0]
    assert "Matches a known subject (from linkage)" in factors
    assert WITHHELD in factors
    assert KNOWN not in page


# --- a referral naming another organisation's SECRET subject ----------------------------------


def refer(client: TestClient, token: str, person: dict[str, str]) -> dict[str, Any]:
    body = {"person": person, "reason": "Referred by the practice after worrying remarks."}
    response = client.post("/api/v1/linkage/referrals", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_referral_does_not_tell_a_partner_that_the_person_is_a_subject_it_cannot_see(
    client: TestClient, rt: Runtime
) -> None:
    service = investigator(rt, "desk4@example.org", org=SERVICE, teams=("Desk 4",))
    subject(client, service, person={"first_name": "Karl", "phone": "07700900123"})
    practitioner = staff_token(
        rt,
        "gp@health.example.org",
        role=Role.partner_practitioner,
        org=HEALTH,
        org_kind=OrganisationKind.health,
        teams=("Safeguarding",),
    )

    known = refer(client, practitioner, {"first_name": "Karl", "phone": "07700 900123"})
    unknown = refer(client, practitioner, {"first_name": "Lena", "phone": "07700 900999"})
    assert (known["matches"], known["alerts_raised"]) == ([], 0)
    assert (unknown["matches"], unknown["alerts_raised"]) == ([], 0)
    # The subject's team is still told, without the partner's record.
    (alert,) = alerts(client, service)
    assert alert["record_type"] == "entity" and alert["record_visible"] is False

    # Someone who may see the alert is told it was raised.
    mine = refer(client, service, {"first_name": "Karl", "phone": "07700 900123"})
    assert mine["alerts_raised"] == 1 and len(mine["matches"]) == 1
    assert len(alerts(client, service)) == 2
