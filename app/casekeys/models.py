"""Per-case data keys (crypto-shredding; docs/ARCHITECTURE.md, "Case keys").

Each case's protected values are sealed under a data key of its own, which is
stored here wrapped (sealed) by the primary field key. Destroying the row's
key makes every value of the case unreadable, in this database and in any
backup taken after the destruction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, utcnow


class CaseKey(Base):
    """A case's data key, wrapped by a field key; ``destroyed_at`` once shredded."""

    __tablename__ = "case_keys"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``v1.<kid>.<...>``: the 32-byte data key sealed under field key ``kid``
    #: (associated data: table case_keys, the case id). NULL once destroyed.
    wrapped_key: Mapped[str | None] = mapped_column(Text)
    #: The field key that wraps it (``keys rotate`` rewraps under the primary).
    key_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None]
