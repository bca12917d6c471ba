"""``GET /api/v1/me/tasks``: what the caller must act on."""
