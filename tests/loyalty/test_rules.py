"""The arithmetic of earning: base rate and rounding, campaigns by priority with caps, tiers, expiry, holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from siyu.loyalty import rules
from siyu.loyalty.rules import CampaignFacts, OrderFacts, TierFacts
from siyu.loyalty.schemas import ExpiryMode, HoldMode, PointsPolicy, Rounding

NOW = datetime(2026, 11, 11, 4, 0, tzinfo=UTC)  # noon on Double 11 in China
DOUBLE_11 = CampaignFacts(
    id=1,
    name="双11",
    priority=10,
    starts_at=NOW - timedelta(hours=12),
    ends_at=NOW + timedelta(hours=12),
    multiplier_pct=200,
)


def order(paid_yuan: float, **kw: object) -> OrderFacts:
    return OrderFacts(platform="taobao", order_id="1930679858170617832", paid_fen=round(paid_yuan * 100), **kw)  # type: ignore[arg-type]


def test_ten_yuan_is_one_point_rounded_down_by_default() -> None:
    calc = rules.calculate(PointsPolicy(), order(139.90), now=NOW)
    assert (calc.base, calc.total, calc.parts) == (13, 13, [])
    assert calc.explanation("1930679858170617832") == "订单 1930679858170617832 获得 13 积分"


def test_the_rounding_and_the_channel_override() -> None:
    assert rules.calculate(PointsPolicy(rounding=Rounding.nearest), order(135.00), now=NOW).base == 14
    assert rules.calculate(PointsPolicy(rounding=Rounding.nearest), order(134.99), now=NOW).base == 13
    assert rules.calculate(PointsPolicy(rounding=Rounding.up), order(130.01), now=NOW).base == 14
    policy = PointsPolicy(channel_fen_per_point={"42": 100})  # 1 yuan = 1 point in that shop
    assert rules.calculate(policy, order(139.90, channel_id=42), now=NOW).base == 139
    assert rules.calculate(policy, order(139.90, channel_id=43), now=NOW).base == 13


def test_refunded_value_earns_nothing() -> None:
    assert rules.calculate(PointsPolicy(), order(200, refund_fen=10000), now=NOW).base == 10


def test_a_double_points_campaign_explains_itself() -> None:
    calc = rules.calculate(PointsPolicy(), order(139.90), campaigns=[DOUBLE_11], now=NOW)
    assert calc.total == 26
    assert calc.explanation("1930679858170617832") == "订单 1930679858170617832 获得 26 积分：基础 13 × 双11 2倍"
    assert calc.awards() == {1: 13}


def test_campaigns_go_by_priority_and_an_exclusive_one_stops_the_rest() -> None:
    bonus = CampaignFacts(
        id=2, name="直播专享", priority=5, starts_at=DOUBLE_11.starts_at, ends_at=DOUBLE_11.ends_at, bonus_points=5
    )
    both = rules.calculate(PointsPolicy(), order(100), campaigns=[bonus, DOUBLE_11], now=NOW)
    assert [p.label for p in both.parts] == ["双11 2倍", "直播专享奖励 5"]
    assert both.total == 25
    exclusive = CampaignFacts(**{**vars(DOUBLE_11), "exclusive": True})
    alone = rules.calculate(PointsPolicy(), order(100), campaigns=[bonus, exclusive], now=NOW)
    assert alone.total == 20


def test_a_campaign_matches_its_window_channels_tiers_and_live_room_only() -> None:
    gold = TierFacts(7, "金卡会员", 120)
    narrow = CampaignFacts(
        id=3,
        name="专场",
        priority=1,
        starts_at=DOUBLE_11.starts_at,
        ends_at=DOUBLE_11.ends_at,
        channel_ids=(42,),
        tier_ids=(7,),
        live_room="小鱼直播间",
        multiplier_pct=300,
    )
    hit = order(100, channel_id=42, rooms=("  小鱼直播间 ", None))
    assert rules.calculate(PointsPolicy(), hit, campaigns=[narrow], tier=gold, now=NOW).total == 36  # 10 × 3 × 1.2
    assert rules.calculate(PointsPolicy(), hit, campaigns=[narrow], now=NOW).total == 10  # not gold
    other_room = order(100, channel_id=42, rooms=("别的直播间",))
    assert rules.calculate(PointsPolicy(), other_room, campaigns=[narrow], tier=gold, now=NOW).total == 12
    late = order(100, channel_id=42, rooms=("小鱼直播间",), placed_at=DOUBLE_11.ends_at)
    assert rules.calculate(PointsPolicy(), late, campaigns=[narrow], tier=gold, now=NOW).total == 12


def test_caps_limit_the_campaign_extra_and_say_so() -> None:
    capped = CampaignFacts(**{**vars(DOUBLE_11), "room_left": 4, "first_claim_bonus": 10})
    calc = rules.calculate(PointsPolicy(), order(139.90), campaigns=[capped], first_claim=True, now=NOW)
    assert calc.total == 17 and calc.awards() == {1: 4}
    assert "（已达活动上限）" in calc.explanation("x")


def test_the_tier_multiplier_and_the_first_claim_bonus() -> None:
    welcome = CampaignFacts(
        id=4, name="新客", priority=0, starts_at=DOUBLE_11.starts_at, ends_at=DOUBLE_11.ends_at, first_claim_bonus=50
    )
    gold = TierFacts(7, "金卡会员", 150)
    first = rules.calculate(PointsPolicy(), order(100), campaigns=[welcome], tier=gold, first_claim=True, now=NOW)
    assert first.total == 90  # (10 + 50) × 1.5
    assert first.explanation("9") == "订单 9 获得 90 积分：(基础 10 + 新客首单奖励 50) × 金卡会员 1.5倍"
    again = rules.calculate(PointsPolicy(), order(100), campaigns=[welcome], tier=gold, now=NOW)
    assert again.total == 15


def test_the_explanation_brackets_what_a_later_multiplier_multiplies() -> None:
    double_plus = CampaignFacts(**{**vars(DOUBLE_11), "bonus_points": 5})
    gold = TierFacts(7, "金卡会员", 120)
    calc = rules.calculate(PointsPolicy(), order(100), campaigns=[double_plus], tier=gold, now=NOW)
    assert calc.total == 30  # (10 × 2 + 5) × 1.2
    assert calc.explanation() == "获得 30 积分：(基础 10 × 双11 2倍 + 双11奖励 5) × 金卡会员 1.2倍"
    plain = rules.calculate(PointsPolicy(), order(100), campaigns=[DOUBLE_11], tier=gold, now=NOW)
    assert plain.explanation() == "获得 24 积分：基础 10 × 双11 2倍 × 金卡会员 1.2倍"  # nothing to bracket


@given(
    paid=st.integers(0, 10**11),
    rate=st.integers(1, 10**7),
    rounding=st.sampled_from(list(Rounding)),
    multipliers=st.lists(st.integers(100, 1000), max_size=4),
    room=st.none() | st.integers(0, 10**6),
)
def test_points_are_never_negative_and_caps_hold(
    paid: int, rate: int, rounding: Rounding, multipliers: list[int], room: int | None
) -> None:
    campaigns = [
        CampaignFacts(
            id=i,
            name=f"c{i}",
            priority=i,
            starts_at=DOUBLE_11.starts_at,
            ends_at=DOUBLE_11.ends_at,
            multiplier_pct=m,
            bonus_points=3,
            room_left=room,
        )
        for i, m in enumerate(multipliers)
    ]
    policy = PointsPolicy(fen_per_point=rate, rounding=rounding)
    facts = OrderFacts(platform="taobao", order_id="1", paid_fen=paid)
    calc = rules.calculate(policy, facts, campaigns=campaigns, now=NOW)
    exact = paid / rate
    assert abs(calc.base - exact) <= 1 and calc.base >= 0
    assert all(part.points >= 0 for part in calc.parts)
    if room is not None:
        assert all(points <= room for points in calc.awards().values())
    assert calc.total == calc.base + sum(p.points for p in calc.parts)


def test_expiry_modes_in_the_tenant_timezone() -> None:
    earned = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 2026-12-01 01:00 in Shanghai
    tz = "Asia/Shanghai"
    assert rules.expires_at(PointsPolicy(expiry_mode=ExpiryMode.never), earned, tz) is None
    assert rules.expires_at(
        PointsPolicy(expiry_mode=ExpiryMode.days, expiry_days=30), earned, tz
    ) == earned + timedelta(days=30)
    month_end = rules.expires_at(PointsPolicy(expiry_mode=ExpiryMode.month_end), earned, tz)
    assert month_end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 2027-01-01 00:00 Shanghai
    two_months = rules.expires_at(PointsPolicy(expiry_mode=ExpiryMode.month_end, expiry_months=2), earned, tz)
    assert two_months == datetime(2027, 2, 28, 16, 0, tzinfo=UTC)
    year_end = rules.expires_at(PointsPolicy(expiry_mode=ExpiryMode.year_end, expiry_years=1), earned, tz)
    assert year_end == datetime(2027, 12, 31, 16, 0, tzinfo=UTC)  # end of next year, local


def test_the_hold() -> None:
    completed = datetime(2026, 11, 12, tzinfo=UTC)
    assert rules.post_after(PointsPolicy(hold_days=7), completed) == completed + timedelta(days=7)
    assert rules.post_after(PointsPolicy(), None) is None
    assert rules.post_after(PointsPolicy(hold_mode=HoldMode.immediate), completed) is None
