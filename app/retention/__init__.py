"""Retention, legal hold and the purge hooks (issue 15 section 4; docs/DOMAIN.md section 6)."""
