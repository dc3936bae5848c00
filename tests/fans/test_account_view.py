"""What a signed-in fan sees of herself, on the H5 and from the fan API: her name and tier, the last day her points
can be used (in the shop's time zone, not the instant they are gone), her accounts by platform with nothing raw."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.fans import service
from siyu.kit.time import last_valid_day, to_local, utcnow
from siyu.ledger import service as ledger
from siyu.loyalty import rules
from siyu.loyalty.schemas import ExpiryMode, PointsPolicy
from siyu.members import service as members
from tests.fans.conftest import sent_code
from tests.support import factories
from tests.support.fans import h5_cookies


def test_points_of_2027_are_last_usable_on_2027_12_31_in_the_shops_time_zone() -> None:
    policy = PointsPolicy(expiry_mode=ExpiryMode.year_end, expiry_years=0)
    gone = rules.expires_at(policy, datetime(2027, 6, 1, 4, tzinfo=UTC), "Asia/Shanghai")
    assert gone is not None and gone == datetime(2027, 12, 31, 16, tzinfo=UTC)  # 2028-01-01 00:00 in Shanghai
    assert last_valid_day(gone, "Asia/Shanghai") == date(2027, 12, 31)
    assert gone.date() == date(2027, 12, 31) and to_local(gone).date() == date(2028, 1, 1)  # the two wrong answers
    assert last_valid_day(datetime(2027, 3, 5, 10, 30, tzinfo=UTC), "Asia/Shanghai") == date(2027, 3, 5)


async def test_home_points_page_and_api_show_the_last_valid_day(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id, nickname="小鱼儿")
    await members.bind_identity(session, tenant_id=tenant.id, member=fan, kind="douyin_open_id", value="dy_0a1b2c3d")
    await members.bind_identity(session, tenant_id=tenant.id, member=fan, kind="taobao_nick", value="鱼儿爱购物")
    today = to_local(utcnow(), tenant.timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    gone = (today + timedelta(days=3)).astimezone(UTC)  # the start of the third local day from today
    owner = (await factories.staff_login(session, tenant.id)).principal
    await ledger.adjust(
        session, tenant_id=tenant.id, member_id=fan.id, amount=40, reason="限时礼包", actor=owner, expires_at=gone
    )
    last = (today + timedelta(days=2)).date()
    shown = last.strftime("%Y年%m月%d日")
    jar = await h5_cookies(app, session, tenant, fan.id)

    home = await client.get(f"/h5/{tenant.slug}/", cookies=jar)
    assert 'id="fan-name">小鱼儿<' in home.text and 'id="fan-tier"' in home.text
    assert f"40 积分有效期到 {shown}" in home.text
    points = await client.get(f"/h5/{tenant.slug}/points", cookies=jar)
    assert f'id="expiring-last-day">{shown}<' in points.text

    pair = await service.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=fan.id
    )
    me = (
        await client.get(f"/api/v1/fan/{tenant.slug}/me", headers={"Authorization": f"Bearer {pair.access_token}"})
    ).json()
    expiring = me["points"]["expiring"]
    assert expiring["points"] == 40 and expiring["last_day"] == last.isoformat()
    assert datetime.fromisoformat(expiring["expires_at"]) == gone  # the instant stays: the first moment they are gone
    assert me["display_name"] == "小鱼儿"
    accounts = {i["kind"]: i for i in me["identities"]}
    assert accounts["douyin_open_id"]["label"] == "抖音" and accounts["douyin_open_id"]["value"] == ""
    assert accounts["taobao_nick"]["label"] == "淘宝" and accounts["taobao_nick"]["value"] == "鱼***物"
    assert "dy_0a1b2c3d" not in str(me)

    page = await client.get(f"/h5/{tenant.slug}/accounts", cookies=jar)
    assert page.status_code == 200 and "dy_0a1b2c3d" not in page.text and "鱼儿爱购物" not in page.text
    assert "抖音" in page.text and "鱼***物" in page.text and "open id" not in page.text


async def test_a_fan_without_a_nickname_is_greeted_by_her_masked_phone(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id, nickname="会员8000")  # as a phone sign-in names her
    await members.bind_identity(session, tenant_id=tenant.id, member=fan, kind="phone", value="13800138000")
    home = await client.get(f"/h5/{tenant.slug}/", cookies=await h5_cookies(app, session, tenant, fan.id))
    assert 'id="fan-name">138****8000<' in home.text and 'id="fan-tier">普通会员<' in home.text


async def test_an_empty_code_is_asked_for_and_costs_no_try(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    base = f"/h5/{tenant.slug}"
    page = await client.get(f"{base}/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"phone": "13600136000", "csrf_token": token}
    await client.post(f"{base}/login/code", data=form)
    for _ in range(6):  # more than the five tries a number gets
        empty = await client.post(f"{base}/login", data={**form, "code": "  "})
        assert empty.status_code == 422 and "请输入验证码" in empty.text
    signed = await client.post(f"{base}/login", data={**form, "code": sent_code(app, "13600136000")})
    assert signed.status_code == 303
