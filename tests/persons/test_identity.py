"""The Finnish personal identity code: checksum, dates, and the 2023 century signs."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from app.persons.identity import (
    IdentityCode,
    InvalidIdentityCode,
    birth_date_of,
    blind_index,
    make_code,
    normalise,
)
from app.platform.crypto import KeyRing

# Examples published by the Digital and Population Data Services Agency (DVV)
# for the signs introduced in 2023 (all in the 900 test series).
NEW_SIGN_EXAMPLES = [
    ("010594Y9032", date(1994, 5, 1)),
    ("020594X903P", date(1994, 5, 2)),
    ("030594W903B", date(1994, 5, 3)),
    ("040594V9030", date(1994, 5, 4)),
    ("050594U903M", date(1994, 5, 5)),
    ("010516B903X", date(2016, 5, 1)),
    ("020516C903K", date(2016, 5, 2)),
    ("030516D9037", date(2016, 5, 3)),
    ("010501E9032", date(2001, 5, 1)),
    ("020503F9037", date(2003, 5, 2)),
]


class Body(BaseModel):
    code: IdentityCode


class TestValidation:
    @pytest.mark.parametrize("code", ["131052-308T", "010101A123N", "311299+998D"])
    def test_classic_codes_are_valid(self, code: str) -> None:
        assert normalise(code) == code

    @pytest.mark.parametrize(("code", "born"), NEW_SIGN_EXAMPLES)
    def test_2023_century_signs_are_valid_and_keep_their_century(
        self, code: str, born: date
    ) -> None:
        assert normalise(code) == code
        assert birth_date_of(code) == born

    @pytest.mark.parametrize("sign", list("-YXWVU"))
    def test_every_1900s_sign_builds_a_valid_code(self, sign: str) -> None:
        code = make_code(date(1987, 12, 24), 123, sign)
        assert normalise(code) == code
        assert birth_date_of(code) == date(1987, 12, 24)

    @pytest.mark.parametrize("sign", list("ABCDEF"))
    def test_every_2000s_sign_builds_a_valid_code(self, sign: str) -> None:
        code = make_code(date(2011, 2, 28), 456, sign)
        assert normalise(code) == code
        assert birth_date_of(code) == date(2011, 2, 28)

    def test_a_new_sign_is_a_different_code_from_the_hyphen(self) -> None:
        hyphen = make_code(date(1994, 5, 1), 903, "-")
        y_sign = make_code(date(1994, 5, 1), 903, "Y")
        assert normalise(hyphen) != normalise(y_sign)

    def test_lower_case_and_spaces_are_normalised(self) -> None:
        assert normalise("  131052-308t ") == "131052-308T"

    @pytest.mark.parametrize(
        "code",
        [
            "131052-308U",  # wrong check character
            "010594Y9033",  # new sign, wrong check character
            "310252-308Y",  # 31 February
            "131052-000T",  # individual numbers start at 002
            "131052Z308T",  # not a century sign
            "131052-308",  # too short
            "1310523308T",  # a digit where the sign goes
            "",
        ],
    )
    def test_invalid_codes_are_refused(self, code: str) -> None:
        with pytest.raises(InvalidIdentityCode):
            normalise(code)

    def test_make_code_refuses_a_sign_of_another_century(self) -> None:
        with pytest.raises(ValueError, match="century"):
            make_code(date(1990, 1, 1), 123, "B")


class TestRequestType:
    def test_valid_code_is_normalised(self) -> None:
        assert Body(code="010516b903x").code == "010516B903X"

    def test_invalid_code_fails_without_quoting_it(self) -> None:
        with pytest.raises(ValidationError) as info:
            Body(code="131052-308U")
        (error,) = info.value.errors(include_input=False)
        assert error["loc"] == ("code",)
        assert "131052" not in error["msg"]

    def test_overlong_input_is_refused_before_parsing(self) -> None:
        with pytest.raises(ValidationError):
            Body(code="1" * 200)


class TestBlindIndex:
    def ring(self, fill: bytes = b"i") -> KeyRing:
        return KeyRing([("k1", b"k" * 32)], fill * 32)

    def test_same_code_in_any_spelling_gives_the_same_index(self) -> None:
        ring = self.ring()
        assert blind_index(ring, "131052-308T") == blind_index(ring, " 131052-308t")

    def test_index_is_keyed_and_never_the_code(self) -> None:
        index = blind_index(self.ring(), "131052-308T")
        assert "131052" not in index
        assert len(index) == 64
        assert index != blind_index(self.ring(b"j"), "131052-308T")

    def test_index_does_not_depend_on_the_field_keys(self) -> None:
        other = KeyRing([("k2", b"z" * 32), ("k1", b"k" * 32)], b"i" * 32)
        assert blind_index(self.ring(), "131052-308T") == blind_index(other, "131052-308T")

    def test_invalid_code_has_no_index(self) -> None:
        with pytest.raises(InvalidIdentityCode):
            blind_index(self.ring(), "131052-308U")

    def test_keys_can_be_given_as_settings_text(self) -> None:
        key = base64.b64encode(b"k" * 32).decode()
        ring = KeyRing.from_spec(f"k1:{key}", base64.b64encode(b"i" * 32).decode())
        assert blind_index(ring, "131052-308T") == blind_index(self.ring(), "131052-308T")
