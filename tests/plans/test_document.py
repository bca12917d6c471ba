"""The printable plan: for the person it protects, in their language, nothing more."""

from __future__ import annotations

import io

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.plans.document import DOCUMENT_CSP
from app.plans.labels import LABELS
from tests.cases.factories import add_note
from tests.plans.factories import MarakCase, agree, api_measure, api_plan
from tests.plans.test_plans import SAFE
from tests.world import World

URL = "/api/v1/cases/{}/plan/document"


async def agreed_plan(client: httpx.AsyncClient, world: World, marak: MarakCase) -> None:
    cid = marak.case.id
    await api_plan(
        client,
        world.police,
        cid,
        summary="You and the children can stay at the shelter.",
        internal_note="INTERNAL: police records show three earlier call-outs.",
        contacts=[{"label": "Support person Sari", "phone": "040 111 2222"}],
        safe_contact=SAFE,
    )
    await api_measure(
        client, world.police, cid, world.org.id, description="Shelter place reserved."
    )
    await api_measure(
        client,
        world.police,
        cid,
        world.social.id,
        category="restraining_order",
        description="Help with the restraining-order application.",
        due_date="2030-03-01",
    )
    r = await agree(client, world.police, cid)
    assert r.status_code == 200, r.text


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


class TestContent:
    async def test_holds_measures_contacts_and_safe_contact_only(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        await add_note(db, marak.case, world.police, text="NOTE: the neighbour heard shouting.")
        await db.commit()
        await agreed_plan(client, world, marak)
        r = await client.get(URL.format(marak.case.id), headers=world.advocate.headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        # Exactly one policy: deny-all, except the document's own stylesheet (by hash).
        assert r.headers.get_list("content-security-policy") == [DOCUMENT_CSP]
        html = r.text
        for expected in (
            "Shelter place reserved.",
            "Help with the restraining-order application.",
            "Support person Sari",
            "050 765 4321",
            "Sister Laura",
            "Aino Äyräpää",
            "1.3.2030",
        ):
            assert expected in html, expected
        for forbidden in ("INTERNAL", "NOTE:", "Pertti", "Pahanen", "Ex-partner"):
            assert forbidden not in html, forbidden

    async def test_draft_only_plan_is_not_printed(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        await api_plan(client, world.police, marak.case.id)
        r = await client.get(URL.format(marak.case.id), headers=world.police.headers)
        assert r.status_code == 409

    async def test_every_language_has_every_label(self) -> None:
        assert set(LABELS["fi"]) == set(LABELS["sv"]) == set(LABELS["en"])


class TestMustNotReceive:
    async def test_document_for_an_excluded_party_is_refused_and_audited(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World, marak: MarakCase
    ) -> None:
        await agreed_plan(client, world, marak)
        r = await client.get(
            URL.format(marak.case.id),
            params={"recipient_person_id": str(marak.perpetrator.id)},
            headers=world.police.headers,
        )
        assert r.status_code == 409
        assert r.json()["type"].endswith("must-not-receive")
        denied = await db.scalar(
            select(AuditEvent).where(
                AuditEvent.target_id == str(marak.perpetrator.id),
                AuditEvent.outcome == "denied",
            )
        )
        assert denied is not None


class TestLanguages:
    @pytest.mark.parametrize(
        ("lang", "title", "others"),
        [
            ("fi", "Turvasuunnitelma", ("Säkerhetsplan", "Safety plan")),
            ("sv", "Säkerhetsplan", ("Turvasuunnitelma", "Safety plan")),
            ("en", "Safety plan", ("Turvasuunnitelma", "Säkerhetsplan")),
        ],
    )
    async def test_html_and_pdf_in_the_persons_language(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        world: World,
        marak: MarakCase,
        lang: str,
        title: str,
        others: tuple[str, str],
    ) -> None:
        marak.victim.preferred_language = lang
        await db.commit()
        await agreed_plan(client, world, marak)
        html = await client.get(URL.format(marak.case.id), headers=world.police.headers)
        assert f'<html lang="{lang}">' in html.text
        assert title in html.text
        assert LABELS[lang]["c.shelter"] in html.text
        for other in others:
            assert other not in html.text
        pdf = await client.get(
            URL.format(marak.case.id), params={"format": "pdf"}, headers=world.police.headers
        )
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        text = pdf_text(pdf.content)
        assert title in text
        assert "Shelter place reserved." in text
        assert "Help with the restraining-order" in text
        assert "Äyräpää" in text
        assert "INTERNAL" not in text and "Pertti" not in text
        for other in others:
            assert other not in text

    async def test_lang_parameter_overrides(
        self, client: httpx.AsyncClient, world: World, marak: MarakCase
    ) -> None:
        await agreed_plan(client, world, marak)
        r = await client.get(
            URL.format(marak.case.id), params={"lang": "sv"}, headers=world.police.headers
        )
        assert "Säkerhetsplan" in r.text
