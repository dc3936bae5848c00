"""End-to-end order ingest benchmark: a realistic 1M-row Taobao classic export through the real pipeline.

    .venv/bin/python benchmarks/ingest.py --database-url URL [--rows 1000000] [--xlsx-rows 200000]

(--rows 0 skips the CSV, --xlsx-rows 0 the XLSX.)

What it does (see benchmarks/README.md):
1. Generates (once; cached under the temp dir, keyed by row count) an `ExportOrderList*.csv` in its real byte
   form: GB18030, the full classic column list, `="..."`-protected ids, `¥`/thousands-separator amounts, Chinese
   titles and addresses, China-time timestamps, realistic statuses; plus the odd duplicate row (overlapping
   exports), ids Excel turned into scientific notation (rejected), a repeated header and a summary line
   (skipped). The canonical rows the import must produce are generated alongside (ground truth).
2. Creates a throw-away database (PostgreSQL: CREATE DATABASE via the URL's own database; SQLite: a temp
   file), migrates it and creates a tenant.
3. Runs `siyu.cli_orders.import_path` (what `siyu orders import` runs) in a child process, timed there, and
   reads the child's peak RSS; then checks the stored orders against the ground truth.
4. Measures the machine's limit on the same canonical rows: a raw COPY (PostgreSQL) or one executemany INSERT
   in one transaction (SQLite) into a table with the orders table's columns and primary key.
5. On SQLite, also imports a 200k-row XLSX of the newer Taobao export.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from benchdb import asyncpg_dsn, backend_name, bench_database, say

GENERATOR_VERSION = 6
CACHE_DIR = Path(tempfile.gettempdir()) / "siyu-bench"
TENANT_SLUG = "bench-shop"
CHINA = "Asia/Shanghai"
EXPORTED_AT = datetime(2026, 11, 11, 23, 59, 0)  # China time, naive: the file's own clock

CLASSIC_HEADERS = [
    "订单编号", "买家会员名", "买家支付宝账号", "买家应付货款", "买家应付邮费", "买家支付积分", "总金额", "返点积分",
    "买家实际支付金额", "买家实际支付积分", "订单状态", "买家留言", "收货人姓名", "收货地址 ", "运送方式", "联系电话 ",
    "联系手机", "订单创建时间", "订单付款时间 ", "宝贝标题 ", "宝贝种类 ", "物流单号 ", "物流公司", "订单备注",
    "宝贝总数量", "店铺Id", "店铺名称", "订单关闭原因", "卖家服务费", "买家服务费", "发票抬头", "是否手机订单",
    "分阶段订单信息", "特权订金订单id", "定金排名", "修改后的sku", "修改后的收货地址", "异常信息", "天猫卡券抵扣",
    "集分宝抵扣", "是否是O2O交易", "退款金额",
]  # fmt: skip
# Newer export (XLSX): buyer, Alipay account and receiver dropped (privacy), renamed and added columns.
NEWER_HEADERS = [
    "订单编号", "支付单号", "支付详情", "买家应付货款", "买家应付邮费", "买家支付积分", "总金额", "返点积分",
    "买家实付金额", "买家实际支付积分", "订单状态", "买家留言", "收货地址", "运送方式", "联系电话", "联系手机",
    "订单创建时间", "订单付款时间", "商品标题", "宝贝种类", "物流单号", "物流公司", "订单备注", "宝贝总数量",
    "店铺Id", "店铺名称", "订单关闭原因", "卖家服务费", "买家服务费", "发票抬头", "是否手机订单", "分阶段订单信息",
    "特权订金订单id", "定金排名", "修改后的sku", "修改后的收货地址", "异常信息", "天猫卡券抵扣", "集分宝抵扣",
    "是否是O2O交易", "退款金额", "商品属性SKU", "备注标签", "商家备注", "确认收货时间", "确认收货打款金额",
    "总金额(旧版)",
]  # fmt: skip

PRODUCTS = [
    ("珀莱雅双抗精华液 30ml 抗氧化提亮", 26900), ("花西子空气蜜粉 定妆控油 持久不脱妆", 14900),
    ("三只松鼠每日坚果 30包 混合果仁", 8990), ("完美日记小细跟口红 #M03 哑光", 6900),
    ("蕉下防晒冰袖 UPF50+ 男女通用", 3990), ("认养一头牛纯牛奶 250ml×16盒 整箱", 5590),
    ("自然堂雪域精粹面霜 50g 补水保湿", 19900), ("森马羽绒服 女款短款 白鸭绒", 39900),
    ("小米米家电动牙刷 T302 声波", 12900), ("云南褚橙 5kg 礼盒装 新鲜水果", 11800),
    ("百雀羚帧颜淡纹霜 抗皱紧致", 25900), ("良品铺子肉松饼 1kg 整箱", 3990),
    ("李宁䨻跑步鞋 超轻透气 男款", 69900), ("戴森吹风机 HD15 紫红色 国行", 299900),
    ("华为 FreeBuds Pro 3 降噪耳机", 119900), ("科沃斯扫地机器人 T20 自动集尘", 359900),
    ("九阳豆浆机 破壁免滤 家用", 45900), ("安踏儿童运动套装 春秋款", 25900),
    ("欧莱雅复颜玻尿酸水光充盈面膜 5片", 9900), ("农夫山泉 饮用天然水 550ml×24瓶", 3600),
    ("茅台 飞天53度 500ml", 149900), ("优衣库 U系列 圆领T恤 纯棉", 9900),
    ("波司登 轻薄羽绒服 可收纳", 79900), ("苏泊尔 电饭煲 4L 球釜内胆", 29900),
]  # fmt: skip
PROMOS = ["", "", "", "【双11预售】", "【官方正品】", "【顺丰包邮】", "【直播专享】", "【买一送一】"]
NICK_WORDS = ["小鱼儿", "甜甜圈", "早睡早起的喵", "桃子不酸", "追光少女", "柚子茶", "橘子汽水", "夏天的风",
              "可乐加冰", "奶茶续命", "一只大白", "快乐星球", "晴天", "土豆丝", "云朵棉花糖", "月亮不睡"]  # fmt: skip
LETTERS = list("abcdefghjkmnpqrstwxyz")
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高")
PLACES = [
    "浙江省 杭州市 西湖区", "浙江省 宁波市 鄞州区", "上海 上海市 浦东新区", "广东省 深圳市 南山区",
    "广东省 广州市 天河区", "北京 北京市 朝阳区", "四川省 成都市 武侯区", "江苏省 南京市 鼓楼区",
    "江苏省 苏州市 工业园区", "湖北省 武汉市 洪山区", "陕西省 西安市 雁塔区", "福建省 厦门市 思明区",
    "山东省 青岛市 崂山区", "湖南省 长沙市 岳麓区", "重庆 重庆市 渝北区", "河南省 郑州市 金水区",
]  # fmt: skip
STREETS = ["文三路", "世纪大道", "科技园南区", "天府大道", "建国路", "中山北路", "解放大道", "人民路", "长江路",
           "学院路", "滨江大道", "高新路", "五四路", "东风路"]  # fmt: skip
MESSAGES = ["请尽快发货，谢谢", '"麻烦用顺丰,谢谢"', "送人的，不要放发票", "周末送货", "颜色要黑色"]
CARRIERS = ["顺丰速运", "中通快递", "圆通速递", "韵达快递", "申通快递", "京东物流", "EMS"]
CLOSE_REASONS = ["买家不想买了", "超时未付款", "信息填写错误，重新拍", "卖家缺货", "其他原因"]
# (text in the file, canonical status, share per mille)
STATUSES = [
    ("交易成功", "completed", 600),
    ("卖家已发货，等待买家确认", "shipped", 150),
    ("买家已付款，等待卖家发货", "paid", 100),
    ("交易关闭", "refunded", 50),  # closed after payment, with 退款金额
    ("交易关闭", "closed", 50),  # closed before payment
    ("等待买家付款", "unpaid", 50),
]
STATUS_RANK = {"unpaid": 0, "paid": 1, "shipped": 2, "completed": 3, "refunding": 4, "refunded": 5, "closed": 5}
SPAN_SECONDS = 90 * 86400
DUP_EVERY, DUP_BACK = 400, 250  # every 400th row repeats the order 250 rows earlier (overlapping exports)
BAD_EVERY, BAD_AT = 50_000, 17  # ids that Excel turned into scientific notation: rejected
ID_MULTIPLIER, ID_OFFSET = 9_876_543_217, 358_203_654_123  # odd, not a multiple of 5: a bijection mod 10**12


# Generation ------------------------------------------------------------------------------------------


def _h(seed: int) -> pl.Expr:
    return pl.col("k").hash(seed=seed)


def _pick(h: pl.Expr, choices: Sequence[str]) -> pl.Expr:
    return (h % len(choices)).cast(pl.Int64).replace_strict(dict(enumerate(choices)), return_dtype=pl.String)


def _digits(h: pl.Expr, width: int) -> pl.Expr:
    return (h % (10**width)).cast(pl.String).str.zfill(width)


def _yuan(fen: pl.Expr, *, thousands: bool = False) -> pl.Expr:
    whole = fen // 100
    cents = (fen % 100).cast(pl.String).str.zfill(2)
    if not thousands:
        return pl.format("{}.{}", whole, cents)
    grouped = pl.format("{},{}.{}", whole // 1000, (whole % 1000).cast(pl.String).str.zfill(3), cents)
    return pl.when(whole >= 1000).then(grouped).otherwise(pl.format("{}.{}", whole, cents))


def _base(rows: int, id_space: int) -> pl.DataFrame:
    """One row per file line: `k` is the order the line is about (repeated for duplicates), with its facts."""
    i = pl.int_range(0, rows, dtype=pl.UInt64, eager=True)
    frame = pl.DataFrame({"i": i}).with_columns(
        k=pl.when((pl.col("i") % DUP_EVERY == DUP_EVERY - 1) & (pl.col("i") >= DUP_BACK))
        .then(pl.col("i") - DUP_BACK)
        .otherwise(pl.col("i"))
        + id_space,
        bad=pl.col("i") % BAD_EVERY == BAD_AT,
    )
    length = (16 + _h(1) % 4).cast(pl.Int64)  # 16 to 19 digits
    # lead digit, then (length - 16) random digits, then a bijection of k on 12 digits, then 3 random digits:
    # distinct orders get distinct ids, and the ids look like the platform's.
    ten = pl.lit(10, dtype=pl.UInt64)
    lead = 1 + _h(2) % 9
    middle = _h(3) % ten.pow(length - 16)
    scrambled = (pl.col("k") * ID_MULTIPLIER + ID_OFFSET) % 10**12
    number = lead * ten.pow(length - 1) + middle * 10**15 + scrambled * 1000 + _h(4) % 1000
    product = (_h(17) % len(PRODUCTS)).cast(pl.Int64)
    price = product.replace_strict({n: p for n, (_, p) in enumerate(PRODUCTS)}, return_dtype=pl.Int64)
    quantity = pl.when(_h(5) % 10 < 7).then(1).otherwise(1 + _h(5) % 3).cast(pl.Int64)
    postage = pl.when(_h(6) % 10 < 8).then(0).otherwise(800).cast(pl.Int64)
    bucket = _h(7) % 1000
    status = pl.lit(None, dtype=pl.String)
    text = pl.lit(None, dtype=pl.String)
    edge = 0
    for label, canonical, share in STATUSES:
        status = pl.when((bucket >= edge) & (bucket < edge + share)).then(pl.lit(canonical)).otherwise(status)
        text = pl.when((bucket >= edge) & (bucket < edge + share)).then(pl.lit(label)).otherwise(text)
        edge += share
    frame = frame.with_columns(
        id_text=number.cast(pl.String),
        id_length=length,
        title=pl.format("{}{}", _pick(_h(8), PROMOS), _pick(product, [t for t, _ in PRODUCTS])),
        price=price,
        quantity=quantity,
        postage=postage,
        status=status,
        status_text=text,
        # The report lists orders newest first (as the seller centre does), over the last 90 days.
        placed_local=pl.lit(EXPORTED_AT)
        - pl.duration(seconds=((pl.col("k") - id_space) * SPAN_SECONDS // rows + _h(9) % 600).cast(pl.Int64)),
        pay_delay=pl.duration(seconds=(5 + _h(10) % 900).cast(pl.Int64)),
        confirm_delay=pl.duration(seconds=(3 * 86400 + _h(11) % (7 * 86400)).cast(pl.Int64)),
        style=_h(12) % 100,
    )
    total = pl.col("price") * pl.col("quantity") + pl.col("postage")
    paid_states = pl.col("status").is_in(["completed", "shipped", "paid", "refunded"])
    return frame.with_columns(
        goods=pl.col("price") * pl.col("quantity"),
        total=total,
        paid_fen=pl.when(paid_states).then(total).otherwise(0),
        refund_fen=pl.when(pl.col("status") == "refunded")
        .then(pl.when(_h(13) % 10 < 7).then(total).otherwise(total // 2))
        .otherwise(0),
        paid_local=pl.when(paid_states).then(pl.col("placed_local") + pl.col("pay_delay")),
        phone=pl.format("1{}{}****{}", 3 + _h(14) % 7, _h(15) % 10, _digits(_h(16), 4)),
    )


def _scientific() -> pl.Expr:
    """How Excel shows a long id it took for a number: 3.59820E+18."""
    text = pl.col("id_text")
    return pl.format("{}.{}E+{}", text.str.slice(0, 1), text.str.slice(1, 5), pl.col("id_length") - 1)


def _nick() -> pl.Expr:
    style = _h(20) % 3
    masked = pl.format("{}**{}", _pick(_h(21), LETTERS), _h(22) % 10)
    chinese = pl.format("{}{}", _pick(_h(23), NICK_WORDS), _h(24) % 10000)
    tb = pl.format("tb{}", _digits(_h(25), 9))
    return pl.when(style == 0).then(masked).when(style == 1).then(chinese).otherwise(tb)


def _address() -> pl.Expr:
    building = pl.when(_h(33) % 2 == 0).then(
        pl.format(" {}栋{}单元{}", 1 + _h(34) % 20, 1 + _h(35) % 4, 101 + _h(36) % 2800)
    )
    return pl.format(
        "{} {}{}号{} {}",
        _pick(_h(30), PLACES),
        _pick(_h(31), STREETS),
        1 + _h(32) % 999,
        building.fill_null(""),
        pl.format("{}0000", 31 + _h(37) % 60),
    )


def _money_cells() -> tuple[pl.Expr, pl.Expr]:
    """(总金额, 买家实际支付金额) cells: mostly plain, some with ¥ / ￥ and thousands separators (quoted)."""
    style = pl.col("style")
    total_plain, paid_plain = _yuan(pl.col("total")), _yuan(pl.col("paid_fen"))
    total_fancy = pl.format('"￥{}"', _yuan(pl.col("total"), thousands=True))
    paid_fancy = pl.format('"¥{}"', _yuan(pl.col("paid_fen"), thousands=True))
    return (
        pl.when(style < 90).then(total_plain).otherwise(total_fancy),
        pl.when(style < 90).then(paid_plain).otherwise(paid_fancy),
    )


def _classic_lines(base: pl.DataFrame) -> pl.DataFrame:
    shipped = pl.col("status").is_in(["completed", "shipped", "refunded"])
    time_fmt = "%Y-%m-%d %H:%M:%S"
    order_id = pl.when(pl.col("bad")).then(_scientific())
    total_cell, paid_cell = _money_cells()
    empty = pl.lit("")
    cells = [
        order_id.otherwise(pl.format('="{}"', pl.col("id_text"))),
        _nick(),
        pl.when(_h(40) % 2 == 0)
        .then(pl.format("{}****{}", pl.col("phone").str.slice(0, 3), _digits(_h(41), 4)))
        .otherwise(pl.format("{}***@163.com", _pick(_h(42), LETTERS))),
        _yuan(pl.col("goods")),
        _yuan(pl.col("postage")),
        pl.lit("0"),
        total_cell,
        pl.lit("0"),
        paid_cell,
        pl.lit("0"),
        pl.col("status_text"),
        pl.when(_h(43) % 20 == 0).then(_pick(_h(44), MESSAGES)).otherwise(empty),
        pl.when(_h(45) % 2 == 0)
        .then(pl.format("{}**", _pick(_h(46), SURNAMES)))
        .otherwise(pl.format("{}{}", _pick(_h(46), SURNAMES), _pick(_h(47), ["先生", "女士"]))),
        _address(),
        pl.lit("快递"),
        empty,
        pl.when(_h(48) % 2 == 0).then(pl.format("'{}", pl.col("phone"))).otherwise(pl.col("phone")),
        pl.col("placed_local").dt.strftime(time_fmt),
        pl.col("paid_local").dt.strftime(time_fmt).fill_null(""),
        pl.col("title"),
        pl.lit("1"),
        pl.when(shipped).then(pl.format('="{}"', _digits(_h(49), 13))).otherwise(empty),
        pl.when(shipped).then(_pick(_h(50), CARRIERS)).otherwise(empty),
        empty,
        pl.col("quantity").cast(pl.String),
        pl.lit("61839201"),
        pl.lit("星河好物天猫旗舰店"),
        pl.when(pl.col("status").is_in(["closed", "refunded"])).then(_pick(_h(51), CLOSE_REASONS)).otherwise(empty),
        pl.lit("0"),
        pl.lit("0元"),
        empty,
        pl.when(_h(52) % 10 < 8).then(pl.lit("手机订单")).otherwise(empty),
        empty,
        empty,
        empty,
        empty,
        empty,
        empty,
        pl.lit("0.00"),
        pl.lit("0.00"),
        pl.lit("否"),
        _yuan(pl.col("refund_fen")),
    ]
    assert len(cells) == len(CLASSIC_HEADERS)
    return base.select(pl.concat_str(cells, separator=",").alias("line"))


def _canonical(base: pl.DataFrame, *, buyer: bool, confirm: bool) -> pl.DataFrame:
    """What the import must store: one row per distinct valid order id (the last line wins)."""

    def utc(column: str) -> pl.Expr:
        return pl.col(column).dt.replace_time_zone(CHINA).dt.convert_time_zone("UTC").dt.cast_time_unit("us")

    valid = base.filter(~pl.col("bad")).unique(subset=["k"], keep="last", maintain_order=True)
    phone = pl.col("phone")
    return valid.select(
        pl.col("id_text").alias("order_id"),
        "status",
        pl.col("status").replace_strict(STATUS_RANK, return_dtype=pl.Int64).alias("status_rank"),
        "paid_fen",
        "refund_fen",
        pl.col("quantity").alias("item_count"),
        pl.col("title").str.slice(0, 200),
        (_nick() if buyer else pl.lit(None, dtype=pl.String)).alias("buyer_nick"),
        pl.lit(None, dtype=pl.String).alias("buyer_open_uid"),
        phone.alias("receiver_phone"),
        pl.lit("星河好物天猫旗舰店").alias("shop"),
        pl.lit(None, dtype=pl.String).alias("author"),
        pl.lit(None, dtype=pl.String).alias("live_room"),
        utc("placed_local").alias("placed_at"),
        utc("paid_local").alias("paid_at"),
        (
            pl.when(pl.col("status") == "completed").then(utc("placed_local") + pl.col("confirm_delay"))
            if confirm
            else pl.lit(None, dtype=pl.Datetime("us", "UTC"))
        ).alias("completed_at"),
    )


def _encode_gb18030(source: Path, target: Path) -> None:
    iconv = shutil.which("iconv")
    if iconv:
        with open(source, "rb") as src, open(target, "wb") as dst:
            subprocess.run([iconv, "-f", "UTF-8", "-t", "GB18030"], stdin=src, stdout=dst, check=True)  # noqa: S603
        return
    with open(source, encoding="utf-8", newline="") as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 22):
            dst.write(chunk.encode("gb18030"))


def _cached(stem: str) -> tuple[Path, Path, Path]:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR / stem, CACHE_DIR / f"{stem}.truth.parquet", CACHE_DIR / f"{stem}.json"


def classic_csv(rows: int) -> tuple[Path, pl.DataFrame, dict[str, Any]]:
    """The Taobao classic order report as the platform writes it (GB18030), its ground truth and counts."""
    path, truth_path, meta_path = _cached(f"ExportOrderList202611112359-{rows}-v{GENERATOR_VERSION}.csv")
    if path.exists() and truth_path.exists() and meta_path.exists():
        say(f"using cached {path} ({path.stat().st_size / 1e6:.0f} MB)")
        return path, pl.read_parquet(truth_path), json.loads(meta_path.read_text())
    say(f"generating a {rows:,}-row Taobao classic export ...")
    started = time.perf_counter()
    base = _base(rows, id_space=0)
    lines = _classic_lines(base)
    header = (",".join(CLASSIC_HEADERS) + "\r\n").encode()
    utf8 = path.with_suffix(".utf8.tmp")
    half = rows // 2
    with open(utf8, "wb") as out:
        out.write(header)
        lines.slice(0, half).write_csv(out, include_header=False, quote_style="never", line_terminator="\r\n")
        out.write(header)  # two exports concatenated: the second one's header row is not data
        lines.slice(half).write_csv(out, include_header=False, quote_style="never", line_terminator="\r\n")
        out.write(("合计" + "," * (len(CLASSIC_HEADERS) - 1) + "\r\n").encode())
    encoded = path.with_suffix(".gb.tmp")
    _encode_gb18030(utf8, encoded)
    utf8.unlink()
    truth = _canonical(base, buyer=True, confirm=False)
    meta = {"rows": rows, "orders": truth.height, "rejected": int(base["bad"].sum()), "skipped": 2}
    truth.write_parquet(truth_path)
    meta_path.write_text(json.dumps(meta))
    encoded.replace(path)
    say(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    return path, truth, meta


def _newer_cells(base: pl.DataFrame) -> pl.DataFrame:
    shipped = pl.col("status").is_in(["completed", "shipped", "refunded"])
    completed = pl.col("status") == "completed"
    time_fmt = "%Y-%m-%d %H:%M:%S"
    none = pl.lit(None, dtype=pl.String)

    def money(column: str) -> pl.Expr:
        return (
            pl.when(pl.col("style") < 95)
            .then(_yuan(pl.col(column)))
            .otherwise(pl.format("¥{}", _yuan(pl.col(column), thousands=True)))
        )

    order_id = pl.when(pl.col("bad")).then(_scientific())
    cells = [
        order_id.otherwise(pl.col("id_text")),
        pl.format("2026{}22001{}", _digits(_h(60), 4), _digits(_h(61), 15)),
        pl.format("支付宝:{}", _yuan(pl.col("paid_fen"))),
        _yuan(pl.col("goods")),
        _yuan(pl.col("postage")),
        pl.lit("0"),
        money("total"),
        pl.lit("0"),
        money("paid_fen"),
        pl.lit("0"),
        pl.col("status_text"),
        pl.when(_h(43) % 20 == 0).then(_pick(_h(44), MESSAGES).str.strip_chars('"')).otherwise(none),
        pl.format("{} ****", _pick(_h(30), PLACES)),
        pl.lit("快递"),
        none,
        pl.col("phone"),
        pl.col("placed_local").dt.strftime(time_fmt),
        pl.col("paid_local").dt.strftime(time_fmt),
        pl.col("title"),
        pl.lit("1"),
        pl.when(shipped).then(_digits(_h(49), 13)).otherwise(none),
        pl.when(shipped).then(_pick(_h(50), CARRIERS)).otherwise(none),
        none,
        pl.col("quantity").cast(pl.String),
        pl.lit("61839201"),
        pl.lit("星河好物天猫旗舰店"),
        pl.when(pl.col("status").is_in(["closed", "refunded"])).then(_pick(_h(51), CLOSE_REASONS)).otherwise(none),
        pl.lit("0"),
        pl.lit("0元"),
        none,
        pl.when(_h(52) % 10 < 8).then(pl.lit("手机订单")).otherwise(none),
        none,
        none,
        none,
        none,
        none,
        none,
        pl.lit("0.00"),
        pl.lit("0.00"),
        pl.lit("否"),
        _yuan(pl.col("refund_fen")),
        pl.format("颜色分类:{};尺码:{}", _pick(_h(62), ["黑色", "白色", "雾霾蓝", "奶油杏"]), _pick(_h(63), "SML")),
        none,
        none,
        pl.when(completed)
        .then((pl.col("placed_local") + pl.col("confirm_delay")).dt.strftime(time_fmt))
        .otherwise(none),
        pl.when(completed).then(_yuan(pl.col("paid_fen"))).otherwise(none),
        _yuan(pl.col("total")),
    ]
    assert len(cells) == len(NEWER_HEADERS)
    return base.select([cell.alias(f"c{n}") for n, cell in enumerate(cells)])


def newer_xlsx(rows: int) -> tuple[Path, pl.DataFrame, dict[str, Any]]:
    """The newer Taobao export as XLSX (ids as text cells), its ground truth and counts."""
    import xlsxwriter

    path, truth_path, meta_path = _cached(f"ExportOrderList-newer-{rows}-v{GENERATOR_VERSION}.xlsx")
    if path.exists() and truth_path.exists() and meta_path.exists():
        say(f"using cached {path} ({path.stat().st_size / 1e6:.0f} MB)")
        return path, pl.read_parquet(truth_path), json.loads(meta_path.read_text())
    say(f"generating a {rows:,}-row XLSX of the newer Taobao export ...")
    started = time.perf_counter()
    base = _base(rows, id_space=10**9)  # ids distinct from the CSV's
    cells = _newer_cells(base)
    partial = path.with_suffix(".tmp.xlsx")
    workbook = xlsxwriter.Workbook(str(partial))  # shared strings, as Excel and most exporters write them
    sheet = workbook.add_worksheet("订单数据")
    sheet.write_row(0, 0, NEWER_HEADERS)
    for number, row in enumerate(cells.iter_rows(), start=1):
        for column, value in enumerate(row):
            if value is not None:
                sheet.write_string(number, column, value)
    workbook.close()
    truth = _canonical(base, buyer=False, confirm=True)
    meta = {"rows": rows, "orders": truth.height, "rejected": int(base["bad"].sum()), "skipped": 0}
    truth.write_parquet(truth_path)
    meta_path.write_text(json.dumps(meta))
    partial.replace(path)
    say(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    return path, truth, meta


# Databases -------------------------------------------------------------------------------------------


def _with_tenant(url: str) -> None:
    asyncio.run(_create_tenant(url))


async def _create_tenant(url: str) -> None:
    from siyu.db import create_engine, create_sessionmaker
    from siyu.tenants import service as tenants

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await tenants.create_tenant(session, slug=TENANT_SLUG, name="压测旗舰店")
    finally:
        await engine.dispose()


async def _tenant_id(session: Any) -> int:
    from siyu.tenants import service as tenants

    return (await tenants.get_by_slug(session, TENANT_SLUG)).id


# The import, in a child process --------------------------------------------------------------------------


def child_import(database_url: str, file: Path, data_dir: Path) -> None:
    """Runs in the child: `siyu orders import` for one file; prints progress, then `RESULT {json}`."""
    from siyu.cli_orders import import_path
    from siyu.config import Settings

    settings = Settings(database_url=database_url, data_dir=data_dir, log_level="WARNING", _env_file=None)  # type: ignore[call-arg]
    started = time.perf_counter()
    shown = [started]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - shown[0] >= 1.0:
            shown[0] = now
            rate = done / (now - started)
            print(f"    {done:>10,} / ~{total:,} rows  {now - started:5.1f} s  {rate:,.0f} rows/s", flush=True)

    summary = asyncio.run(import_path(settings, tenant_slug=TENANT_SLUG, path=file, on_progress=progress))
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "maxrss_mb": _peak_rss_mb(),
        **{k: summary.get(k) for k in ("rows", "inserted", "updated", "unchanged", "skipped", "refused", "message")},
        "rejected": summary.get("rejected_count", 0),
    }
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM belongs to its own address space. (ru_maxrss is carried across exec on
    Linux, so a child started by a large parent would report the parent's size.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_import(database_url: str, file: Path, data_dir: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--database-url", database_url]
    command += ["--child-import", str(file), "--data-dir", str(data_dir)]
    result: dict[str, Any] | None = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:  # noqa: S603 - our own script
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT ") :])
            else:
                print(line, end="", flush=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if child.returncode != 0 or result is None:
        raise SystemExit(f"the import failed (exit {child.returncode})")
    if result.get("refused"):
        raise SystemExit(f"the file was refused: {result['refused']} {result.get('message')}")
    result["children_maxrss_mb"] = children
    return result


# Checking what was stored ---------------------------------------------------------------------------------

SAMPLE = 2000
COMPARED = ["status", "paid_fen", "refund_fen", "item_count", "title", "buyer_nick", "receiver_phone", "shop"]
TIMES = ["placed_at", "paid_at", "completed_at"]


async def verify(database_url: str, truth: pl.DataFrame) -> dict[str, Any]:
    """Counts and sums over all orders, and every field of a sample, against the ground truth."""
    from sqlalchemy import select, text

    from siyu.db import create_engine, create_sessionmaker
    from siyu.orders.models import Order

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            tenant = await _tenant_id(session)
            totals = (
                await session.execute(
                    text(
                        "SELECT count(*), sum(paid_fen), sum(refund_fen), sum(item_count) FROM orders"
                        " WHERE tenant_id = :t"
                    ),
                    {"t": tenant},
                )
            ).one()
            statuses = dict(
                (
                    await session.execute(
                        text("SELECT status, count(*) FROM orders WHERE tenant_id = :t GROUP BY status"), {"t": tenant}
                    )
                ).all()
            )
            sample = truth.sample(min(SAMPLE, truth.height), seed=7)
            ids = sample["order_id"].to_list()
            stored = {
                o.order_id: o
                for o in await session.scalars(select(Order).where(Order.tenant_id == tenant, Order.order_id.in_(ids)))
            }
    finally:
        await engine.dispose()
    problems: list[str] = []
    expected = (truth.height, truth["paid_fen"].sum(), truth["refund_fen"].sum(), truth["item_count"].sum())
    if tuple(int(v or 0) for v in totals) != tuple(int(v) for v in expected):
        problems.append(f"totals {tuple(totals)} != expected {expected}")
    expected_statuses = dict(truth.group_by("status").len().iter_rows())
    if statuses != expected_statuses:
        problems.append(f"statuses {statuses} != expected {expected_statuses}")
    for row in sample.iter_rows(named=True):
        order = stored.get(row["order_id"])
        if order is None:
            problems.append(f"order {row['order_id']} missing")
            continue
        for name in COMPARED + TIMES:
            if getattr(order, name) != row[name]:
                problems.append(f"order {row['order_id']}: {name} {getattr(order, name)!r} != {row[name]!r}")
    return {"orders": int(totals[0]), "problems": problems[:10], "problem_count": len(problems)}


# The machine's own limit ------------------------------------------------------------------------------------


def _raw_table_ddl(dialect_name: str) -> str:
    """CREATE TABLE for a table with the orders table's columns and primary key, nothing else."""
    from sqlalchemy import MetaData, Table
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateTable

    from siyu.orders.models import Order

    table = Table("bench_raw_orders", MetaData(), *[column._copy() for column in Order.__table__.columns])
    dialect = postgresql.dialect() if dialect_name == "postgresql" else sqlite.dialect()
    return str(CreateTable(table).compile(dialect=dialect))


def _raw_frame(truth: pl.DataFrame, tenant_id: int) -> pl.DataFrame:
    now = datetime.now().astimezone().astimezone(tz=None)
    return truth.select(
        pl.lit(tenant_id, dtype=pl.Int64).alias("tenant_id"),
        pl.lit("taobao").alias("platform"),
        pl.all(),
        pl.lit(1, dtype=pl.Int64).alias("first_import_id"),
        pl.lit(1, dtype=pl.Int64).alias("last_import_id"),
        pl.lit(now).dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("first_seen_at"),
        pl.lit(now).dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("last_changed_at"),
    )


async def _tenant_of(database_url: str) -> int:
    from siyu.db import create_engine, create_sessionmaker

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await _tenant_id(session)
    finally:
        await engine.dispose()


async def raw_copy_postgresql(database_url: str, truth: pl.DataFrame) -> float:
    """Seconds for one COPY of the canonical rows (CSV already in memory) into a PK-only table, committed."""
    import asyncpg

    frame = _raw_frame(truth, await _tenant_of(database_url))
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="", datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z")
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(_raw_table_ddl("postgresql"))
        buffer.seek(0)
        started = time.perf_counter()
        async with connection.transaction():
            await connection.copy_to_table(
                "bench_raw_orders", source=buffer, columns=frame.columns, format="csv", null=""
            )
        seconds = time.perf_counter() - started
        stored = await connection.fetchval("SELECT count(*) FROM bench_raw_orders")
        assert stored == frame.height, (stored, frame.height)
        await connection.execute("DROP TABLE bench_raw_orders")
    finally:
        await connection.close()
    return seconds


def raw_insert_sqlite(database_url: str, truth: pl.DataFrame) -> float:
    """Seconds for one executemany INSERT of the canonical rows into a PK-only table, in one transaction."""
    from sqlalchemy.engine import make_url

    from siyu.db import SQLITE_PRAGMAS

    tenant_id = asyncio.run(_tenant_of(database_url))
    frame = _raw_frame(truth, tenant_id)
    times = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]
    frame = frame.with_columns(pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S.%6f") for c in times)
    rows = frame.rows()
    connection = sqlite3.connect(str(make_url(database_url).database), isolation_level=None)
    try:
        for pragma in SQLITE_PRAGMAS:  # the app's own connection settings
            connection.execute(f"PRAGMA {pragma}")
        connection.execute(_raw_table_ddl("sqlite"))
        placeholders = ", ".join("?" for _ in frame.columns)
        statement = f"INSERT INTO bench_raw_orders ({', '.join(frame.columns)}) VALUES ({placeholders})"
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(statement, rows)
        connection.execute("COMMIT")
        seconds = time.perf_counter() - started
        assert connection.execute("SELECT count(*) FROM bench_raw_orders").fetchone() == (frame.height,)
        connection.execute("DROP TABLE bench_raw_orders")
    finally:
        connection.close()
    return seconds


def xlsx_parse_seconds(path: Path) -> float:
    """Seconds for fastexcel alone to read the sheet's first column (the order ids) as text, the best of two: no
    import of the file does less (fastexcel parses the whole sheet whatever is asked of it)."""
    import fastexcel

    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        fastexcel.read_excel(str(path)).load_sheet(0, dtypes="string", use_columns=[0]).to_polars()
        best = min(best, time.perf_counter() - started)
    return best


# Driver ------------------------------------------------------------------------------------------------------


def import_and_check(
    database_url: str, file: Path, truth: pl.DataFrame, meta: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    data_dir = workdir / f"data-{secrets.token_hex(3)}"
    say(
        f"importing {file.name} ({file.stat().st_size / 1e6:.0f} MB, {meta['rows']:,} rows) with siyu orders import ..."
    )
    try:
        result = run_import(database_url, file, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    rate = meta["rows"] / result["seconds"]
    say(
        f"imported {result['rows']:,} rows in {result['seconds']:.2f} s ({rate:,.0f} rows/s), "
        f"peak RSS {result['maxrss_mb']:.0f} MB; inserted {result['inserted']:,}, rejected {result['rejected']}, "
        f"skipped {result['skipped']}"
    )
    checked = asyncio.run(verify(database_url, truth))
    if checked["problem_count"] or checked["orders"] != meta["orders"]:
        say(f"VERIFICATION FAILED: {checked}")
        raise SystemExit(2)
    if (result["rejected"], result["skipped"]) != (meta["rejected"], meta["skipped"]):
        say(f"VERIFICATION FAILED: rejected/skipped {result['rejected']}/{result['skipped']}, expected {meta}")
        raise SystemExit(2)
    say(f"verified: {checked['orders']:,} orders = distinct valid ids generated; sums, statuses and a sample match")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", required=True, help="sqlite+aiosqlite:///... or postgresql+asyncpg://...")
    parser.add_argument("--rows", type=int, default=1_000_000, help="CSV data rows; 0 to skip the CSV")
    parser.add_argument("--xlsx-rows", type=int, default=200_000, help="SQLite only; 0 to skip")
    parser.add_argument("--child-import", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_import:
        child_import(args.database_url, args.child_import, args.data_dir)
        return
    backend = backend_name(args.database_url)
    csv = classic_csv(args.rows) if args.rows > 0 else None
    xlsx: tuple[Path, pl.DataFrame, dict[str, Any]] | None = None
    if backend == "sqlite" and args.xlsx_rows > 0:
        xlsx = newer_xlsx(args.xlsx_rows)
    report: dict[str, Any] = {"database": backend}
    targets: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="siyu-bench-") as temp:
        workdir = Path(temp)
        if csv is not None:
            csv_path, truth, meta = csv
            with bench_database(args.database_url, workdir, "csv", _with_tenant) as database_url:
                result = import_and_check(database_url, csv_path, truth, meta, workdir)
                say(f"measuring the raw limit on the same {truth.height:,} canonical rows ...")
                if backend == "postgresql":
                    raw_seconds = asyncio.run(raw_copy_postgresql(database_url, truth))
                else:
                    raw_seconds = raw_insert_sqlite(database_url, truth)
            rows_per_s = meta["rows"] / result["seconds"]
            raw_per_s = truth.height / raw_seconds
            say(
                f"raw {'COPY' if backend == 'postgresql' else 'executemany'}: {raw_seconds:.2f} s "
                f"({raw_per_s:,.0f} rows/s)"
            )
            report.update(
                rows=meta["rows"],
                orders=result["inserted"],
                rejected=result["rejected"],
                skipped=result["skipped"],
                file_mb=round(csv_path.stat().st_size / 1e6, 1),
                seconds=round(result["seconds"], 3),
                rows_per_s=round(rows_per_s),
                raw_copy_seconds=round(raw_seconds, 3),
                raw_copy_rows_per_s=round(raw_per_s),
                ratio=round(rows_per_s / raw_per_s, 3),
                peak_rss_mb=round(result["maxrss_mb"], 1),
            )
            targets["peak_rss_under_1gb"] = report["peak_rss_mb"] < 1024
            if backend == "postgresql":
                targets["ratio_at_least_0_5"] = report["ratio"] >= 0.5
            else:
                targets["rows_per_s_at_least_100k"] = report["rows_per_s"] >= 100_000
        if xlsx is not None:
            xlsx_path, xlsx_truth, xlsx_meta = xlsx
            with bench_database(args.database_url, workdir, "xlsx", _with_tenant) as database_url:
                xlsx_result = import_and_check(database_url, xlsx_path, xlsx_truth, xlsx_meta, workdir)
                say("measuring the XLSX limit: fastexcel reading the sheet, then a raw executemany of its rows ...")
                parse_seconds = xlsx_parse_seconds(xlsx_path)
                insert_seconds = raw_insert_sqlite(database_url, xlsx_truth)
            xlsx_per_s = xlsx_meta["rows"] / xlsx_result["seconds"]
            limit_per_s = xlsx_truth.height / (parse_seconds + insert_seconds)
            say(f"XLSX limit: parse {parse_seconds:.2f} s + insert {insert_seconds:.2f} s ({limit_per_s:,.0f} rows/s)")
            report.update(
                xlsx_rows=xlsx_meta["rows"],
                xlsx_seconds=round(xlsx_result["seconds"], 3),
                xlsx_rows_per_s=round(xlsx_per_s),
                xlsx_parse_seconds=round(parse_seconds, 3),
                xlsx_raw_insert_seconds=round(insert_seconds, 3),
                xlsx_raw_rows_per_s=round(limit_per_s),
                xlsx_ratio=round(xlsx_per_s / limit_per_s, 3),
                xlsx_peak_rss_mb=round(xlsx_result["maxrss_mb"], 1),
            )
            targets["xlsx_rows_per_s_at_least_50k"] = report["xlsx_rows_per_s"] >= 50_000
    report["targets_met"] = targets
    print(json.dumps(report, ensure_ascii=False), flush=True)


def _stop(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwind: drop the bench database, delete temp files


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    main()
