"""People who appear in cases (victims, young people, persons of concern...).

This is the minimal record the cases domain needs (names and birth date). The
people issue adds the identity code (as a blind index), protected fields
(encrypted at rest), consents and corrections as versions.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Timestamps, UUIDPk, Versioned


class Person(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "persons"

    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None]
    #: The organisation that recorded the person (the data owner).
    owner_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
