"""The demo's points tasks: every kind offered, fans' completions and screenshots in the queue, and the demo fan
(the richest member) still the richest afterwards; loading twice adds nothing."""

from __future__ import annotations

from siyu.demo import engagement_tasks
from siyu.engagement.missions import service
from siyu.kit import images
from siyu.ledger import service as ledger
from siyu.members import service as members
from tests.engagement.missions.conftest import Tasks


async def test_the_demo_offers_every_kind_and_keeps_the_demo_fan_the_richest(tasks: Tasks) -> None:
    rich = await tasks.fan("演示会员")
    for _ in range(6):
        await tasks.order(rich)
    fans = [await tasks.fan(f"粉丝{n}") for n in range(4)]
    for fan in fans:
        await tasks.order(fan)
    member = await members.get_member(tasks.session, tenant_id=tasks.tenant_id, member_id=fans[0])
    await members.bind_identity(
        tasks.session, tenant_id=tasks.tenant_id, member=member, kind="douyin_open_id", value="d1"
    )
    loaded = await engagement_tasks.load(tasks.session, slug=tasks.tenant.slug, data_dir=tasks.data_dir, now=tasks.now)
    assert loaded.tasks == 5 and loaded.completions >= 5 and loaded.reviews == 5
    assert {t.kind for t in await service.list_tasks(tasks.session, tenant_id=tasks.tenant_id)} == {
        "profile",
        "bind_account",
        "follow",
        "survey",
        "review",
    }
    assert await ledger.richest_member(tasks.session, tenant_id=tasks.tenant_id) == rich
    mine = await service.reviews_of(tasks.session, tenant_id=tasks.tenant_id, member_id=rich)
    assert [(r.status, r.reason) for r in mine] == [("rejected", "截图里看不到订单号，请重新截图上传")]
    assert await service.waiting_reviews(tasks.session, tenant_id=tasks.tenant_id) == 3
    assert images.check(engagement_tasks.screenshot(1)) == "png"
    again = await engagement_tasks.load(tasks.session, slug=tasks.tenant.slug, data_dir=tasks.data_dir, now=tasks.now)
    assert again == engagement_tasks.Loaded(0, 0, 0)
