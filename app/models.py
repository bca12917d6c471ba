"""Imports every domain's models so that Base.metadata is complete (Alembic, tests)."""

from app.audit.models import AuditEvent
from app.cases.models import (
    Case,
    CaseMember,
    CaseNote,
    CaseParticipant,
    CaseTransition,
    EmergencyGrant,
)
from app.db import Base
from app.directory.models import Organisation, Team, TeamMembership, User
from app.idempotency import IdempotencyRecord
from app.persons.models import Person

__all__ = [
    "AuditEvent",
    "Base",
    "Case",
    "CaseMember",
    "CaseNote",
    "CaseParticipant",
    "CaseTransition",
    "EmergencyGrant",
    "IdempotencyRecord",
    "Organisation",
    "Person",
    "Team",
    "TeamMembership",
    "User",
]
