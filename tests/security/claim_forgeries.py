"""Validly signed tokens whose claims are out of range or badly typed (issue 11.5).

Rows for the JWT attack table in test_jwt.py: (forgery, the reason the server
must give in the refusal's audit tally).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.world import KID, TokenFactory


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, str]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _sub() -> str:
    return f"jwt-{uuid.uuid4().hex[:10]}"


# --- claims that are validly signed but out of range or badly typed (issue 11.5) ----
# PyJWT refuses to encode some of these (Infinity, lone surrogates), so the payload
# is raw JSON text, signed with the test key by cryptography.


def signed_raw(t: TokenFactory, payload_json: str) -> str:
    header = b64url_json({"alg": "RS256", "typ": "JWT", "kid": KID})
    signing_input = f"{header}.{b64url(payload_json.encode('utf-8', 'surrogatepass'))}"
    signature = t.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def raw_claim(name: str, json_text: str) -> Callable[[TokenFactory], str]:
    """A valid token whose claim ``name`` is replaced by the raw JSON ``json_text``."""

    def forge(t: TokenFactory) -> str:
        claims = t.claims(_sub(), ["police"], "org-a", scope="me.read")
        claims[name] = "__RAW__"
        return signed_raw(t, json.dumps(claims).replace('"__RAW__"', json_text))

    forge.__name__ = f"raw_{name}"
    return forge


NOT_FINITE = "bad claim: a time is not a finite number"
OUT_OF_RANGE = "out of range"
BAD_TEXT = "too long or bad characters"
CLAIM_ATTACKS: dict[str, tuple[Callable[[TokenFactory], str], str]] = {
    "exp_1e400": (raw_claim("exp", "1e400"), NOT_FINITE),
    "exp_infinity": (raw_claim("exp", "Infinity"), NOT_FINITE),
    "exp_nan": (raw_claim("exp", "NaN"), "claims rejected: Expiration Time"),
    "exp_1e20": (raw_claim("exp", "1e20"), f"bad claim exp: {OUT_OF_RANGE}"),
    "exp_true": (raw_claim("exp", "true"), "token expired"),
    "iat_1e400": (raw_claim("iat", "1e400"), NOT_FINITE),
    "iat_minus_infinity": (raw_claim("iat", "-Infinity"), NOT_FINITE),
    "iat_1e20": (raw_claim("iat", "1e20"), f"bad claim iat: {OUT_OF_RANGE}"),
    "iat_true": (raw_claim("iat", "true"), "bad claim iat: not a number"),
    "iat_in_the_future": (raw_claim("iat", str(int(time.time()) + 86400)), "bad claim iat"),
    "nbf_1e400": (raw_claim("nbf", "1e400"), NOT_FINITE),
    "nbf_1e20": (raw_claim("nbf", "1e20"), "claims rejected"),
    "nbf_false": (raw_claim("nbf", "false"), "bad claim nbf: not a number"),
    "sub_lone_surrogate": (raw_claim("sub", '"user-\\ud800"'), "bad claim sub"),
    "sub_nul": (raw_claim("sub", '"user\\u0000x"'), "bad claim sub"),
    "sub_number": (raw_claim("sub", "42"), "claims rejected"),
    "name_nul": (raw_claim("name", '"Eve\\u0000"'), f"bad claim name: {BAD_TEXT}"),
    "name_lone_surrogate": (raw_claim("name", '"\\udfff"'), f"bad claim name: {BAD_TEXT}"),
    "name_number": (raw_claim("name", "1e400"), "bad claim name: not a string"),
    "org_name_nul": (raw_claim("org_name", '"Org\\u0000"'), f"bad claim org_name: {BAD_TEXT}"),
    "org_name_surrogate": (raw_claim("org_name", '"\\ud83d"'), f"bad claim org_name: {BAD_TEXT}"),
    "org_nul": (raw_claim("org", '"org-a\\u0000"'), "bad claim org"),
    "org_true": (raw_claim("org", "true"), "bad claim org: not a string"),
    "roles_nul": (raw_claim("roles", '["police\\u0000"]'), "bad claim roles"),
    "roles_surrogate": (raw_claim("roles", '["\\ud800"]'), "bad claim roles"),
    "roles_boolean": (raw_claim("roles", "[true]"), "bad claim roles"),
    "scope_nul": (raw_claim("scope", '"me.read\\u0000"'), f"bad claim scope: {BAD_TEXT}"),
    "scope_surrogate": (raw_claim("scope", '"\\udc00"'), f"bad claim scope: {BAD_TEXT}"),
}
