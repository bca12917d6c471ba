"""Permission-carrying dependencies for the service directory and referral routes.

Referral routes load the referral from the caller's side (app/referrals/service.py):
the role check of the action first, then the referral or 404, then the relation.
"""

# No "from __future__ import annotations": FastAPI must see the real Annotated objects.

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.loaders import path_loader
from app.auth.markers import mark_loader, relation_of
from app.auth.policy import Action, Relation, require
from app.auth.principal import Principal
from app.cases.access import CaseAccess
from app.cases.dependencies import case_access
from app.platform.config import Settings
from app.referrals.service import ReferralAccess, load_referral, require_referrer

ServiceReader = Annotated[Principal, Depends(require(Action.SERVICE_READ))]
ServiceManager = Annotated[Principal, Depends(require(Action.SERVICE_MANAGE))]


def referral_access(action: Action) -> Callable[..., Awaitable[ReferralAccess]]:
    guard = require(action)
    relation = relation_of(action, Relation.REFERRAL_PARTY, Relation.REFERRER)

    async def load(session: AsyncSession, principal: Principal, ref: uuid.UUID) -> ReferralAccess:
        access = await load_referral(session, principal, ref, str(action))
        if relation == Relation.REFERRER:
            require_referrer(access)
        return access

    dependency = path_loader(guard, "referral_id", load, "The referral id.")

    return mark_loader(dependency, "referral", action, relation, "path:referral_id")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
CaseReferrer = Annotated[CaseAccess, Depends(case_access(Action.CASE_REFERRAL_CREATE))]
CaseReferralReader = Annotated[CaseAccess, Depends(case_access(Action.CASE_REFERRAL_LIST))]
ReferralLister = Annotated[Principal, Depends(require(Action.REFERRAL_LIST))]
ReferralReader = Annotated[ReferralAccess, Depends(referral_access(Action.REFERRAL_READ))]
ReferralUpdater = Annotated[ReferralAccess, Depends(referral_access(Action.REFERRAL_UPDATE))]
ReferralMover = Annotated[ReferralAccess, Depends(referral_access(Action.REFERRAL_TRANSITION))]
