"""The Finnish personal identity code (henkilötunnus, hetu).

``DDMMYYCZZZQ``: birth date, century sign, individual number, check character.
Since 2023 the 1900s use ``-`` or ``Y X W V U`` and the 2000s ``A`` or
``B C D E F``, because some birth dates ran out of individual numbers. A code
with a new sign is a different code from the one with ``-``/``A`` (a different
person), so the sign is never folded when normalising or indexing.

Individual numbers 900-999 are the temporary and test series; organisations
give them to people who have no permanent code yet, so they are accepted.

Validation errors never quote the code (it is personal data).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from stdnum.exceptions import ValidationError
from stdnum.fi import hetu

from app.platform.crypto import KeyRing

BLIND_INDEX_PURPOSE = "persons.identity_code"
CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
#: The sign written for new codes in each century (the 2023 signs are alternatives).
CENTURY_SIGNS = {1800: "+", 1900: "-", 2000: "A"}
_CENTURY_OF_SIGN = {"+": 1800, **dict.fromkeys("-YXWVU", 1900), **dict.fromkeys("ABCDEF", 2000)}


class InvalidIdentityCode(ValueError):
    """The code is malformed, has an impossible date or a wrong check character."""


def normalise(value: str) -> str:
    """The canonical form (upper case, no surrounding space), validated."""
    try:
        return str(hetu.validate(value.strip(), allow_temporary=True))
    except ValidationError as exc:
        raise InvalidIdentityCode("not a valid Finnish personal identity code") from exc


def birth_date_of(code: str) -> date:
    """The birth date a (valid, normalised) code encodes."""
    century = _CENTURY_OF_SIGN[code[6]]
    return date(century + int(code[4:6]), int(code[2:4]), int(code[0:2]))


def blind_index(keyring: KeyRing, code: str) -> str:
    """The lookup key stored instead of the code: HMAC of the normalised code."""
    return keyring.blind_index(BLIND_INDEX_PURPOSE, normalise(code))


def make_code(birth: date, individual: int, sign: str | None = None) -> str:
    """Build a code with a correct check character (demo data and tests).

    Demo people use the 900-999 series, which is never a permanent code.
    """
    if not 2 <= individual <= 999:
        raise ValueError("the individual number is 002-999")
    century = birth.year - birth.year % 100
    sign = sign or CENTURY_SIGNS[century]
    if _CENTURY_OF_SIGN.get(sign) != century:
        raise ValueError("the century sign does not match the birth year")
    digits = f"{birth:%d%m%y}{individual:03d}"
    return f"{digits[:6]}{sign}{digits[6:]}{CHECK_CHARACTERS[int(digits) % 31]}"


def _validate(value: str) -> str:
    try:
        return normalise(value)
    except InvalidIdentityCode as exc:
        # Pydantic turns this into a 422 listing the field, without the value.
        raise ValueError("not a valid Finnish personal identity code") from exc


#: Request-body type: a valid identity code, normalised; invalid ones give 422.
IdentityCode = Annotated[
    str, StringConstraints(min_length=11, max_length=13), AfterValidator(_validate)
]
