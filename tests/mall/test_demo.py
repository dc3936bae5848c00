"""The demo's flash reward opens later the same local day, or within the hour late at night."""

from __future__ import annotations

from datetime import UTC, datetime

from siyu.demo.mall import _flash_opening
from siyu.kit.time import to_local


def test_the_flash_reward_opens_tonight_at_eight_or_at_the_next_hour() -> None:
    morning = datetime(2030, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert to_local(_flash_opening(morning, "Asia/Shanghai"), "Asia/Shanghai").strftime("%d %H:%M") == "01 20:00"
    late = datetime(2030, 3, 1, 13, 30, tzinfo=UTC)  # 21:30 in Shanghai
    assert to_local(_flash_opening(late, "Asia/Shanghai"), "Asia/Shanghai").strftime("%d %H:%M") == "01 22:00"
