"""Request and response models of the check-in: the tenant's rules, a fan's month, a check-in, statistics."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, model_validator

from siyu.kit.errors import InvalidInput
from siyu.kit.ids import MAX_ID


class DayReward(BaseModel):
    """The points of the N-th day of a streak, instead of the base points (e.g. day 7: 20)."""

    day: int = Field(ge=1, le=365, description="连续签到第几天")
    points: int = Field(ge=0, le=100_000, description="这一天得多少积分（代替基础积分）")
    reward_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="这一天另送的积分商城奖品（不扣积分，库存没了就只得积分）"
    )
    reward_title: str | None = Field(None, max_length=100, description="奖品名称（保存规则时按奖品填写）")
    lottery_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="这一天另送一次免费抽奖的抽奖活动（活动结束后不再送）"
    )
    lottery_title: str | None = Field(None, max_length=100, description="抽奖活动名称（保存规则时按活动填写）")


class CheckinRules(BaseModel):
    """签到规则 (the tenant's settings section "checkin")."""

    enabled: bool = Field(True, description="是否开启签到")
    base_points: int = Field(2, ge=0, le=100_000, description="每天签到的基础积分")
    rewards: list[DayReward] = Field(
        default_factory=lambda: [DayReward(day=7, points=20)], max_length=60, description="连续第 N 天的奖励"
    )
    cycle_days: int = Field(7, ge=0, le=365, description="连续签到几天为一轮（0：不循环，奖励只在连续第 N 天给一次）")
    makeup_enabled: bool = Field(True, description="是否允许补签")
    makeup_cost: int = Field(10, ge=1, le=100_000, description="补签一天消耗的积分")
    makeup_days_back: int = Field(7, ge=1, le=60, description="最多能补签几天前")
    makeup_monthly_cap: int = Field(3, ge=0, le=31, description="每月最多补签几次")
    reminder_hour: int = Field(20, ge=0, le=23, description="签到提醒在当地几点发出（会员自己开启）")

    @model_validator(mode="after")
    def _consistent(self) -> CheckinRules:
        days = [r.day for r in self.rewards]
        if len(days) != len(set(days)):
            raise InvalidInput("同一天只能设置一个奖励", code="duplicate_reward_day")
        if self.cycle_days and days and max(days) > self.cycle_days:
            raise InvalidInput("奖励的天数不能超过一轮的天数", code="reward_beyond_cycle")
        self.rewards.sort(key=lambda r: r.day)
        return self


class PreviewDay(BaseModel):
    streak: int
    points: int
    gift: str | None = None
    bonus: bool  # a day-N reward rather than the base points


class RulesOut(BaseModel):
    rules: CheckinRules
    preview: list[PreviewDay] = Field(description="连续签到 30 天每天得多少积分")
    preview_total: int


class CalendarDay(BaseModel):
    day: date
    state: str = Field(description="done / made_up / missed / today / future / before（加入前）")
    points: int = 0
    streak: int = 0
    can_make_up: bool = False


class StatusOut(BaseModel):
    today: date
    checked_in_today: bool
    streak: int = Field(description="当前连续签到天数（今天未签时为到昨天为止）")
    today_points: int = Field(description="今天签到得（或已得）多少积分")
    tomorrow_points: int = Field(description="明天接着签到能得多少积分")
    today_gift: str | None = Field(None, description="今天签到另得的奖品或抽奖机会（奖品有库存时）")
    tomorrow_gift: str | None = Field(None, description="明天接着签到另得的奖品或抽奖机会（奖品有库存时）")
    enabled: bool
    makeup_enabled: bool
    makeup_cost: int
    makeup_days_back: int
    makeups_left: int = Field(description="本月还能补签几次")
    reminder: bool
    reminder_hour: int
    month: str = Field(description="YYYY-MM")
    days: list[CalendarDay]


class CheckinOut(BaseModel):
    day: date
    streak: int
    points: int
    created: bool = Field(description="false：这天之前已经签过（重复提交不会重复得积分）")
    gift: str | None = Field(None, description="这次签到另得的积分商城奖品（实物到“我的兑换”填地址）")
    free_draw_lottery_id: int | None = Field(None, description="这次签到另得一次免费抽奖的抽奖活动")
    made_up: bool = False
    cost: int = 0


class MakeUpIn(BaseModel):
    day: date


class ReminderIn(BaseModel):
    enabled: bool


class ReminderOut(BaseModel):
    enabled: bool
    hour: int


class StatsOut(BaseModel):
    days: list[date]
    checkins: list[int] = Field(description="每天签到人数（含补签）")
    makeups: list[int] = Field(description="每天被补签的人数")
    points: list[int] = Field(description="每天发出的签到积分")
    streak_buckets: list[str] = Field(description="当前连续天数分组")
    streak_members: list[int] = Field(description="每组会员数")
    today: int
    reminders_on: int
