"""The demo tenant's product trials (商品试用): one trial already drawn (applications, a seed recorded before the
draw, winners in the mall's fulfilment queue, one delivered and reported with a photo) and one open for
applications, which the demo fan has not applied to yet.

Applications go through the service the H5 uses while the window is open; the drawn trial's window is then moved
into the past, as time would have, before its seed and draw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.demo.live import cover
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.mall import fulfil
from siyu.mall.schemas import ShipIn
from siyu.members import service as members
from siyu.tenants import service as tenants
from siyu.trials import service
from siyu.trials.schemas import ApplyIn, DrawIn, TrialIn

ADDRESSES = [
    ("林小鱼", "浙江省 杭州市 西湖区", "文三路 90 号"),
    ("陈静", "上海市 上海市 浦东新区", "张杨路 500 号"),
    ("王芳", "广东省 广州市 天河区", "体育西路 101 号"),
    ("赵敏", "北京市 北京市 朝阳区", "建国路 88 号"),
]
ANSWERS = ["混合肌，T 区偏油", "干皮，冬天容易起皮", "敏感肌，换季泛红", "油皮，夏天爱出油"]


@dataclass(frozen=True)
class Loaded:
    trials: int
    applications: int
    winners: int
    reports: int


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        kind="system",
        actor_id=None,
        label="演示数据",
        permissions=frozenset({"members.write", "mall.fulfil"}),
    )


def _apply_in(n: int, questions: int) -> ApplyIn:
    name, region, detail = ADDRESSES[n % len(ADDRESSES)]
    return ApplyIn(
        address={"name": name, "phone": f"1380013{n:04d}", "region": region, "detail": detail},
        answers=[ANSWERS[n % len(ANSWERS)], "每天早晚各一次"][:questions],
    )


async def load(session: AsyncSession, *, slug: str, data_dir: Path, now: datetime | None = None) -> Loaded:
    now = now or utcnow()
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    demo_fan = await ledger.richest_member(session, tenant_id=tenant.id)
    people = [
        m.id
        for m in (
            await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(page=1, size=40))
        ).items
        if m.id != demo_fan
    ]
    drawn = await service.create_trial(
        session,
        actor=actor,
        data=TrialIn(
            title="珀莱雅双抗精华液 30ml 正装",
            description="抗糖抗氧，提亮肤色。中选后包邮寄出，收到后 7 天内写一份试用报告。",
            value_fen=26900,
            quota=3,
            apply_from=now - timedelta(days=1),
            apply_until=now + timedelta(days=1),
            questions=["你的肤质是？", "平时多久用一次精华？"],
            report_days=7,
        ),
    )
    await service.set_image(session, actor=actor, trial_id=drawn.id, data=cover(0, 240, 240), data_dir=data_dir)
    applications = 0
    for n, member_id in enumerate(people[:12]):
        await service.apply(session, tenant_id=tenant.id, member_id=member_id, trial_id=drawn.id, data=_apply_in(n, 2))
        applications += 1
    drawn.apply_from, drawn.apply_until = now - timedelta(days=12), now - timedelta(days=9)
    await session.flush()
    await service.publish_seed(session, actor=actor, trial_id=drawn.id, now=now - timedelta(days=9))
    result = await service.draw(session, actor=actor, trial_id=drawn.id, data=DrawIn(), now=now - timedelta(days=9))
    reports = 0
    first = result.winners[0] if result.winners else None
    if first is not None and first.redemption_id is not None:
        await fulfil.ship(
            session,
            actor=actor,
            redemption_id=first.redemption_id,
            data=ShipIn(carrier="顺丰速运", tracking_no="SF1402688800"),
            now=now - timedelta(days=8),
        )
        await fulfil.deliver(session, actor=actor, redemption_id=first.redemption_id, now=now - timedelta(days=6))
        await service.submit_report(
            session,
            tenant_id=tenant.id,
            member_id=first.member_id,
            trial_id=drawn.id,
            text="用了五天，质地清爽好吸收，早上用完上妆不搓泥，脸色确实亮了一点。会回购正装！",
            photos=[cover(1, 320, 320), cover(2, 320, 320)],
            data_dir=data_dir,
            now=now - timedelta(days=3),
        )
        reports += 1
    opened = await service.create_trial(
        session,
        actor=actor,
        data=TrialIn(
            title="薇诺娜舒敏保湿霜 50g 体验装",
            description="敏感肌专研，舒缓修护。免费申请，共 5 份。",
            value_fen=16800,
            quota=5,
            apply_from=now - timedelta(hours=6),
            apply_until=now + timedelta(days=4),
            questions=["你的肤质是？"],
            report_days=7,
        ),
    )
    await service.set_image(session, actor=actor, trial_id=opened.id, data=cover(3, 240, 240), data_dir=data_dir)
    for n, member_id in enumerate(people[12:20]):
        await service.apply(session, tenant_id=tenant.id, member_id=member_id, trial_id=opened.id, data=_apply_in(n, 1))
        applications += 1
    return Loaded(trials=2, applications=applications, winners=len(result.winners), reports=reports)
