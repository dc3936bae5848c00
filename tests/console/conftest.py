"""A tenant with an owner signed in to the console."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims.models import Claim, Outcome
from siyu.kit.ids import new_id
from siyu.kit.web import Principal
from tests.support import factories


@dataclass
class Desk:
    """The console of one tenant, as its owner sees it."""

    session: AsyncSession
    client: httpx.AsyncClient
    tenant_id: int
    owner: Principal
    cookies: dict[str, str]
    csrf: str

    async def get(self, path: str, **params: Any) -> httpx.Response:
        response = await self.client.get(path, params=params, cookies=self.cookies)
        assert response.status_code == 200, response.text[:2000]
        return response

    async def post(self, path: str, data: dict[str, Any]) -> httpx.Response:
        return await self.client.post(path, data={"csrf_token": self.csrf, **data}, cookies=self.cookies)

    async def claim_row(
        self,
        member_id: int,
        order_id: str,
        *,
        platform: str = "taobao",
        outcome: str = Outcome.credited,
        points: int = 10,
    ) -> Claim:
        row = Claim(
            tenant_id=self.tenant_id,
            id=new_id(),
            member_id=member_id,
            platform=platform,
            order_id=order_id,
            outcome=outcome,
            message="已获得积分",
            points=points if outcome == Outcome.credited else None,
        )
        self.session.add(row)
        await self.session.flush()
        return row


@pytest.fixture
async def desk(session: AsyncSession, client: httpx.AsyncClient) -> Desk:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    return Desk(
        session=session,
        client=client,
        tenant_id=tenant.id,
        owner=login.principal,
        cookies=login.cookies,
        csrf=login.csrf,
    )
