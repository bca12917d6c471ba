"""The demo seed: a service with a provider user, and a referral already sent to it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.casekeys.service import case_cipher
from app.demo.referrals import DEMO_PROVIDER_ORG, DEMO_SERVICE
from app.demo.seed import USERS, seed_demo
from app.directory.models import Organisation, User
from app.ops.migrate import upgrade
from app.platform.config import Settings
from app.platform.crypto import FieldContext, load_keyring
from app.platform.db import Database
from app.referrals.models import Referral, ReferralEvent, ServiceEntry
from tests.conftest import _in_thread


def test_demo_referral_is_sent_to_the_demo_providers_service(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: asyncio.run(seed_demo(settings)))
    again: list[int] = []
    _in_thread(lambda: again.append(asyncio.run(seed_demo(settings))))
    assert again == [0]  # idempotent
    keyring = load_keyring(settings)

    async def read() -> dict[str, Any]:
        db = Database.from_url(url)
        try:
            async with db.sessionmaker() as session:
                [referral] = (await session.scalars(select(Referral))).all()
                service = await session.get(ServiceEntry, referral.service_id)
                provider = await session.scalar(select(User).where(User.subject == "demo-provider"))
                org = await session.scalar(
                    select(Organisation).where(Organisation.code == DEMO_PROVIDER_ORG)
                )
                events = (
                    await session.scalars(
                        select(ReferralEvent.to_status).where(
                            ReferralEvent.referral_id == referral.id
                        )
                    )
                ).all()
                assert referral.shared_enc is not None
                cipher = await case_cipher(session, keyring, referral.case_id)
                shared = cipher.open_json(
                    referral.shared_enc, FieldContext.of(referral, "shared_enc")
                )
                return {
                    "referral": referral,
                    "service": service,
                    "provider": provider,
                    "org": org,
                    "events": sorted(events),
                    "shared": shared,
                }
        finally:
            await db.dispose()

    found: dict[str, Any] = {}
    _in_thread(lambda: found.update(asyncio.run(read())))
    referral, service, org = found["referral"], found["service"], found["org"]
    assert referral.status == "requested"
    assert service.name == DEMO_SERVICE and service.provider_organisation_id == org.id
    assert found["provider"].organisation_id == org.id
    assert any(u.username == "provider" and u.org == DEMO_PROVIDER_ORG for u in USERS)
    assert found["events"] == ["draft", "requested"]
    assert found["shared"]["name"] == "Vilma Virtanen"
    assert found["shared"]["phones"] == [{"number": "+358 50 000 0903", "safe_to_call": True}]
    assert referral.response_due_at is not None and referral.expires_at is not None
