"""Cross-cutting plumbing every domain uses.

Database and settings, problems, pagination, ETags, idempotency, the clock,
the request context, logs, middleware, sealing, the input policy, the contract
and the metadata registry. Nothing here knows a domain.
"""
