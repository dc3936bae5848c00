"""Every CSV and XLSX we hand out: text a spreadsheet would run as a formula starts with an apostrophe."""

from __future__ import annotations

import csv
import io
import zipfile
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.spreadsheet import safe_cell, safe_row
from siyu.kit.time import utcnow
from siyu.mall import files
from siyu.orders.models import ImportRejection
from tests.support import factories

HOSTILE = ['=HYPERLINK("http://evil","点我")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_text_gets_an_apostrophe(text: str) -> None:
    assert safe_cell(text) == "'" + text


def test_other_cells_stay_as_they_are() -> None:
    assert safe_row(["小鱼", "a=b", "", 12900, -5, None, "'=already"]) == [
        "小鱼",
        "a=b",
        "",
        12900,
        -5,
        None,
        "'=already",
    ]


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def test_the_console_order_export_and_rejected_rows_file_are_formula_safe(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    order = await factories.order(session, tenant.id)
    order.title, order.buyer_nick, order.shop, order.author, order.live_room = HOSTILE[:5]
    imported = await factories.order_import(session, tenant.id)
    session.add(
        ImportRejection(
            tenant_id=tenant.id,
            import_id=imported.id,
            row=2,
            order_id="@SUM(1+1)",
            reason="订单编号格式不正确：@SUM(1+1)",
        )
    )
    session.add(ImportRejection(tenant_id=tenant.id, import_id=imported.id, row=3, order_id="-1+2", reason="x"))
    await session.flush()

    exported = await client.get("/console/orders/export.csv", cookies=login.cookies)
    assert exported.status_code == 200
    header, row = _csv(exported.content)
    cells = dict(zip(header, row, strict=True))
    for column, text in zip(("商品", "买家昵称", "店铺", "主播", "直播间"), HOSTILE, strict=False):
        assert cells[column] == "'" + text, column
    assert float(cells["实付（元）"]) == 129

    rejected = await client.get(f"/console/orders/imports/{imported.id}/rejections.csv", cookies=login.cookies)
    assert rejected.status_code == 200
    assert _csv(rejected.content)[1:] == [["2", "'@SUM(1+1)", "订单编号格式不正确：@SUM(1+1)"], ["3", "'-1+2", "x"]]


def test_the_mall_pick_list_is_formula_safe() -> None:
    row = SimpleNamespace(
        id=42,
        created_at=utcnow(),
        title='=WEBSERVICE("http://evil")',
        address={"name": "@小鱼", "phone": "+8613800000000", "region": "-上海", "detail": "\t=1"},
    )
    data = files.pick_list_xlsx([row], "Asia/Shanghai")
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        strings = book.read("xl/sharedStrings.xml").decode()
    for text in ('\'=WEBSERVICE("http://evil")', "'@小鱼", "'+8613800000000", "'-上海", "'\t=1"):
        assert text in strings, text
    assert "<f>" not in book_sheet(data)


def book_sheet(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return book.read("xl/worksheets/sheet1.xml").decode()


async def test_the_members_export_is_formula_safe_as_csv_and_xlsx(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    await factories.member(session, tenant.id, nickname=HOSTILE[0])

    exported = await client.get("/console/members/export.csv", cookies=login.cookies)
    assert exported.status_code == 200
    header, row = _csv(exported.content)
    assert dict(zip(header, row, strict=True))["昵称"] == "'" + HOSTILE[0]

    workbook = await client.get("/console/members/export.xlsx", cookies=login.cookies)
    assert workbook.status_code == 200
    strings = zipfile.ZipFile(io.BytesIO(workbook.content)).read("xl/worksheets/sheet1.xml").decode()
    assert "'=HYPERLINK" in strings and ">=HYPERLINK" not in strings
