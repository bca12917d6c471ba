"""What the service's PDFs share (the plan document, app/plans/pdf.py, and the access
export, app/access_requests/pdf.py), drawn with fpdf2 (pure Python, no system libraries).

They use the PDF core font Helvetica, which every reader has and which covers
Latin-1: Finnish and Swedish letters (ä ö å Ä Ö Å) print as they are. A
character outside Latin-1 (a name such as "Šárka", a typographic dash) is
folded to its closest Latin-1 form, never dropped silently into a blank.
"""

from __future__ import annotations

import unicodedata

from fpdf import FPDF

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


class Document(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, latin1(self.footer_text), align="L")
        self.cell(0, 5, f"{self.page_no()}/{{nb}}", align="R")


def new_document(title: str, footer: str) -> Document:
    """An A4 document with one page begun, ``footer`` and the page number on every page."""
    pdf = Document(format="A4")
    pdf.footer_text = footer
    pdf.set_title(latin1(title))
    pdf.set_creator("casecoord")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    return pdf
