"""Permissions (``area:resource:action``) and the roles that hold them.

Every route declares one permission; roles are only bundles of permissions, so a new role
never needs code changes in the areas.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    public_report_submit = "intake:report:submit"
    public_followup_submit = "intake:followup:submit"
    report_read = "intake:report:read"
    report_export = "intake:report:export"
    report_message_send = "intake:message:send"
    attachment_original_download = "intake:attachment:download"  # originals, with metadata
    record_share = "access:record:share"
    reporter_identity_disclose = "intake:identity:disclose"
    staff_console_view = "access:console:view"
    audit_read = "audit:event:read"
    audit_export = "audit:event:export"
    system_health = "system:health:read"
    public_pages_view = "intake:pages:view"
    triage_queue_read = "triage:queue:read"
    triage_decide = "triage:report:decide"
    triage_configure = "triage:config:write"
    jobs_read = "jobs:job:read"
    linkage_read = "linkage:entity:read"
    linkage_review = "linkage:match:review"
    linkage_import = "linkage:entity:import"
    subjects_manage = "linkage:subject:write"
    benign_manage = "linkage:benign:write"
    alerts_read = "linkage:alert:read"
    alerts_decide = "linkage:alert:decide"
    referral_submit = "linkage:referral:submit"
    cases_read = "cases:case:read"
    cases_write = "cases:case:write"
    case_actions_update = "cases:action:update"
    stats_read = "stats:summary:read"
    search_read = "search:record:read"


PUBLIC_PERMISSIONS = frozenset(
    {
        Permission.public_report_submit,
        Permission.public_followup_submit,
        Permission.system_health,
        Permission.public_pages_view,
    }
)


class Role(StrEnum):
    triage_analyst = "triage_analyst"
    investigator = "investigator"
    partner_practitioner = "partner_practitioner"
    supervisor = "supervisor"
    auditor = "auditor"
    administrator = "administrator"
    reporter_custodian = "reporter_custodian"


class OrganisationKind(StrEnum):
    ct_policing = "ct_policing"
    police = "police"
    security_service = "security_service"
    health = "health"
    social_services = "social_services"
    local_authority = "local_authority"
    probation = "probation"
    other = "other"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.triage_analyst: frozenset(
        {
            Permission.report_read,
            Permission.attachment_original_download,
            Permission.report_message_send,
            Permission.record_share,
            Permission.triage_queue_read,
            Permission.triage_decide,
            Permission.linkage_read,
            Permission.linkage_review,
            Permission.alerts_read,
            Permission.cases_read,
            Permission.cases_write,
            Permission.case_actions_update,
            Permission.search_read,
        }
    ),
    Role.investigator: frozenset(
        {
            Permission.report_read,
            Permission.attachment_original_download,
            Permission.report_message_send,
            Permission.record_share,
            Permission.linkage_read,
            Permission.linkage_review,
            Permission.linkage_import,
            Permission.subjects_manage,
            Permission.alerts_read,
            Permission.alerts_decide,
            Permission.referral_submit,
            Permission.cases_read,
            Permission.cases_write,
            Permission.case_actions_update,
            Permission.search_read,
        }
    ),
    Role.partner_practitioner: frozenset(
        {
            Permission.referral_submit,
            Permission.cases_read,
            Permission.case_actions_update,
            Permission.search_read,
        }
    ),
    Role.supervisor: frozenset(
        {
            Permission.report_read,
            Permission.attachment_original_download,
            Permission.report_export,
            Permission.report_message_send,
            Permission.record_share,
            Permission.triage_queue_read,
            Permission.triage_decide,
            Permission.linkage_read,
            Permission.linkage_review,
            Permission.alerts_read,
            Permission.alerts_decide,
            Permission.cases_read,
            Permission.cases_write,
            Permission.case_actions_update,
            Permission.stats_read,
            Permission.search_read,
        }
    ),
    Role.auditor: frozenset({Permission.audit_read, Permission.audit_export}),
    Role.administrator: frozenset(
        {
            Permission.report_read,
            Permission.report_export,
            Permission.report_message_send,
            Permission.triage_queue_read,
            Permission.triage_configure,
            # The queue is platform-wide (counts over every organisation, keys naming
            # records): the jobs route also requires the receiving organisation.
            Permission.jobs_read,
            Permission.linkage_import,
            Permission.benign_manage,
            Permission.stats_read,
        }
    ),
    Role.reporter_custodian: frozenset(
        {Permission.report_read, Permission.reporter_identity_disclose}
    ),
}


# Every staff member may open the console; each area decides what they see in it.
ROLE_PERMISSIONS = {r: p | {Permission.staff_console_view} for r, p in ROLE_PERMISSIONS.items()}


def permissions_for(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]
