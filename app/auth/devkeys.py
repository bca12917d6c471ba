"""The local development signing key and tokens signed with it (refused in production).

``casecoord serve`` on the embedded defaults uses them to print ready-to-use
tokens; the service verifies them like any other (app/auth/tokens.py).
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from app.platform.config import DEV_KEY_ID_PREFIX, Settings


def ensure_dev_key(settings: Settings) -> Path:
    """Create (once) a local RSA signing key and its JWKS in the data folder."""
    if settings.env == "production":
        raise RuntimeError("the development signing key is refused in production")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pem_path, jwks_path = settings.dev_private_key_path, settings.dev_jwks_path
    if not pem_path.exists() or not jwks_path.exists():
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pem_path.write_bytes(pem)
        pem_path.chmod(0o600)
        public_jwk = jwk.construct(pem.decode(), algorithm="RS256").public_key().to_dict()
        public_jwk.update({"kid": DEV_KEY_ID_PREFIX + secrets.token_hex(4), "use": "sig"})
        public_jwk["alg"] = "RS256"
        jwks_path.write_text(json.dumps({"keys": [public_jwk]}, indent=2), encoding="utf-8")
    return jwks_path


def mint_dev_token(settings: Settings, claims: dict[str, Any], ttl_seconds: int = 8 * 3600) -> str:
    """Sign a token with the local development key (refused in production)."""
    if settings.env == "production":
        raise RuntimeError("development tokens are refused in production")
    jwks_path = ensure_dev_key(settings)
    kid = json.loads(jwks_path.read_text(encoding="utf-8"))["keys"][0]["kid"]
    now = int(time.time())
    body = {
        "iss": settings.oidc_issuer,
        "aud": settings.oidc_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        **claims,
    }
    pem = settings.dev_private_key_path.read_text(encoding="utf-8")
    return str(jwt.encode(body, pem, algorithm="RS256", headers={"kid": kid}))
