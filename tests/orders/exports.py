"""Order export files as the platforms really write them, byte for byte.

Every builder returns the bytes a merchant downloads: the encoding (GBK for classic Taobao, UTF-8 with a
BOM for Douyin and WeChat Channels), the Excel protection of long ids (`="…"`, a trailing tab, a leading
apostrophe), `¥1,299.00` amounts, `-` for empty, header names with trailing spaces, summary and blank
lines at the end, a header row repeated in the middle, XLSX with ids as text cells.

The default rows of each builder are the "sample" files the tests assert against; tests that need other
orders pass their own rows (dicts keyed by the cleaned header name; missing cells are written empty).
"""

from __future__ import annotations

import codecs
import functools
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import xlsxwriter

Row = Mapping[str, object]


@dataclass(frozen=True)
class Raw:
    """A cell written verbatim, unquoted (Taobao writes `="1930679858170647"` this way)."""

    text: str


def formula(order_id: str) -> Raw:
    """Excel text protection as classic Taobao writes it: ="1930679858170647"."""
    return Raw(f'="{order_id}"')


def quoted_formula(order_id: str) -> str:
    """The same protection after a round trip through Excel: the whole cell quoted, inner quotes doubled."""
    return f'="{order_id}"'


def tab(order_id: str) -> str:
    """Douyin (and some Taobao tools) append a tab so Excel keeps the digits."""
    return f"{order_id}\t"


def apostrophe(order_id: str) -> str:
    return f"'{order_id}"


# Writers ---------------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if isinstance(value, Raw):
        return value.text
    text = "" if value is None else str(value)
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_text(headers: Sequence[str], rows: Iterable[Row | Sequence[object]], *, default: str = "") -> str:
    """CRLF lines, quoted only when needed, Raw cells verbatim; dict rows are keyed by the cleaned header."""
    lines = [",".join(_cell(h) for h in headers)]
    for row in rows:
        if isinstance(row, Mapping):
            cells: Sequence[object] = [row.get(h.strip(), default) for h in headers]
        else:
            cells = row
        lines.append(",".join(_cell(c) for c in cells))
    return "\r\n".join(lines) + "\r\n"


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    if encoding in ("gbk", "gb18030"):
        data = text.encode(encoding)
        assert data.decode("gb18030") == text
        return data
    return text.encode(encoding)


def xlsx_bytes(
    headers: Sequence[str], rows: Iterable[Row], *, numbers: Sequence[str] = (), dates: Sequence[str] = ()
) -> bytes:
    """One sheet; every cell a text cell except the columns named in `numbers` (numeric cells) and `dates`
    (real date-time cells with a yyyy-mm-dd hh:mm:ss format), as a merchant's Excel export has them."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("订单")
    date_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(0, 0, list(headers))
    for r, row in enumerate(rows, start=1):
        for c, header in enumerate(headers):
            value = row.get(header.strip())
            if value is None or value == "":
                continue
            number = str(value).replace(",", "").lstrip("¥￥")
            if header in numbers and number.replace(".", "", 1).isdigit():
                sheet.write_number(r, c, float(number))
            elif header in dates:
                sheet.write_datetime(r, c, datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S"), date_format)
            else:
                sheet.write_string(r, c, str(value))
    book.close()
    return buffer.getvalue()


def corrupt_xlsx() -> bytes:
    """A zip local-file header, then garbage: what a truncated or renamed download looks like."""
    return b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + bytes(range(256)) * 8


@functools.cache
def zip_bomb_xlsx(unpacked_mib: int = 300) -> bytes:
    """A valid-looking workbook (a Taobao order header, then the same row over and over) of a few hundred KB
    whose sheet XML unpacks to `unpacked_mib` MiB: what froze the server when a parser read it whole."""
    book = io.BytesIO(
        xlsx_bytes(
            ["订单编号", "买家实际支付金额", "订单状态"], [{"订单编号": "1", "买家实际支付金额": "1", "订单状态": "x"}]
        )
    )
    out = io.BytesIO()
    row = b'<row><c t="inlineStr"><is><t>1930679858170649999</t></is></c><c><v>129</v></c></row>'
    chunk = row * ((1 << 20) // len(row))
    with zipfile.ZipFile(book) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(info.filename, source.read(info.filename))
                continue
            head, _, tail = source.read(info.filename).partition(b"</row>")
            with bomb.open(info.filename, "w", force_zip64=True) as sheet:
                sheet.write(head + b"</row>")
                for _ in range(unpacked_mib):
                    sheet.write(chunk)
                sheet.write(tail)
    return out.getvalue()


def member_list() -> bytes:
    """A CRM member list: a table, but no order-number column at all."""
    rows = [
        {
            "会员昵称": "小鱼儿",
            "手机号": "138****1234",
            "等级": "黄金",
            "积分": "1200",
            "注册时间": "2026-01-02 10:00:00",
        },
        {"会员昵称": "阿青", "手机号": "139****8888", "等级": "白银", "积分": "300", "注册时间": "2026-03-04 11:30:00"},
    ]
    return encode(csv_text(["会员昵称", "手机号", "等级", "积分", "注册时间"], rows), "utf-8-sig")


def unknown_layout() -> bytes:
    """A table with an 订单号 column that matches none of the known layouts (a JD export)."""
    return encode(csv_text(JD_HEADERS, JD_ROWS), "utf-8-sig")


# Taobao / Tmall classic order report (ExportOrderList, GBK) --------------------------------------------

TAOBAO_CLASSIC_HEADERS = [
    "订单编号",
    "买家会员名",
    "买家支付宝账号",
    "买家应付货款",
    "买家应付邮费",
    "买家支付积分",
    "总金额",
    "返点积分",
    "买家实际支付金额",
    "买家实际支付积分",
    "订单状态",
    "买家留言",
    "收货人姓名",
    "收货地址 ",
    "运送方式",
    "联系电话 ",
    "联系手机",
    "订单创建时间",
    "订单付款时间 ",
    "宝贝标题 ",
    "宝贝种类 ",
    "物流单号 ",
    "物流公司",
    "订单备注",
    "宝贝总数量",
    "店铺Id",
    "店铺名称",
    "订单关闭原因",
    "卖家服务费",
    "买家服务费",
    "发票抬头",
    "是否手机订单",
    "分阶段订单信息",
    "特权订金订单id",
    "定金排名",
    "修改后的sku",
    "修改后的收货地址",
    "异常信息",
    "天猫卡券抵扣",
    "集分宝抵扣",
    "是否是O2O交易",
]


def taobao_classic_row(
    order_cell: object,
    *,
    buyer: str,
    paid: str,
    status: str,
    created: str,
    paid_at: str,
    title: str = "珀莱雅双抗精华液 30ml",
    quantity: str = "1",
    phone: str = "'138****1234",
) -> dict[str, object]:
    return {
        "订单编号": order_cell,
        "买家会员名": buyer,
        "买家支付宝账号": "-",
        "买家应付货款": paid,
        "买家应付邮费": "0.00",
        "买家支付积分": "0",
        "总金额": paid,
        "返点积分": "0",
        "买家实际支付金额": paid,
        "买家实际支付积分": "0",
        "订单状态": status,
        "买家留言": "-",
        "收货人姓名": "张*",
        "收货地址": "浙江省 杭州市 余杭区 ***",
        "运送方式": "快递",
        "联系电话": "-",
        "联系手机": phone,
        "订单创建时间": created,
        "订单付款时间": paid_at,
        "宝贝标题": title,
        "宝贝种类": "1",
        "物流单号": "-",
        "物流公司": "-",
        "订单备注": "-",
        "宝贝总数量": quantity,
        "店铺Id": "57300001",
        "店铺名称": "星河旗舰店",
        "订单关闭原因": "-",
        "卖家服务费": "0",
        "买家服务费": "0",
        "是否手机订单": "手机订单",
        "天猫卡券抵扣": "0.00",
        "集分宝抵扣": "0.00",
        "是否是O2O交易": "否",
    }


TAOBAO_CLASSIC_ROWS: list[dict[str, object]] = [
    taobao_classic_row(
        formula("1930679858170647123"),
        buyer="小鱼儿",
        paid="¥1,299.00",
        status="买家已付款，等待卖家发货",
        created="2026-11-11 00:00:05",
        paid_at="2026-11-11 00:01:30",
        quantity="2",
    ),
    taobao_classic_row(
        tab("3930679858170647"),
        buyer="tb_阿青",
        paid="89.90",
        status="交易成功",
        created="2026-11-01 20:15:00",
        paid_at="2026-11-01 20:16:00",
        title="珀莱雅红宝石面霜",
    ),
    taobao_classic_row(
        apostrophe("2930679858170647001"),
        buyer="星星",
        paid="￥59",
        status="卖家已发货，等待买家确认",
        created="2026-11-10 23:59:00",
        paid_at="2026-11-10 23:59:59",
        phone="-",
    ),
]
# Rows after the repeated header (files concatenated by hand).
TAOBAO_CLASSIC_MORE: list[dict[str, object]] = [
    taobao_classic_row(
        quoted_formula("4930679858170647002"),
        buyer="momo",
        paid="1,000",
        status="交易关闭",
        created="2026-11-09 08:00:00",
        paid_at="2026-11-09 08:00:30",
    ),
    taobao_classic_row(
        formula("5930679858170647003"),
        buyer="小鹿",
        paid="0.00",
        status="等待买家付款",
        created="2026-11-12 09:30:00",
        paid_at="-",
    ),
]


def taobao_classic(
    rows: Sequence[Row] | None = None,
    more: Sequence[Row] | None = None,
    *,
    summary: bool = True,
) -> bytes:
    """GBK bytes (gb18030 where GBK has no code for a character, such as ¥ U+00A5); a header row repeated
    between `rows` and `more`; a 合计 line and a blank line at the end."""
    rows = TAOBAO_CLASSIC_ROWS if rows is None else rows
    more = TAOBAO_CLASSIC_MORE if more is None else more
    text = csv_text(TAOBAO_CLASSIC_HEADERS, rows)
    if more:
        text += csv_text(TAOBAO_CLASSIC_HEADERS, more)  # the header line comes again
    if summary:
        total = len(rows) + len(more)
        text += f'合计,{total}笔,,"¥2,447.90",,,,,,,,\r\n\r\n'
    return encode(text, "gb18030")


# Taobao newer order export (UTF-8 CSV or XLSX; 买家实付金额, 退款金额, no buyer column) ---------------------

TAOBAO_NEW_HEADERS = [
    "订单编号",
    "支付单号",
    "支付详情",
    "买家应付货款",
    "买家应付邮费",
    "总金额",
    "买家实付金额",
    "订单状态",
    "买家留言",
    "收货地址",
    "运送方式",
    "联系手机",
    "订单创建时间",
    "订单付款时间",
    "商品标题",
    "宝贝种类",
    "物流单号",
    "物流公司",
    "订单备注",
    "宝贝总数量",
    "店铺Id",
    "店铺名称",
    "订单关闭原因",
    "退款金额",
    "确认收货时间",
    "商品属性SKU",
    "备注标签",
    "商家备注",
    "确认收货打款金额",
    "总金额(旧版)",
]


def taobao_new_row(
    order_id: str,
    *,
    paid: str,
    status: str,
    refund: str = "0.00",
    created: str = "2026-11-11 00:00:10",
    paid_at: str = "2026-11-11 00:01:30",
    confirmed: str = "",
    title: str = "珀莱雅源力精华 50ml",
    quantity: str = "1",
) -> dict[str, object]:
    return {
        "订单编号": order_id,
        "支付单号": "2026111122001100000000000001",
        "支付详情": "支付宝",
        "买家应付货款": paid,
        "买家应付邮费": "0.00",
        "总金额": paid,
        "买家实付金额": paid,
        "订单状态": status,
        "买家留言": "",
        "收货地址": "上海 上海市 浦东新区 ***",
        "运送方式": "快递",
        "联系手机": "186****0000",
        "订单创建时间": created,
        "订单付款时间": paid_at,
        "商品标题": title,
        "宝贝种类": "1",
        "物流单号": "",
        "物流公司": "",
        "订单备注": "",
        "宝贝总数量": quantity,
        "店铺Id": "57300001",
        "店铺名称": "星河旗舰店",
        "订单关闭原因": "买家申请退款" if status == "交易关闭" else "",
        "退款金额": refund,
        "确认收货时间": confirmed,
        "商品属性SKU": "规格:50ml",
        "备注标签": "",
        "商家备注": "",
        "确认收货打款金额": "",
        "总金额(旧版)": paid,
    }


TAOBAO_NEW_ROWS: list[dict[str, object]] = [
    taobao_new_row("1930679858170647501", paid="1,299.00", status="交易成功", confirmed="2026-11-18 10:00:00"),
    taobao_new_row("1930679858170647502", paid="399.00", status="交易关闭", refund="399.00"),
    taobao_new_row("1930679858170647503", paid="¥45.50", status="买家已付款，等待卖家发货", refund="-"),
]


def taobao_new_csv(rows: Sequence[Row] | None = None) -> bytes:
    """UTF-8 without BOM (the newer export), ids as plain text."""
    return encode(csv_text(TAOBAO_NEW_HEADERS, TAOBAO_NEW_ROWS if rows is None else rows), "utf-8")


def taobao_new_xlsx(rows: Sequence[Row] | None = None) -> bytes:
    """The same export as XLSX: ids as text cells, amounts as numbers, one time as a real date cell."""
    return xlsx_bytes(
        TAOBAO_NEW_HEADERS,
        TAOBAO_NEW_ROWS if rows is None else rows,
        numbers=("买家应付货款", "总金额", "买家实付金额", "退款金额", "宝贝总数量"),
        dates=("订单付款时间",),
    )


# Taobao item report (宝贝报表): one row per sub-order, folded into the main order ------------------------

TAOBAO_ITEM_HEADERS = [
    "子订单编号",
    "主订单编号",
    "标题",
    "价格",
    "购买数量",
    "外部系统编号",
    "商品属性",
    "套餐信息",
    "备注",
    "订单状态",
    "商家编码",
    "支付单号",
    "买家应付货款",
    "买家实际支付金额",
    "退款状态",
    "退款金额",
    "订单创建时间",
    "订单付款时间 ",
]


def taobao_item_row(
    sub_id: str,
    main_id: str,
    *,
    title: str,
    price: str,
    quantity: str,
    paid: str,
    status: str,
    refund_status: str = "没有申请退款",
    refund: str = "0",
    created: str = "2026-11-11 00:00:05",
    paid_at: str = "2026-11-11 00:01:30",
) -> dict[str, object]:
    return {
        "子订单编号": formula(sub_id),
        "主订单编号": formula(main_id),
        "标题": title,
        "价格": price,
        "购买数量": quantity,
        "外部系统编号": "-",
        "商品属性": "颜色分类:默认",
        "套餐信息": "-",
        "备注": "-",
        "订单状态": status,
        "商家编码": "PLY-001",
        "支付单号": "-",
        "买家应付货款": paid,
        "买家实际支付金额": paid,
        "退款状态": refund_status,
        "退款金额": refund,
        "订单创建时间": created,
        "订单付款时间": paid_at,
    }


TAOBAO_ITEM_ROWS: list[dict[str, object]] = [
    taobao_item_row(
        "1930679858170647601",
        "1930679858170647600",
        title="双抗精华 30ml",
        price="100.00",
        quantity="1",
        paid="100.00",
        status="交易成功",
    ),
    taobao_item_row(
        "1930679858170647602",
        "1930679858170647600",
        title="面膜 5片",
        price="14.95",
        quantity="2",
        paid="29.90",
        status="交易成功",
    ),
    taobao_item_row(
        "1930679858170647701",
        "1930679858170647700",
        title="防晒霜",
        price="1,050.00",
        quantity="1",
        paid="1,050.00",
        status="交易关闭",
        refund_status="退款成功",
        refund="1,050.00",
    ),
]


def taobao_item(rows: Sequence[Row] | None = None) -> bytes:
    return encode(csv_text(TAOBAO_ITEM_HEADERS, TAOBAO_ITEM_ROWS if rows is None else rows), "gbk")


# Douyin 抖店: UTF-8 with BOM, ids with a trailing tab, amounts with thousands separators -----------------

DOUYIN_HEADERS = [
    "主订单编号",
    "子订单编号",
    "选购商品",
    "商品规格",
    "商品数量",
    "商品ID",
    "商家编码",
    "商品单价",
    "商品金额",
    "订单应付金额",
    "运费",
    "优惠总金额",
    "平台优惠",
    "商家优惠",
    "达人优惠",
    "手续费",
    "订单提交时间",
    "支付完成时间",
    "订单完成时间",
    "承诺发货时间",
    "发货时间",
    "订单状态",
    "取消原因",
    "售后状态",
    "买家留言",
    "商家备注",
    "收件人",
    "达人ID",
    "达人昵称",
    "流量来源",
    "流量体裁",
    "流量渠道",
    "流量类型",
]


def douyin_row(
    main_id: str,
    sub_id: str,
    *,
    title: str,
    quantity: str,
    paid: str,
    status: str,
    after_sale: str = "-",
    submitted: str = "2026-11-11 00:00:40",
    paid_at: str = "2026-11-11 00:01:30",
    completed: str = "-",
    author: str = "星河主播",
) -> dict[str, object]:
    return {
        "主订单编号": tab(main_id),
        "子订单编号": tab(sub_id),
        "选购商品": title,
        "商品规格": "默认",
        "商品数量": quantity,
        "商品ID": tab("3612345678901234567"),
        "商家编码": "-",
        "商品单价": paid,
        "商品金额": paid,
        "订单应付金额": paid,
        "运费": "0.00",
        "优惠总金额": "0.00",
        "平台优惠": "0.00",
        "商家优惠": "0.00",
        "达人优惠": "0.00",
        "手续费": "0.00",
        "订单提交时间": submitted,
        "支付完成时间": paid_at,
        "订单完成时间": completed,
        "承诺发货时间": "2026-11-13 00:01:30",
        "发货时间": "2026-11-12 09:00:00",
        "订单状态": status,
        "取消原因": "-",
        "售后状态": after_sale,
        "买家留言": "-",
        "商家备注": "-",
        "收件人": "李**",
        "达人ID": tab("4201234567"),
        "达人昵称": author,
        "流量来源": "直播",
        "流量体裁": "直播",
        "流量渠道": "自然流量",
        "流量类型": "-",
    }


DOUYIN_ROWS: list[dict[str, object]] = [
    douyin_row(
        "6931234567890123456",
        "6931234567890123457",
        title="珀莱雅双抗精华液",
        quantity="1",
        paid="1,299.00",
        status="已完成",
        completed="2026-11-20 12:00:00",
    ),
    douyin_row(
        "6931234567890123456",
        "6931234567890123458",
        title="珀莱雅面霜礼盒",
        quantity="2",
        paid="2,000.50",
        status="已完成",
        after_sale="退款成功",
        completed="2026-11-20 12:00:00",
    ),
    douyin_row(
        "6931234567890123999",
        "6931234567890124000",
        title="洁面乳",
        quantity="1",
        paid="79.90",
        status="已发货",
    ),
]


def douyin(rows: Sequence[Row] | None = None) -> bytes:
    return encode(csv_text(DOUYIN_HEADERS, DOUYIN_ROWS if rows is None else rows), "utf-8-sig")


# Kuaishou 快手小店 -------------------------------------------------------------------------------------

KUAISHOU_HEADERS = [
    "订单号",
    "订单创建时间",
    "订单支付时间",
    "订单状态",
    "实付款",
    "成交数量",
    "买家留言",
    "退货退款",
    "商品名称",
    "商品规格",
    "商品单价",
    "商品ID",
]


def kuaishou_row(
    order_id: str,
    *,
    paid: str,
    status: str,
    refund: str = "-",
    quantity: str = "1",
    title: str = "快手同款面膜",
    created: str = "2026-11-11 00:00:50",
    paid_at: str = "2026-11-11 00:01:30",
) -> dict[str, object]:
    return {
        "订单号": tab(order_id),
        "订单创建时间": created,
        "订单支付时间": paid_at,
        "订单状态": status,
        "实付款": paid,
        "成交数量": quantity,
        "买家留言": "",
        "退货退款": refund,
        "商品名称": title,
        "商品规格": "10片装",
        "商品单价": paid,
        "商品ID": "20934567890",
    }


KUAISHOU_ROWS: list[dict[str, object]] = [
    kuaishou_row("2411111234567890", paid="¥88.00", status="已发货", quantity="2"),
    kuaishou_row("2411111234567891", paid="¥1,588.80", status="交易成功", title="精华套装"),
    kuaishou_row("2411111234567892", paid="¥39.90", status="交易关闭", refund="退款成功"),
]


def kuaishou(rows: Sequence[Row] | None = None) -> bytes:
    return encode(csv_text(KUAISHOU_HEADERS, KUAISHOU_ROWS if rows is None else rows), "utf-8-sig")


# WeChat Channels 视频号小店: a row per product, the order's paid amount repeated on each -----------------

CHANNELS_HEADERS = [
    "订单号",
    "订单状态",
    "订单下单时间",
    "支付时间",
    "商品名称",
    "商品数量",
    "商品编码(自定义)",
    "SKU编码(自定义)",
    "商品实际价格(单件)",
    "商品实际价格(总共)",
    "订单实际支付金额",
    "订单实际收款金额",
    "商品已退款金额",
    "商品售后",
    "商品发货",
    "订单运费",
    "技术服务费",
    "收件人姓名",
    "收件人手机",
]


def channels_row(
    order_id: str,
    *,
    status: str,
    title: str,
    quantity: str,
    line_total: str,
    order_paid: str,
    refunded: str = "0.00",
    after_sale: str = "",
    placed: str = "2026-11-11 00:01:00",
    paid_at: str = "2026-11-11 00:01:30",
) -> dict[str, object]:
    return {
        "订单号": order_id,
        "订单状态": status,
        "订单下单时间": placed,
        "支付时间": paid_at,
        "商品名称": title,
        "商品数量": quantity,
        "商品编码(自定义)": "SP001",
        "SKU编码(自定义)": "SKU001",
        "商品实际价格(单件)": line_total,
        "商品实际价格(总共)": line_total,
        "订单实际支付金额": order_paid,
        "订单实际收款金额": order_paid,
        "商品已退款金额": refunded,
        "商品售后": after_sale,
        "商品发货": "已发货" if status != "待发货" else "未发货",
        "订单运费": "0.00",
        "技术服务费": "1.00",
        "收件人姓名": "王*",
        "收件人手机": "137****5678",
    }


CHANNELS_ROWS: list[dict[str, object]] = [
    channels_row(
        "3720000000000000001",
        status="已完成",
        title="双抗精华",
        quantity="1",
        line_total="99.90",
        order_paid="199.80",
        refunded="99.90",
        after_sale="退款完成",
    ),
    channels_row(
        "3720000000000000001",
        status="已完成",
        title="红宝石面霜",
        quantity="1",
        line_total="99.90",
        order_paid="199.80",
    ),
    channels_row(
        "3720000000000000002",
        status="已发货",
        title="洁面乳",
        quantity="3",
        line_total="1,200.00",
        order_paid="1,200.00",
    ),
    # Three products, two of them refunded: the refunds add up, the order is not refunded whole.
    *(
        channels_row(
            "3720000000000000003",
            status="已完成",
            title=title,
            quantity="1",
            line_total="50.00",
            order_paid="150.00",
            refunded=refunded,
            after_sale=after_sale,
        )
        for title, refunded, after_sale in (
            ("面膜", "30.00", "退款完成"),
            ("眼霜", "20.00", "退款完成"),
            ("精华", "0.00", ""),
        )
    ),
]


def channels(rows: Sequence[Row] | None = None) -> bytes:
    return encode(csv_text(CHANNELS_HEADERS, CHANNELS_ROWS if rows is None else rows), "utf-8-sig")


# Pinduoduo 拼多多 ---------------------------------------------------------------------------------------

PDD_HEADERS = [
    "订单号",
    "商品",
    "商品数量(件)",
    "商品总价(元)",
    "店铺优惠折扣(元)",
    "平台优惠折扣(元)",
    "用户实付金额(元)",
    "商家实收金额(元)",
    "邮费(元)",
    "订单状态",
    "售后状态",
    "订单成交时间",
    "发货时间",
    "确认收货时间",
    "快递单号",
    "快递公司",
    "商品规格",
]


def pdd_row(
    order_id: str,
    *,
    paid: str,
    status: str,
    after_sale: str = "无售后",
    placed: str = "2026-11-11 00:01:30",
    confirmed: str = "",
    title: str = "拼多多百亿补贴 精华",
) -> dict[str, object]:
    return {
        "订单号": order_id,
        "商品": title,
        "商品数量(件)": "1",
        "商品总价(元)": paid,
        "店铺优惠折扣(元)": "0",
        "平台优惠折扣(元)": "0",
        "用户实付金额(元)": paid,
        "商家实收金额(元)": paid,
        "邮费(元)": "0",
        "订单状态": status,
        "售后状态": after_sale,
        "订单成交时间": placed,
        "发货时间": "",
        "确认收货时间": confirmed,
        "快递单号": tab("YT1234567890123"),
        "快递公司": "圆通快递",
        "商品规格": "30ml",
    }


PDD_ROWS: list[dict[str, object]] = [
    pdd_row("261111-123456789012", paid="29.90", status="已发货，待收货"),
    pdd_row("261111-123456789013", paid="1,099.00", status="已签收", confirmed="2026-11-15 08:00:00"),
    pdd_row("261110-987654321098", paid="9.90", status="已签收", after_sale="退款成功", placed="2026-11-10 12:00:00"),
]


def pdd(rows: Sequence[Row] | None = None) -> bytes:
    return encode(csv_text(PDD_HEADERS, PDD_ROWS if rows is None else rows), "utf-8-sig")


# JD (no built-in layout: imported through a saved column mapping) --------------------------------------

JD_HEADERS = ["订单号", "订单状态", "应付金额", "下单时间", "商品名称"]
JD_ROWS: list[dict[str, object]] = [
    {
        "订单号": "301234567890",
        "订单状态": "等待出库",
        "应付金额": "¥199.00",
        "下单时间": "2026-11-11 00:01:30",
        "商品名称": "京东自营精华",
    },
    {
        "订单号": "301234567891",
        "订单状态": "完成",
        "应付金额": "2,399.00",
        "下单时间": "2026-11-10 20:00:00",
        "商品名称": "京东自营面霜",
    },
]


def jd(rows: Sequence[Row] | None = None) -> bytes:
    return encode(csv_text(JD_HEADERS, JD_ROWS if rows is None else rows), "utf-8-sig")
