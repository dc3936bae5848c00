"""Load the demo tenant through the same services the product uses. Loading twice changes nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.config import DEMO_SLUG
from siyu.kit.time import utcnow
from siyu.members import service as members
from siyu.members.models import IdentityKind
from siyu.members.schemas import IdentityIn
from siyu.staff import service as staff
from siyu.tenants import service as tenants
from siyu.tenants.models import Platform
from siyu.tenants.schemas import ChannelIn, TenantUpdate

DEMO_PASSWORD = "siyu-demo-2026"  # noqa: S105 - published demo login
DEMO_STAFF = [
    ("owner@demo.siyu.local", "林晓", "owner"),
    ("ops@demo.siyu.local", "陈运营", "operator"),
    ("ship@demo.siyu.local", "王发货", "fulfillment"),
    ("data@demo.siyu.local", "赵分析", "analyst"),
]
DEMO_CHANNELS = [
    (Platform.taobao, "星河好物天猫旗舰店", "tm-61839201"),
    (Platform.taobao, "星河淘宝直播间", "tb-live-20931"),
    (Platform.douyin, "星河抖音直播间", "dy-7301188"),
    (Platform.kuaishou, "星河快手小店", "ks-55120"),
    (Platform.channels, "星河视频号小店", "wxv-30921"),
    (Platform.pdd, "星河拼多多店", "pdd-998102"),
]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_NICK_PARTS = ["小", "阿", "甜甜", "爱吃", "追光的", "早睡的", "会发光的", "不吃香菜的", "喵", "momo"]
_NICK_TAILS = ["鱼", "桃子", "兔兔", "酱", "宝", "柚子", "芒果", "小熊", "星星", "糖"]


@dataclass
class DemoSummary:
    tenant_slug: str
    created: bool
    members: int
    staff: list[tuple[str, str]] = field(default_factory=list)


def _nickname(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(_SURNAMES) + rng.choice(["女士", "小姐", "同学", "姐"])
    return rng.choice(_NICK_PARTS) + rng.choice(_NICK_TAILS) + (str(rng.randint(1, 999)) if rng.random() < 0.3 else "")


async def load(session: AsyncSession, *, members_count: int = 240, seed: int = 11) -> DemoSummary:
    existing = await tenants.find_by_slug(session, DEMO_SLUG)
    staff_logins = [(email, role) for email, _name, role in DEMO_STAFF]
    if existing is not None:
        return DemoSummary(DEMO_SLUG, False, await members.count(session, tenant_id=existing.id), staff_logins)
    tenant = await tenants.create_tenant(session, slug=DEMO_SLUG, name="星河好物直播间")
    owner = None
    for email, name, role in DEMO_STAFF:
        user, membership = await staff.add_staff(
            session, tenant_id=tenant.id, email=email, role=role, password=DEMO_PASSWORD, name=name
        )
        if role == "owner":
            owner = staff.principal_for(user, membership, ip="demo")
    assert owner is not None
    await tenants.update_tenant(
        session,
        actor=owner,
        changes=TenantUpdate(brand_color="#e8336d", welcome_text="直播间下单换积分，积分兑好礼"),
    )
    for platform, name, shop_id in DEMO_CHANNELS:
        await tenants.create_channel(
            session, actor=owner, data=ChannelIn(platform=platform, name=name, shop_id=shop_id)
        )
    rng = random.Random(seed)
    now = utcnow()
    for n in range(members_count):
        identities = [
            IdentityIn(kind=IdentityKind.phone, value=f"1{rng.choice('3578')}{rng.randint(0, 999999999):09d}")
        ]
        if rng.random() < 0.8:
            identities.append(
                IdentityIn(kind=IdentityKind.wechat_openid, value=f"oXh8{n:06d}{rng.getrandbits(40):010x}")
            )
        if rng.random() < 0.35:
            identities.append(IdentityIn(kind=IdentityKind.taobao_nick, value=f"{_nickname(rng)}{rng.randint(10, 99)}"))
        if rng.random() < 0.3:
            identities.append(IdentityIn(kind=IdentityKind.douyin_open_id, value=f"dy_{rng.getrandbits(48):012x}"))
        member = await members.create_member(
            session, tenant_id=tenant.id, nickname=_nickname(rng), identities=identities
        )
        # Fans joined over the last two months, more of them after recent shows.
        member.created_at = now - timedelta(days=min(59, int(rng.expovariate(1 / 12))), hours=rng.randint(0, 23))
    await session.flush()
    return DemoSummary(DEMO_SLUG, True, members_count, staff_logins)
