"""Person API shapes.

Reads come in *separate* schemas, one per visibility, so a field a caller
may not see is absent from the response rather than null:

- :class:`PersonRead`: names, birth date, language and the non-disclosure
  flag, for every reader of a case the person is in;
- :class:`PersonReadIdentity`: adds the identity code, for the roles that
  see protected fields, when no case is named (identity is shared by every
  case of the person; facts are not);
- :class:`PersonReadProtected`: identity plus the facts (address, phones,
  safe contact) *one named case* recorded, for the roles that need them
  (docs/DOMAIN.md section 4);
- :class:`PersonReadAddressWithheld`: the same without the address, for a
  person under turvakielto and a reader who may see protected fields but not
  a non-disclosed address.

Every schema carries ``non_disclosure``, so turvakielto is flagged everywhere.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from app.persons.identity import IdentityCode, birth_date_of
from app.platform.inputs import Input
from app.platform.language import SpokenLanguage


class Visibility(StrEnum):
    BASIC = "basic"
    IDENTITY = "identity"
    PROTECTED = "protected"
    ADDRESS_WITHHELD = "address_withheld"


Name = Annotated[str, Field(min_length=1, max_length=200)]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]


class Address(Input):
    """A home address or a shelter location: both are protected."""

    street: str = Field(min_length=1, max_length=200)
    postal_code: str | None = Field(default=None, max_length=10, pattern=r"^[A-Za-z0-9 -]+$")
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=60)
    is_shelter: bool = Field(default=False, description="A shelter (turvakoti) location.")


class Phone(Input):
    number: str = Field(min_length=3, max_length=30, pattern=r"^\+?[0-9 ()-]{3,30}$")
    label: str | None = Field(default=None, max_length=50)
    safe_to_call: bool | None = Field(default=None, description="Is this number safe to call?")


class PersonSafeContact(Input):
    """The Marak safe-contact form: how and when contact is safe, and with whom."""

    safe_to_call: bool | None = None
    safe_times: ShortText | None = None
    feared_persons: ShortText | None = Field(default=None, description="Whom the person fears.")
    safe_to_talk_to: ShortText | None = None
    not_safe_to_talk_to: ShortText | None = None


class PersonFields(Input):
    """Everything that describes a person; protected fields are encrypted at rest.

    Names, birth date, language, identity code and non-disclosure are the
    person's identity (shared); address, phones and safe contact are recorded
    as the facts of the case the person is recorded into."""

    given_name: Name
    family_name: Name
    birth_date: date | None = None
    identity_code: IdentityCode | None = Field(
        default=None, description="Henkilötunnus; stored only encrypted and as a blind index."
    )
    preferred_language: SpokenLanguage | None = None
    address: Address | None = None
    phones: list[Phone] = Field(default_factory=list, max_length=5)
    safe_contact: PersonSafeContact | None = None
    non_disclosure: bool = Field(
        default=False, description="Turvakielto: the address must never be disclosed."
    )

    @model_validator(mode="after")
    def _dates(self) -> PersonFields:
        check_birth_date(self.birth_date, self.identity_code)
        if self.birth_date is None and self.identity_code is not None:
            self.birth_date = birth_date_of(self.identity_code)
        return self


def check_birth_date(birth: date | None, code: str | None) -> None:
    if birth is not None and birth > date.today():
        raise ValueError("birth_date is in the future")
    if birth is not None and code is not None and birth_date_of(code) != birth:
        raise ValueError("birth_date does not match the identity code")


PROTECTED_FIELDS = frozenset(
    {"identity_code", "address", "phones", "safe_contact", "non_disclosure"}
)
BASIC_FIELDS = frozenset({"given_name", "family_name", "birth_date", "preferred_language"})
#: Recorded per case (app/persons/facts.py), never on the shared person.
FACT_FIELDS = frozenset({"address", "phones", "safe_contact"})


class PersonUpdate(Input):
    """A correction of the identity: send only what changes, with the reason and
    the case you make it through. It becomes a new version, shown to that
    case's readers. Address, phones and safe contact are a case's facts:
    PATCH /api/v1/cases/{case_id}/persons/{person_id}/facts."""

    reason: str = Field(min_length=5, max_length=2000, description="Why this is corrected.")
    case_id: uuid.UUID = Field(description="The case (yours, with the person) it is made through.")
    given_name: Name | None = None
    family_name: Name | None = None
    birth_date: date | None = None
    identity_code: IdentityCode | None = None
    preferred_language: SpokenLanguage | None = None
    non_disclosure: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> PersonUpdate:
        changes = self.model_fields_set - {"reason", "case_id"}
        if not changes:
            raise ValueError("nothing to correct")
        for required in ("given_name", "family_name", "non_disclosure"):
            if required in changes and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be removed")
        return self

    def changes(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.model_fields_set - {"reason", "case_id"}}


# --- reads -------------------------------------------------------------------------


class _PersonCore(BaseModel):
    id: uuid.UUID
    given_name: str
    family_name: str
    birth_date: date | None
    preferred_language: SpokenLanguage | None
    non_disclosure: bool = Field(description="Turvakielto: never disclose where the person is.")
    identity_code_recorded: bool
    owner_organisation_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int


class PersonRead(_PersonCore):
    """Without protected fields."""

    visibility: Literal[Visibility.BASIC] = Visibility.BASIC


class PersonReadIdentity(_PersonCore):
    """The identity with its protected identity code; no case named, so no facts."""

    visibility: Literal[Visibility.IDENTITY] = Visibility.IDENTITY
    identity_code: str | None


class PersonReadAddressWithheld(_PersonCore):
    """Identity and one case's facts, except the address of a person under turvakielto."""

    visibility: Literal[Visibility.ADDRESS_WITHHELD] = Visibility.ADDRESS_WITHHELD
    case_id: uuid.UUID = Field(description="The case whose facts these are.")
    identity_code: str | None
    phones: list[Phone]
    safe_contact: PersonSafeContact | None


class PersonReadProtected(_PersonCore):
    """Identity and every fact one case recorded."""

    visibility: Literal[Visibility.PROTECTED] = Visibility.PROTECTED
    case_id: uuid.UUID = Field(description="The case whose facts these are.")
    identity_code: str | None
    address: Address | None
    phones: list[Phone]
    safe_contact: PersonSafeContact | None


AnyPersonRead = Annotated[
    PersonRead | PersonReadIdentity | PersonReadAddressWithheld | PersonReadProtected,
    Field(discriminator="visibility"),
]


class PersonCreated(BaseModel):
    """What creating returns: never protected fields, so no stored response holds them."""

    person: PersonRead
    participant_id: uuid.UUID
    case_id: uuid.UUID


# --- history -----------------------------------------------------------------------


class _SnapshotCore(BaseModel):
    given_name: str
    family_name: str
    birth_date: date | None
    preferred_language: SpokenLanguage | None
    non_disclosure: bool


class SnapshotBasic(_SnapshotCore):
    visibility: Literal[Visibility.BASIC] = Visibility.BASIC


class SnapshotIdentity(_SnapshotCore):
    visibility: Literal[Visibility.IDENTITY] = Visibility.IDENTITY
    identity_code: str | None


AnySnapshot = Annotated[SnapshotBasic | SnapshotIdentity, Field(discriminator="visibility")]


class PersonVersionRead(BaseModel):
    version: int
    case_id: uuid.UUID | None = Field(description="The case the correction was made through.")
    author_id: uuid.UUID
    author_name: str
    author_organisation_id: uuid.UUID
    reason: str
    changed_fields: list[str] = Field(description="The fields this version changed that you see.")
    created_at: datetime
    snapshot: AnySnapshot


class PersonHistory(BaseModel):
    """The identity's versions made through cases you can read (others are not shown)."""

    person_id: uuid.UUID
    versions: list[PersonVersionRead]


# --- search ------------------------------------------------------------------------


class PersonSearch(Input):
    """By identity code, or by full name and birth date. Only ever in a body."""

    identity_code: IdentityCode | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    birth_date: date | None = None

    @model_validator(mode="after")
    def _one_way(self) -> PersonSearch:
        by_name = (self.given_name, self.family_name, self.birth_date)
        if self.identity_code is not None:
            if any(v is not None for v in by_name):
                raise ValueError("search by identity code or by name, not both")
        elif any(v is None for v in by_name):
            raise ValueError("give identity_code, or given_name, family_name and birth_date")
        return self


class MatchHandle(BaseModel):
    """Someone matching is recorded, in no case you can see. Attach them to a new
    case with this handle (POST /api/v1/persons) instead of recording a duplicate."""

    handle: str
    expires_at: datetime


class PersonSearchResult(BaseModel):
    items: list[AnyPersonRead]
    match: MatchHandle | None = None
    ambiguous: bool = Field(
        default=False,
        description="Several people match outside your cases; search by identity code.",
    )
