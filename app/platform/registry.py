"""Imports every domain's models so that Base.metadata is complete (Alembic, tests)."""

from app.access_requests.models import AccessRequest
from app.audit.models import AuditEvent, AuditPeriodStub
from app.casekeys.models import CaseKey
from app.cases.models import (
    Case,
    CaseExclusion,
    CaseMember,
    CaseNote,
    CaseParticipant,
    CaseTransition,
    EmergencyGrant,
)
from app.concerns.models import Concern
from app.directory.models import Organisation, Team, TeamMembership, User
from app.events.models import OutboxEvent
from app.jobs.models import JobLease, JobRun
from app.persons.models import Consent, Person, PersonVersion
from app.plans.models import (
    AgendaItem,
    Attendance,
    Measure,
    Meeting,
    MinutesEntry,
    Plan,
    PlanVersion,
)
from app.platform.db import Base
from app.platform.idempotency import IdempotencyRecord
from app.referrals.models import Referral, ReferralEvent, ServiceEntry
from app.retention.models import LegalHold
from app.risk.models import Assessment, ExternalAssessment, Incident, StoredInstrument
from app.webhooks.models import WebhookAttempt, WebhookCursor, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessRequest",
    "AgendaItem",
    "Assessment",
    "Attendance",
    "AuditEvent",
    "AuditPeriodStub",
    "Base",
    "Case",
    "CaseExclusion",
    "CaseKey",
    "CaseMember",
    "CaseNote",
    "CaseParticipant",
    "CaseTransition",
    "Concern",
    "Consent",
    "EmergencyGrant",
    "ExternalAssessment",
    "IdempotencyRecord",
    "Incident",
    "JobLease",
    "JobRun",
    "LegalHold",
    "Measure",
    "Meeting",
    "MinutesEntry",
    "Organisation",
    "OutboxEvent",
    "Person",
    "PersonVersion",
    "Plan",
    "PlanVersion",
    "Referral",
    "ReferralEvent",
    "ServiceEntry",
    "StoredInstrument",
    "Team",
    "TeamMembership",
    "User",
    "WebhookAttempt",
    "WebhookCursor",
    "WebhookDelivery",
    "WebhookEndpoint",
]
