"""A tenant with an owner, tasks of every kind and fans, inside the rolled-back test transaction; real pictures
(and a decompression bomb) made byte by byte."""

from __future__ import annotations

import itertools
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.missions import service
from siyu.engagement.missions.models import Review, Task
from siyu.engagement.missions.schemas import TaskIn
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.tenants.models import Tenant
from tests.support import factories

T0 = datetime(2030, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Friday
TZ = "Asia/Shanghai"
_orders = itertools.count(1)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 4, height: int = 4, *, pixels: bool = True) -> bytes:
    """A real PNG (grey pixels); with pixels=False only its header: what a bomb looks like until it is unpacked."""
    head = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    body = zlib.compress(b"".join(b"\x00" + b"\x99" * width for _ in range(height))) if pixels else b"x" * 64
    return head + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


@dataclass
class Tasks:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    data_dir: Path
    now: datetime = T0

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    async def fan(self, nickname: str = "小鱼") -> int:
        return (await factories.member(self.session, self.tenant.id, nickname=nickname)).id

    async def order(self, member_id: int, platform: str = "taobao") -> str:
        """An order credited to her (as a claim would): its number."""
        number = f"2030{next(_orders):012d}"
        await ledger.earn(
            self.session,
            tenant_id=self.tenant.id,
            member_id=member_id,
            amount=50,
            source_ref=refs.order_ref(platform, number),
            now=self.now - timedelta(days=1),
        )
        return number

    async def task(self, **values: Any) -> Task:
        data: dict[str, Any] = {
            "kind": "follow",
            "title": "关注抖音号",
            "points": 10,
            "config": {"channel": "小鱼直播间"},
        }
        data.update(values)
        return await service.create_task(self.session, actor=self.owner, data=TaskIn(**data), timezone=TZ)

    async def complete(self, member_id: int, task: Task, *, at: datetime | None = None, **kw: Any) -> Any:
        return await service.complete(
            self.session,
            tenant_id=self.tenant.id,
            member_id=member_id,
            task_id=task.id,
            timezone=TZ,
            now=at or self.now,
            **kw,
        )

    async def review(self, member_id: int, task: Task, order_id: str, data: bytes | None = None) -> Review:
        return await service.submit_review(
            self.session,
            tenant_id=self.tenant.id,
            member_id=member_id,
            task_id=task.id,
            platform="taobao",
            order_id=order_id,
            data=png() if data is None else data,
            data_dir=self.data_dir,
            timezone=TZ,
            now=self.now,
        )

    async def available(self, member_id: int) -> int:
        return (await ledger.balance(self.session, tenant_id=self.tenant.id, member_id=member_id)).available


@pytest.fixture
async def tasks(session: AsyncSession, tmp_path: Path) -> Tasks:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    return Tasks(session=session, tenant=tenant, owner=owner.principal, data_dir=tmp_path)
