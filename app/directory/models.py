"""Organisations, users (mirrored from tokens), teams and team membership."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, Timestamps, UUIDPk, Versioned


class Organisation(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "organisations"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))


class User(UUIDPk, Timestamps, Versioned, Base):
    """A professional, mirrored from the identity provider's token on first use."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_users_issuer_subject"),)

    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(default=False)
    #: Tokens issued before this moment are refused (immediate revocation).
    tokens_valid_after: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]


class Team(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    area: Mapped[str] = mapped_column(String(200))


class TeamMembership(UUIDPk, Timestamps, Base):
    __tablename__ = "team_memberships"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_team_memberships_team_user"),)

    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: e.g. "coordinator" or "member"; the coordinator runs the team's agenda.
    team_role: Mapped[str] = mapped_column(String(20), default="member")
