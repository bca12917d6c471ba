"""The plan document as PDF (fonts and folding to Latin-1: app/platform/pdf.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fpdf.fonts import FontFace

from app.plans.labels import format_date
from app.plans.schemas import PlanKind
from app.platform.pdf import latin1, new_document

if TYPE_CHECKING:
    from app.plans.document import PlanDocument


def render_pdf(doc: PlanDocument) -> bytes:
    t = doc.t
    pdf = new_document(t(doc.kind), t("footer"))
    pdf.set_lang(doc.lang)
    width = pdf.epw

    def heading(text: str, size: int = 13) -> None:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", size)
        pdf.multi_cell(width, 8, latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(150)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(2)

    def para(text: str, style: str = "", size: int = 11) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, 6, latin1(text), new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("Helvetica", "B", 20)
    pdf.multi_cell(width, 10, latin1(t(doc.kind)), new_x="LMARGIN", new_y="NEXT")
    para(f"{t('prepared_for')}: {doc.recipient_name}", "B")
    para(
        f"{t('agreed_on')}: {format_date(doc.agreed_at, doc.lang)} - {t('version')} "
        f"{doc.version} - {t('reference')}: {doc.reference}"
    )
    para(f"{t('printed')}: {format_date(doc.printed_at, doc.lang)}")
    pdf.ln(3)
    pdf.set_line_width(0.6)
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(width, 9, latin1(t("emergency")), border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.set_line_width(0.2)

    if doc.summary:
        heading(t("summary"))
        para(doc.summary)

    heading(t("measures"))
    if doc.measures:
        pdf.set_font("Helvetica", size=10)
        with pdf.table(
            col_widths=(34, 56, 36, 22, 26),
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            line_height=5.5,
            text_align="LEFT",
        ) as table:
            table.row(
                [latin1(t(k)) for k in ("measure", "description", "responsible", "due", "status")]
            )
            for m in doc.measures:
                table.row(
                    [
                        latin1(t("c." + m.category)),
                        latin1(m.description),
                        latin1(m.responsible),
                        format_date(m.due, doc.lang) if m.due else "-",
                        latin1(t("s." + m.status)),
                    ]
                )
    else:
        para(t("no_measures"))

    if doc.safe_contact:
        heading(t("safe_contact"))
        for key, value in doc.safe_contact:
            para(t(key), "B")
            para(value)
            pdf.ln(1)

    if doc.contacts:
        heading(t("contacts"))
        for label, phone in doc.contacts:
            para(f"- {label}: {phone}" if phone else f"- {label}")
    if doc.kind == PlanKind.SAFETY_PLAN:
        pdf.ln(2)
        para(t("helpline"), "B")
    return bytes(pdf.output())
