"""Fulfilment: ship, deliver, cancel (stock and points back to their lots, expired stay expired), tracking numbers
from a file with a report by row, the pick list that can be filled in and imported back."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import xlsxwriter
from sqlalchemy import select

from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Lot
from siyu.mall import files, fulfil, redeem, service
from siyu.mall.models import Redemption, RewardKind, Status
from siyu.mall.schemas import ShipIn
from tests.mall.conftest import ADDRESS, Mall


async def _goods_redemption(mall: Mall, fan: int, price: int = 300) -> Redemption:
    goods = await mall.reward(kind=RewardKind.physical, title="定制保温杯", points_price=price, stock=5)
    return await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=goods.id, address=ADDRESS, now=mall.now
    )


async def test_ship_then_deliver_and_wrong_steps_are_refused(mall: Mall) -> None:
    fan = await mall.fan(1000)
    row = await _goods_redemption(mall, fan)
    with pytest.raises(fulfil.WrongStatus):
        await fulfil.deliver(mall.session, actor=mall.owner, redemption_id=row.id)
    shipped = await fulfil.ship(
        mall.session,
        actor=mall.owner,
        redemption_id=row.id,
        data=ShipIn(carrier="顺丰速运", tracking_no="SF1234567890"),
    )
    assert (shipped.status, shipped.carrier, shipped.tracking_no) == (Status.shipped, "顺丰速运", "SF1234567890")
    delivered = await fulfil.deliver(mall.session, actor=mall.owner, redemption_id=row.id)
    assert delivered.status == Status.delivered and delivered.delivered_at is not None
    with pytest.raises(fulfil.WrongStatus) as refused:
        await fulfil.cancel(mall.session, actor=mall.owner, redemption_id=row.id, reason="晚了")
    assert "已签收" in refused.value.message
    with pytest.raises(service.RedemptionNotFound):
        await fulfil.ship(
            mall.session, actor=mall.owner, redemption_id=42, data=ShipIn(carrier="圆通", tracking_no="YT1111")
        )


async def test_cancel_restocks_and_gives_points_back_to_their_lots_expired_stay_expired(mall: Mall) -> None:
    fan = await mall.fan(0)
    await mall.give(fan, 200, expires_at=mall.now + timedelta(days=2))  # drawn first
    await mall.give(fan, 500, expires_at=mall.now + timedelta(days=300))
    row = await _goods_redemption(mall, fan, price=300)  # 200 from the first lot, 100 from the second
    assert await mall.available(fan) == 400
    later = mall.now + timedelta(days=3)  # the first lot has expired meanwhile
    cancelled = await fulfil.cancel(mall.session, actor=mall.owner, redemption_id=row.id, reason="缺货", now=later)
    assert cancelled.status == Status.cancelled and cancelled.cancel_reason == "缺货"
    points = await ledger.lock_member(mall.session, tenant_id=mall.tenant_id, member_id=fan, now=later)
    assert points.available == 500  # the 100 came back; the 200 would have expired anyway
    lots = {
        lot.amount: lot
        for lot in await mall.session.scalars(
            select(Lot)
            .where(Lot.tenant_id == mall.tenant_id, Lot.member_id == fan)
            .execution_options(populate_existing=True)
        )
    }
    assert lots[500].remaining == 500 and lots[500].expires_at == mall.now + timedelta(days=300)
    assert lots[200].remaining == 0
    reward = await service.get_reward(mall.session, tenant_id=mall.tenant_id, reward_id=row.reward_id)
    await mall.session.refresh(reward)
    assert (reward.stock, reward.sold) == (5, 0)
    assert await check_invariants(mall.session, mall.tenant_id) == []
    with pytest.raises(fulfil.WrongStatus):  # at most once
        await fulfil.cancel(mall.session, actor=mall.owner, redemption_id=row.id, reason="再取消", now=later)


async def test_a_cancelled_redemption_does_not_count_toward_the_limit(mall: Mall) -> None:
    fan = await mall.fan(1000)
    goods = await mall.reward(kind=RewardKind.physical, points_price=100, stock=5, limit_per_member=1)
    row = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=goods.id, address=ADDRESS, now=mall.now
    )
    await fulfil.cancel(mall.session, actor=mall.owner, redemption_id=row.id, reason="会员申请取消")
    again = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=goods.id, address=ADDRESS, now=mall.now
    )
    assert again.status == Status.pending_shipment


def _xlsx(rows: list[list[object]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    for n, row in enumerate(rows):
        sheet.write_row(n, 0, row)
    book.close()
    return buffer.getvalue()


async def test_tracking_import_applies_good_rows_and_reports_the_others(mall: Mall) -> None:
    fan = await mall.fan(5000)
    a, b, c = [await _goods_redemption(mall, fan, price=10) for _ in range(3)]
    delivered = await _goods_redemption(mall, fan, price=10)
    await fulfil.ship(
        mall.session, actor=mall.owner, redemption_id=delivered.id, data=ShipIn(carrier="中通", tracking_no="ZT0001")
    )
    await fulfil.deliver(mall.session, actor=mall.owner, redemption_id=delivered.id)
    csv_text = "\n".join(
        [
            "兑换单号,快递公司,运单号",
            f"{a.id},顺丰速运,SF1000000001",
            f"{b.id},,SF1000000002",
            "不是单号,顺丰速运,SF1000000003",
            f"{c.id},圆通速递,YT 0003",
            f"{a.id},顺丰速运,SF1000000009",
            "999,顺丰速运,SF1000000004",
            f"{delivered.id},中通快递,ZT0002",
        ]
    )
    report = await fulfil.import_tracking(mall.session, actor=mall.owner, data=csv_text.encode(), filename="运单.csv")
    assert report.applied == 1
    assert [(p.row, p.reason) for p in report.problems] == [
        (3, "缺少快递公司"),
        (4, "兑换单号不正确"),
        (5, "运单号不正确（4-40 位字母、数字或 -）"),
        (6, "与第 2 行重复"),
        (7, "找不到这笔兑换"),
        (8, "这笔兑换已签收，不能发货"),
    ]
    await mall.session.refresh(a)
    assert (a.status, a.tracking_no) == (Status.shipped, "SF1000000001")

    xlsx = _xlsx([["运单号", "兑换单号", "快递公司"], ["YT0003", str(c.id), "圆通速递"], ["", "", ""]])
    report = await fulfil.import_tracking(mall.session, actor=mall.owner, data=xlsx, filename="运单.xlsx")
    assert report.applied == 1 and report.problems == []
    with pytest.raises(files.MissingColumns):
        await fulfil.import_tracking(mall.session, actor=mall.owner, data=b"a,b\n1,2\n", filename="x.csv")
    with pytest.raises(files.FileUnreadable):
        await fulfil.import_tracking(mall.session, actor=mall.owner, data=b"PK\x03\x04broken", filename="x.xlsx")


async def test_the_pick_list_filled_in_imports_back(mall: Mall) -> None:
    import fastexcel

    fan = await mall.fan(5000)
    rows = [await _goods_redemption(mall, fan, price=10) for _ in range(2)]
    data = await fulfil.pick_list(mall.session, tenant_id=mall.tenant_id)
    sheet = fastexcel.read_excel(data).load_sheet(0, dtypes="string").to_polars()
    assert sheet.columns == files.PICK_LIST_HEADER
    assert sorted(sheet["兑换单号"].to_list()) == sorted(str(r.id) for r in rows)
    assert sheet["收件人"].to_list() == ["林小鱼", "林小鱼"]
    filled = [files.PICK_LIST_HEADER] + [
        [*row[:8], "顺丰速运", f"SF{n:010d}"] for n, row in enumerate(sheet.iter_rows(), start=1)
    ]
    report = await fulfil.import_tracking(mall.session, actor=mall.owner, data=_xlsx(filled), filename="拣货单.xlsx")
    assert report.applied == 2 and report.problems == []


def test_a_file_that_is_not_a_table_is_a_clear_refusal() -> None:
    with pytest.raises((files.FileUnreadable, files.MissingColumns)):
        files.tracking_rows(b"\x16\xf0\x95\x88\x8a\r\xc3\x92\r", "file")  # a lone CR once failed the csv reader


async def test_a_tracking_zip_bomb_is_refused_before_it_is_parsed(mall: Mall) -> None:
    import time

    from tests.orders import exports

    started = time.monotonic()
    with pytest.raises(files.FileUnreadable) as refused:
        await fulfil.import_tracking(
            mall.session, actor=mall.owner, data=exports.zip_bomb_xlsx(100), filename="运单.xlsx"
        )
    assert time.monotonic() - started < 3
    assert refused.value.code == "xlsx_too_large" and "解压后超过" in refused.value.message
