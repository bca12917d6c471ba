"""Legal hold API shapes."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from app.platform.inputs import Input


class HoldTarget(StrEnum):
    CASE = "case"
    PERSON = "person"


class HoldGround(StrEnum):
    """Why a hold is placed: the proceedings that need the records kept."""

    LITIGATION = "litigation"
    CRIMINAL_INVESTIGATION = "criminal_investigation"
    SUPERVISORY_AUTHORITY = "supervisory_authority"
    ACCESS_REQUEST = "access_request"
    #: Also every hold placed before grounds were coded (migration 0022).
    OTHER = "other"


class LiftGround(StrEnum):
    """Why a hold is lifted."""

    PROCEEDINGS_CONCLUDED = "proceedings_concluded"
    INVESTIGATION_CLOSED = "investigation_closed"
    AUTHORITY_RELEASED = "authority_released"
    ACCESS_REQUEST_ANSWERED = "access_request_answered"
    PLACED_IN_ERROR = "placed_in_error"
    OTHER = "other"


#: A case or diary number, not prose: one or two tokens of letters, digits and
#: ``/ . _ : -``, at least one digit, 40 characters at most ("R 23/1234",
#: "Dnro POL-2026-17", "HO-2026/88"). A story ("litigation Virtanen v. city") fails.
_T = "[0-9A-Za-zÅÄÖåäö/._:-]"
_D = f"[A-Za-zÅÄÖåäö/._:-]*[0-9]{_T}*"
REFERENCE_PATTERN = f"^({_D}( {_T}+)?|{_T}+ {_D})$"
#: The reference outlives crypto-shredding and retention (it is plain text), so
#: it must not carry a name: every run of letters is a register code in capitals
#: ("R", "POL", "KRP", at most 8) or the diary abbreviation ("Dnro", "Dno", "nro").
#: "Virtanen-12/2026" or "Aho 4/2026" fail; a name in capitals can still pass.
_LETTERS = re.compile(r"[^\W\d_]+")
_CODE = re.compile(r"[A-ZÅÄÖ]{1,8}|[Dd]nr?o|nro")


def _no_words(value: str) -> str:
    if not all(_CODE.fullmatch(run) for run in _LETTERS.findall(value)):
        # The message never quotes the input: it may be a name.
        raise PydanticCustomError(
            "reference_words",
            "Letters in a reference are capital register codes (R, POL, KRP) or Dnro, "
            "never a word or a name.",
        )
    return value


_REFERENCE_DESCRIPTION = (
    "The matter's case or diary number (e.g. 'R 23/1234', 'Dnro POL-2026-17'): one or two "
    "tokens of digits, / . _ : - and capital register codes, with a digit; never a "
    "narrative or a name."
)
Reference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=REFERENCE_PATTERN,
        description=_REFERENCE_DESCRIPTION,
    ),
    AfterValidator(_no_words),
]


class LegalHoldCreate(Input):
    target_type: HoldTarget
    target_id: uuid.UUID
    ground: HoldGround = Field(description="Why the hold is placed, as a code.")
    reference: Reference


class LegalHoldLift(Input):
    ground: LiftGround = Field(description="Why the hold is lifted, as a code.")
    reference: Reference | None = None


class LegalHoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    target_type: HoldTarget
    target_id: uuid.UUID
    ground: HoldGround
    reference: str | None = Field(description="Empty only on holds migrated from free text.")
    placed_by: uuid.UUID
    created_at: datetime
    active: bool
    lifted_at: datetime | None
    lifted_by: uuid.UUID | None
    lift_ground: LiftGround | None
    lift_reference: str | None
    version: int
