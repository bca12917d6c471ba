"""Legal holds: a case or a person that retention must not purge while the hold stands."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, Timestamps, UUIDPk, Versioned


class LegalHold(UUIDPk, Timestamps, Versioned, Base):
    """A hold on one case or person, placed and lifted by a data-protection auditor.

    No foreign key to the target: a hold names a case or a person by id, and a
    lifted hold is kept as history until its target is purged (then it goes with
    it). The ground is short free text and is audited only by the hold's id.
    """

    __tablename__ = "legal_holds"
    __table_args__ = (
        Index("ix_legal_holds_target", "target_type", "target_id"),
        Index("ix_legal_holds_created_at_id", "created_at", "id"),
    )

    #: case | person
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[uuid.UUID]
    ground: Mapped[str] = mapped_column(String(300))
    placed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    lift_ground: Mapped[str | None] = mapped_column(String(300))
