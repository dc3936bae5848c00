"""A tenant with an owner and fans with points, inside the rolled-back test transaction; trials open now (one whose
window has closed is made by moving it back, as time would)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.tenants.models import Tenant
from siyu.trials import service
from siyu.trials.models import Application, Trial
from siyu.trials.schemas import ApplyIn, TrialIn
from tests.support import factories

_refs = itertools.count(1)
ADDRESS = {"name": "林小鱼", "phone": "13800138000", "region": "浙江省 杭州市 西湖区", "detail": "文三路 1 号"}


@dataclass
class Trials:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    data_dir: Path
    fans: list[int] = field(default_factory=list)

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    async def fan(self, points: int = 0, nickname: str = "小鱼") -> int:
        member = await factories.member(self.session, self.tenant_id, nickname=nickname)
        if points:
            await ledger.earn(
                self.session,
                tenant_id=self.tenant_id,
                member_id=member.id,
                amount=points,
                source_ref=f"seed:{next(_refs)}",
            )
        return member.id

    async def trial(self, **values: Any) -> Trial:
        now = utcnow()
        data: dict[str, Any] = {
            "title": "玻尿酸精华液 30ml",
            "value_fen": 19900,
            "quota": 3,
            "apply_from": now - timedelta(hours=1),
            "apply_until": now + timedelta(days=3),
            "questions": ["你的肤质是？"],
        }
        data.update(values)
        return await service.create_trial(self.session, actor=self.owner, data=TrialIn(**data))

    async def apply(self, trial: Trial, member_id: int, **values: Any) -> Application:
        data: dict[str, Any] = {"address": ADDRESS, "answers": ["混合肌"] * len(trial.questions)}
        data.update(values)
        return await service.apply(
            self.session, tenant_id=self.tenant_id, member_id=member_id, trial_id=trial.id, data=ApplyIn(**data)
        )

    async def close(self, trial: Trial) -> Trial:
        """As if the window had passed."""
        trial.apply_from, trial.apply_until = utcnow() - timedelta(days=5), utcnow() - timedelta(minutes=1)
        await self.session.flush()
        return trial

    async def available(self, member_id: int) -> int:
        return (await ledger.balance(self.session, tenant_id=self.tenant_id, member_id=member_id)).available


@pytest.fixture
async def trials(session: AsyncSession, tmp_path: Path) -> Trials:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    return Trials(session=session, tenant=tenant, owner=owner.principal, data_dir=tmp_path)
