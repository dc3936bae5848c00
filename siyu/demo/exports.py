"""Demo order exports written the way each platform writes them (encoding, protection, layout)."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta
from pathlib import Path

PRODUCTS = [
    ("珀莱雅双抗精华液 30ml 抗氧化提亮", 26900),
    ("花西子空气蜜粉 定妆控油", 14900),
    ("三只松鼠每日坚果 30包", 8990),
    ("完美日记小细跟口红 #M03", 6900),
    ("蕉下防晒冰袖 UPF50+", 3990),
    ("认养一头牛纯牛奶 250ml×16", 5590),
    ("自然堂雪域精粹面霜 50g", 19900),
    ("森马羽绒服 女款短款", 39900),
    ("小米米家电动牙刷 T302", 12900),
    ("云南褚橙 5kg 礼盒装", 11800),
    ("百雀羚帧颜淡纹霜", 25900),
    ("良品铺子肉松饼 1kg", 3990),
]
NICKS = ["小鱼儿tb", "t**1", "甜甜圈2021", "a**y", "早睡早起的喵", "桃子不酸", "m**o", "追光少女", "柚子茶", "z**8"]
CITIES = [
    "浙江省 杭州市 西湖区 文三路 100号",
    "上海市 浦东新区 世纪大道 88号",
    "广东省 深圳市 南山区 科技园",
    "四川省 成都市 武侯区 天府大道",
    "北京市 朝阳区 建国路 93号",
]
TAOBAO_HEADERS = [
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
    "退款金额",
]


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def write_all(directory: Path, *, now: datetime, seed: int = 11, per_platform: int = 60) -> list[Path]:
    """One export per platform into `directory`; returns the paths (China-time timestamps)."""
    rng = random.Random(seed)
    show = (now + timedelta(hours=8)).replace(hour=20, minute=0, second=0, microsecond=0) - timedelta(days=3)

    def moment() -> datetime:
        return show + timedelta(minutes=rng.randint(0, 240), seconds=rng.randint(0, 59))

    paths: list[Path] = []
    # Taobao classic order report: GBK, ="..." protected ids, trailing-space headers, a summary line.
    rows = [TAOBAO_HEADERS]
    for n in range(per_platform):
        title, price = rng.choice(PRODUCTS)
        count = rng.choice([1, 1, 1, 2])
        paid = price * count
        status = rng.choices(
            ["交易成功", "卖家已发货，等待买家确认", "买家已付款，等待卖家发货", "交易关闭"], weights=[6, 2, 1, 1]
        )[0]
        refund = paid if status == "交易关闭" and n % 2 else 0
        placed = moment()
        row = [
            f'="{1930679858170000 + n * 7919}"',
            rng.choice(NICKS),
            "",
            _yuan(paid),
            "0.00",
            "0",
            _yuan(paid),
            "0",
            _yuan(paid),
            "0",
            status,
            "",
            "张女士",
            rng.choice(CITIES),
            "快递",
            "",
            f"13{rng.randint(0, 9)}****{rng.randint(1000, 9999)}",
            _time(placed),
            _time(placed + timedelta(seconds=40)),
            title,
            "1",
            "",
            "",
            "",
            str(count),
            "61839201",
            "星河好物天猫旗舰店",
            "",
            "0",
            "0",
            "",
            "是",
            "",
            "",
            "",
            "",
            "",
            "",
            "0",
            "0",
            "否",
            _yuan(refund),
        ]
        rows.append(row)
    rows.append(["合计"] + [""] * (len(TAOBAO_HEADERS) - 1))
    path = directory / "ExportOrderList202611112359.csv"
    path.write_bytes(_csv(rows).encode("gb18030"))
    paths.append(path)

    # Douyin: UTF-8 with BOM, ids with a trailing tab, one row per sub-order.
    headers = [
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
        "订单提交时间",
        "支付完成时间",
        "订单完成时间",
        "订单状态",
        "售后状态",
        "达人ID",
        "达人昵称",
    ]
    rows = [headers]
    for n in range(per_platform):
        main = 6938472013450000000 + n * 104729
        placed = moment()
        status = rng.choices(["已完成", "已发货", "待发货", "已关闭"], weights=[6, 2, 1, 1])[0]
        for line in range(rng.choice([1, 1, 2])):
            title, price = rng.choice(PRODUCTS)
            after = "退款成功" if status == "已完成" and n % 9 == 0 and line == 0 else "-"
            rows.append(
                [
                    f"{main}\t",
                    f"{main + line + 1}\t",
                    title,
                    "默认",
                    "1",
                    "3601",
                    "-",
                    _yuan(price),
                    _yuan(price),
                    f"{price // 100:,}.{price % 100:02d}",
                    "0",
                    _time(placed),
                    _time(placed + timedelta(seconds=30)),
                    _time(placed + timedelta(days=2)) if status == "已完成" else "-",
                    status,
                    after,
                    "7301188",
                    "星河直播间",
                ]
            )
    path = directory / "抖店订单导出.csv"
    path.write_bytes(_csv(rows).encode("utf-8-sig"))
    paths.append(path)

    # Kuaishou.
    rows = [
        [
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
    ]
    for n in range(per_platform // 2):
        title, price = rng.choice(PRODUCTS)
        placed = moment()
        status = rng.choices(["交易成功", "已发货", "待发货", "交易关闭"], weights=[6, 2, 1, 1])[0]
        rows.append(
            [
                str(2411093358212000 + n * 613),
                _time(placed),
                _time(placed + timedelta(seconds=20)),
                status,
                f"¥{_yuan(price)}",
                "1",
                "",
                "-",
                title,
                "默认",
                _yuan(price),
                "55120",
            ]
        )
    path = directory / "快手小店订单.csv"
    path.write_bytes(_csv(rows).encode("utf-8-sig"))
    paths.append(path)

    # WeChat Channels: one row per product, the order amount repeated on each.
    rows = [
        [
            "订单号",
            "订单状态",
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
            "订单下单时间",
        ]
    ]
    for n in range(per_platform // 2):
        title, price = rng.choice(PRODUCTS)
        status = rng.choices(["已完成", "已发货", "待发货", "已取消"], weights=[6, 2, 1, 1])[0]
        rows.append(
            [
                str(3718812036725000000 + n * 7777),
                status,
                title,
                "1",
                "",
                "",
                _yuan(price),
                _yuan(price),
                _yuan(price),
                _yuan(price),
                "0",
                "",
                "已发货",
                "0",
                "0",
                "李先生",
                f"15{rng.randint(0, 9)}****{rng.randint(1000, 9999)}",
                _time(moment()),
            ]
        )
    path = directory / "视频号小店订单.csv"
    path.write_bytes(_csv(rows).encode("utf-8-sig"))
    paths.append(path)

    # Pinduoduo.
    rows = [
        [
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
    ]
    for n in range(per_platform // 3):
        title, price = rng.choice(PRODUCTS)
        placed = moment()
        rows.append(
            [
                f"{placed:%y%m%d}-{338201774000 + n * 31}",
                title,
                "1",
                _yuan(price),
                "0",
                "0",
                _yuan(price),
                _yuan(price),
                "0",
                rng.choice(["已收货", "已发货，待收货", "待发货"]),
                "无售后",
                _time(placed),
                "",
                "",
                "",
                "",
                "默认",
            ]
        )
    path = directory / "拼多多订单.csv"
    path.write_bytes(_csv(rows).encode("utf-8-sig"))
    paths.append(path)
    return paths
