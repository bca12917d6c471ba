from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.policy import Action, require
from app.auth.principal import Principal

AuditReader = Annotated[Principal, Depends(require(Action.AUDIT_READ))]
AuditVerifier = Annotated[Principal, Depends(require(Action.AUDIT_VERIFY))]
