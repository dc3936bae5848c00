"""Which orders a show is credited with, at the edges of its window: the start is in, the end is out (so two
back-to-back shows never share an order); a room id decides on its own; an author id or a shop both sides carry
decides inside the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from siyu.live import rules
from siyu.live.models import ShowStatus
from siyu.orders.models import OrderView

START = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
END = START + timedelta(hours=3)
SHOW = rules.Window(platform="douyin", starts_at=START, ends_at=END, shops=("小鱼旗舰店",), author_id="A1")


def order(
    placed_at: datetime | None,
    *,
    platform: str = "douyin",
    paid_at: datetime | None = None,
    shop: str | None = None,
    author: str | None = None,
    live_room: str | None = None,
    status: str = "paid",
    paid_fen: int = 1000,
    refund_fen: int = 0,
) -> OrderView:
    return OrderView(
        tenant_id=1,
        platform=platform,
        order_id="1",
        status=status,
        paid_fen=paid_fen,
        refund_fen=refund_fen,
        buyer_nick=None,
        buyer_open_uid=None,
        receiver_phone=None,
        shop=shop,
        author=author,
        live_room=live_room,
        placed_at=placed_at,
        paid_at=paid_at,
        completed_at=None,
    )


def test_the_window_includes_its_start_and_excludes_its_end() -> None:
    second = timedelta(seconds=1)
    assert not rules.attributed(order(START - second), SHOW)
    assert rules.attributed(order(START), SHOW)
    assert rules.attributed(order(END - second), SHOW)
    assert not rules.attributed(order(END), SHOW)


def test_back_to_back_shows_never_share_an_order() -> None:
    later = rules.Window(platform="douyin", starts_at=END, ends_at=END + timedelta(hours=2))
    at_the_seam = order(END)
    assert not rules.attributed(at_the_seam, SHOW)
    assert rules.attributed(at_the_seam, later)


def test_without_a_placing_time_the_payment_time_decides() -> None:
    assert rules.attributed(order(None, paid_at=START), SHOW)
    assert not rules.attributed(order(None, paid_at=END), SHOW)
    assert not rules.attributed(order(None), SHOW)


def test_another_platform_is_not_the_show() -> None:
    assert not rules.attributed(order(START, platform="taobao"), SHOW)


def test_the_room_id_decides_whatever_the_time() -> None:
    show = rules.Window(platform="douyin", starts_at=START, ends_at=END, live_room="R9")
    assert rules.attributed(order(END + timedelta(days=1), live_room="R9"), show)
    assert not rules.attributed(order(START, live_room="R8"), show)  # another broadcast, same hour


def test_an_author_id_or_a_shop_both_carry_decides_inside_the_window() -> None:
    assert rules.attributed(order(START, author="A1", shop="别家店"), SHOW)
    assert not rules.attributed(order(START, author="B2", shop="小鱼旗舰店"), SHOW)
    assert rules.attributed(order(START, shop="小鱼旗舰店"), SHOW)
    assert not rules.attributed(order(START, shop="别家店"), SHOW)
    assert rules.attributed(order(START), SHOW)  # the file carries neither: the window alone


@given(st.integers(min_value=-10_000, max_value=20_000))
def test_inside_means_start_at_or_after_and_end_before(seconds: int) -> None:
    moment = START + timedelta(seconds=seconds)
    assert rules.attributed(order(moment), SHOW) == (START <= moment < END)


def test_status_by_the_clock() -> None:
    def status(now: datetime, cancelled: datetime | None = None) -> ShowStatus:
        return rules.status_of(starts_at=START, ends_at=END, cancelled_at=cancelled, now=now)

    assert status(START - timedelta(seconds=1)) == ShowStatus.planned
    assert status(START) == ShowStatus.live
    assert status(END) == ShowStatus.ended
    assert status(START, cancelled=START - timedelta(days=1)) == ShowStatus.cancelled


def test_the_split_counts_paid_orders_net_of_refunds_by_who_bought() -> None:
    rows = [
        order(START, paid_fen=1000),  # nobody claimed it
        order(START, paid_fen=2000, refund_fen=500),
        order(START, paid_fen=4000),
        order(START, paid_fen=9999, status="unpaid"),
    ]
    rows = [OrderView(**{**r.__dict__, "order_id": str(n)}) for n, r in enumerate(rows)]
    owners = {("douyin", "1"): 7, ("douyin", "2"): 8, ("douyin", "3"): 7}
    split = rules.split(rows, owners=owners, reserved={7})
    assert (split.reserved.orders, split.reserved.gmv_fen) == (1, 1500)
    assert (split.members.orders, split.members.gmv_fen) == (1, 4000)
    assert (split.others.orders, split.others.gmv_fen) == (1, 1000)
    assert split.orders == 3 and split.claimed == 2
    assert split.private_share == 5500 / 6500
