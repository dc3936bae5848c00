"""The demo tenant's fan voice (粉丝心声): a week of wishes (some the same product written differently) and their
"+1"s, demands for next week, encore votes on the products of the past shows, and one survey with answers; the
host has replied to the favourite wish and to a demand. Everything goes through the services fans and ops use.

The fan the demo signs in as (the one with the most points) made a wish that got a reply; the survey's points go
only to fans well below her balance, so she stays the demo's richest fan."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.pagination import PageRequest
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.live import service as live
from siyu.live.schemas import ProductIn
from siyu.members import service as members
from siyu.tenants import service as tenants
from siyu.voice import rules, service
from siyu.voice.schemas import DemandIn, Question, ReplyIn, SurveyIn, WishIn

WISHES = [
    ("兰蔻小黑瓶精华 50ml", "想要大瓶装"),
    ("SK-II 神仙水 230ml", ""),
    ("戴森吹风机", "想要新款"),
    ("兰蔻 小黑瓶 精华", ""),
    ("sk2神仙水", "求直播间价"),
    ("三只松鼠坚果礼盒", "年货送人"),
    ("羊绒围巾", "灰色或驼色"),
    ("戴森 吹风机 HD15", ""),
    ("儿童保温杯", ""),
    ("空气炸锅 大容量", ""),
    ("蜂蜜柚子茶", ""),
    ("羊绒 围巾（驼色）", ""),
]
DEMANDS = [
    ("美妆护肤", "珀莱雅", "双抗精华", "100–300 元", "上次没抢到，希望返场"),
    ("美妆护肤", "", "保湿面霜", "100–300 元", "冬天太干了"),
    ("食品生鲜", "", "车厘子", "100 元以内", ""),
    ("服饰鞋包", "", "羽绒服", "500–1000 元", "要长款"),
    ("母婴", "", "婴儿湿巾", "100 元以内", ""),
    ("美妆护肤", "雅诗兰黛", "小棕瓶", "500–1000 元", ""),
    ("家居日用", "", "四件套", "100–300 元", "纯棉的"),
    ("食品生鲜", "", "坚果礼盒", "100 元以内", ""),
    ("数码家电", "", "电动牙刷", "100–300 元", ""),
    ("美妆护肤", "", "防晒霜", "100 元以内", ""),
    ("服饰鞋包", "", "雪地靴", "300–500 元", ""),
    ("珠宝配饰", "", "珍珠耳钉", "300–500 元", "送妈妈"),
]
ENCORE_PRODUCTS = [("修护精华 30ml", 25900), ("氨基酸洁面", 6900), ("每日坚果 30 包", 8990), ("猪肉脯 200g", 3990)]
SURVEY = SurveyIn(
    title="12 月选品小调查",
    intro="花 1 分钟告诉我们你想看什么",
    points=10,
    questions=[
        Question(text="你最想看哪类直播？", kind="single", options=["护肤", "彩妆", "零食", "家居"]),
        Question(text="你一般什么时候看直播？", kind="multiple", options=["中午", "晚上 8 点", "深夜"]),
        Question(text="你对上一场直播打几分？", kind="rating"),
        Question(text="还想对主播说什么？", kind="text"),
    ],
)
ANSWERS = [
    {"1": "护肤", "2": ["晚上 8 点"], "3": "5", "4": "希望多讲讲成分"},
    {"1": "零食", "2": ["中午", "晚上 8 点"], "3": "4", "4": "福袋再多一点"},
    {"1": "彩妆", "2": ["深夜"], "3": "4", "4": "想看试色"},
]


@dataclass(frozen=True)
class Loaded:
    wishes: int
    plus: int
    demands: int
    encore_votes: int
    answers: int


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        kind="system",
        actor_id=None,
        label="演示数据",
        permissions=frozenset({"channels.write", "members.write"}),
    )


def _next_show_day(now: datetime, timezone: str) -> str:
    day = to_local(now, timezone) + timedelta(days=3)
    return f"{day.month}月{day.day}日"


async def load(session: AsyncSession, *, slug: str, data_dir: Path, now: datetime | None = None) -> Loaded:
    """Nothing happens when the tenant already has a survey (the demo was loaded before)."""
    now = now or utcnow()
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    if await service.surveys(session, tenant_id=tenant.id):
        return Loaded(0, 0, 0, 0, 0)
    people = [
        m.id for m in (await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(size=60))).items
    ]
    richest = await ledger.richest_member(session, tenant_id=tenant.id)
    others = [m for m in people if m != richest]
    if not others:
        return Loaded(0, 0, 0, 0, 0)
    # A week of wishes, the oldest first; the demo fan made the favourite one.
    wishes = []
    for n, (product, note) in enumerate(WISHES):
        maker = richest if n == 0 and richest is not None else others[n % len(others)]
        at = now - timedelta(days=7) + timedelta(hours=13 * n + 2)
        wishes.append(
            await service.add_wish(
                session, tenant_id=tenant.id, member_id=maker, data=WishIn(product=product, note=note), now=at
            )
        )
    plus = 0
    for n, wish in enumerate(wishes):
        for member_id in others[: max(0, 14 - n)][n % 3 :: 1 + n % 2]:
            if member_id != wish.member_id:
                await service.plus(session, tenant_id=tenant.id, member_id=member_id, wish_id=wish.id)
                plus += 1
    # Demands of the week.
    demands = []
    sent: Counter[tuple[int, str]] = Counter()  # a fan sends at most DEMANDS_PER_WEEK a week
    for n, (category, brand, product, price, text) in enumerate(DEMANDS + DEMANDS[:8]):
        at = now - timedelta(days=6) + timedelta(hours=7 * n + 1)
        sender = others[(n * 5) % len(others)]
        if sent[sender, rules.week_of(at, tenant.timezone)] >= service.DEMANDS_PER_WEEK:
            continue
        sent[sender, rules.week_of(at, tenant.timezone)] += 1
        demands.append(
            await service.submit_demand(
                session,
                tenant_id=tenant.id,
                member_id=sender,
                data=DemandIn(category=category, brand=brand, product=product, price_range=price, text=text),
                timezone=tenant.timezone,
                now=at,
            )
        )
    # Encore votes on the products of the shows that have aired.
    past = [
        s
        for s in await live.calendar(session, tenant_id=tenant.id, start=now - timedelta(days=30), end=now)
        if live.status_of(s, now).value == "ended"
    ][:2]
    votes = 0
    for n, show in enumerate(past):
        for k, (title, fen) in enumerate(ENCORE_PRODUCTS[2 * n : 2 * n + 2]):
            featured = await live.add_product(
                session, actor=actor, show_id=show.id, data=ProductIn(title=title, price_fen=fen, sort_order=5 - k)
            )
            for member_id in others[k : 18 - 5 * k - 3 * n]:
                await service.encore_vote(session, tenant_id=tenant.id, member_id=member_id, product_id=featured.id)
                votes += 1
    # One survey, answered by fans well below the demo fan's balance.
    survey = await service.create_survey(session, actor=actor, data=SURVEY)
    ceiling = 0
    if richest is not None:
        held = await ledger.balance(session, tenant_id=tenant.id, member_id=richest)
        ceiling = held.available + held.pending
    answered = 0
    for member_id in others:
        if answered >= 9:
            break
        held = await ledger.balance(session, tenant_id=tenant.id, member_id=member_id)
        if held.available + held.pending + 100 >= ceiling:
            continue
        await service.answer(
            session,
            tenant_id=tenant.id,
            member_id=member_id,
            survey_id=survey.id,
            answers=dict(ANSWERS[answered % len(ANSWERS)]),
            now=now - timedelta(hours=answered + 1),
        )
        answered += 1
    # The host's replies.
    day = _next_show_day(now, tenant.timezone)
    await service.reply_wish(session, actor=actor, wish_id=wishes[0].id, data=ReplyIn(reply=f"已安排在 {day} 直播"))
    await service.reply_demand(
        session, actor=actor, demand_id=demands[0].id, data=ReplyIn(reply=f"已安排在 {day} 直播，记得预约哦")
    )
    return Loaded(len(wishes), plus, len(demands), votes, answered)
