"""Notice settings of a tenant (stored in its settings under "notices") and the fan API's bodies."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

KINDS: dict[str, str] = {
    "points_expiring": "积分即将过期",
    "shipped": "奖品已发货",
    "claim_credited": "订单积分已到账",
    "claim_approved": "领取审核通过",
    "claim_rejected": "领取审核未通过",
    "claim_expired": "订单等待超时",
    "bound_credited": "绑定账号的订单已入账",
    "prize_won": "抽奖中奖",
    "live_show_changed": "预约的直播有变（取消或改时间）",
    "live_show_reminder": "预约的直播即将开播",
    "checkin_reminder": "签到提醒",
    "trial_won": "商品试用中选",
    "trial_report_due": "试用报告提醒",
    "segment_message": "店铺消息",
}
CHANNELS: dict[str, str] = {"wechat": "微信订阅消息", "sms": "短信", "webhook": "回调地址"}
DEFAULT_CHANNELS = ["wechat", "sms", "webhook"]
Channel = Literal["wechat", "sms", "webhook"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class WechatTemplate(BaseModel):
    """A subscribe-message template for one kind: which of the notice's facts goes into which field."""

    model_config = ConfigDict(extra="forbid")

    template_id: str = Field(default="", max_length=64)
    fields: dict[str, str] = Field(default_factory=dict)  # template field (thing1) -> fact of the notice (title)
    page: str = Field(default="", max_length=200)
    official: bool = False  # an official-account subscribe notice (H5 fans) instead of a mini-program one


class SmsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["log", "aliyun", "tencent"] = "log"
    access_key_id: str = Field(default="", max_length=128)  # Aliyun AccessKey ID / Tencent SecretId
    access_key_secret: str = Field(default="", max_length=128)  # Aliyun AccessKey secret / Tencent SecretKey
    sdk_app_id: str = Field(default="", max_length=64)  # Tencent only
    sign_name: str = Field(default="", max_length=40)
    templates: dict[str, str] = Field(default_factory=dict)  # kind -> template code


class NoticeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: dict[str, list[Channel]] = Field(default_factory=dict)  # kind -> channels; absent: all channels
    quiet_start: str = "22:00"
    quiet_end: str = "08:00"
    daily_cap: int = Field(default=5, ge=1, le=100)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    wechat: dict[str, WechatTemplate] = Field(default_factory=dict)  # kind -> template

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("请写成 时:分，比如 22:00")
        return value

    def channels_for(self, kind: str) -> list[str]:
        return list(self.channels.get(kind, DEFAULT_CHANNELS))

    @property
    def quiet(self) -> tuple[time, time]:
        return time.fromisoformat(self.quiet_start), time.fromisoformat(self.quiet_end)


class ConsentIn(BaseModel):
    """What the mini-program's wx.requestSubscribeMessage (or, on an H5 page, the official account's
    wx-open-subscribe button) answered: template id -> "accept" / "reject" / ..."""

    model_config = ConfigDict(extra="forbid")

    results: dict[str, str] = Field(max_length=20, description="模板 ID -> accept / reject / ban / filter")
    tap: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="这次点击的编号（页面生成）：同一次点击重复上报只记一次",
    )
    openid: str | None = Field(
        default=None, max_length=128, description="同意的微信账号（她绑定的 openid 之一）；公众号通知发到这个账号"
    )


class OfficialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=8, max_length=1000, pattern=r"^https?://", description="调用 wx.config 的网页地址（不含 # 之后）"
    )


class OfficialTemplateOut(BaseModel):
    kind: str = Field(description="通知种类")
    label: str
    template_id: str = Field(description="公众号订阅通知模板 ID（wx-open-subscribe 的 template）")
    remaining: int = Field(description="她还能收到的条数")


class OfficialOut(BaseModel):
    """wx.config 的参数（openTagList 带 wx-open-subscribe）和店铺以公众号订阅通知发送的通知。"""

    app_id: str
    timestamp: int
    nonce_str: str
    signature: str
    templates: list[OfficialTemplateOut]


class ConsentOut(BaseModel):
    accepted: int = Field(description="新记录的授权次数")
    remaining: dict[str, int] = Field(description="每个模板还能发的消息数")


class NoticeOut(BaseModel):
    id: int
    kind: str
    label: str
    status: str
    created_at: datetime
