"""The plan document as PDF, drawn with fpdf2 (pure Python, no system libraries).

It uses the PDF core font Helvetica, which every reader has and which covers
Latin-1: Finnish and Swedish letters (ä ö å Ä Ö Å) print as they are. A
character outside Latin-1 (a name such as "Šárka", a typographic dash) is
folded to its closest Latin-1 form, never dropped silently into a blank.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.fonts import FontFace

from app.plans.labels import format_date
from app.plans.schemas import PlanKind

if TYPE_CHECKING:
    from app.plans.document import PlanDocument

_FOLD = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u00a0": " ",
    "\u2022": "-",
}


def latin1(text: str) -> str:
    out = []
    for char in text:
        char = _FOLD.get(char, char)
        try:
            char.encode("latin-1")
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            char = base or "?"
        out.append(char)
    return "".join(out)


class _Doc(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, latin1(self.footer_text), align="L")
        self.cell(0, 5, f"{self.page_no()}/{{nb}}", align="R")


def render_pdf(doc: PlanDocument) -> bytes:
    t = doc.t
    pdf = _Doc(format="A4")
    pdf.footer_text = t("footer")
    pdf.set_title(latin1(t(doc.kind)))
    pdf.set_lang(doc.lang)
    pdf.set_creator("casecoord")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
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
