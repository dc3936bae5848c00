"""The catalogue: rewards with audit, images that really are images, what a fan sees, the address book."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from siyu.audit.models import AuditEntry
from siyu.mall import images, redeem, service
from siyu.mall.models import RewardKind
from siyu.mall.schemas import RewardIn
from tests.mall.conftest import ADDRESS, Mall

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_rewards_are_audited_and_one_with_redemptions_cannot_be_deleted(mall: Mall) -> None:
    reward = await mall.reward(title="面膜一片")
    data = RewardIn(kind=RewardKind.coupon, title="面膜两片", points_price=150, stock=8)
    await service.update_reward(mall.session, actor=mall.owner, reward_id=reward.id, data=data)
    actions = list(await mall.session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == mall.tenant_id)))
    assert "reward.create" in actions and "reward.update" in actions
    fan = await mall.fan(1000)
    await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward.id, now=mall.now)
    with pytest.raises(service.RewardInUse):
        await service.delete_reward(mall.session, actor=mall.owner, reward_id=reward.id)
    unused = await mall.reward()
    await service.delete_reward(mall.session, actor=mall.owner, reward_id=unused.id)
    with pytest.raises(service.RewardNotFound):
        await service.get_reward(mall.session, tenant_id=mall.tenant_id, reward_id=unused.id)


def test_a_reward_validates_its_windows_and_stock() -> None:
    with pytest.raises(ValueError, match="结束时间"):
        RewardIn(
            kind="coupon",
            title="x",
            points_price=1,
            stock=1,
            redeem_from="2030-01-02T00:00:00Z",
            redeem_until="2030-01-01T00:00:00Z",
        )
    with pytest.raises(ValueError, match="必须设置库存"):
        RewardIn(kind="physical", title="x", points_price=1)


async def test_images_are_checked_by_their_bytes_and_size(mall: Mall, tmp_path: Path) -> None:
    reward = await mall.reward()
    with pytest.raises(images.NotAnImage):
        await service.set_image(
            mall.session, actor=mall.owner, reward_id=reward.id, data=b"<svg onload=x>", data_dir=tmp_path
        )
    with pytest.raises(images.NotAnImage):
        await service.set_image(
            mall.session, actor=mall.owner, reward_id=reward.id, data=b"MZ" + b"\0" * 99, data_dir=tmp_path
        )
    with pytest.raises(images.ImageTooLarge):
        big = PNG + b"\0" * images.MAX_BYTES
        await service.set_image(mall.session, actor=mall.owner, reward_id=reward.id, data=big, data_dir=tmp_path)
    assert reward.image is None
    saved = await service.set_image(mall.session, actor=mall.owner, reward_id=reward.id, data=PNG, data_dir=tmp_path)
    assert saved.image is not None and saved.image.endswith(".png")
    path = images.path_of(tmp_path, mall.tenant_id, saved.image)
    assert path is not None and path.read_bytes() == PNG
    assert images.path_of(tmp_path, mall.tenant_id + 1, saved.image) is None  # another tenant's folder
    assert images.path_of(tmp_path, mall.tenant_id, "../../etc/passwd") is None
    for data, kind in (
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, "jpg"),
        (b"GIF89a" + b"\0" * 20, "gif"),
        (b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 8, "webp"),
    ):
        assert images.kind_of(data) == kind


async def test_the_shelf_shows_visible_rewards_by_category_and_order(mall: Mall) -> None:
    await mall.reward(title="A", category="美妆", sort_order=1)
    await mall.reward(title="B", category="零食", sort_order=5)
    await mall.reward(title="flash", category="美妆", sort_order=9, redeem_from=mall.now + timedelta(hours=1))
    await mall.reward(title="later", visible_from=mall.now + timedelta(days=1))
    await mall.reward(title="off", enabled=False)
    shelf = await service.shelf(mall.session, tenant_id=mall.tenant_id, now=mall.now)
    assert [r.title for r in shelf.rewards] == ["flash", "B", "A"]
    assert shelf.categories == ["美妆", "零食"]
    beauty = await service.shelf(mall.session, tenant_id=mall.tenant_id, category="美妆", now=mall.now)
    assert [r.title for r in beauty.rewards] == ["flash", "A"]
    assert not service.is_open(beauty.rewards[0], mall.now)


async def test_the_address_book_keeps_one_default(mall: Mall) -> None:
    fan = await mall.fan(0)
    first = await service.add_address(mall.session, tenant_id=mall.tenant_id, member_id=fan, data=ADDRESS)
    second = await service.add_address(mall.session, tenant_id=mall.tenant_id, member_id=fan, data=ADDRESS)
    assert first.is_default and not second.is_default
    await service.make_default(mall.session, tenant_id=mall.tenant_id, member_id=fan, address_id=second.id)
    book = await service.addresses(mall.session, tenant_id=mall.tenant_id, member_id=fan)
    assert [a.id for a in book if a.is_default] == [second.id]
    await service.remove_address(mall.session, tenant_id=mall.tenant_id, member_id=fan, address_id=second.id)
    book = await service.addresses(mall.session, tenant_id=mall.tenant_id, member_id=fan)
    assert [(a.id, a.is_default) for a in book] == [(first.id, True)]
    other = await mall.fan(0)
    with pytest.raises(service.AddressNotFound):
        await service.get_address(mall.session, tenant_id=mall.tenant_id, member_id=other, address_id=first.id)
