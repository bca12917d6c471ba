"""The demo seeds fictional people with valid identity codes, protected fields and bases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.casekeys.service import case_ciphers
from app.cases.models import Case, CaseExclusion, CaseParticipant
from app.demo.seed import seed_demo
from app.ops.migrate import upgrade
from app.persons import identity
from app.persons.models import Consent, Person, PersonCaseFacts, PersonVersion
from app.persons.protected import open_protected
from app.platform.config import Settings
from app.platform.crypto import load_keyring
from app.platform.db import Database
from tests.conftest import _in_thread


def test_demo_people(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    _in_thread(lambda: upgrade(url))
    added: list[int] = []
    _in_thread(lambda: added.append(asyncio.run(seed_demo(settings))))
    _in_thread(lambda: added.append(asyncio.run(seed_demo(settings))))
    assert added[0] > 0 and added[1] == 0  # idempotent
    keyring = load_keyring(settings)

    async def read() -> dict[str, Any]:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker() as session:
                people = (await session.scalars(select(Person))).all()
                facts = {f.person_id: f for f in await session.scalars(select(PersonCaseFacts))}
                ciphers = await case_ciphers(session, keyring, {f.case_id for f in facts.values()})
                opened = {
                    (p.given_name, p.family_name): open_protected(
                        keyring,
                        p,
                        facts.get(p.id),
                        ciphers[facts[p.id].case_id] if p.id in facts else None,
                    )
                    for p in people
                }
                indexes = {(p.given_name, p.family_name): p.identity_code_index for p in people}
                marak = await session.scalar(select(Case).where(Case.reference == "MRK-DEMO-0001"))
                assert marak is not None
                return {
                    "opened": opened,
                    "indexes": indexes,
                    "versions": len((await session.scalars(select(PersonVersion))).all()),
                    "bases": {(c.basis, c.scope) for c in await session.scalars(select(Consent))},
                    "excluded": (
                        await session.scalars(
                            select(Person.given_name)
                            .join(CaseExclusion, CaseExclusion.person_id == Person.id)
                            .where(CaseExclusion.case_id == marak.id)
                        )
                    ).all(),
                    "participants": len((await session.scalars(select(CaseParticipant))).all()),
                }
        finally:
            await db.dispose()

    found: dict[str, Any] = {}
    _in_thread(lambda: found.update(asyncio.run(read())))
    opened = found["opened"]
    assert len(opened) == found["participants"] == found["versions"] == 5
    for name, data in opened.items():
        code = data.identity_code
        assert code is not None and identity.normalise(code) == code, name
        assert 900 <= int(code[7:10]) <= 999, "demo codes stay in the test series"
        assert found["indexes"][name] == identity.blind_index(keyring, code)
    victim = opened[("Vilma", "Virtanen")]
    assert victim.identity_code is not None and victim.identity_code[6] == "Y"  # a 2023 sign
    assert victim.non_disclosure is True and victim.address is not None
    assert victim.safe_contact is not None and victim.phones
    assert found["bases"] == {
        ("consent", "ankkuri_sharing"),
        ("consent", "marak_sharing"),
        ("police_statutory_duty", "hah_sharing"),
        ("consent", "service_referral"),  # the demo referral's basis (app/demo/referrals.py)
    }
    assert found["excluded"] == ["Ville"]
