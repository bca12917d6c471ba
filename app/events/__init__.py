"""Domain events: the transactional outbox and the event feed (docs/ARCHITECTURE.md)."""
