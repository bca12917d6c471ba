"""python-jose stays, but its pure-Python ``ecdsa`` dependency (CVE-2024-23342, no
fix released) must never be loaded: the cryptography backend does all the work.

The test process itself may have imported ``ecdsa`` by other paths, so the
server's behaviour is checked in a fresh subprocess: it migrates a database,
creates the app, serves a request authenticated by an RS256 token, verifies an
ES256 token, and then reports whether ``ecdsa`` is in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from jose import backends

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path

    data = Path(sys.argv[1])

    async def main():
        import httpx
        from jose import jwk, jwt
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        from app.auth.devkeys import mint_dev_token
        from app.auth.tokens import KeySet, verify
        from app.platform.config import Settings
        from app.main import create_app
        from app.ops.migrate import upgrade

        url = f"sqlite+aiosqlite:///{data / 'db.sqlite'}"
        await asyncio.to_thread(upgrade, url)
        settings = Settings(data_dir=data, database_url=url, referral_sweep_seconds=0)
        token = mint_dev_token(settings, {"sub": "s1", "org": "org-a", "roles": ["police"]})
        settings = settings.model_copy(update={"oidc_jwks": str(settings.dev_jwks_path)})
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            forged = await client.get("/api/v1/me", headers={"Authorization": "Bearer a.b.c"})

        # The ES family too: an EC key, signed and verified by jose.
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = jwk.construct(pem, algorithm="ES256").public_key().to_dict()
        (data / "es.json").write_text(json.dumps({"keys": [{**public, "kid": "es1"}]}))
        es = Settings(oidc_jwks=str(data / "es.json"), oidc_algorithms=["ES256"])
        now = int(time.time())
        claims = {"iss": es.oidc_issuer, "aud": es.oidc_audience, "sub": "s2",
                  "iat": now, "exp": now + 60, "org": "org-a"}
        es_token = jwt.encode(claims, pem, algorithm="ES256", headers={"kid": "es1"})
        verified = verify(es_token, KeySet(es, es.oidc_jwks), es)

        from jose import backends
        print(json.dumps({
            "me": me.status_code,
            "forged": forged.status_code,
            "es_subject": verified.subject,
            "rsa_backend": backends.RSAKey.__module__,
            "ec_backend": backends.ECKey.__module__,
            "ecdsa_loaded": sorted(m for m in sys.modules if m.split(".")[0] == "ecdsa"),
        }))

    asyncio.run(main())
    """
)


def test_jose_uses_the_cryptography_backend() -> None:
    assert backends.RSAKey.__module__ == "jose.backends.cryptography_backend"
    assert backends.ECKey.__module__ == "jose.backends.cryptography_backend"


def test_a_running_server_never_imports_ecdsa(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["me"] == 200
    assert report["forged"] == 401
    assert report["es_subject"] == "s2"
    assert report["rsa_backend"] == "jose.backends.cryptography_backend"
    assert report["ec_backend"] == "jose.backends.cryptography_backend"
    assert report["ecdsa_loaded"] == []
