"""The stack's floor for the flash benchmark: the same routes served by the same stack (uvicorn, FastAPI, the fan's
bearer token or H5 cookie checked), doing nothing but the Redis admission (siyu.mall.gate's script) and, when
admitted, the raw redemption transaction in SQL through an asyncpg pool. No ORM, no rules beyond the ones a
redemption cannot skip (balance, stock, one per member), no logging, no templates.

What it serves tells how fast any flash redemption endpoint on this stack and this machine could be: flash.py
reports it as `floor_attempts_per_s` next to the real app's figure. Started by flash.py as
`uvicorn flash_floor:app` with its settings in the environment: FLASH_FLOOR_DSN (asyncpg), FLASH_FLOOR_SECRET,
FLASH_FLOOR_POOL, FLASH_FLOOR_REDIS, FLASH_FLOOR_STOCK (to prime the gate), FLASH_FLOOR_PREFIX (its Redis keys).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from siyu.fans.service import read_access_token
from siyu.kit.ids import new_id
from siyu.kit.security import same, sign
from siyu.mall.gate import FlashGate

# One redemption: lock her points, count her redemptions of it, take one from stock, spend from her lots
# (soonest-expiring first), write the entry, its allocations and the redemption.
RAW_LOCK = "SELECT available FROM ledger_balances WHERE tenant_id = $1 AND member_id = $2 FOR UPDATE"
RAW_HAD = (
    "SELECT count(*) FROM mall_redemptions WHERE tenant_id = $1 AND member_id = $2 AND reward_id = $3 "
    "AND status <> 'cancelled'"
)
RAW_STOCK = (
    "UPDATE mall_rewards SET stock = stock - 1, sold = sold + 1 WHERE tenant_id = $1 AND id = $2 AND stock >= 1 "
    "RETURNING points_price, title, kind"
)
RAW_SPEND = (
    "UPDATE ledger_balances SET available = available - $3, updated_at = now() "
    "WHERE tenant_id = $1 AND member_id = $2 AND available >= $3"
)
RAW_ENTRY = (
    "INSERT INTO ledger_entries (tenant_id, id, member_id, kind, amount, pending_amount, source_ref, lot_id, "
    "explanation, created_by, created_at) VALUES ($1, $2, $3, 'spend', $4, 0, $5, NULL, $6, NULL, now())"
)
RAW_LOTS = (
    "SELECT id, remaining FROM ledger_lots WHERE tenant_id = $1 AND member_id = $2 AND status = 'posted' "
    "AND remaining > 0 AND (expires_at IS NULL OR expires_at > now()) "
    "ORDER BY expires_at IS NULL, expires_at, created_at, id"
)
RAW_DRAW = "UPDATE ledger_lots SET remaining = remaining - $3 WHERE tenant_id = $1 AND id = $2"
RAW_ALLOCATION = "INSERT INTO ledger_allocations (tenant_id, entry_id, lot_id, amount) VALUES ($1, $2, $3, $4)"
RAW_REDEMPTION = (
    "INSERT INTO mall_redemptions (tenant_id, id, member_id, reward_id, idempotency_key, kind, title, points, "
    "status, day, address, code, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'completed', $9, NULL, NULL, now())"
)

pool: Any = None
gate: FlashGate | None = None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global pool, gate
    size = int(os.environ.get("FLASH_FLOOR_POOL", "10"))
    pool = await asyncpg.create_pool(os.environ["FLASH_FLOOR_DSN"], min_size=size, max_size=size)
    gate = FlashGate(os.environ["FLASH_FLOOR_REDIS"], prefix=os.environ.get("FLASH_FLOOR_PREFIX", "floor"))
    try:
        yield
    finally:
        await pool.close()
        await gate.close()


app = FastAPI(lifespan=lifespan)
SOLD_OUT = {"code": "sold_out", "message": "已经被抢光了，下次早点来"}


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


class RedeemIn(BaseModel):
    request_key: str | None = None


async def _redeem(tenant_id: int, member_id: int, reward_id: int, key: str | None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of one attempt: admission at Redis, then the raw transaction."""
    assert gate is not None
    stock = int(os.environ["FLASH_FLOOR_STOCK"])
    if not await gate.admit(tenant_id=tenant_id, reward_id=reward_id, member_id=member_id, stock=stock):
        return 409, SOLD_OUT
    redemption_id = new_id()
    try:
        async with pool.acquire() as connection, connection.transaction():
            await connection.fetchrow(RAW_LOCK, tenant_id, member_id)
            if await connection.fetchval(RAW_HAD, tenant_id, member_id, reward_id):
                raise _Refused(409, "over_member_limit")
            reward = await connection.fetchrow(RAW_STOCK, tenant_id, reward_id)
            if reward is None:
                raise _Refused(409, "sold_out")
            price = reward["points_price"]
            if await connection.execute(RAW_SPEND, tenant_id, member_id, price) != "UPDATE 1":
                raise _Refused(409, "insufficient_points")
            entry_id = new_id()
            note = f"兑换 {reward['title']}"
            await connection.execute(RAW_ENTRY, tenant_id, entry_id, member_id, -price, f"redeem:{redemption_id}", note)
            left = price
            for lot in await connection.fetch(RAW_LOTS, tenant_id, member_id):
                take = min(left, lot["remaining"])
                await connection.execute(RAW_DRAW, tenant_id, lot["id"], take)
                await connection.execute(RAW_ALLOCATION, tenant_id, entry_id, lot["id"], take)
                left -= take
                if left == 0:
                    break
            day = datetime.now(UTC).date()
            await connection.execute(
                RAW_REDEMPTION,
                tenant_id,
                redemption_id,
                member_id,
                reward_id,
                key,
                reward["kind"],
                reward["title"],
                price,
                day,
            )
    except _Refused as refused:
        await gate.release(tenant_id=tenant_id, reward_id=reward_id, member_id=member_id)
        return refused.status, {"code": refused.code, "message": "没有兑换成功"}
    return 200, {"id": redemption_id, "status": "completed"}


class _Refused(Exception):
    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code


@app.post("/api/v1/fan/{slug}/mall/rewards/{reward_id}/redeem")
async def redeem(slug: str, reward_id: int, body: RedeemIn, authorization: str = Header("")) -> Response:
    who = read_access_token(os.environ["FLASH_FLOOR_SECRET"], authorization.removeprefix("Bearer ").strip())
    if who is None:
        return JSONResponse({"code": "fan_token_invalid", "message": "登录已过期，请重新登录"}, status_code=401)
    status, answer = await _redeem(who[0], who[1], reward_id, body.request_key)
    return Response(json.dumps(answer, ensure_ascii=False), status_code=status, media_type="application/json")


@app.post("/h5/{slug}/mall/rewards/{reward_id}/redeem")
async def redeem_form(slug: str, reward_id: int, request: Request) -> Response:
    """The H5 form's route: her signed cookie, the form's request key; a small fragment or a redirect back."""
    parts = request.cookies.get(f"siyu_fan_{slug}", "").split(".")  # tenant.member.session.issued.signature
    payload = ".".join(parts[:4])
    if len(parts) != 5 or not same(parts[4], sign(os.environ["FLASH_FLOOR_SECRET"], payload)):
        return Response(status_code=303, headers={"Location": f"/h5/{slug}/login"})
    form = await request.form()
    key = form.get("key")
    status, answer = await _redeem(int(parts[0]), int(parts[1]), reward_id, key if isinstance(key, str) else None)
    if status == 200:
        if request.headers.get("hx-request") != "true":
            return Response(status_code=303, headers={"Location": f"/h5/{slug}/mall/redemptions/{answer['id']}?new=1"})
        html = f'<section id="redeem-result" data-status="completed">兑换成功 {answer["id"]}</section>'
    else:
        html = f'<section id="redeem-result" data-code="{answer["code"]}">{answer["message"]}</section>'
    return Response(html, status_code=status, media_type="text/html; charset=utf-8")
