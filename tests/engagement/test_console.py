"""The console's check-in page: the rules with their 30-day preview, trying rules out without saving, saving
(audited), a bad value refused in words keeping what was typed, statistics; an analyst reads but cannot save."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from siyu.audit.models import AuditEntry
from siyu.engagement.checkin import service
from tests.engagement.conftest import Desk
from tests.support import factories

FORM = {
    "enabled": "1",
    "base_points": "3",
    "cycle_days": "5",
    "reward_day_0": "5",
    "reward_points_0": "30",
    "makeup_enabled": "1",
    "makeup_cost": "8",
    "makeup_days_back": "5",
    "makeup_monthly_cap": "2",
    "reminder_hour": "21",
}


async def test_ops_try_save_and_read_the_rules(client: httpx.AsyncClient, desk: Desk) -> None:
    tenant_id = desk.tenant.id
    login = await factories.staff_login(desk.session, tenant_id)
    cookies: dict[str, Any] = login.cookies

    async def post(data: dict[str, str]) -> httpx.Response:
        return await client.post("/console/checkin", data={"csrf_token": login.csrf, **data}, cookies=cookies)

    page = await client.get("/console/checkin", cookies=cookies)
    assert page.status_code == 200
    assert "每日签到" in page.text and 'id="preview-total">132<' in page.text and "checkins-chart" in page.text
    tried = await post({**FORM, "action": "preview"})
    assert (
        tried.status_code == 200
        and "还没有保存" in tried.text
        and 'id="preview-total">' + str(24 * 3 + 6 * 30) in tried.text
    )
    assert (await service.rules_of(desk.session, tenant_id)).base_points == 2
    saved = await post({**FORM, "action": "save"})
    assert saved.status_code == 303
    desk.session.expire_all()  # the request's session changed the tenant's row this session holds
    rules = await service.rules_of(desk.session, tenant_id)
    assert (rules.base_points, rules.cycle_days, rules.makeup_cost, rules.reminder_hour) == (3, 5, 8, 21)
    assert [(r.day, r.points) for r in rules.rewards] == [(5, 30)]
    entry = await desk.session.scalar(
        select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == "checkin.rules")
    )
    assert entry is not None and entry.after["day_rewards"] == "第 5 天 30 积分"
    bad = await post({**FORM, "base_points": "很多", "makeup_cost": "9", "action": "save"})
    assert bad.status_code == 422 and "每天基础积分请填" in bad.text and 'value="很多"' in bad.text
    row = await post({**FORM, "reward_day_0": "0", "action": "save"})
    assert row.status_code == 422 and "连续第 N 天奖励：天数 1 到 365" in row.text
    beyond = await post({**FORM, "reward_day_0": "9", "action": "save"})
    assert beyond.status_code == 422 and "奖励的天数不能超过一轮的天数" in beyond.text
    assert (await service.rules_of(desk.session, tenant_id)).makeup_cost == 8
    audit_page = await client.get("/console/audit", cookies=cookies)
    assert "修改签到规则" in audit_page.text


async def test_an_analyst_reads_the_page_but_cannot_save(client: httpx.AsyncClient, desk: Desk) -> None:
    analyst = await factories.staff_login(desk.session, desk.tenant.id, role="analyst")
    page = await client.get("/console/checkin", cookies=analyst.cookies)
    assert page.status_code == 200 and 'id="save-rules"' not in page.text
    refused = await client.post(
        "/console/checkin", data={"csrf_token": analyst.csrf, **FORM, "action": "save"}, cookies=analyst.cookies
    )
    assert refused.status_code == 403
    assert (await service.rules_of(desk.session, desk.tenant.id)).base_points == 2
