"""Imports every domain's models so that Base.metadata is complete (Alembic, tests)."""

from app.audit.models import AuditEvent
from app.db import Base
from app.directory.models import Organisation, Team, TeamMembership, User

__all__ = ["AuditEvent", "Base", "Organisation", "Team", "TeamMembership", "User"]
