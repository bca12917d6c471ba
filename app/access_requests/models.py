"""A person's access request (GDPR art. 15) and its decision.

The row holds ids, codes and dates only: who asked is the person (by id), how
their identity was verified is a code, and the decision's ground is a code.
The export itself is never stored: it is generated from the live records on
each request (app/access_requests/export.py), so there is no second copy of
the person's data to seal, guard and delete.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, Timestamps, UUIDPk, Versioned


class AccessRequest(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "access_requests"
    __table_args__ = (
        Index("ix_access_requests_status_due", "status", "due_on"),
        Index("ix_access_requests_person_id", "person_id"),
        Index("ix_access_requests_organisation_created", "organisation_id", "created_at", "id"),
    )

    #: The person the request is about (the data subject). The request goes with
    #: the person when retention removes them; the audit log keeps its ids.
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    #: person | guardian | representative (a RequesterKind)
    requester_kind: Mapped[str] = mapped_column(String(20))
    #: An IdentityVerification code: how the requester's identity was verified.
    identity_verification: Mapped[str] = mapped_column(String(40))
    received_on: Mapped[date]
    #: One month from receipt; three once extended (GDPR art. 12(3)).
    due_on: Mapped[date]
    #: An ExtensionReason code, once the deadline was extended.
    extension_reason: Mapped[str | None] = mapped_column(String(30))
    #: recorded | approved | refused (a RequestStatus)
    status: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    decided_at: Mapped[datetime | None]
    #: A RefusalGround code (refused requests only).
    refusal_ground: Mapped[str | None] = mapped_column(String(40))
    #: A WithholdingGround code: police operational data withheld from the export.
    withholding_ground: Mapped[str | None] = mapped_column(String(40))
    first_exported_at: Mapped[datetime | None]
    export_count: Mapped[int] = mapped_column(default=0)
    #: The controller organisation handling the request: the recording auditor's.
    #: Only its auditors list, read, decide, extend and export it (others: 404).
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    #: A pending deadline extension (four eyes): its ExtensionReason code, who
    #: proposed it and when. Another auditor of the organisation confirms it.
    extension_proposed_reason: Mapped[str | None] = mapped_column(String(30))
    extension_proposed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    extension_proposed_at: Mapped[datetime | None]
    extended_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )


class AccessRequestDelivery(UUIDPk, Base):
    """One export handed out: the SHA-256 of the exact bytes delivered, never the bytes.

    With the hash a controller can later show which export a person received
    (they hold the file, the service holds its digest) without keeping a copy.
    """

    __tablename__ = "access_request_deliveries"
    __table_args__ = (Index("ix_access_request_deliveries_request", "request_id", "delivered_at"),)

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("access_requests.id", ondelete="CASCADE")
    )
    #: json | pdf
    kind: Mapped[str] = mapped_column(String(10))
    #: Lower-case hex SHA-256 of the response body as sent.
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    delivered_at: Mapped[datetime]
    delivered_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
