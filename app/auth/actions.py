"""The names of what a caller may try, one per route or service step.

Which roles may take each, and the relation each needs, is the one table in
app/auth/policy.py; this module only names them (and policy.py re-exports
:class:`Action`, the way the domains import it).
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    ME_READ = "me.read"
    ORGANISATION_READ = "organisation.read"
    ORGANISATION_MANAGE = "organisation.manage"
    USER_READ = "user.read"
    USER_MANAGE = "user.manage"
    TEAM_READ = "team.read"
    TEAM_MANAGE = "team.manage"
    TEAM_MEMBER_MANAGE = "team.member.manage"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    # cases (app/cases); the relation column says which object rule applies
    CASE_CREATE = "case.create"
    CASE_LIST = "case.list"
    CASE_SEARCH = "case.search"
    CASE_READ = "case.read"
    CASE_UPDATE = "case.update"
    CASE_TRANSITION = "case.transition"
    CASE_MEMBER_READ = "case.member.read"
    CASE_MEMBER_MANAGE = "case.member.manage"
    CASE_PARTICIPANT_READ = "case.participant.read"
    CASE_PARTICIPANT_WRITE = "case.participant.write"
    CASE_NOTE_READ = "case.note.read"
    CASE_NOTE_WRITE = "case.note.write"
    CASE_EMERGENCY_ACCESS = "case.emergency_access.request"
    CASE_EMERGENCY_GRANTS_READ = "case.emergency_access.read"
    EMERGENCY_ACCESS_READ = "emergency_access.read"
    EMERGENCY_ACCESS_REVIEW = "emergency_access.review"
    INSTRUMENT_READ = "instrument.read"
    # risk (app/risk): assessments, incidents and external-tool records are case content
    INSTRUMENT_PUBLISH = "instrument.publish"
    CASE_ASSESSMENT_READ = "case.assessment.read"
    CASE_ASSESSMENT_WRITE = "case.assessment.write"
    CASE_INCIDENT_READ = "case.incident.read"
    CASE_INCIDENT_WRITE = "case.incident.write"
    CASE_EXTERNAL_READ = "case.external_assessment.read"
    CASE_EXTERNAL_WRITE = "case.external_assessment.write"
    # must-not-receive lists (app/cases/exclusions.py)
    CASE_EXCLUSION_READ = "case.exclusion.read"
    CASE_EXCLUSION_WRITE = "case.exclusion.write"
    # persons (app/persons): visible only through a case the caller can read
    PERSON_CREATE = "person.create"
    PERSON_READ = "person.read"
    PERSON_UPDATE = "person.update"
    PERSON_HISTORY_READ = "person.history.read"
    PERSON_FACTS_READ = "person.facts.read"
    PERSON_FACTS_UPDATE = "person.facts.update"
    PERSON_FACTS_HISTORY_READ = "person.facts.history.read"
    PERSON_SEARCH = "person.search"
    CONSENT_READ = "person.consent.read"
    CONSENT_WRITE = "person.consent.write"
    PERSON_ACCESS_REPORT = "person.access_report.read"
    # concerns (app/concerns)
    CONCERN_SUBMIT = "concern.submit"
    CONCERN_READ = "concern.read"
    CONCERN_SCREEN = "concern.screen"
    # plans, measures and the printable document (app/plans)
    CASE_PLAN_READ = "case.plan.read"
    CASE_PLAN_WRITE = "case.plan.write"
    CASE_PLAN_AGREE = "case.plan.agree"
    CASE_PLAN_DOCUMENT = "case.plan.document"
    CASE_MEASURE_STATUS = "case.plan.measure.status"
    # Marak meetings (app/plans/meetings.py)
    MEETING_LIST = "meeting.list"
    MEETING_READ = "meeting.read"
    MEETING_MANAGE = "meeting.manage"
    MINUTES_READ = "meeting.minutes.read"
    MINUTES_WRITE = "meeting.minutes.write"
    # what is due for the caller (app/worklist/)
    TASKS_READ = "me.tasks.read"
    # the service directory (app/referrals)
    SERVICE_READ = "service.read"
    SERVICE_MANAGE = "service.manage"
    # referrals (app/referrals): created in a case, answered by the receiving service
    CASE_REFERRAL_CREATE = "case.referral.create"
    CASE_REFERRAL_LIST = "case.referral.list"
    REFERRAL_LIST = "referral.list"
    REFERRAL_READ = "referral.read"
    REFERRAL_UPDATE = "referral.update"
    REFERRAL_TRANSITION = "referral.transition"
    # the event feed (app/events)
    EVENTS_READ = "events.read"
    # webhook subscriptions and their delivery log (app/webhooks)
    WEBHOOK_LIST = "webhook.list"
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_MANAGE = "webhook.manage"
    WEBHOOK_DELIVERY_LIST = "webhook.delivery.list"
    WEBHOOK_REDELIVER = "webhook.delivery.redeliver"
    # legal holds on retention (app/retention): the data-protection auditor's
    LEGAL_HOLD_PLACE = "legal_hold.place"
    LEGAL_HOLD_READ = "legal_hold.read"
    LEGAL_HOLD_LIFT = "legal_hold.lift"
    # a person's access request, GDPR art. 15 (app/access_requests): the data-protection
    # officer (the auditor role, docs/DOMAIN.md section 5) records, decides and exports
    ACCESS_REQUEST_CREATE = "access_request.create"
    ACCESS_REQUEST_LIST = "access_request.list"
    ACCESS_REQUEST_READ = "access_request.read"
    ACCESS_REQUEST_DECIDE = "access_request.decide"
    ACCESS_REQUEST_EXPORT = "access_request.export"
