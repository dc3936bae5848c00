"""Importing again: the same data writes nothing; newer data moves orders forward with history; older data
never moves them back."""

from __future__ import annotations

import pytest

from siyu.orders import repository, service
from tests.orders import exports
from tests.orders.conftest import Shop, canonical
from tests.orders.test_layouts import SAMPLES, Sample


async def snapshot(shop: Shop) -> tuple[dict, dict]:
    orders = {
        k: (canonical(o), o.last_changed_at, o.first_seen_at, o.first_import_id, o.last_import_id)
        for k, o in (await shop.orders()).items()
    }
    items = {k: (i.status, i.paid_fen, i.refund_fen, i.quantity, i.title) for k, i in (await shop.items()).items()}
    return orders, items


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.filename for s in SAMPLES])
async def test_importing_the_same_data_again_writes_nothing(sample: Sample, shop: Shop) -> None:
    await shop.load(sample.filename, sample.data)
    before = await snapshot(shop)

    again = await shop.load("again-" + sample.filename, sample.data)

    assert (again.totals.inserted, again.totals.updated) == (0, 0)
    assert again.totals.unchanged == len(sample.orders)
    assert await snapshot(shop) == before  # last_changed_at and last_import_id untouched
    assert await shop.changes() == []
    assert await shop.jobs("orders.changed") == []
    row = await shop.import_row(again.import_id)
    assert (row.status, row.inserted, row.updated, row.unchanged) == ("done", 0, 0, len(sample.orders))


OLD = [
    exports.taobao_new_row("1930679858170648001", paid="1,299.00", status="交易成功", confirmed="2026-11-18 10:00:00"),
    exports.taobao_new_row("1930679858170648002", paid="88.00", status="买家已付款，等待卖家发货"),
    exports.taobao_new_row("1930679858170648003", paid="10.00", status="卖家已发货，等待买家确认"),
]
NEW = [
    exports.taobao_new_row("1930679858170648001", paid="1,299.00", status="交易关闭", refund="1,299.00"),
    exports.taobao_new_row("1930679858170648002", paid="88.00", status="交易成功", confirmed="2026-11-20 09:00:00"),
    exports.taobao_new_row("1930679858170648003", paid="10.00", status="卖家已发货，等待买家确认"),
]


async def test_a_newer_file_moves_orders_forward_with_history_and_one_announcement(shop: Shop) -> None:
    first = await shop.load("old.csv", exports.taobao_new_csv(OLD))
    before = await shop.orders()

    newer = await shop.load("new.csv", exports.taobao_new_csv(NEW))

    assert (newer.totals.inserted, newer.totals.updated, newer.totals.unchanged) == (0, 2, 1)
    orders = await shop.orders()
    refunded, completed, same = (orders[o["订单编号"]] for o in NEW)  # type: ignore[index]
    assert (refunded.status, refunded.paid_fen, refunded.refund_fen) == ("refunded", 129900, 129900)
    assert (completed.status, completed.refund_fen) == ("completed", 0)
    assert completed.completed_at is not None and completed.completed_at.isoformat() == "2026-11-20T01:00:00+00:00"
    for order in (refunded, completed):
        assert order.last_import_id == newer.import_id and order.first_import_id == first.import_id
        assert order.last_changed_at > before[order.order_id].last_changed_at
        assert order.first_seen_at == before[order.order_id].first_seen_at
    assert same.last_import_id == first.import_id
    assert same.last_changed_at == before[same.order_id].last_changed_at

    changes = {c.order_id: c for c in await shop.changes()}
    assert set(changes) == {refunded.order_id, completed.order_id}
    assert {
        k: (c.import_id, c.from_status, c.to_status, c.from_refund_fen, c.to_refund_fen) for k, c in changes.items()
    } == {
        refunded.order_id: (newer.import_id, "completed", "refunded", 0, 129900),
        completed.order_id: (newer.import_id, "paid", "completed", 0, 0),
    }
    async with shop.db() as session:
        assert await service.changes_in_import(session, tenant_id=shop.id, import_id=newer.import_id) == 2
    jobs = await shop.jobs("orders.changed")
    assert [(j.payload, j.status) for j in jobs] == [({"import_id": newer.import_id}, "queued")]

    detail_changes = []
    async with shop.db() as session:
        detail = await service.order_detail(session, tenant_id=shop.id, platform="taobao", order_id=refunded.order_id)
        detail_changes = [(c.from_status, c.to_status) for c in detail.changes]
    assert detail_changes == [("completed", "refunded")]


async def test_an_older_file_after_a_newer_one_changes_nothing(shop: Shop) -> None:
    await shop.load("new.csv", exports.taobao_new_csv(NEW))
    before = await snapshot(shop)

    older = await shop.load("old.csv", exports.taobao_new_csv(OLD))

    assert (older.totals.inserted, older.totals.updated, older.totals.unchanged) == (0, 0, 3)
    assert await snapshot(shop) == before  # no un-refunding, no status going back, no newer fields erased
    orders = await shop.orders()
    assert orders["1930679858170648001"].status == "refunded" and orders["1930679858170648001"].refund_fen == 129900
    assert orders["1930679858170648002"].status == "completed"
    assert await shop.changes() == []
    assert await shop.jobs("orders.changed") == []


async def test_a_refund_never_shrinks_and_a_closed_order_is_not_reopened(shop: Shop) -> None:
    order_id = "1930679858170648101"
    steps = [
        ("交易关闭", "500.00", ("refunded", 50000)),
        ("交易关闭", "200.00", ("refunded", 50000)),  # a smaller refund: an older file
        ("交易成功", "0", ("refunded", 50000)),
        ("买家已付款，等待卖家发货", "-", ("refunded", 50000)),
    ]
    for n, (status, refund, expected) in enumerate(steps):
        await shop.load(
            f"{n}.csv",
            exports.taobao_new_csv([exports.taobao_new_row(order_id, paid="500.00", status=status, refund=refund)]),
        )
        order = await shop.order(order_id)
        assert (order.status, order.refund_fen) == expected, n
    assert len(await shop.changes()) == 0  # inserted refunded at once: nothing ever changed


async def test_a_partial_refund_on_douyin_then_the_whole_order(shop: Shop) -> None:
    main = "6931234567890500000"

    def line(sub: str, after_sale: str) -> dict[str, object]:
        return exports.douyin_row(
            main, sub, title=sub, quantity="1", paid="1,000.00", status="已完成", after_sale=after_sale
        )

    await shop.load("1.csv", exports.douyin([line("6931234567890500001", "-"), line("6931234567890500002", "-")]))
    second = await shop.load(
        "2.csv", exports.douyin([line("6931234567890500001", "-"), line("6931234567890500002", "退款成功")])
    )
    order = await shop.order(main)
    assert (order.status, order.paid_fen, order.refund_fen) == ("completed", 200000, 100000)
    third = await shop.load(
        "3.csv", exports.douyin([line("6931234567890500001", "退款成功"), line("6931234567890500002", "退款成功")])
    )
    order = await shop.order(main)
    assert (order.status, order.paid_fen, order.refund_fen) == ("refunded", 200000, 200000)
    history = [
        (c.import_id, c.from_status, c.to_status, c.from_refund_fen, c.to_refund_fen) for c in await shop.changes()
    ]
    assert history == [
        (second.import_id, "completed", "completed", 0, 100000),
        (third.import_id, "completed", "refunded", 100000, 200000),
    ]


async def test_an_older_file_does_not_move_a_sub_order_back(shop: Shop) -> None:
    def line(status: str) -> dict[str, object]:
        return exports.douyin_row(
            "6931234567890600000", "6931234567890600001", title="a", quantity="1", paid="10.00", status=status
        )

    await shop.load("newer.csv", exports.douyin([line("已完成")]))
    await shop.load("older.csv", exports.douyin([line("已发货")]))
    assert (await shop.order("6931234567890600000")).status == "completed"  # the order itself is safe
    assert (await shop.items())[("6931234567890600000", "6931234567890600001")].status == "completed"


async def test_an_order_longer_than_a_batch_is_folded_whole(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "BATCH_ROWS", 2)
    main = "6931234567890700000"
    rows = [
        exports.douyin_row(
            main,
            f"69312345678907000{n:02d}",
            title=str(n),
            quantity="1",
            paid="10.00",
            status="已完成",
            after_sale=after,
        )
        for n, after in ((1, "-"), (2, "-"), (3, "退款成功"))
    ]
    done = await shop.load("long.csv", exports.douyin(rows))
    order = await shop.order(main)
    assert (order.paid_fen, order.refund_fen, order.item_count) == (3000, 1000, 3)
    assert order.status == "completed"  # one line of three refunded: a partial refund, not a refunded order
    assert (done.totals.inserted, done.totals.updated) == (1, 0)


async def test_a_file_with_some_lines_of_an_order_does_not_decide_for_the_others(shop: Shop) -> None:
    main = "6931234567890800000"

    def line(sub: str, after_sale: str) -> dict[str, object]:
        return exports.douyin_row(
            main, sub, title=sub, quantity="1", paid="50.00", status="已完成", after_sale=after_sale
        )

    await shop.load("all.csv", exports.douyin([line("6931234567890800001", "-"), line("6931234567890800002", "-")]))
    await shop.load("after-sale.csv", exports.douyin([line("6931234567890800002", "退款成功")]))
    order = await shop.order(main)
    assert (order.paid_fen, order.refund_fen) == (10000, 5000)
    assert order.status == "completed"


def douyin_line(main: str, sub: str, *, status: str = "已完成", after_sale: str = "-", **fields: str) -> dict:
    return exports.douyin_row(
        main, sub, title=sub, quantity="1", paid="50.00", status=status, after_sale=after_sale, **fields
    )


async def test_an_older_file_leaves_an_order_listed_line_by_line_as_it_was(shop: Shop) -> None:
    main, subs = "6931234567890900000", ("6931234567890900001", "6931234567890900002")
    newer = [douyin_line(main, s, completed="2026-11-20 09:00:00", author="新主播") for s in subs]
    older = [douyin_line(main, s, status="已发货", author="旧主播") for s in subs]
    await shop.load("newer.csv", exports.douyin(newer))
    before = await snapshot(shop)

    done = await shop.load("older.csv", exports.douyin(older))

    assert (done.totals.inserted, done.totals.updated, done.totals.unchanged) == (0, 0, 1)
    assert await snapshot(shop) == before  # the older file's author does not replace the newer one's either
    assert (await shop.order(main)).author == "新主播"
    assert await shop.changes() == []
    assert await shop.jobs("orders.changed") == []


async def test_a_refund_after_a_refund_request_is_recorded_though_the_status_stays(shop: Shop) -> None:
    """Lines completed, then one line's refund requested (the order is refunding), then that line refunded: the
    lines say completed with a partial refund, which ranks below refunding. The order keeps its status (it never
    moves back) but its refund is recorded, with its change, so the ledger claws that share back."""
    main, subs = "6931234567891000000", ("6931234567891000001", "6931234567891000002")
    steps = [("-", "-"), ("-", "售后待处理"), ("-", "退款成功")]
    imports = [
        await shop.load(
            f"{n}.csv", exports.douyin([douyin_line(main, s, after_sale=a) for s, a in zip(subs, step, strict=True)])
        )
        for n, step in enumerate(steps)
    ]
    order = await shop.order(main)
    assert (order.status, order.paid_fen, order.refund_fen) == ("refunding", 10000, 5000)
    assert (await shop.items())[(main, subs[1])].status == "refunded"
    history = [
        (c.import_id, c.from_status, c.to_status, c.from_refund_fen, c.to_refund_fen) for c in await shop.changes()
    ]
    assert history == [
        (imports[1].import_id, "completed", "refunding", 0, 0),
        (imports[2].import_id, "refunding", "refunding", 0, 5000),
    ]
    assert [j.payload for j in await shop.jobs("orders.changed")] == [
        {"import_id": imports[1].import_id},
        {"import_id": imports[2].import_id},
    ]


async def test_an_order_is_refunded_only_when_every_line_is(shop: Shop) -> None:
    """A closed order with one line refunded: closed (refunded would say every line was)."""
    main, subs = "6931234567891100000", ("6931234567891100001", "6931234567891100002")
    await shop.load("1.csv", exports.douyin([douyin_line(main, s, status="已关闭") for s in subs]))
    await shop.load("2.csv", exports.douyin([douyin_line(main, subs[0], status="已关闭", after_sale="退款成功")]))
    order = await shop.order(main)
    assert (order.status, order.paid_fen, order.refund_fen) == ("closed", 10000, 5000)
    await shop.load("3.csv", exports.douyin([douyin_line(main, subs[1], status="已关闭", after_sale="退款成功")]))
    order = await shop.order(main)
    assert (order.status, order.paid_fen, order.refund_fen) == ("refunded", 10000, 10000)


async def test_a_channels_order_settled_from_its_lines_keeps_the_order_level_amount(shop: Shop) -> None:
    """视频号 lines repeat the order's paid amount (not added up); each line has its own refund."""
    main = "3712345678901234567"

    def lines(refunds: tuple[str, str, str]) -> bytes:
        return exports.channels(
            [
                exports.channels_row(
                    main,
                    status="已完成",
                    title=title,
                    quantity="1",
                    line_total="50.00",
                    order_paid="150.00",
                    refunded=refund,
                    after_sale="退款完成" if refund != "0.00" else "",
                )
                for title, refund in zip(("面膜", "眼霜", "精华"), refunds, strict=True)
            ]
        )

    await shop.load("1.csv", lines(("0.00", "0.00", "0.00")))
    second = await shop.load("2.csv", lines(("30.00", "0.00", "0.00")))
    order = await shop.order(main)
    assert (order.status, order.paid_fen, order.refund_fen, order.item_count) == ("completed", 15000, 3000, 3)
    assert [(c.import_id, c.to_status, c.to_refund_fen) for c in await shop.changes()] == [
        (second.import_id, "completed", 3000)
    ]


async def test_lines_of_new_orders_taking_the_upsert_path(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """After repeated key collisions (concurrent imports) a whole batch, new orders too, takes the staged upsert:
    the new orders are stored before their lines, and are counted as inserted, not updated."""
    known, new = "6931234567891200000", "6931234567891300000"
    await shop.load("1.csv", exports.douyin([douyin_line(known, known[:-1] + "1")]))
    monkeypatch.setattr(repository, "INSERT_ATTEMPTS", 0)

    done = await shop.load(
        "2.csv",
        exports.douyin(
            [
                douyin_line(known, known[:-1] + "1", after_sale="退款成功"),
                douyin_line(new, new[:-1] + "1"),
                douyin_line(new, new[:-1] + "2", after_sale="退款成功"),
            ]
        ),
    )

    assert (done.totals.inserted, done.totals.updated, done.totals.unchanged) == (1, 1, 0)
    orders = await shop.orders()
    assert (orders[known].status, orders[known].refund_fen) == ("refunded", 5000)
    assert (orders[new].status, orders[new].paid_fen, orders[new].refund_fen, orders[new].item_count) == (
        "completed",
        10000,
        5000,
        2,
    )
    assert [(c.order_id, c.from_status, c.to_status) for c in await shop.changes()] == [
        (known, "completed", "refunded")
    ]


async def test_an_order_changed_twice_in_one_import_has_one_change_to_its_last_state(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two exports concatenated list an order twice, far apart (in different batches): the import's change of
    it goes from what it was before the import to what it is after, which is what the ledger acts on."""
    order_id = "1930679858170649001"

    def row(n: int, status: str = "买家已付款，等待卖家发货", refund: str = "0") -> dict[str, object]:
        return exports.taobao_new_row(f"19306798581706490{n:02d}", paid="100.00", status=status, refund=refund)

    await shop.load("before.csv", exports.taobao_new_csv([row(1)]))
    monkeypatch.setattr(service, "BATCH_ROWS", 2)
    rows = [row(1, "卖家已发货，等待买家确认"), row(2), row(3), row(1, "交易关闭", "100.00")]

    done = await shop.load("two-exports.csv", exports.taobao_new_csv(rows))

    assert (await shop.order(order_id)).status == "refunded"
    assert [
        (c.import_id, c.order_id, c.from_status, c.to_status, c.from_refund_fen, c.to_refund_fen)
        for c in await shop.changes()
    ] == [(done.import_id, order_id, "paid", "refunded", 0, 10000)]


async def test_an_import_failing_half_way_has_announced_every_batch_it_kept(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches commit one by one; each commits with the news of its changes, so a refund in a kept batch is
    clawed back even when a later batch fails. The user reads why in Chinese, never the database's words."""
    await shop.load("old.csv", exports.taobao_new_csv(OLD))
    monkeypatch.setattr(service, "BATCH_ROWS", 1)
    applied = service.apply_batch
    calls = 0

    async def failing_second(*args: object, **kwargs: object) -> repository.BatchCounts:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError('value too long for type character varying(48) [SQL: INSERT INTO "order_items"]')
        return await applied(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "apply_batch", failing_second)
    import_id = await shop.create_import("new.csv", exports.taobao_new_csv(NEW))
    with pytest.raises(RuntimeError):
        await shop.run(import_id)

    row = await shop.import_row(import_id)
    assert row.status == "failed" and row.rows == 1
    assert row.error is not None and "前 1 行已经导入" in row.error
    assert "SQL" not in row.error and "varying" not in row.error
    refunded = await shop.order("1930679858170648001")  # the first batch: kept
    assert (refunded.status, refunded.refund_fen) == ("refunded", 129900)
    jobs = await shop.jobs("orders.changed")
    assert [(j.payload, j.status) for j in jobs] == [({"import_id": import_id}, "queued")]
