"""Per-request context (request id, client address, emergency grant) as contextvars.

Set by the middleware and by emergency-access loading; read by the audit log
and the JSON log formatter, so neither needs the Request threaded through.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)
emergency_grant_id: ContextVar[uuid.UUID | None] = ContextVar("emergency_grant_id", default=None)
