"""积分商城 in the console: create a reward with an image, import codes, the fulfilment queue, ship and cancel."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from siyu.mall import redeem, service
from siyu.mall.models import RewardKind, Status
from tests.mall.conftest import ADDRESS, Mall
from tests.support import factories

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_ops_manage_the_catalogue_and_the_queue(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall, tmp_path: Path
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    login = await factories.staff_login(mall.session, mall.tenant_id)
    kw = {"cookies": login.cookies}
    form = {
        "csrf_token": login.csrf,
        "kind": "physical",
        "title": "定制帆布包",
        "points_price": "300",
        "stock": "",
        "enabled": "1",
    }
    refused = await client.post("/console/mall/rewards", data=form, **kw)
    assert refused.status_code == 422 and "必须设置库存" in refused.text and "定制帆布包" in refused.text
    not_image = await client.post(
        "/console/mall/rewards", data={**form, "stock": "5"}, files={"image": ("a.png", b"hello", "image/png")}, **kw
    )
    assert not_image.status_code == 422 and "请上传 JPG、PNG、GIF 或 WebP 格式的图片" in not_image.text
    created = await client.post(
        "/console/mall/rewards",
        data={**form, "stock": "5", "redeem_from": "2030-11-11T20:00"},
        files={"image": ("a.png", PNG, "image/png")},
        **kw,
    )
    assert created.status_code == 303, created.text
    reward_id = int(created.headers["location"].split("/")[-1].split("?")[0])
    reward = await service.get_reward(mall.session, tenant_id=mall.tenant_id, reward_id=reward_id)
    assert reward.image and reward.redeem_from and reward.redeem_from.isoformat() == "2030-11-11T12:00:00+00:00"
    page = await client.get("/console/mall", **kw)
    assert page.status_code == 200 and "定制帆布包" in page.text and "积分商城" in page.text

    codes = await mall.reward(kind=RewardKind.virtual_code, title="月卡", stock=0)
    imported = await client.post(
        f"/console/mall/rewards/{codes.id}/codes",
        data={"csrf_token": login.csrf},
        files={"file": ("c.txt", b"A1\nA1\nB2\n")},
        **kw,
    )
    assert imported.status_code == 200 and 'id="unclaimed">2<' in imported.text and "与第 1 行重复" in imported.text

    fan = await mall.fan(1000)
    goods = await mall.reward(kind=RewardKind.physical, title="保温杯", points_price=100, stock=3)
    rows = [
        await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=goods.id, address=ADDRESS)
        for _ in range(2)
    ]
    queue = await client.get("/console/mall/redemptions", **kw)
    assert queue.text.count('data-status="pending_shipment"') == 2
    ship = {"csrf_token": login.csrf, "carrier": "顺丰速运", "tracking_no": "SF1234567890", "back": "pending_shipment"}
    shipped = await client.post(f"/console/mall/redemptions/{rows[0].id}/ship", data=ship, **kw)
    assert shipped.status_code == 303
    cancel = {"csrf_token": login.csrf, "reason": "缺货"}
    assert (await client.post(f"/console/mall/redemptions/{rows[1].id}/cancel", data=cancel, **kw)).status_code == 303
    await mall.session.refresh(rows[1])
    assert rows[1].status == Status.cancelled and await mall.available(fan) == 900
    tracking = await client.post(
        "/console/mall/tracking",
        data={"csrf_token": login.csrf},
        files={"file": ("t.csv", f"兑换单号,快递公司,运单号\n{rows[1].id},顺丰,SF1\n".encode())},
        **kw,
    )
    assert tracking.status_code == 200 and 'id="tracking-report"' in tracking.text and "已取消" in tracking.text
    xlsx = await client.get("/console/mall/pick-list.xlsx", **kw)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    analyst = await factories.staff_login(mall.session, mall.tenant_id, role="analyst")
    looked = await client.get("/console/mall/redemptions?status=", cookies=analyst.cookies)
    assert looked.status_code == 200 and "批量导入运单号" not in looked.text
