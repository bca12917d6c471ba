"""The service directory: where cases are referred to (DOMAIN.md section 3)."""

from __future__ import annotations

import uuid

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Timestamps, UUIDPk, Versioned


class ServiceEntry(UUIDPk, Timestamps, Versioned, Base):
    """A service a case can be referred to. Holds public contact channels only."""

    __tablename__ = "service_entries"
    __table_args__ = (
        UniqueConstraint(
            "provider_organisation_id", "name", name="uq_service_entries_provider_name"
        ),
    )

    provider_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    service_type: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Municipalities or regions served; "national" for a nationwide service.
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: fi / sv / en / other
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Public phone number and public web address only: never a person's contact.
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_web: Mapped[str | None] = mapped_column(String(300))
    accepts_electronic_referrals: Mapped[bool] = mapped_column(default=False)
    response_time_target_days: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
