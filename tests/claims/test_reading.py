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


@pytest.mark.parametrize(
    ("platform", "text", "elsewhere"),
    [
        ("douyin", "1930679858170647", ("taobao", "kuaishou")),  # 16 digits: Taobao's or Kuaishou's, not Douyin's
        ("channels", "2411093358212345", ("taobao", "kuaishou")),
        ("kuaishou", "6938472013455026992", ("taobao", "douyin", "channels")),  # 19 digits
        ("douyin", "193067985817064", ("taobao", "kuaishou")),  # 15
        ("douyin", "19306798581706471", ("taobao", "kuaishou")),  # 17
        ("taobao", "订单编号：261120-338201774062", ("pdd",)),
        ("pdd", "1930679858170647", ("taobao", "kuaishou")),
        # Fits the chosen platform, or nothing else we know: no question.
        ("taobao", "1930679858170647", ()),
        ("taobao", "6938472013455026992", ()),
        ("douyin", "6938472013455026992", ()),
        ("channels", "3718812036725000000", ()),
        ("kuaishou", "2411093358212345", ()),
        ("taobao", "1930679858170", ()),  # 13 digits: nobody's shape
        ("jd", "1930679858170647", ()),  # JD's shape is unknown: never questioned
        ("taobao", "我的订单号找不到了", ()),
    ],
)
def test_a_number_of_another_platforms_shape(platform: str, text: str, elsewhere: tuple[str, ...]) -> None:
    platforms = ("taobao", "douyin", "kuaishou", "channels", "pdd", "jd")
    read = reading.order_number(platform, text)
    assert reading.fitting_elsewhere(platform, text, read, platforms) == elsewhere


@given(number=st.text(alphabet="0123456789", min_size=15, max_size=20))
def test_a_taobao_claim_of_15_to_20_digits_is_never_questioned(number: str) -> None:
    # Taobao's accepted lengths cover every other shape we know: a Taobao claim is never questioned for them.
    assert reading.fits("taobao", number)
    assert reading.fitting_elsewhere("taobao", number, number, ("douyin", "kuaishou", "channels")) == ()
