"""Every console list pages, sorts and counts the same way; the claims search finds all-digit order numbers."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import polars as pl

from siyu.claims.models import Outcome
from siyu.kit.time import utcnow
from siyu.ledger.models import Balance
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import MemberTier
from siyu.loyalty.schemas import TierIn
from tests.console.conftest import Desk
from tests.support import factories

KUAISHOU = "2417003889521104"  # 16 digits: looked like a member number before
TAOBAO = "3930679858112345678"  # 19 digits


def rows(html: str, marker: str) -> list[str]:
    return re.findall(marker, html)


async def test_claims_are_found_by_an_all_digit_order_number_or_by_the_member(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    other = await factories.member(desk.session, desk.tenant_id, "阿青")
    await desk.claim_row(fan.id, KUAISHOU, platform="kuaishou")
    await desk.claim_row(other.id, TAOBAO)
    await desk.claim_row(other.id, "6912345678901234", platform="douyin")

    by_kuaishou = await desk.get("/console/claims", q=KUAISHOU)
    assert by_kuaishou.text.count("data-outcome=") == 1 and KUAISHOU in by_kuaishou.text
    by_taobao = await desk.get("/console/claims", q=TAOBAO)
    assert by_taobao.text.count("data-outcome=") == 1 and TAOBAO in by_taobao.text
    by_member = await desk.get("/console/claims", q=str(other.id))
    assert by_member.text.count("data-outcome=") == 2
    by_nickname = await desk.get("/console/claims", q="小满")
    assert by_nickname.text.count("data-outcome=") == 1 and KUAISHOU in by_nickname.text
    nothing = await desk.get("/console/claims", q="1234")
    assert "没有找到领取记录" in nothing.text and 'data-count="0"' in nothing.text


async def test_the_claims_list_pages_sorts_and_counts(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    start = utcnow() - timedelta(days=1)
    for n in range(121):
        row = await desk.claim_row(fan.id, f"{7000000000000000 + n}", points=n)
        row.created_at = start + timedelta(minutes=n)
    await desk.session.flush()

    first = await desk.get("/console/claims")
    assert first.text.count("data-outcome=") == 50
    assert "共 121 条，第 1–50 条" in first.text
    assert "7000000000000120" in first.text  # newest first
    assert 'aria-sort="descending"' in first.text
    last = await desk.get("/console/claims", page=3)
    assert last.text.count("data-outcome=") == 21 and "第 101–121 条" in last.text
    assert "7000000000000000" in last.text
    oldest_first = await desk.get("/console/claims", sort="created_at")
    ids = re.findall(r"70000000000001\d\d|70000000000000\d\d", oldest_first.text)
    assert ids[0] == "7000000000000000"
    # the pager keeps the search, the outcome and the sort
    filtered = await desk.get("/console/claims", q=str(fan.id), outcome="credited", sort="points")
    assert f"q={fan.id}" in filtered.text and "outcome=credited" in filtered.text and "sort=points" in filtered.text
    assert "page=2" in filtered.text
    # an unknown sort falls back to the default instead of failing
    assert (await desk.get("/console/claims", sort="-nonsense")).text.count("data-outcome=") == 50


async def test_the_review_queue_pages(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    for n in range(55):
        await desk.claim_row(fan.id, f"{8000000000000000 + n}", outcome=Outcome.review)
    page = await desk.get("/console/claims/review")
    assert page.text.count("data-claim=") == 50 and 'id="review-count">55<' in page.text
    assert "共 55 条" in page.text
    second = await desk.get("/console/claims/review", page=2)
    assert second.text.count("data-claim=") == 5


async def test_orders_show_who_claimed_them_and_filter_by_it(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    claimed = await factories.order(desk.session, desk.tenant_id, order_id=TAOBAO, paid_fen=12990)
    loose = await factories.order(desk.session, desk.tenant_id, order_id="3930679858100000001", paid_fen=500)
    await desk.claim_row(fan.id, claimed.order_id, points=12)

    page = await desk.get("/console/orders")
    assert 'data-claimed="yes"' in page.text and 'data-claimed="no"' in page.text
    assert f'href="/console/members/{fan.id}">小满</a>' in page.text
    only_claimed = await desk.get("/console/orders", claimed="yes")
    assert TAOBAO in only_claimed.text and loose.order_id not in only_claimed.text
    not_claimed = await desk.get("/console/orders", claimed="no")
    assert TAOBAO not in not_claimed.text and loose.order_id in not_claimed.text
    by_amount = await desk.get("/console/orders", sort="-paid_fen")
    assert by_amount.text.index(TAOBAO) < by_amount.text.index(loose.order_id)
    by_amount_up = await desk.get("/console/orders", sort="paid_fen")
    assert by_amount_up.text.index(TAOBAO) > by_amount_up.text.index(loose.order_id)


async def test_the_orders_export_is_written_for_ops(desk: Desk) -> None:
    fan = await factories.member(desk.session, desk.tenant_id, "小满")
    await factories.order(desk.session, desk.tenant_id, order_id=TAOBAO, paid_fen=12990, status="shipped")
    await factories.order(desk.session, desk.tenant_id, order_id="3930679858100000001", paid_fen=500)
    await desk.claim_row(fan.id, TAOBAO, points=12)

    exported = await desk.get("/console/orders/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["平台", "订单号", "状态", "实付（元）"] and table[0][-2:] == ["领取会员", "获得积分"]
    row = next(r for r in table if TAOBAO in r[1])
    assert row[0] == "淘宝/天猫" or row[0].startswith("淘宝")
    assert row[1] == f'="{TAOBAO}"' and row[2] == "已发货" and row[3] == "129.9" and row[-2:] == ["小满", "12"]

    only_claimed = await desk.get("/console/orders/export.csv", claimed="yes")
    assert len(list(csv.reader(io.StringIO(only_claimed.content.decode("utf-8-sig"))))) == 2

    xlsx = await desk.get("/console/orders/export.xlsx")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    frame = pl.read_excel(io.BytesIO(xlsx.content), infer_schema_length=0)
    assert frame.columns[:2] == ["平台", "订单号"]
    assert TAOBAO in frame["订单号"].to_list()  # every digit kept: a text cell
    claimed_row = frame.filter(pl.col("订单号") == TAOBAO).row(0, named=True)
    assert claimed_row["状态"] == "已发货" and float(claimed_row["实付（元）"]) == 129.9


async def _members_with_points(desk: Desk) -> tuple[int, int, int]:
    gold = await loyalty.create_tier(desk.session, actor=desk.owner, data=TierIn(name="金卡", threshold=100))
    rich = await factories.member(desk.session, desk.tenant_id, "大户")
    poor = await factories.member(desk.session, desk.tenant_id, "新人")
    desk.session.add(Balance(tenant_id=desk.tenant_id, member_id=rich.id, available=880, pending=20, debt=0))
    desk.session.add(MemberTier(tenant_id=desk.tenant_id, member_id=rich.id, tier_id=gold.id, growth=900))
    await desk.claim_row(rich.id, TAOBAO)
    await desk.session.flush()
    return rich.id, poor.id, gold.id


async def test_members_show_points_tier_and_last_claim_and_filter_by_them(desk: Desk) -> None:
    rich, poor, gold = await _members_with_points(desk)
    page = await desk.get("/console/members")
    assert f'data-member="{rich}"' in page.text and f'data-member="{poor}"' in page.text
    assert "金卡" in page.text and ">880<" in page.text and "共 2 位会员" in page.text
    by_tier = await desk.get("/console/members", tier=str(gold))
    assert f'data-member="{rich}"' in by_tier.text and f'data-member="{poor}"' not in by_tier.text
    no_tier = await desk.get("/console/members", tier="none")
    assert f'data-member="{rich}"' not in no_tier.text and f'data-member="{poor}"' in no_tier.text
    by_points = await desk.get("/console/members", min_points="100")
    assert f'data-member="{rich}"' in by_points.text and f'data-member="{poor}"' not in by_points.text
    richest_first = await desk.get("/console/members", sort="-points")
    assert richest_first.text.index(f'data-member="{rich}"') < richest_first.text.index(f'data-member="{poor}"')
    poorest_first = await desk.get("/console/members", sort="points")
    assert poorest_first.text.index(f'data-member="{rich}"') > poorest_first.text.index(f'data-member="{poor}"')


async def test_members_export_as_csv_and_xlsx(desk: Desk) -> None:
    rich, _poor, gold = await _members_with_points(desk)
    exported = await desk.get("/console/members/export.csv", tier=str(gold))
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0][:2] == ["会员号", "昵称"] and len(table) == 2
    assert table[1][0] == f'="{rich}"' and table[1][1] == "大户" and table[1][4:8] == ["880", "20", "0", "金卡"]
    assert table[1][8]  # the latest claim, in local time
    xlsx = await desk.get("/console/members/export.xlsx")
    frame = pl.read_excel(io.BytesIO(xlsx.content), infer_schema_length=0)
    assert sorted(frame["昵称"].to_list()) == ["大户", "新人"] and str(rich) in frame["会员号"].to_list()


async def test_the_api_keeps_a_machine_readable_orders_export(desk: Desk) -> None:
    await factories.order(desk.session, desk.tenant_id, order_id=TAOBAO, paid_fen=12990, status="shipped")
    secret = await factories.api_key(desk.session, desk.owner, ["orders.read"])
    exported = await desk.client.get("/api/v1/orders/export.csv", headers={"Authorization": f"Bearer {secret}"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["platform", "order_id", "status", "paid_fen"]
    assert table[1][:4] == ["taobao", TAOBAO, "shipped", "12990"]
    refused = await desk.client.get("/api/v1/orders/export.csv")
    assert refused.status_code == 401


async def test_the_short_lists_page_sort_and_count_too(desk: Desk) -> None:
    from siyu.tenants import service as tenants
    from siyu.tenants.schemas import ChannelIn

    for name in ("乙店", "甲店", "丙店"):
        await tenants.create_channel(desk.session, actor=desk.owner, data=ChannelIn(platform="douyin", name=name))
    by_name = (await desk.get("/console/channels", sort="name")).text
    assert "共 3 个渠道" in by_name and 'aria-sort="ascending"' in by_name
    names = re.findall(r"(甲店|乙店|丙店)", by_name[by_name.index("<tbody") :])
    assert names[:3] == sorted(["乙店", "甲店", "丙店"])
    reverse = (await desk.get("/console/channels", sort="-name")).text
    assert re.findall(r"(甲店|乙店|丙店)", reverse[reverse.index("<tbody") :])[:3] == names[:3][::-1]
    for path, unit in (
        ("/console/staff", "位员工"),
        ("/console/api-keys", "个密钥"),
        ("/console/mall", "个奖品"),
        ("/console/mall/lottery", "个活动"),
        ("/console/points", "个活动"),
        ("/console/orders/import", "次导入"),
        ("/console/audit", "条"),
        ("/console/mall/redemptions", "条"),
    ):
        assert re.search(rf"共 \d+ {unit}", (await desk.get(path)).text), path
