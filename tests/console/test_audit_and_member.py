"""The audit log, the dashboard and a member's page speak to ops in words: labels, names, links, local times."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI

from siyu.audit import service as audit
from siyu.audit.labels import ACTION_LABELS, FIELD_LABELS
from siyu.claims import service as claims
from siyu.claims.models import Outcome
from siyu.kit.pagination import PageRequest
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import CampaignIn, TierIn
from siyu.tenants import service as tenants
from siyu.tenants.schemas import ChannelIn
from tests.console.conftest import Desk
from tests.support import factories

SIYU = Path(__file__).resolve().parents[2] / "siyu"


def test_every_recorded_action_has_a_chinese_label() -> None:
    found: set[str] = set()
    for path in SIYU.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "action=" in line and "audit" not in path.parts[-2:][0]:
                found.update(re.findall(r'"([a-z_]+\.[a-z_]+)"', line.split("action=", 1)[1]))
    assert {"lottery.draw", "claims.reject", "tier.create"} <= found
    assert sorted(found - set(ACTION_LABELS)) == []


def test_every_field_a_form_saves_has_a_chinese_label() -> None:
    """The settings forms whose values the log shows before and after."""
    from siyu.claims.schemas import ClaimPolicy
    from siyu.fans.schemas import WechatConfig
    from siyu.loyalty.schemas import PointsPolicy
    from siyu.mall.schemas import LotteryIn, PrizeIn, RewardIn

    for model in (CampaignIn, TierIn, PointsPolicy, ClaimPolicy, WechatConfig, RewardIn, LotteryIn, PrizeIn, ChannelIn):
        missing = [key for key in model.model_fields if key not in FIELD_LABELS]
        assert missing == [], f"{model.__name__}: {missing}"


async def test_the_audit_log_reads_in_words_and_leaves_fans_out(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    channel = await tenants.create_channel(
        desk.session, actor=desk.owner, data=ChannelIn(platform="douyin", name="星河抖店")
    )
    tier = await loyalty.create_tier(desk.session, actor=desk.owner, data=TierIn(name="金卡", threshold=100))
    await loyalty.update_tier(
        desk.session, actor=desk.owner, tier_id=tier.id, data=TierIn(name="金卡", threshold=300, multiplier_pct=120)
    )
    await ledger.adjust(
        desk.session, tenant_id=desk.tenant_id, member_id=fan.id, amount=50, reason="直播补发", actor=desk.owner
    )
    fan_self = Principal(tenant_id=desk.tenant_id, kind="member", actor_id=fan.id, label=f"会员 {fan.id}")
    audit.record(
        desk.session, actor=fan_self, action="lottery.draw", target_type="lottery", target_id=1, after={"cost": 10}
    )
    await desk.session.flush()

    page = (await desk.get("/console/audit")).text
    table = page[page.index('id="audit"') :]
    assert "修改会员等级" in table and "新增渠道" in table and "手工调整积分" in table
    assert "会员等级「金卡」" in table and f'href="/console/members/{fan.id}">会员「小满」</a>' in table
    assert re.search(r"需要的成长值：</span><span[^>]*>100</span> → <span>300</span>", table)
    assert "渠道「星河抖店」" in table and "抖音" in table
    assert "会员抽奖" not in table and 'data-action="lottery.draw"' not in table  # fans' draws stay on their page
    for code in ("tier.update", "threshold", "multiplier_pct", "{", "available"):
        assert code not in re.sub(r'data-action="[^"]*"|<[^>]+>', "", table), code
    # the filter lists every staff action, including the ones recorded only rarely
    for label in ("审核拒绝领取", "合并会员", "修改微信公众号/小程序设置", "导入兑换码"):
        assert f">{label}</option>" in page
    only = (await desk.get("/console/audit", action="tier.update")).text
    assert only.count("data-action=") == 1
    member_page = (await desk.get(f"/console/members/{fan.id}")).text
    history = member_page[member_page.index('id="member-history"') :]
    assert "会员抽奖" in history and "手工调整积分" in history
    assert channel.id


async def test_a_members_points_name_their_source_and_who_moved_them(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    order = await factories.order(desk.session, desk.tenant_id, platform="douyin", status="shipped", paid_fen=13990)
    claimed = await claims.claim(
        desk.session, tenant_id=desk.tenant_id, member_id=fan.id, platform="douyin", text=order.order_id
    )
    assert claimed.outcome == Outcome.credited
    await ledger.adjust(
        desk.session, tenant_id=desk.tenant_id, member_id=fan.id, amount=5, reason="补发", actor=desk.owner
    )

    page = (await desk.get(f"/console/members/{fan.id}")).text
    lots = page[page.index('id="lots"') :]
    assert f'href="/console/orders/douyin/{order.order_id}">抖音订单 {order.order_id}</a>' in lots
    assert "手工调整" in lots and "order:" not in page and "adjust:" not in page
    entries = page[page.index('id="entries"') : page.index('id="lots"')]
    assert (
        "会员领取订单" in entries
        and "员工owner" in entries
        and "claim:" not in entries
        and "@example.com" not in entries
    )


async def test_the_dashboard_and_the_sidebar_show_what_waits(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    for n in range(3):
        await desk.claim_row(fan.id, f"{9000000000000000 + n}", outcome=Outcome.review)
    home = (await desk.get("/console/")).text
    assert 'data-waiting-stat="review">3<' in home and 'href="/console/claims/review"' in home
    assert 'data-waiting-stat="to_ship">0<' in home and 'data-waiting-stat="failed_imports">0<' in home
    assert 'data-waiting="review"' in home  # the sidebar badge
    elsewhere = (await desk.get("/console/channels")).text
    assert re.search(r'data-waiting="review"[^>]*>3<', elsewhere)
    assert 'data-waiting="fulfilment"' not in elsewhere  # nothing to ship: no badge


async def test_a_members_page_shows_her_claim_pause_and_ops_lift_it(desk: Desk, app: FastAPI) -> None:
    fan = await factories.member(desk.session, desk.tenant_id)
    limiter = app.state.limiter
    for n in range(5):  # five numbers of no platform's shape
        await claims.claim(
            desk.session,
            tenant_id=desk.tenant_id,
            member_id=fan.id,
            platform="taobao",
            text=f"19306798{n:05d}",
            limiter=limiter,
        )
    page = await desk.get(f"/console/members/{fan.id}")
    assert 'id="claim-lock"' in page.text and "有 5 次像是猜测的失败" in page.text and "解除暂停" in page.text

    analyst = await factories.staff_login(desk.session, desk.tenant_id, role="analyst", email="analyst@example.com")
    refused = await desk.client.post(
        f"/console/members/{fan.id}/claims/unlock", data={"csrf_token": analyst.csrf}, cookies=analyst.cookies
    )
    assert refused.status_code == 403

    lifted = await desk.post(f"/console/members/{fan.id}/claims/unlock", {})
    assert lifted.status_code == 303 and lifted.headers["location"] == f"/console/members/{fan.id}?unlocked=1"
    page = await desk.get(f"/console/members/{fan.id}")
    assert 'id="claim-lock"' not in page.text and "已解除订单换积分的暂停" not in page.text
    assert "解除会员的领取暂停" in page.text  # her page's history
    entries = (await audit.about_member(desk.session, tenant_id=desk.tenant_id, member_id=fan.id, page=_first())).items
    assert entries[0].action == "claims.unlock" and entries[0].actor_id == desk.owner.actor_id


def _first() -> PageRequest:
    return PageRequest(size=1)
