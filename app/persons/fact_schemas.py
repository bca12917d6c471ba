"""API shapes of the facts one case records about a person (address or shelter,
phones, safe contact with the feared persons).

As with the person reads, each visibility has its own schema, so a field the
caller may not see is absent rather than null.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from app.persons.schemas import Address, PersonSafeContact, Phone, Visibility
from app.platform.inputs import Input


class FactsUpdate(Input):
    """A correction of this case's facts: send what changes, with the reason."""

    reason: str = Field(min_length=5, max_length=2000, description="Why this is corrected.")
    address: Address | None = None
    phones: list[Phone] | None = Field(default=None, max_length=5)
    safe_contact: PersonSafeContact | None = None

    @model_validator(mode="after")
    def _something(self) -> FactsUpdate:
        if not self.model_fields_set - {"reason"}:
            raise ValueError("nothing to correct")
        return self

    def changes(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.model_fields_set - {"reason"}}


class _FactsCore(BaseModel):
    case_id: uuid.UUID
    person_id: uuid.UUID
    non_disclosure: bool = Field(description="Turvakielto: never disclose where the person is.")
    version: int = Field(description="The ETag; 0 while this case has recorded nothing.")
    updated_at: datetime | None


class FactsBasic(_FactsCore):
    """Your role sees none of the facts."""

    visibility: Literal[Visibility.BASIC] = Visibility.BASIC


class FactsAddressWithheld(_FactsCore):
    visibility: Literal[Visibility.ADDRESS_WITHHELD] = Visibility.ADDRESS_WITHHELD
    phones: list[Phone]
    safe_contact: PersonSafeContact | None


class FactsProtected(_FactsCore):
    visibility: Literal[Visibility.PROTECTED] = Visibility.PROTECTED
    address: Address | None
    phones: list[Phone]
    safe_contact: PersonSafeContact | None


AnyFacts = Annotated[
    FactsBasic | FactsAddressWithheld | FactsProtected, Field(discriminator="visibility")
]


class FactsSnapshotBasic(BaseModel):
    visibility: Literal[Visibility.BASIC] = Visibility.BASIC


class FactsSnapshotAddressWithheld(BaseModel):
    visibility: Literal[Visibility.ADDRESS_WITHHELD] = Visibility.ADDRESS_WITHHELD
    phones: list[Phone]
    safe_contact: PersonSafeContact | None


class FactsSnapshotProtected(BaseModel):
    visibility: Literal[Visibility.PROTECTED] = Visibility.PROTECTED
    address: Address | None
    phones: list[Phone]
    safe_contact: PersonSafeContact | None


AnyFactsSnapshot = Annotated[
    FactsSnapshotBasic | FactsSnapshotAddressWithheld | FactsSnapshotProtected,
    Field(discriminator="visibility"),
]


class FactsVersionRead(BaseModel):
    version: int
    author_id: uuid.UUID
    author_name: str
    author_organisation_id: uuid.UUID
    reason: str
    changed_fields: list[str] = Field(description="The fields this version changed that you see.")
    created_at: datetime
    snapshot: AnyFactsSnapshot


class FactsHistory(BaseModel):
    case_id: uuid.UUID
    person_id: uuid.UUID
    versions: list[FactsVersionRead]
