"""The languages of the service, shared by every domain (one enum each, never a copy).

``Language`` is what the service speaks: the documents, instruments and pages it
renders, in Finland's two official languages and English. ``SpokenLanguage`` is
what a person prefers or a service offers, where anything else is ``other``.
"""

from __future__ import annotations

from enum import StrEnum


# No docstrings on the enums: the contract's schema would carry them.
class Language(StrEnum):
    FI = "fi"
    SV = "sv"
    EN = "en"


class SpokenLanguage(StrEnum):
    FI = "fi"
    SV = "sv"
    EN = "en"
    OTHER = "other"
