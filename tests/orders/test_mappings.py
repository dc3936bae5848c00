"""A saved column mapping makes an unknown layout (a JD export) import whenever the same header row comes again."""

from __future__ import annotations

import pytest

from siyu.kit.errors import InvalidInput
from siyu.kit.web import Principal
from siyu.orders import reading, service
from siyu.orders.reading import FileRefused
from tests.orders import exports
from tests.orders.conftest import Shop, utc
from tests.support import factories

JD_COLUMNS = {
    "order_id": "订单号",
    "status": "订单状态",
    "paid": "应付金额",
    "placed_at": "下单时间",
    "title": "商品名称",
}


async def owner(shop: Shop) -> Principal:
    async with shop.db() as session, session.begin():
        return (await factories.staff_login(session, shop.id)).principal


async def save(shop: Shop, columns: dict[str, str], headers: list[str] | None = None) -> None:
    actor = await owner(shop)
    async with shop.db() as session, session.begin():
        await service.save_mapping(
            session,
            actor=actor,
            headers=headers or exports.JD_HEADERS,
            name="京东订单",
            platform="jd",
            columns=columns,
        )


async def test_a_saved_mapping_imports_the_same_header_row_next_time(shop: Shop) -> None:
    refused_id = await shop.create_import("jd.csv", exports.jd())
    with pytest.raises(FileRefused) as refused:
        await shop.run(refused_id)
    assert refused.value.code == "unknown_layout"

    await save(shop, JD_COLUMNS)
    done = await shop.load("jd-again.csv", exports.jd())

    row = await shop.import_row(done.import_id)
    assert (row.status, row.platform, row.layout, row.inserted) == ("done", "jd", "京东订单", 2)
    orders = await shop.orders()
    assert {k: (o.platform, o.status, o.paid_fen, o.placed_at, o.title) for k, o in orders.items()} == {
        "301234567890": ("jd", "paid", 19900, utc("2026-11-10T16:01:30"), "京东自营精华"),
        "301234567891": ("jd", "completed", 239900, utc("2026-11-10T12:00:00"), "京东自营面霜"),
    }
    again = await shop.load("jd-third.csv", exports.jd())
    assert (again.totals.inserted, again.totals.updated, again.totals.unchanged) == (0, 0, 2)


async def test_a_mapping_is_for_exactly_its_header_row(shop: Shop) -> None:
    await save(shop, JD_COLUMNS)
    other_headers = [*exports.JD_HEADERS, "备注"]
    data = exports.encode(exports.csv_text(other_headers, exports.JD_ROWS), "utf-8-sig")
    import_id = await shop.create_import("jd-other.csv", data)
    with pytest.raises(FileRefused) as refused:
        await shop.run(import_id)
    assert refused.value.code == "unknown_layout"


async def test_a_mapping_belongs_to_its_tenant(shop: Shop, db, tmp_path) -> None:
    from tests.orders.conftest import make_tenant

    await save(shop, JD_COLUMNS)
    inbox = tmp_path / "other"
    inbox.mkdir()
    other = Shop(db=db, tenant=await make_tenant(db), storage=tmp_path / "other-uploads", inbox=inbox)
    import_id = await other.create_import("jd.csv", exports.jd())
    with pytest.raises(FileRefused) as refused:
        await other.run(import_id)
    assert refused.value.code == "unknown_layout"


@pytest.mark.parametrize(
    "missing",
    ["order_id", "paid", "status"],
)
async def test_a_mapping_without_a_required_field_is_refused(shop: Shop, missing: str) -> None:
    columns = {k: v for k, v in JD_COLUMNS.items() if k != missing}
    with pytest.raises(InvalidInput) as refused:
        await save(shop, columns)
    assert refused.value.code == "mapping_incomplete"
    import_id = await shop.create_import("jd.csv", exports.jd())
    with pytest.raises(FileRefused):
        await shop.run(import_id)


async def test_a_mapping_naming_a_column_the_file_lacks_is_refused(shop: Shop) -> None:
    with pytest.raises(InvalidInput) as refused:
        await save(shop, {**JD_COLUMNS, "paid": "实付金额"})
    assert refused.value.code == "mapping_unknown_column"


async def test_saving_again_replaces_the_mapping(shop: Shop) -> None:
    await save(shop, {**JD_COLUMNS, "status": "订单状态"})
    await save(shop, {**JD_COLUMNS, "title": "订单状态"})
    async with shop.db() as session:
        mappings = await service.list_mappings(session, tenant_id=shop.id)
    assert [(m.name, m.platform, m.columns["title"]) for m in mappings] == [("京东订单", "jd", "订单状态")]


async def test_a_saved_mapping_of_an_xlsx_reads_its_columns_in_one_read(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """应付金额 is read by no known layout: the tenant's mapping has the sheet read for it too, in the one read."""
    await save(shop, JD_COLUMNS)
    reads: list[object] = []
    read = reading.read_xlsx
    monkeypatch.setattr(reading, "read_xlsx", lambda *args, **kwargs: reads.append(args) or read(*args, **kwargs))

    done = await shop.load("jd.xlsx", exports.xlsx_bytes(exports.JD_HEADERS, exports.JD_ROWS))

    assert (await shop.import_row(done.import_id)).layout == "京东订单"
    orders = await shop.orders()
    assert {k: (o.status, o.paid_fen) for k, o in orders.items()} == {
        "301234567890": ("paid", 19900),
        "301234567891": ("completed", 239900),
    }
    assert len(reads) == 1
