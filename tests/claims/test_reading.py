"""Reading order numbers out of what fans paste, and the secondary checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.claims import reading
from siyu.claims.schemas import Check


@pytest.mark.parametrize(
    ("platform", "text", "expected"),
    [
        ("taobao", "订单编号：1930679858170647 复制", "1930679858170647"),
        ("taobao", "  1930679858170647\n", "1930679858170647"),
        ("taobao", "１９３０６７９８５８１７０６４７", "1930679858170647"),  # full-width digits from a phone keyboard
        ("douyin", "订单号 6938472013455026992 下单时间 2026-11-20 12:04:18", "6938472013455026992"),
        ("taobao", "1930 6798 5817 0647", "1930679858170647"),
        ("pdd", "订单编号：261120-338201774062 复制", "261120-338201774062"),
        ("taobao", "", None),
        ("taobao", "我的订单号找不到了", None),
        ("taobao", "1930679858170647 和 1930679858170648", None),  # two different numbers: ask again
        ("taobao", "12345", None),
    ],
)
def test_the_order_number_in_a_pasted_text(platform: str, text: str, expected: str | None) -> None:
    assert reading.order_number(platform, text) == expected


@given(
    number=st.text(alphabet="0123456789", min_size=12, max_size=25), noise=st.sampled_from(["订单编号：", "复制", " "])
)
def test_a_number_survives_the_noise_around_it(number: str, noise: str) -> None:
    assert reading.order_number("douyin", f"{noise}{number}{noise}") == number


def test_masked_accounts_match_on_their_visible_characters() -> None:
    assert reading.account_matches("t**1", "tiantian1")
    assert reading.account_matches("小**鱼", "小甜甜鱼")
    assert not reading.account_matches("t**1", "tiantian2")
    assert reading.account_matches("Tiantian1", " tiantian1 ")
    assert not reading.account_matches("", "x")


def test_the_checks() -> None:
    paid_at = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)  # 2026-11-21 01:30 in Shanghai
    common = {"accounts": ("t**1",), "paid_fen": 13990, "paid_at": paid_at, "receiver_phone": "138****5678"}
    tz = "Asia/Shanghai"
    assert reading.check_passes(Check.amount, "¥139.90", timezone=tz, **common)  # type: ignore[arg-type]
    assert not reading.check_passes(Check.amount, "139", timezone=tz, **common)  # type: ignore[arg-type]
    assert reading.check_passes(Check.pay_date, "2026-11-21", timezone=tz, **common)  # type: ignore[arg-type]
    assert not reading.check_passes(Check.pay_date, "2026-11-20", timezone=tz, **common)  # type: ignore[arg-type]
    assert reading.check_passes(Check.phone_last4, "5678", timezone=tz, **common)  # type: ignore[arg-type]
    assert reading.check_passes(Check.account, "tom1", timezone=tz, **common)  # type: ignore[arg-type]
    no_phone = {**common, "receiver_phone": None}
    assert reading.check_passes(Check.phone_last4, "5678", timezone=tz, **no_phone) is None  # type: ignore[arg-type]
