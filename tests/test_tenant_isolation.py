"""Tenant isolation, generated from the route table: every route that names a resource is covered.

For every route with a path parameter, tenant A's staff session and API key ask for tenant B's
resource and must get 404, whatever the method. A new route with a new kind of parameter fails this
test until a tenant-B resource is registered for it below, so no future route escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, UploadFile
from fastapi.routing import APIRoute
from polyfactory.factories.pydantic_factory import ModelFactory
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.config import Settings
from siyu.engagement.missions import service as missions
from siyu.engagement.missions.schemas import TaskIn
from siyu.engagement.referrals import service as referrals
from siyu.engagement.referrals.schemas import BoardIn
from siyu.groups import service as groups
from siyu.groups.schemas import GroupIn
from siyu.jobs import service as jobs
from siyu.ledger import service as ledger
from siyu.live import service as live
from siyu.live.schemas import ProductIn, ShowIn
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import CampaignIn, TierIn
from siyu.mall import lottery, redeem
from siyu.mall import service as mall
from siyu.mall.models import RewardKind
from siyu.mall.schemas import AddressIn, LotteryIn, PrizeIn, RewardIn
from siyu.members import service as members
from siyu.segments import service as segments
from siyu.segments.schemas import SegmentFilter, SegmentIn, TagIn, TagRuleIn
from siyu.trials.schemas import TrialIn
from siyu.voice import service as voice
from siyu.voice.schemas import DemandIn, ReplyIn, SurveyIn, WishIn
from tests.support import factories
from tests.support.routes import route_table

# Routes addressed by something other than a tenant-owned id, with the reason.
PUBLIC_ROUTES = {
    "/h5/{slug}/": "public fan page, addressed by the tenant's own slug",
    "/h5/{slug}/points": "the signed-in fan's own points; her cookie names tenant and member (tests/test_h5_fans.py)",
    "/h5/{slug}/login": "public sign-in page of the tenant",
    "/h5/{slug}/demo-login": "only on a demo server",
    "/h5/{slug}/logout": "clears the fan's cookie of that tenant",
    "/h5/{slug}/claim": "the signed-in fan claims an order of that tenant (tests/test_h5_fans.py)",
    "/h5/{slug}/claims": "the signed-in fan's own claims",
    "/h5/{slug}/login/code": "sends a sign-in code for that tenant (tests/fans/test_h5_sign_in.py)",
    "/h5/{slug}/wechat": "starts WeChat sign-in for that tenant",
    "/h5/{slug}/wechat/callback": "WeChat returns here; the state cookie is bound to the tenant's path",
    "/h5/{slug}/accounts": "the signed-in fan's own accounts",
    "/h5/{slug}/accounts/unbind": "unbinds one of the signed-in fan's own accounts",
    "/h5/{slug}/mall": "public shelf of the tenant's mall",
    "/h5/{slug}/mall/images/{name}": "images in the tenant's own folder, by content hash (tests/mall/test_h5.py)",
    "/h5/{slug}/mall/rewards/{reward_id}": "a reward looked up within the slug's tenant (tests/mall/test_h5.py)",
    "/h5/{slug}/mall/rewards/{reward_id}/redeem": "the signed-in fan redeems in her own tenant (tests/mall/test_h5.py)",
    "/h5/{slug}/mall/redemptions": "the signed-in fan's own redemptions",
    "/h5/{slug}/mall/redemptions/{redemption_id}": "only the signed-in fan's own (tests/mall/test_h5.py)",
    "/h5/{slug}/mall/redemptions/{redemption_id}/address": "only her own prize (tests/mall/test_lottery.py)",
    "/h5/{slug}/mall/addresses": "the signed-in fan's own address book",
    "/h5/{slug}/mall/addresses/{address_id}/default": "only the signed-in fan's own addresses (tests/mall/test_h5.py)",
    "/h5/{slug}/mall/addresses/{address_id}/delete": "only the signed-in fan's own addresses (tests/mall/test_h5.py)",
    "/h5/{slug}/mall/addresses/{address_id}/edit": "only her own addresses (tests/mall/test_addresses.py)",
    "/h5/{slug}/mall/addresses/{address_id}": "only the signed-in fan's own addresses (tests/mall/test_addresses.py)",
    "/h5/{slug}/lottery": "public list of the tenant's open lotteries",
    "/h5/{slug}/lottery/{lottery_id}": "a lottery looked up within the slug's tenant (tests/mall/test_lottery_h5.py)",
    "/h5/{slug}/lottery/{lottery_id}/draw": "the signed-in fan draws in her own tenant (tests/mall/test_lottery_h5.py)",
    "/h5/{slug}/tasks": "the signed-in fan's own tasks and screenshots",
    "/h5/{slug}/tasks/reviews/{review_id}/image": "only her own screenshot (tests/engagement/missions/test_web.py)",
    "/h5/{slug}/tasks/{task_id}/claim": "a task of the slug's tenant (tests/engagement/missions/test_web.py)",
    "/h5/{slug}/tasks/{task_id}/survey": "a task of the slug's tenant (tests/engagement/missions/test_web.py)",
    "/h5/{slug}/tasks/{task_id}/reviews": "a task of the slug's tenant, her own order (tests/engagement/missions)",
    "/h5/{slug}/invite": "the signed-in fan's own invite code and invitations",
    "/h5/{slug}/invite/qr.svg": "the QR code of an invite code of the slug's tenant (tests/engagement/referrals)",
    "/h5/{slug}/leaderboards/{board_id}": "a leaderboard of the slug's tenant (tests/engagement/referrals)",
    "/h5/{slug}/checkin": "the signed-in fan's own check-ins (tests/engagement/test_h5.py)",
    "/h5/{slug}/checkin/make-up": "makes up a day of the signed-in fan's own (tests/engagement/test_h5.py)",
    "/h5/{slug}/checkin/reminder": "the signed-in fan's own reminder",
    "/h5/{slug}/live": "public calendar of the tenant's shows",
    "/h5/{slug}/live/mine": "the signed-in fan's own reservations",
    "/h5/{slug}/live/{show_id}": "a show looked up within the slug's tenant (tests/live/test_web.py)",
    "/h5/{slug}/live/{show_id}/reserve": "the signed-in fan reserves a show of the slug's tenant (tests/live)",
    "/h5/{slug}/live/{show_id}/cancel": "the signed-in fan cancels her own reservation (tests/live)",
    "/h5/{slug}/live/{show_id}/cover": "a show's cover within the slug's tenant",
    "/h5/{slug}/live/{show_id}/products/{product_id}/image": "a product of a show within the slug's tenant",
    "/h5/{slug}/notices": "the signed-in fan's own notice settings and notices",
    "/h5/{slug}/notices/wx-config": "wx.config for the signed-in fan's page, signed with her own tenant's account",
    "/h5/{slug}/notices/consents": "the signed-in fan's own subscribe consents (tests/notices/test_official.py)",
    "/h5/{slug}/groups": "the slug's tenant's fan groups as the signed-in fan sees them",
    "/h5/{slug}/groups/{group_id}/qr": "a group of the slug's tenant offered to her (tests/groups/test_web.py)",
    "/h5/{slug}/groups/{group_id}/join": "she joins a group of the slug's tenant (tests/groups/test_web.py)",
    "/h5/{slug}/voice": "the tenant's wish list, seen by its signed-in fan",
    "/h5/{slug}/voice/wishes": "the signed-in fan makes a wish in her own tenant",
    "/h5/{slug}/voice/wishes/{wish_id}/plus": "a wish looked up within the slug's tenant (tests/voice/test_web.py)",
    "/h5/{slug}/voice/demand": "the signed-in fan's own demands",
    "/h5/{slug}/voice/demand/{demand_id}/photo": "only her own demand's photo (tests/voice/test_web.py)",
    "/h5/{slug}/voice/encore": "products of the slug's tenant's past shows",
    "/h5/{slug}/voice/encore/{product_id}": "a product of the slug's tenant's past shows (tests/voice/test_web.py)",
    "/h5/{slug}/voice/surveys": "the slug's tenant's open surveys",
    "/h5/{slug}/voice/surveys/{survey_id}": "a survey looked up within the slug's tenant (tests/voice/test_web.py)",
    "/h5/{slug}/voice/replies": "replies to the signed-in fan's own wishes and demands",
    "/h5/{slug}/trials": "public list of the tenant's product trials",
    "/h5/{slug}/trials/mine": "the signed-in fan's own trial applications",
    "/h5/{slug}/trials/{trial_id}": "a trial looked up within the slug's tenant (tests/trials/test_web.py)",
    "/h5/{slug}/trials/{trial_id}/apply": "the signed-in fan applies in her own tenant (tests/trials/test_web.py)",
    "/h5/{slug}/trials/{trial_id}/draw": "a trial's published draw within the slug's tenant",
    "/h5/{slug}/trials/{trial_id}/report": "only her own application's report (tests/trials/test_web.py)",
    "/h5/{slug}/trials/{trial_id}/image": "a trial's picture within the slug's tenant",
}
# The fan API: addressed by the tenant's slug; a fan token of another tenant is refused (tests/fans/test_api.py).
FAN_API = "/api/v1/fan/{slug}/"


CAMPAIGN = {
    "name": "双11",
    "starts_at": "2030-11-10T16:00:00+00:00",
    "ends_at": "2030-11-11T16:00:00+00:00",
    "multiplier_pct": 200,
}
EXAMPLES: dict[Any, Any] = {
    SegmentIn: {"name": "金卡会员", "filter": {"points_min": 1}},
    SegmentFilter: {"points_min": 1},
    TagRuleIn: {"rule": {"points_min": 1}},
    BoardIn: {
        "title": "邀请榜",
        "starts_at": "2030-11-10T16:00:00+00:00",
        "ends_at": "2030-11-11T16:00:00+00:00",
        "prizes": [1],
    },
    CampaignIn: CAMPAIGN,
    TaskIn: {"kind": "follow", "title": "关注", "points": 1, "config": {"channel": "小鱼直播间"}},
    ShowIn: {
        "channel_id": 1,
        "title": "直播",
        "starts_at": "2030-11-10T12:00:00+00:00",
        "ends_at": "2030-11-10T14:00:00+00:00",
    },
    RewardIn: {"kind": "coupon", "title": "券", "points_price": 1, "stock": 1},
    SurveyIn: {"title": "问卷", "questions": [{"text": "想看什么", "kind": "text"}]},
    ReplyIn: {"reply": "已安排在 12月8日 直播"},
    LotteryIn: {
        "title": "大转盘",
        "points_cost": 1,
        "starts_at": "2030-11-10T16:00:00+00:00",
        "ends_at": "2030-11-11T16:00:00+00:00",
        "prizes": [
            {"kind": "points", "title": "1 积分", "weight": 1, "points": 1},
            {"kind": "nothing", "title": "谢谢参与", "weight": 1},
        ],
    },
    TrialIn: {
        "title": "精华液",
        "quota": 1,
        "apply_from": "2030-11-10T16:00:00+00:00",
        "apply_until": "2030-11-11T16:00:00+00:00",
    },
}


@dataclass
class World:
    params: dict[str, Any]
    a_cookies: dict[str, str]
    a_headers: dict[str, str]
    a_key: str
    b_key: str


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    tenant_a = await factories.tenant(session)
    tenant_b = await factories.tenant(session)
    owner_a = await factories.staff_login(session, tenant_a.id)
    owner_b = await factories.staff_login(session, tenant_b.id)
    staff_b = await factories.staff_login(session, tenant_b.id, role="operator")
    channel_b = await factories.channel(session, owner_b.principal)
    member_b = await factories.member(session, tenant_b.id)
    await members.bind_identity(session, tenant_id=tenant_b.id, member=member_b, kind="taobao_nick", value="nick-b")
    b_key = await factories.api_key(session, owner_b.principal)
    from siyu.staff import api_keys

    key_b = (await api_keys.list_keys(session, tenant_id=tenant_b.id))[0][0]
    job_b = await jobs.enqueue(session, "staff.purge_sessions", tenant_id=tenant_b.id)
    order_b = await factories.order(session, tenant_b.id, platform="douyin")
    import_b = await factories.order_import(session, tenant_b.id)
    campaign_b = await loyalty.create_campaign(session, actor=owner_b.principal, data=CampaignIn(**CAMPAIGN))
    tier_b = await loyalty.create_tier(session, actor=owner_b.principal, data=TierIn(name="金卡", threshold=100))
    reward_b = await mall.create_reward(
        session,
        actor=owner_b.principal,
        data=RewardIn(kind=RewardKind.physical, title="帆布包", points_price=1, stock=5),
    )
    await ledger.earn(session, tenant_id=tenant_b.id, member_id=member_b.id, amount=10, source_ref="adjust:isolation")
    address = AddressIn(name="林小鱼", phone="13800138000", region="浙江省 杭州市 西湖区", detail="文三路 90 号")
    redemption_b = await redeem.redeem(
        session, tenant_id=tenant_b.id, member_id=member_b.id, reward_id=reward_b.id, address=address
    )
    lottery_b = await lottery.create_lottery(
        session,
        actor=owner_b.principal,
        data=LotteryIn(**{**EXAMPLES[LotteryIn], "prizes": [PrizeIn(kind="nothing", title="谢谢参与", weight=1)] * 2}),
    )
    task_b = await missions.create_task(
        session,
        actor=owner_b.principal,
        data=TaskIn(kind="review", title="晒评价", points=5),
        timezone="Asia/Shanghai",
    )
    await ledger.earn(session, tenant_id=tenant_b.id, member_id=member_b.id, amount=1, source_ref="order:taobao:iso-b")
    review_b = await missions.submit_review(
        session,
        tenant_id=tenant_b.id,
        member_id=member_b.id,
        task_id=task_b.id,
        platform="taobao",
        order_id="iso-b",
        data=b"\x89PNG\r\n\x1a\n" + b"\0" * 32,
        data_dir=settings.data_dir,
        timezone="Asia/Shanghai",
    )
    inviter_b = await referrals.invite_code(session, tenant_id=tenant_b.id, member_id=member_b.id)
    invitee_b = await factories.member(session, tenant_b.id)
    referral_b = await referrals.joined(session, tenant_id=tenant_b.id, invitee=invitee_b, code=inviter_b.code)
    assert referral_b is not None
    board_b = await referrals.create_board(session, actor=owner_b.principal, data=BoardIn(**EXAMPLES[BoardIn]))
    show_b = await live.create_show(
        session,
        actor=owner_b.principal,
        data=ShowIn(**{**EXAMPLES[ShowIn], "channel_id": channel_b.id}),
    )
    product_b = await live.add_product(
        session, actor=owner_b.principal, show_id=show_b.id, data=ProductIn(title="精华液", price_fen=100)
    )
    endpoint_b, delivery_b = await _notices_of(session, tenant_b.id, member_b.id)
    group_b = await groups.create_group(session, actor=owner_b.principal, data=GroupIn(name="金卡群"))
    wish_b = await voice.add_wish(session, tenant_id=tenant_b.id, member_id=member_b.id, data=WishIn(product="围巾"))
    demand_b = await voice.submit_demand(
        session,
        tenant_id=tenant_b.id,
        member_id=member_b.id,
        data=DemandIn(category="其他", product="围巾"),
        timezone="Asia/Shanghai",
    )
    survey_b = await voice.create_survey(
        session, actor=owner_b.principal, data=SurveyIn(title="问卷", questions=[{"text": "想看什么", "kind": "text"}])
    )
    trial_b, report_b = await _trial_of(session, owner_b.principal, member_b.id)
    tag_b = await segments.create_tag(session, actor=owner_b.principal, data=TagIn(name="宝妈"))
    segment_b = await segments.create_segment(session, actor=owner_b.principal, data=SegmentIn(name="金卡会员"))
    await session.flush()
    return World(
        params={
            "referral_id": referral_b.id,
            "board_id": board_b.id,
            "channel_id": channel_b.id,
            "staff_id": staff_b.user.id,
            "api_key_id": key_b.id,
            "member_id": member_b.id,
            "kind": "taobao_nick",
            "value": "nick-b",
            "job_id": job_b,
            "platform": order_b.platform,
            "order_id": order_b.order_id,
            "import_id": import_b.id,
            "campaign_id": campaign_b.id,
            "tier_id": tier_b.id,
            "reward_id": reward_b.id,
            "redemption_id": redemption_b.id,
            "lottery_id": lottery_b.id,
            "task_id": task_b.id,
            "review_id": review_b.id,
            "show_id": show_b.id,
            "product_id": product_b.id,
            "endpoint_id": endpoint_b,
            "delivery_id": delivery_b,
            "group_id": group_b.id,
            "wish_id": wish_b.id,
            "demand_id": demand_b.id,
            "survey_id": survey_b.id,
            "trial_id": trial_b,
            "report_id": report_b,
            "tag_id": tag_b.id,
            "segment_id": segment_b.id,
            "n": 0,
        },
        a_cookies=owner_a.cookies,
        a_headers=owner_a.headers,
        a_key=await factories.api_key(session, owner_a.principal),
        b_key=b_key,
    )


async def _trial_of(session: AsyncSession, owner: Any, member_id: int) -> tuple[int, int]:
    """A trial with one application and its report, in tenant B."""
    from siyu.kit.ids import new_id
    from siyu.trials import service as trials
    from siyu.trials.models import Application, Report

    trial = await trials.create_trial(session, actor=owner, data=TrialIn(**EXAMPLES[TrialIn]))
    application = Application(
        tenant_id=trial.tenant_id, id=new_id(), trial_id=trial.id, member_id=member_id, address={}, status="won"
    )
    session.add(application)
    await session.flush()
    report = Report(
        tenant_id=trial.tenant_id,
        id=new_id(),
        trial_id=trial.id,
        application_id=application.id,
        member_id=member_id,
        text="很好用的精华液，推荐",
        photos=[],
    )
    session.add(report)
    await session.flush()
    return trial.id, report.id


async def _notices_of(session: AsyncSession, tenant_id: int, member_id: int) -> tuple[int, int]:
    """A webhook endpoint and a parked delivery of a notice, in tenant B."""
    from siyu.kit.ids import new_id
    from siyu.notices import service as notices
    from siyu.notices.models import Delivery, Notice, WebhookEndpoint

    endpoint = WebhookEndpoint(tenant_id=tenant_id, id=new_id(), url="https://hooks.example.com/b", secret="whsec_AA==")
    session.add(endpoint)
    await notices.file(session, tenant_id, member_id, {"kind": "shipped", "subject": "iso"})
    notice = await session.scalar(select(Notice).where(Notice.tenant_id == tenant_id))
    assert notice is not None
    delivery = Delivery(tenant_id=tenant_id, id=new_id(), notice_id=notice.id, channel="webhook", status="parked")
    session.add(delivery)
    return endpoint.id, delivery.id


def _routes(app: FastAPI) -> list[tuple[str, APIRoute, str]]:
    out = []
    for path, route in route_table(app):
        if "{" not in path or path in PUBLIC_ROUTES or path.startswith(FAN_API):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((path, route, method))
    return out


def _body(route: APIRoute) -> Any:
    field = route.body_field
    if field is None:
        return None
    model = field.field_info.annotation
    if model in EXAMPLES:  # rules across fields that a generated body would rarely meet
        return EXAMPLES[model]
    if isinstance(model, type) and issubclass(model, BaseModel):
        factory = ModelFactory.create_factory(model)
        return factory.build().model_dump(mode="json")
    return {}


async def _call(
    client: httpx.AsyncClient,
    route: APIRoute,
    method: str,
    path: str,
    *,
    cookies: dict[str, str],
    headers: dict[str, str],
) -> httpx.Response:
    if path.startswith("/console"):
        data = {"csrf_token": headers.get("X-CSRF-Token", "")} if method == "POST" else None
        return await client.request(method, path, data=data, cookies=cookies, headers=headers)
    if _uploads(route):
        files = {"file": ("x.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png")}
        return await client.request(method, path, files=files, cookies=cookies, headers=headers)
    body = _body(route)
    return await client.request(method, path, json=body, cookies=cookies, headers=headers)


def _uploads(route: APIRoute) -> bool:
    """A multipart route (an image, a file of codes): it takes a file, not JSON."""
    field = route.body_field
    model = field.field_info.annotation if field is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    return any(f.annotation is UploadFile for f in model.model_fields.values())


async def test_every_route_hides_other_tenants_resources(app: FastAPI, client: httpx.AsyncClient, world: World) -> None:
    routes = _routes(app)
    assert len(routes) >= 10, "the route table looks empty"
    checked = 0
    for template, route, method in routes:
        names = re.findall(r"{(\w+)}", template)
        missing = [n for n in names if n not in world.params]
        assert not missing, f"{template}: register a tenant-B resource for path parameter(s) {missing}"
        path = template.format(**world.params)
        credentials = [("session", world.a_cookies, world.a_headers)]
        if template.startswith("/api/"):
            credentials.append(("api key", {}, {"Authorization": f"Bearer {world.a_key}"}))
        for label, cookies, headers in credentials:
            response = await _call(client, route, method, path, cookies=cookies, headers=headers)
            assert response.status_code == 404, f"{method} {template} with A's {label}: {response.status_code}"
            checked += 1
    assert checked >= len(routes)


async def test_the_same_requests_find_the_resources_for_their_own_tenant(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    """Guards the test above: the ids it uses really exist, so its 404s mean isolation."""
    for template, _route, method in _routes(app):
        if method != "GET" or not template.startswith("/api/"):
            continue
        response = await client.get(template.format(**world.params), headers={"Authorization": f"Bearer {world.b_key}"})
        assert response.status_code == 200, f"GET {template} with B's own key: {response.status_code}"
