"""The demo tenant's points mall: rewards of every kind in a few categories (a code pool imported from a file, a
flash reward opening later today, one for gold members and up), and redemptions some fans made, one shipped and
one cancelled, all through the services the product uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.pagination import PageRequest
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.mall import fulfil, lottery, redeem, service
from siyu.mall.models import PrizeKind, RewardKind
from siyu.mall.schemas import AddressIn, LotteryIn, PrizeIn, RewardIn, ShipIn
from siyu.members import service as members
from siyu.tenants import service as tenants

ADDRESSES = [
    AddressIn(name="林小鱼", phone="13800138000", region="浙江省 杭州市 西湖区", detail="文三路 90 号 3 幢 501"),
    AddressIn(name="陈桃子", phone="13912345678", region="广东省 深圳市 南山区", detail="科技园南区 8 栋 1203"),
    AddressIn(name="王柚子", phone="15088886666", region="上海市 上海市 徐汇区", detail="漕溪北路 398 号 7 楼"),
    AddressIn(name="周星星", phone="18611112222", region="北京市 北京市 朝阳区", detail="望京街道 阜通东大街 6 号"),
]
CODES = [f"XH-VIP-{n:04d}-{(n * 7919) % 10000:04d}" for n in range(1, 21)]


@dataclass(frozen=True)
class Loaded:
    rewards: int
    redemptions: int


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        kind="system",
        actor_id=None,
        label="演示数据",
        permissions=frozenset({"mall.manage", "mall.fulfil"}),
    )


def _flash_opening(now: datetime, timezone: str) -> datetime:
    """Tonight's 20:00 when that is more than an hour away; otherwise the next whole hour."""
    local = to_local(now, timezone)
    tonight = local.replace(hour=20, minute=0, second=0, microsecond=0)
    if tonight - local > timedelta(hours=1):
        return tonight
    return local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _catalogue(now: datetime, timezone: str, gold_and_up: list[int]) -> list[dict[str, Any]]:
    flash = _flash_opening(now, timezone)
    return [
        {
            "kind": RewardKind.physical,
            "title": "主播同款羊绒围巾",
            "description": "内蒙古山羊绒，直播间同款。积分攒够了再来，兑换后 5 个工作日内发货，包邮。",
            "category": "好物",
            "sort_order": 95,
            "points_price": 3000,
            "stock": 10,
            "limit_per_member": 1,
        },
        {
            "kind": RewardKind.physical,
            "title": "星河定制保温杯 450ml",
            "description": "316 不锈钢内胆，12 小时保温。兑换后 3 个工作日内发货，包邮。",
            "category": "好物",
            "sort_order": 90,
            "points_price": 300,
            "stock": 50,
            "limit_per_member": 2,
        },
        {
            "kind": RewardKind.physical,
            "title": "补水面膜 5 片装",
            "description": "直播间爆款同款，独立包装。偏远地区（新疆、西藏）暂不发货。",
            "category": "美妆",
            "sort_order": 80,
            "points_price": 30,
            "stock": 200,
            "limit_per_day": 1,
        },
        {
            "kind": RewardKind.physical,
            "title": "每日坚果礼盒 30 袋",
            "description": "30 天的量，一天一袋。",
            "category": "零食",
            "sort_order": 70,
            "points_price": 50,
            "stock": 30,
        },
        {
            "kind": RewardKind.virtual_code,
            "title": "视频会员月卡",
            "description": "兑换后立即显示兑换码，在会员官网或 App 里输入即可使用，有效期至年底。",
            "category": "卡券",
            "sort_order": 60,
            "points_price": 25,
            "stock": 0,  # the imported codes bring the stock
            "limit_per_member": 1,
        },
        {
            "kind": RewardKind.coupon,
            "title": "满 99 减 20 店铺券",
            "description": "在星河好物任一店铺下单时出示兑换记录，客服改价。",
            "category": "卡券",
            "sort_order": 50,
            "points_price": 10,
            "limit_per_day": 2,
        },
        {
            "kind": RewardKind.trial,
            "title": "新品精华试用资格",
            "description": "新品上市前抢先试用，试用后在会员中心写下体验。",
            "category": "美妆",
            "sort_order": 40,
            "points_price": 20,
            "stock": 20,
            "limit_per_member": 1,
        },
        {
            "kind": RewardKind.physical,
            "title": "降噪蓝牙耳机",
            "description": "今晚直播间同步开抢，每人限兑 1 个，抢完即止。",
            "category": "好物",
            "sort_order": 100,
            "points_price": 100,
            "stock": 10,
            "limit_per_member": 1,
            "redeem_from": flash,
            "redeem_until": flash + timedelta(days=1),
        },
        {
            "kind": RewardKind.physical,
            "title": "金卡专享 真丝眼罩",
            "description": "金卡及以上会员专享。",
            "category": "好物",
            "sort_order": 30,
            "points_price": 60,
            "stock": 15,
            "limit_per_member": 1,
            "tier_ids": gold_and_up,
        },
    ]


async def load(session: AsyncSession, *, slug: str, now: datetime | None = None) -> Loaded:
    """Stock the mall and redeem a few rewards for fans; nothing happens when the mall already has rewards."""
    now = now or utcnow()
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    if await service.list_rewards(session, tenant_id=tenant.id):
        return Loaded(0, 0)
    tiers = sorted(await loyalty.list_tiers(session, tenant_id=tenant.id), key=lambda t: t.threshold)
    gold_and_up = [t.id for t in tiers[1:]]
    rewards = []
    for values in _catalogue(now, tenant.timezone, gold_and_up):
        rewards.append(await service.create_reward(session, actor=actor, data=RewardIn(**values)))
    by_title = {r.title: r for r in rewards}
    mask, nuts, card = (by_title[t] for t in ("补水面膜 5 片装", "每日坚果礼盒 30 袋", "视频会员月卡"))
    await service.import_codes(
        session, actor=actor, reward_id=card.id, data="\n".join(CODES).encode(), filename="视频会员月卡.txt"
    )
    made = await _redemptions(session, tenant.id, actor, [mask, nuts], card.id, now)
    coupon = by_title["满 99 减 20 店铺券"]
    await lottery.create_lottery(
        session,
        actor=actor,
        data=LotteryIn(
            title="直播间幸运大转盘",
            description="每次 5 积分，有机会赢积分和店铺券；奖品抽完即止，没抽中不退积分。",
            points_cost=5,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=14),
            cap_per_day=3,
            cap_total=20,
            prizes=[
                PrizeIn(kind=PrizeKind.points, title="50 积分", weight=5, stock=20, points=50),
                PrizeIn(kind=PrizeKind.points, title="10 积分", weight=25, points=10),
                PrizeIn(kind=PrizeKind.reward, title="满 99 减 20 店铺券", weight=10, stock=30, reward_id=coupon.id),
                PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=60),
            ],
        ),
    )
    return Loaded(len(rewards), made)


async def _redemptions(
    session: AsyncSession, tenant_id: int, actor: Principal, goods: list[Any], card_id: int, now: datetime
) -> int:
    """Fans with points (never the demo fan, the richest, who starts with an empty 我的兑换) redeem goods: the
    first shipment went out, one was cancelled at the fan's request, the others wait for shipping."""
    richest = await ledger.richest_member(session, tenant_id=tenant_id)
    found = await members.search(session, tenant_id=tenant_id, query=None, page=PageRequest(size=60))
    available: dict[int, int] = {}
    for member in found.items:
        if member.id != richest:
            available[member.id] = (await ledger.balance(session, tenant_id=tenant_id, member_id=member.id)).available
    fans = sorted((m for m, points in available.items() if points > 0), key=lambda m: (-available[m], m))
    made = []
    for n, (member_id, address) in enumerate(zip(fans, ADDRESSES, strict=False)):
        reward = goods[n % len(goods)]
        try:
            row = await redeem.redeem(
                session,
                tenant_id=tenant_id,
                member_id=member_id,
                reward_id=reward.id,
                idempotency_key=f"demo-{n}",
                address=address,
                now=now,
            )
        except redeem.InsufficientPoints:
            continue
        made.append(row)
    for member_id in fans[len(ADDRESSES) : len(ADDRESSES) + 2]:
        try:
            made.append(
                await redeem.redeem(session, tenant_id=tenant_id, member_id=member_id, reward_id=card_id, now=now)
            )
        except redeem.InsufficientPoints:
            continue
    physical = [r for r in made if r.address]
    if physical:
        await fulfil.ship(
            session,
            actor=actor,
            redemption_id=physical[0].id,
            data=ShipIn(carrier="顺丰速运", tracking_no="SF1428903715562"),
            now=now,
        )
    if len(physical) > 1:
        await fulfil.cancel(
            session, actor=actor, redemption_id=physical[-1].id, reason="会员申请取消：地址填错了", now=now
        )
    return len(made)
