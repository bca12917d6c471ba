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
    it). Why it is placed (and lifted) is a code, not prose: a ``HoldGround``
    (``LiftGround``) and a short matter reference (a case or diary number such
    as ``R 23/1234`` or ``POL-2026-17``), validated against ``REFERENCE_PATTERN``
    (app/retention/schemas.py) so no narrative, and so no third person's story,
    lands in the row. Audited only by the hold's id.

    Holds placed before migration 0022 had a free-text ground: they carry the
    code ``other``; their old text was kept as the reference when it was a
    reference already (matched the pattern), otherwise dropped and the
    reference left empty (NULL; the migration's docstring says why).
    """

    __tablename__ = "legal_holds"
    __table_args__ = (
        Index("ix_legal_holds_target", "target_type", "target_id"),
        Index("ix_legal_holds_created_at_id", "created_at", "id"),
    )

    #: case | person
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[uuid.UUID]
    #: A HoldGround code.
    ground: Mapped[str] = mapped_column(String(30))
    #: The matter reference (REFERENCE_PATTERN); NULL only on migrated rows.
    reference: Mapped[str | None] = mapped_column(String(40))
    placed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: A LiftGround code.
    lift_ground: Mapped[str | None] = mapped_column(String(30))
    lift_reference: Mapped[str | None] = mapped_column(String(40))
