"""Background jobs: periodic work run once per period across all processes, and
queue work that every worker drains (docs/ARCHITECTURE.md, "Background jobs")."""
