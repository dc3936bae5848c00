"""The stack's floor for the check-in benchmark: the same route served by the same stack (uvicorn, FastAPI, the
fan's bearer token checked), doing nothing but the check-in transaction of siyu.engagement.checkin in raw SQL
through an asyncpg pool: the tenant by its slug (its timezone decides the day), the member, her balance locked,
yesterday and today read, today's row, the credit's entry and lot, the balance. No ORM, no rules object, no
logging.

Started by checkin.py as `uvicorn checkin_floor:app` with its settings in the environment:
CHECKIN_FLOOR_DSN (asyncpg), CHECKIN_FLOOR_SECRET, CHECKIN_FLOOR_POOL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

from siyu.fans.service import read_access_token
from siyu.kit.ids import new_id

RAW_TENANT = "SELECT id, timezone FROM tenants WHERE slug = $1"
RAW_MEMBER = "SELECT status FROM members WHERE tenant_id = $1 AND id = $2"
RAW_LOCK = "SELECT available, debt FROM ledger_balances WHERE tenant_id = $1 AND member_id = $2 FOR UPDATE"
RAW_OPEN = (
    "INSERT INTO ledger_balances (tenant_id, member_id, available, pending, debt, updated_at) "
    "VALUES ($1, $2, 0, 0, 0, now()) ON CONFLICT DO NOTHING"
)
RAW_NEAR = "SELECT day, streak, points FROM checkins WHERE tenant_id = $1 AND member_id = $2 AND day >= $3"
RAW_CHECKIN = (
    "INSERT INTO checkins (tenant_id, member_id, day, streak, points, made_up_on, cost, created_at) "
    "VALUES ($1, $2, $3, $4, $5, NULL, 0, now())"
)
RAW_ENTRY = (
    "INSERT INTO ledger_entries (tenant_id, id, member_id, kind, amount, pending_amount, source_ref, lot_id, "
    "explanation, created_by, created_at) VALUES ($1, $2, $3, 'earn', $4, 0, $5, $6, $7, NULL, now())"
)
RAW_LOT = (
    "INSERT INTO ledger_lots (tenant_id, id, member_id, entry_id, source_ref, amount, remaining, status, "
    "post_after, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $6, 'posted', NULL, NULL, now())"
)
RAW_BALANCE = (
    "UPDATE ledger_balances SET available = available + $3, updated_at = now() WHERE tenant_id = $1 AND member_id = $2"
)
BASE_POINTS, DAY_7_POINTS = 2, 20

pool: Any = None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global pool
    size = int(os.environ.get("CHECKIN_FLOOR_POOL", "12"))
    pool = await asyncpg.create_pool(os.environ["CHECKIN_FLOOR_DSN"], min_size=size, max_size=size)
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


class CheckinOut(BaseModel):
    day: str
    streak: int
    points: int
    created: bool


@app.post("/api/v1/fan/{slug}/checkin")
async def check_in(slug: str, authorization: str = Header(...)) -> CheckinOut:
    who = read_access_token(os.environ["CHECKIN_FLOOR_SECRET"], authorization.removeprefix("Bearer "))
    if who is None:
        raise HTTPException(401)
    token_tenant, member_id = who
    async with pool.acquire() as connection, connection.transaction():
        tenant = await connection.fetchrow(RAW_TENANT, slug)
        if tenant is None or tenant["id"] != token_tenant:
            raise HTTPException(401)
        tenant_id = tenant["id"]
        if await connection.fetchval(RAW_MEMBER, tenant_id, member_id) != "active":
            raise HTTPException(401)
        if await connection.fetchrow(RAW_LOCK, tenant_id, member_id) is None:  # her first points
            await connection.execute(RAW_OPEN, tenant_id, member_id)
            await connection.fetchrow(RAW_LOCK, tenant_id, member_id)
        today = datetime.now(UTC).astimezone(ZoneInfo(tenant["timezone"])).date()
        near = {row["day"]: row for row in await connection.fetch(RAW_NEAR, tenant_id, member_id, today - timedelta(1))}
        if today in near:
            row = near[today]
            return CheckinOut(day=today.isoformat(), streak=row["streak"], points=row["points"], created=False)
        yesterday = near.get(today - timedelta(days=1))
        streak = 1 if yesterday is None else yesterday["streak"] + 1
        points = DAY_7_POINTS if (streak - 1) % 7 + 1 == 7 else BASE_POINTS
        await connection.execute(RAW_CHECKIN, tenant_id, member_id, today, streak, points)
        ref = f"checkin:{member_id}:{today.isoformat()}"
        entry, lot = new_id(), new_id()
        note = f"每日签到 连续第 {streak} 天 +{points}"
        await connection.execute(RAW_ENTRY, tenant_id, entry, member_id, points, ref, lot, note)
        await connection.execute(RAW_LOT, tenant_id, lot, member_id, entry, ref, points)
        await connection.execute(RAW_BALANCE, tenant_id, member_id, points)
    return CheckinOut(day=today.isoformat(), streak=streak, points=points, created=True)
