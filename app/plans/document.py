"""The printable plan, written for the victim or young person it protects.

What goes in is decided in one place, :func:`gather`: the latest *agreed*
version's summary, contacts and measures (their current status), and the
safe-contact arrangement without the feared persons. Internal notes, minutes,
agency research and everything else about the case never reach the renderers,
so neither HTML nor PDF can leak them. Before anything is gathered, the
recipient is checked against the case's must-not-receive list.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape

from fastapi import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Action
from app.casekeys.freetext import open_json_text, open_text
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess
from app.cases.exclusions import MustNotReceive, Party, may_receive
from app.cases.models import CaseParticipant
from app.cases.schemas import ParticipantRole
from app.directory.models import Organisation
from app.persons.models import Person
from app.plans.labels import LABELS, format_date
from app.plans.models import Measure, Plan, PlanVersion
from app.plans.pdf import render_pdf
from app.plans.schemas import DocumentFormat, PlanKind
from app.plans.service import open_safe_contact
from app.platform.crypto import KeyRing
from app.platform.db import utcnow
from app.platform.language import Language
from app.platform.problems import Conflict, Unprocessable, denial

#: Who a plan document may be made for.
RECIPIENT_ROLES = (ParticipantRole.VICTIM, ParticipantRole.YOUNG_PERSON, ParticipantRole.GUARDIAN)


class PlanNotAgreed(Conflict):
    type = "plan-not-agreed"
    title = "No agreed plan to print"


@dataclass
class DocMeasure:
    category: str
    description: str
    responsible: str
    due: date | None
    status: str


@dataclass
class PlanDocument:
    """Everything the document shows, and nothing more."""

    lang: str
    kind: str
    reference: str
    recipient_name: str
    version: int
    agreed_at: datetime
    printed_at: datetime
    summary: str | None
    measures: list[DocMeasure]
    contacts: list[tuple[str, str | None]]
    safe_contact: list[tuple[str, str]] = field(default_factory=list)

    def t(self, key: str) -> str:
        return LABELS[self.lang][key]


async def _recipient(
    session: AsyncSession, access: CaseAccess, person_id: uuid.UUID | None
) -> Person:
    stmt = (
        select(Person, CaseParticipant.role)
        .join(CaseParticipant, CaseParticipant.person_id == Person.id)
        .where(CaseParticipant.case_id == access.case.id, CaseParticipant.removed_at.is_(None))
    )
    if person_id is not None:
        stmt = stmt.where(Person.id == person_id)
    else:
        stmt = stmt.where(
            CaseParticipant.role.in_([ParticipantRole.VICTIM.value, ParticipantRole.YOUNG_PERSON])
        )
    rows = (await session.execute(stmt.order_by(CaseParticipant.created_at))).all()
    if not rows:
        raise Unprocessable("Name a participant of this case (the victim or young person).")
    person, role = rows[0]
    if not await may_receive(session, access.case.id, Party(person_id=person.id)):
        raise MustNotReceive(
            "This person is on the case's must-not-receive list; no document is made for them.",
            denied=denial(
                Action.CASE_PLAN_DOCUMENT, access.principal, "person", person.id, "must-not-receive"
            ),
        )
    if role not in {r.value for r in RECIPIENT_ROLES}:
        raise Unprocessable("The plan document is made only for the victim or young person.")
    return person


async def gather(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    plan: Plan,
    recipient: Person,
    lang: str,
) -> PlanDocument:
    version = await session.scalar(
        select(PlanVersion)
        .where(PlanVersion.plan_id == plan.id, PlanVersion.agreed_at.is_not(None))
        .order_by(PlanVersion.number.desc())
        .limit(1)
    )
    if version is None or version.agreed_at is None:
        raise PlanNotAgreed("The plan has no agreed version yet; agree it before printing.")
    cipher = await case_cipher(session, keyring, plan.case_id)
    snapshot = open_json_text(cipher, version, "measures_snapshot") or []
    ids = [uuid.UUID(m["id"]) for m in snapshot]
    live = {
        m.id: m for m in (await session.scalars(select(Measure).where(Measure.id.in_(ids)))).all()
    }
    org_ids = {uuid.UUID(m["responsible_organisation_id"]) for m in snapshot}
    orgs = {
        o.id: o.name
        for o in (
            await session.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))
        ).all()
    }
    measures = []
    for item in snapshot:
        row = live.get(uuid.UUID(item["id"]))
        measures.append(
            DocMeasure(
                category=item["category"],
                description=item["description"],
                responsible=orgs.get(uuid.UUID(item["responsible_organisation_id"]), "-"),
                due=date.fromisoformat(item["due_date"]) if item["due_date"] else None,
                status=row.status if row is not None else "planned",
            )
        )
    doc = PlanDocument(
        lang=lang,
        kind=plan.kind,
        reference=access.case.reference,
        recipient_name=f"{recipient.given_name} {recipient.family_name}",
        version=version.number,
        agreed_at=version.agreed_at,
        printed_at=utcnow(),
        summary=open_text(cipher, version, "summary"),
        measures=measures,
        contacts=[
            (c["label"], c.get("phone")) for c in open_json_text(cipher, version, "contacts") or []
        ],
    )
    safe = open_safe_contact(cipher, version)
    if safe is not None:
        # The feared persons stay with the professionals: the form is theirs.
        if safe.number_is_safe is not None:
            doc.safe_contact.append(
                ("number_is_safe", doc.t("yes") if safe.number_is_safe else doc.t("no"))
            )
        for key in ("safe_number", "safe_times", "contact_method"):
            value = getattr(safe, key)
            if value:
                doc.safe_contact.append((key, value))
        if safe.safe_to_talk_to:
            doc.safe_contact.append(("safe_people", ", ".join(safe.safe_to_talk_to)))
        if safe.not_safe_to_talk_to:
            doc.safe_contact.append(("unsafe_people", ", ".join(safe.not_safe_to_talk_to)))
    return doc


STYLE = """
body { font-family: "Helvetica Neue", Arial, sans-serif; font-size: 12pt; line-height: 1.45;
  color: #111; max-width: 48em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 20pt; margin-bottom: 0.2em; }
h2 { font-size: 14pt; margin-top: 1.4em; border-bottom: 1px solid #999; }
.meta { color: #333; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: 0.35em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
dt { font-weight: bold; margin-top: 0.4em; }
dd { margin-left: 1em; }
.emergency { font-weight: bold; font-size: 13pt; border: 2px solid #111; padding: 0.5em; }
footer { margin-top: 2em; font-size: 10pt; color: #333; }
@media print { body { margin: 0; max-width: none; } tr { page-break-inside: avoid; } }
"""
#: The API's policy denies everything; the document allows exactly its own stylesheet.
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    + "'; frame-ancestors 'none'"
)


def render_html(doc: PlanDocument) -> str:
    t, e = doc.t, escape
    rows = "".join(
        "<tr>"
        f"<td>{e(t('c.' + m.category))}</td><td>{e(m.description)}</td>"
        f"<td>{e(m.responsible)}</td><td>{e(format_date(m.due, doc.lang))}</td>"
        f"<td>{e(t('s.' + m.status))}</td>"
        "</tr>"
        for m in doc.measures
    )
    measures = (
        '<table border="1" cellpadding="6" cellspacing="0"><thead><tr>'
        f"<th>{t('measure')}</th><th>{t('description')}</th><th>{t('responsible')}</th>"
        f"<th>{t('due')}</th><th>{t('status')}</th></tr></thead><tbody>{rows}</tbody></table>"
        if doc.measures
        else f"<p>{t('no_measures')}</p>"
    )
    contacts = "".join(
        f"<li>{e(label)}{': ' + e(phone) if phone else ''}</li>" for label, phone in doc.contacts
    )
    safe = "".join(f"<dt>{e(t(k))}</dt><dd>{e(v)}</dd>" for k, v in doc.safe_contact)
    summary = f"<h2>{t('summary')}</h2><p>{e(doc.summary)}</p>" if doc.summary else ""
    helpline = f"<p>{e(t('helpline'))}</p>" if doc.kind == PlanKind.SAFETY_PLAN else ""
    return f"""<!DOCTYPE html>
<html lang="{doc.lang}">
<head>
<meta charset="utf-8">
<title>{e(t(doc.kind))}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{e(t(doc.kind))}</h1>
<p class="meta">{t("prepared_for")}: <strong>{e(doc.recipient_name)}</strong><br>
{t("agreed_on")}: {format_date(doc.agreed_at, doc.lang)} &middot; {t("version")} {doc.version}
&middot; {t("reference")}: {e(doc.reference)}<br>
{t("printed")}: {format_date(doc.printed_at, doc.lang)}</p>
<p class="emergency">{e(t("emergency"))}</p>
{summary}
<h2>{t("measures")}</h2>
{measures}
{f"<h2>{t('safe_contact')}</h2><dl>{safe}</dl>" if safe else ""}
<h2>{t("contacts")}</h2>
<ul>{contacts}</ul>
{helpline}
<footer>{e(t("footer"))}</footer>
</body>
</html>
"""


def language_for(recipient: Person, override: Language | None) -> str:
    if override is not None:
        return override.value
    preferred = (recipient.preferred_language or "").lower()
    return preferred if preferred in LABELS else "fi"


async def produce(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    plan: Plan,
    fmt: DocumentFormat,
    recipient_person_id: uuid.UUID | None,
    lang: Language | None,
) -> Response:
    recipient = await _recipient(session, access, recipient_person_id)
    doc = await gather(session, keyring, access, plan, recipient, language_for(recipient, lang))
    audit.record(
        session,
        access.principal,
        f"plan.document.{fmt.value}",
        "person",
        recipient.id,
        purpose=f"plan {plan.id} v{doc.version} for the person",
    )
    name = f"{doc.kind}-v{doc.version}"
    if fmt == DocumentFormat.PDF:
        return Response(
            render_pdf(doc),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return Response(
        render_html(doc),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": f'inline; filename="{name}.html"',
            "Content-Security-Policy": DOCUMENT_CSP,
        },
    )
