"""The access export as a readable PDF, drawn with fpdf2 from the same
:class:`AccessExport` as the JSON, so the two never say different things.

Core font Helvetica only (nothing is downloaded or embedded); characters
outside Latin-1 are folded (app/platform/pdf.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from app.access_requests.schemas import AccessExport
from app.platform.pdf import latin1, new_document


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_value(v) for v in value) or "-"
    return str(value)


def render_pdf(export: AccessExport) -> bytes:
    pdf = new_document(
        "Access request export", "Access request export (GDPR art. 15) - confidential"
    )
    width = pdf.epw

    def heading(text: str, size: int = 13) -> None:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", size)
        pdf.multi_cell(width, 8, latin1(text), new_x="LMARGIN", new_y="NEXT")

    def line(label: str, value: Any) -> None:
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(
            width, 5.5, latin1(f"{label}: {_value(value)}"), new_x="LMARGIN", new_y="NEXT"
        )

    def record(fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            line(key.replace("_", " "), value)
        pdf.ln(2)

    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(width, 10, "Your personal data", new_x="LMARGIN", new_y="NEXT")
    line("Request", export.request_id)
    line("Received", export.received_on.isoformat())
    line("Generated", export.generated_at.isoformat(timespec="seconds"))

    heading("Identity")
    record(export.identity.model_dump(mode="json"))

    for case in export.cases:
        heading(f"Case {case.reference} ({case.scheme})")
        record(
            case.model_dump(
                mode="json",
                include={
                    "case_id",
                    "status",
                    "role",
                    "joined_at",
                    "left_at",
                    "opened_at",
                    "closed_at",
                    "other_participant_roles",
                },
            )
        )
        if case.facts is not None:
            heading("What this case recorded about reaching you", 11)
            record(case.facts.model_dump(mode="json"))
        sections: tuple[tuple[str, Sequence[BaseModel]], ...] = (
            ("Consents and legal bases", case.consents),
            ("Risk assessments", case.assessments),
            ("Incidents", case.incidents),
            ("Plans", case.plans),
            ("Case notes", case.notes),
            ("Meeting minutes", case.meeting_minutes),
        )
        for title, items in sections:
            if items:
                heading(title, 11)
                for item in items:
                    record(item.model_dump(mode="json"))

    listed: tuple[tuple[str, Sequence[BaseModel]], ...] = (
        ("Referrals", export.referrals),
        ("Concerns", export.concerns),
    )
    for title, rows in listed:
        heading(title)
        if not rows:
            line("None", "-")
        for row in rows:
            record(row.model_dump(mode="json"))

    report = export.access_report
    heading("Who processed your data")
    line("Period", f"{report.since.date().isoformat()} - {report.until.date().isoformat()}")
    for entry in report.entries:
        line(
            entry.occurred_at.isoformat(timespec="seconds"),
            f"{entry.actor_name or '-'} ({entry.actor_organisation or '-'}): "
            f"{entry.action}, {entry.outcome}",
        )
    if report.disclosures:
        heading("Disclosed to", 11)
        for disclosure in report.disclosures:
            record(disclosure.model_dump(mode="json"))

    heading("What is not shown, and why")
    for withheld in export.withheld:
        line(withheld.category.replace("_", " "), f"{withheld.ground} ({withheld.legal_reference})")
    for note in export.notes:
        line("Note", note)
    return bytes(pdf.output())
