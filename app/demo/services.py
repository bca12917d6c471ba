"""The Finnish national services of docs/DOMAIN.md section 3, with public contacts only.

``seed_services`` is idempotent: organisations are matched by code and services
by (provider, name), so running it again creates nothing and never overwrites
an admin's later edits. ``casecoord serve --demo`` calls it (app/demo/seed.py); a
data migration was not used so that production directories stay admin-managed.

Only numbers that are published nationwide and known for certain are filled
in; where unsure, the phone (and web address) is left empty rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.directory.models import Organisation
from app.referrals.models import ServiceEntry
from app.referrals.schemas import NATIONAL, ServiceType

#: (code, name, kind) of the provider organisations.
PROVIDERS: tuple[tuple[str, str, str], ...] = (
    ("svc-riku", "Rikosuhripäivystys (Victim Support Finland)", "ngo"),
    ("svc-nollalinja", "Nollalinja", "ngo"),
    ("svc-seri", "SERI-tukikeskukset (SERI support centres)", "health_services"),
    ("svc-turvakodit", "Turvakodit (THL-funded shelters)", "social_services"),
    ("svc-lyomaton-linja", "Lyömätön Linja Espoossa", "ngo"),
    ("svc-jussi-tyo", "Jussi-työ", "ngo"),
    ("svc-exit-finland", "EXIT Finland", "ngo"),
    ("svc-radinet", "Radinet", "ngo"),
    ("svc-police", "Poliisi (lähestymiskielto)", "police"),
    ("svc-wellbeing-county", "Hyvinvointialue, lastensuojelu", "social_services"),
)


@dataclass(frozen=True)
class SeedService:
    provider: str
    service_type: ServiceType
    name: str
    areas: tuple[str, ...]
    languages: tuple[str, ...]
    phone: str | None = None
    web: str | None = None
    electronic: bool = False
    target_days: int | None = None


SERVICES: tuple[SeedService, ...] = (
    SeedService(
        "svc-riku",
        ServiceType.VICTIM_SUPPORT,
        "Rikosuhripäivystys / Victim Support Finland",
        (NATIONAL,),
        ("fi", "sv", "en"),
        phone="116 006",
        web="https://www.riku.fi/",
        target_days=7,
    ),
    SeedService(
        "svc-seri",
        ServiceType.VICTIM_SUPPORT,
        "SERI-tukikeskus (sexual violence support centres)",
        (NATIONAL,),
        ("fi", "sv", "en"),
        target_days=1,
    ),
    SeedService(
        "svc-nollalinja",
        ServiceType.HELPLINE,
        "Nollalinja (24/7)",
        (NATIONAL,),
        ("fi", "sv", "en"),
        phone="080 005 005",
        web="https://www.nollalinja.fi/",
        target_days=0,
    ),
    SeedService(
        "svc-turvakodit",
        ServiceType.SHELTER,
        "Turvakodit (shelters; free, self-referral)",
        (NATIONAL,),
        ("fi", "sv", "en"),
        target_days=0,
    ),
    SeedService(
        "svc-lyomaton-linja",
        ServiceType.PERPETRATOR_PROGRAMME,
        "Lyömätön Linja",
        ("Espoo",),
        ("fi",),
        target_days=14,
    ),
    SeedService(
        "svc-jussi-tyo",
        ServiceType.PERPETRATOR_PROGRAMME,
        "Jussi-työ (for men who use violence)",
        (NATIONAL,),
        ("fi",),
        target_days=14,
    ),
    SeedService(
        "svc-exit-finland",
        ServiceType.EXIT_PROGRAMME,
        "EXIT Finland",
        (NATIONAL,),
        ("fi",),
        target_days=14,
    ),
    SeedService(
        "svc-radinet",
        ServiceType.EXIT_PROGRAMME,
        "Radinet (exit from violent extremism)",
        (NATIONAL,),
        ("fi",),
        target_days=14,
    ),
    SeedService(
        "svc-police",
        ServiceType.LEGAL_PROTECTION,
        "Lähestymiskielto (restraining order: police or district court)",
        (NATIONAL,),
        ("fi", "sv"),
        target_days=0,
    ),
    SeedService(
        "svc-wellbeing-county",
        ServiceType.CHILD_PROTECTION,
        "Lastensuojeluilmoitus (child welfare notification)",
        (NATIONAL,),
        ("fi", "sv"),
        electronic=True,
        target_days=7,
    ),
)


async def ensure_organisations(
    session: AsyncSession, specs: Iterable[tuple[str, str, str]]
) -> tuple[dict[str, Organisation], int]:
    """The organisations ``(code, name, kind)`` by code, made where missing (and how many)."""
    created = 0
    orgs: dict[str, Organisation] = {}
    for code, name, kind in specs:
        org = await session.scalar(select(Organisation).where(Organisation.code == code))
        if org is None:
            org = Organisation(code=code, name=name, kind=kind)
            session.add(org)
            created += 1
        orgs[code] = org
    await session.flush()
    return orgs, created


async def seed_services(session: AsyncSession) -> int:
    """Create the missing providers and services; return how many rows were created."""
    orgs, created = await ensure_organisations(session, PROVIDERS)
    for spec in SERVICES:
        provider = orgs[spec.provider]
        exists = await session.scalar(
            select(ServiceEntry.id).where(
                ServiceEntry.provider_organisation_id == provider.id,
                ServiceEntry.name == spec.name,
            )
        )
        if exists is not None:
            continue
        entry = ServiceEntry(
            provider_organisation_id=provider.id,
            service_type=spec.service_type.value,
            name=spec.name,
            areas=list(spec.areas),
            languages=list(spec.languages),
            contact_phone=spec.phone,
            contact_web=spec.web,
            accepts_electronic_referrals=spec.electronic,
            response_time_target_days=spec.target_days,
            active=True,
        )
        session.add(entry)
        await session.flush()
        audit.record(
            session, None, "referrals.service.created", "service", entry.id, purpose="seed"
        )
        created += 1
    return created
