"""The H5 check-in page: signed out she is sent to sign in; signed in she sees the calendar and the button, checks
in once (the button then says 已签到), makes up a missed day and hears why not in words, switches her reminder; the
home page links to it."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from siyu.engagement.checkin import rules
from siyu.kit.time import utcnow
from tests.engagement.conftest import Desk
from tests.support.fans import h5_cookies


async def test_a_fan_checks_in_on_the_h5_and_makes_up_a_day(
    app: FastAPI, client: httpx.AsyncClient, desk: Desk
) -> None:
    slug = desk.tenant.slug
    assert (await client.get(f"/h5/{slug}/checkin")).status_code == 303
    fan = await desk.fan(points=50, joined=utcnow() - timedelta(days=60))
    cookies = await h5_cookies(app, desk.session, desk.tenant, fan)
    home = await client.get(f"/h5/{slug}/", cookies=cookies)
    assert f'href="/h5/{slug}/checkin"' in home.text
    page = await client.get(f"/h5/{slug}/checkin", cookies=cookies)
    assert page.status_code == 200 and "签到 +2 积分" in page.text and 'data-state="today"' in page.text
    done = await client.post(f"/h5/{slug}/checkin", cookies=cookies)
    assert done.status_code == 303
    after = await client.get(done.headers["location"], cookies=cookies)
    assert "已签到 · 今天得 2 积分" in after.text and "签到成功" in after.text and 'data-state="done"' in after.text
    again = await client.post(f"/h5/{slug}/checkin", cookies=cookies)
    assert again.status_code == 303 and await desk.available(fan) == 52
    today = rules.local_day(utcnow(), desk.tenant.timezone)
    yesterday = today - timedelta(days=1)
    assert f'data-make-up="{yesterday.isoformat()}"' in after.text
    made = await client.post(f"/h5/{slug}/checkin/make-up", data={"day": yesterday.isoformat()}, cookies=cookies)
    assert made.status_code == 303 and await desk.available(fan) == 42
    twice = await client.post(f"/h5/{slug}/checkin/make-up", data={"day": yesterday.isoformat()}, cookies=cookies)
    assert twice.status_code == 409 and "这一天已经签到过了" in twice.text and await desk.available(fan) == 42
    shown = await client.get(f"/h5/{slug}/checkin", cookies=cookies)
    assert "已连续签到" in shown.text and 'id="checkin-streak">2<' in shown.text
    switched = await client.post(f"/h5/{slug}/checkin/reminder", data={"enabled": "1"}, cookies=cookies)
    assert switched.status_code == 303
    assert "关闭提醒" in (await client.get(f"/h5/{slug}/checkin", cookies=cookies)).text
