"""Cross-cutting plumbing every domain uses.

Database and settings, problems (and :func:`~app.platform.problems.field_error`),
pagination, ETags, idempotency (and :func:`~app.platform.idempotency.create_once`),
the clock (the one time source), the request context, logs, middleware,
sealing, the input policy (the ``Input`` base of every body), the languages,
the contract, the metadata registry and the extension point (each domain's
``install(app)`` and the app's registries). Nothing here knows a domain.
"""
