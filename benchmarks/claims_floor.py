"""The stack's floor for the claims benchmark: the same HTTP route served by the same stack (uvicorn, FastAPI,
a Pydantic body, the fan's bearer token checked), doing nothing but the raw SQL claim transaction of
claims.py through an asyncpg pool. No ORM, no rules, no risk checks, no logging.

What it serves tells how fast any claim endpoint on this stack and this machine could be: claims.py reports
it as `floor_claims_per_s` next to the real app's figure. Started by claims.py (`--floor`) as
`uvicorn claims_floor:app` with its settings in the environment:
CLAIMS_FLOOR_DSN (asyncpg), CLAIMS_FLOOR_SECRET, CLAIMS_FLOOR_POOL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

from siyu.fans.service import read_access_token
from siyu.kit.ids import new_id

RAW_ORDER = "SELECT status, paid_fen, paid_at FROM orders WHERE tenant_id = $1 AND platform = $2 AND order_id = $3"
RAW_LOCK = "SELECT available, pending FROM ledger_balances WHERE tenant_id = $1 AND member_id = $2 FOR UPDATE"
RAW_OPEN = (
    "INSERT INTO ledger_balances (tenant_id, member_id, available, pending, debt, updated_at) "
    "VALUES ($1, $2, 0, 0, 0, now()) ON CONFLICT DO NOTHING"
)
RAW_CREDITED = "SELECT member_id FROM ledger_lots WHERE tenant_id = $1 AND source_ref = $2"
RAW_ENTRY = (
    "INSERT INTO ledger_entries (tenant_id, id, member_id, kind, amount, pending_amount, source_ref, lot_id, "
    "explanation, created_by, created_at) VALUES ($1, $2, $3, 'earn', 0, $4, $5, $6, $7, $8, now())"
)
RAW_LOT = (
    "INSERT INTO ledger_lots (tenant_id, id, member_id, entry_id, source_ref, amount, remaining, status, "
    "post_after, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $6, 'pending', NULL, NULL, now())"
)
RAW_BALANCE = (
    "UPDATE ledger_balances SET pending = pending + $3, updated_at = now() WHERE tenant_id = $1 AND member_id = $2"
)
RAW_CLAIM = (
    "INSERT INTO claims (tenant_id, id, member_id, platform, order_id, outcome, message, points, via, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'claim', now())"
)

pool: Any = None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global pool
    size = int(os.environ.get("CLAIMS_FLOOR_POOL", "12"))
    pool = await asyncpg.create_pool(os.environ["CLAIMS_FLOOR_DSN"], min_size=size, max_size=size)
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


class ClaimIn(BaseModel):
    platform: str
    order: str


class ClaimOut(BaseModel):
    id: int
    outcome: str
    points: int
    message: str


@app.post("/api/v1/fan/{slug}/claims")
async def claim(slug: str, body: ClaimIn, authorization: str = Header(...)) -> ClaimOut:
    who = read_access_token(os.environ["CLAIMS_FLOOR_SECRET"], authorization.removeprefix("Bearer "))
    if who is None:
        raise HTTPException(401)
    tenant_id, member_id = who
    ref = f"order:{body.platform}:{body.order}"
    claim_id = new_id()
    async with pool.acquire() as connection, connection.transaction():
        if await connection.fetchrow(RAW_LOCK, tenant_id, member_id) is None:  # her first claim
            await connection.execute(RAW_OPEN, tenant_id, member_id)
            await connection.fetchrow(RAW_LOCK, tenant_id, member_id)
        row = await connection.fetchrow(RAW_ORDER, tenant_id, body.platform, body.order)
        if row is None:
            outcome, points, note = "pending", 0, "还没有查到这笔订单"
        elif await connection.fetchrow(RAW_CREDITED, tenant_id, ref) is not None:
            outcome, points, note = "claimed_by_other", 0, "这笔订单的积分已被领取"
        else:
            outcome, points = "credited", row["paid_fen"] // 100
            note = f"订单 {body.order} 获得 {points} 积分"
            entry, lot = new_id(), new_id()
            await connection.execute(RAW_ENTRY, tenant_id, entry, member_id, points, ref, lot, note, "bench")
            await connection.execute(RAW_LOT, tenant_id, lot, member_id, entry, ref, points)
            await connection.execute(RAW_BALANCE, tenant_id, member_id, points)
        await connection.execute(
            RAW_CLAIM, tenant_id, claim_id, member_id, body.platform, body.order, outcome, note, points
        )
    return ClaimOut(id=claim_id, outcome=outcome, points=points, message=note)
