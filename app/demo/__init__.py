"""The demo data of every domain, for ``casecoord serve --demo``. Fictional throughout."""
