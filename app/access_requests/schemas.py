"""Access request shapes: the request, its decision, and the export.

Every free choice is a code (how identity was verified, why the deadline was
extended, why the request was refused or police data withheld), never an
essay: the row and the audit log stay free of personal data. Each ground
carries its legal reference; a reference not yet confirmed says so.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.persons.access_report import AccessReport
from app.platform.clock import clock
from app.platform.inputs import Input


class RequestStatus(StrEnum):
    RECORDED = "recorded"
    APPROVED = "approved"
    REFUSED = "refused"


class RequesterKind(StrEnum):
    PERSON = "person"
    GUARDIAN = "guardian"
    REPRESENTATIVE = "representative"


class IdentityVerification(StrEnum):
    """How the requester's identity (and a representative's mandate) was verified."""

    IN_PERSON_IDENTITY_DOCUMENT = "in_person_identity_document"
    STRONG_ELECTRONIC_IDENTIFICATION = "strong_electronic_identification"
    SIGNED_REQUEST_WITH_DOCUMENT_COPY = "signed_request_with_document_copy"
    REPRESENTATIVE_MANDATE_VERIFIED = "representative_mandate_verified"


class ExtensionReason(StrEnum):
    """GDPR art. 12(3): two further months "where necessary, taking into account
    the complexity and number of the requests"."""

    COMPLEXITY = "complexity"
    NUMBER_OF_REQUESTS = "number_of_requests"


class RefusalGround(StrEnum):
    MANIFESTLY_UNFOUNDED_OR_EXCESSIVE = "manifestly_unfounded_or_excessive"
    IDENTITY_NOT_ESTABLISHED = "identity_not_established"
    RIGHTS_AND_FREEDOMS_OF_OTHERS = "rights_and_freedoms_of_others"
    DANGER_TO_HEALTH_OR_SAFETY = "danger_to_health_or_safety"
    POLICE_OPERATIONAL_DATA = "police_operational_data"


class WithholdingGround(StrEnum):
    """Withholding police operational data: the Law Enforcement Directive's own list."""

    OBSTRUCTING_INQUIRIES = "obstructing_inquiries"
    PREJUDICING_CRIME_PREVENTION = "prejudicing_crime_prevention"
    PUBLIC_SECURITY = "public_security"
    NATIONAL_SECURITY = "national_security"
    RIGHTS_AND_FREEDOMS_OF_OTHERS = "rights_and_freedoms_of_others"


#: ground -> (legal reference, confirmed). An unconfirmed one is shown "(to confirm)".
REFUSAL_REFERENCES: dict[str, tuple[str, bool]] = {
    RefusalGround.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE: ("GDPR art. 12(5)(b)", True),
    RefusalGround.IDENTITY_NOT_ESTABLISHED: ("GDPR art. 12(2) and 11(2)", True),
    RefusalGround.RIGHTS_AND_FREEDOMS_OF_OTHERS: (
        "GDPR art. 15(4) and 23; Data Protection Act 1050/2018 s.34",
        False,
    ),
    RefusalGround.DANGER_TO_HEALTH_OR_SAFETY: ("Data Protection Act 1050/2018 s.34", False),
    RefusalGround.POLICE_OPERATIONAL_DATA: (
        "Directive (EU) 2016/680 art. 15(1); Act 1054/2018 s.28",
        False,
    ),
}
#: The directive's grounds are certain; the Finnish provision implementing them
#: (NATIONAL_POLICE_REFERENCE) is to confirm.
WITHHOLDING_REFERENCES: dict[str, tuple[str, bool]] = {
    WithholdingGround.OBSTRUCTING_INQUIRIES: ("Directive (EU) 2016/680 art. 15(1)(a)", True),
    WithholdingGround.PREJUDICING_CRIME_PREVENTION: (
        "Directive (EU) 2016/680 art. 15(1)(b)",
        True,
    ),
    WithholdingGround.PUBLIC_SECURITY: ("Directive (EU) 2016/680 art. 15(1)(c)", True),
    WithholdingGround.NATIONAL_SECURITY: ("Directive (EU) 2016/680 art. 15(1)(d)", True),
    WithholdingGround.RIGHTS_AND_FREEDOMS_OF_OTHERS: (
        "Directive (EU) 2016/680 art. 15(1)(e)",
        True,
    ),
}
NATIONAL_POLICE_REFERENCE = "Act 1054/2018 s.28 (to confirm)"


def legal_reference(table: dict[str, tuple[str, bool]], code: str) -> str:
    reference, confirmed = table[code]
    return reference if confirmed else f"{reference} (to confirm)"


# --- input ----------------------------------------------------------------------------


class AccessRequestCreate(Input):
    """Record a request: whose data, who asked, how their identity was verified, when."""

    person_id: uuid.UUID = Field(description="The person whose data is asked for.")
    requester_kind: RequesterKind
    identity_verification: IdentityVerification
    received_on: date = Field(description="The day the request arrived: the deadline runs from it.")

    @field_validator("received_on")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > clock.today():
            raise ValueError("received_on is in the future")
        return value


class AccessRequestApproval(Input):
    """Approve (a second person). Police operational data may be withheld on a ground."""

    withhold_police_data: WithholdingGround | None = Field(
        default=None,
        description="Withhold data recorded by police organisations, on this ground.",
    )


class AccessRequestRefusal(Input):
    """Refuse (a second person), on a ground. The decision is final."""

    ground: RefusalGround


class AccessRequestExtension(Input):
    """Propose extending the deadline by two months, once (GDPR art. 12(3)); another
    auditor of the same organisation confirms it (four eyes)."""

    reason: ExtensionReason


# --- output ---------------------------------------------------------------------------


class ExtensionProposal(BaseModel):
    """An extension waiting for a second auditor's confirmation."""

    reason: ExtensionReason
    proposed_by: uuid.UUID
    proposed_at: datetime


class DeliveryKind(StrEnum):
    JSON = "json"
    PDF = "pdf"


class ExportDeliveryRead(BaseModel):
    """One export handed out: the SHA-256 of the bytes delivered, never the bytes."""

    kind: DeliveryKind
    sha256: str = Field(description="Lower-case hex SHA-256 of the response body as sent.")
    size: int = Field(description="Bytes delivered.")
    delivered_at: datetime
    delivered_by: uuid.UUID


class AccessRequestRead(BaseModel):
    id: uuid.UUID
    organisation_id: uuid.UUID = Field(
        description="The controller organisation handling the request (the recorder's)."
    )
    person_id: uuid.UUID
    requester_kind: RequesterKind
    identity_verification: IdentityVerification
    received_on: date
    due_on: date
    extension_reason: ExtensionReason | None
    extended_by: uuid.UUID | None = Field(description="Who confirmed the extension.")
    extension_proposal: ExtensionProposal | None = Field(
        description="A pending extension, waiting for a second auditor."
    )
    overdue: bool
    status: RequestStatus
    recorded_by: uuid.UUID
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    refusal_ground: str | None
    withholding_ground: str | None
    legal_reference: str | None = Field(description="Of the refusal or withholding ground.")
    first_exported_at: datetime | None
    export_count: int
    deliveries: list[ExportDeliveryRead] = Field(
        description="Every export delivered, oldest first."
    )
    version: int


class AccessRequestPage(BaseModel):
    items: list[AccessRequestRead]
    next_cursor: str | None = None


# --- the export -----------------------------------------------------------------------


class ExportIdentity(BaseModel):
    given_name: str
    family_name: str
    birth_date: date | None
    preferred_language: str | None
    identity_code: str | None
    non_disclosure: bool
    recorded_at: datetime


class ExportFacts(BaseModel):
    """What one case recorded about reaching the person. Parts of the safe-contact
    form that name other people (whom she fears, who is and is not safe to talk
    to) are withheld under the rights of others."""

    address: dict[str, Any] | None
    phones: list[dict[str, Any]]
    safe_contact: dict[str, Any] | None
    recorded_at: datetime


class ExportConsent(BaseModel):
    id: uuid.UUID
    basis: str
    scope: str
    service_name: str | None
    given_by: str | None
    method: str | None
    obtained_at: datetime
    withdrawn_at: datetime | None


class ExportAssessment(BaseModel):
    id: uuid.UUID
    instrument_code: str
    instrument_version: int
    status: str
    assessed_on: date | None
    submitted_at: datetime | None
    score: int | None
    risk_level: str | None
    referral_criteria_met: bool | None
    next_review_on: date | None
    answers: list[dict[str, Any]]
    judgement: dict[str, Any]


class ExportIncident(BaseModel):
    id: uuid.UUID
    occurred_on: date
    source: str
    police_reported: bool
    note: str | None


class ExportMeasure(BaseModel):
    category: str
    description: str
    responsible_organisation: str
    due_date: date | None
    status: str


class ExportPlan(BaseModel):
    id: uuid.UUID
    kind: str
    version: int
    agreed_at: datetime | None
    summary: str | None
    measures: list[ExportMeasure]


class ExportNote(BaseModel):
    """A case note, scrubbed of other people's names. The author appears by
    organisation and profession, not by name."""

    id: uuid.UUID
    written_at: datetime
    author_organisation: str
    author_role: str
    kind: str
    text: str
    corrects_id: uuid.UUID | None


class ExportMinutes(BaseModel):
    """A line of a Marak meeting's minutes on the case, scrubbed like notes. Why an
    agency chose not to share something is its own reasoning and is not included."""

    id: uuid.UUID
    meeting_id: uuid.UUID
    meeting_at: datetime
    meeting_kind: str
    organisation: str
    kind: str
    information_kind: str | None
    text: str


class ExportCase(BaseModel):
    """A case the person appears in. Other participants appear by role only."""

    case_id: uuid.UUID
    reference: str
    scheme: str
    status: str
    role: str
    joined_at: datetime
    left_at: datetime | None
    opened_at: datetime
    closed_at: datetime | None
    other_participant_roles: list[str]
    facts: ExportFacts | None
    consents: list[ExportConsent]
    #: Assessments, incidents and plans are included where the person is the one
    #: the case protects or assesses (victim, young person, person of concern).
    assessments: list[ExportAssessment]
    incidents: list[ExportIncident]
    plans: list[ExportPlan]
    #: Notes and meeting minutes: like assessments, for the cases about the person.
    notes: list[ExportNote] = []
    meeting_minutes: list[ExportMinutes] = []


class ExportReferral(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    service_name: str
    reason: str
    urgency: str
    status: str
    shared_fields: list[str]
    basis_kind: str
    requested_at: datetime | None
    ended_at: datetime | None
    outcome: str | None


class ExportConcern(BaseModel):
    id: uuid.UUID
    received_at: datetime
    subject_given_name: str
    subject_family_name: str
    subject_birth_date: date | None
    description: str
    legal_basis: str
    urgency: str
    status: str
    decision: str | None
    decision_reason: str | None


class Withheld(BaseModel):
    category: str
    ground: str
    legal_reference: str


class AccessExport(BaseModel):
    """Everything held about one person that the law lets them have, and nothing
    about anyone else (docs/DOMAIN.md section 4, "Access requests")."""

    format: Literal["casecoord.access-export/1"] = "casecoord.access-export/1"
    request_id: uuid.UUID
    person_id: uuid.UUID
    generated_at: datetime
    received_on: date
    identity: ExportIdentity
    cases: list[ExportCase]
    referrals: list[ExportReferral]
    concerns: list[ExportConcern]
    access_report: AccessReport
    withheld: list[Withheld]
    #: What the export deliberately leaves out, in words, for the person to read.
    notes: list[str]
