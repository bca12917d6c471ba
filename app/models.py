"""Imports every domain's models so that Base.metadata is complete (Alembic, tests)."""

from app.audit.models import AuditEvent
from app.db import Base
from app.directory.models import Organisation, Team, TeamMembership, User
from app.persons.models import Person

__all__ = ["AuditEvent", "Base", "Organisation", "Person", "Team", "TeamMembership", "User"]
