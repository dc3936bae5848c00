"""Fan sign-in settings of a tenant, and what the fan API takes and gives."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class WechatConfig(BaseModel):
    """Stored in the tenant's settings under "wechat". An empty app id turns that way of signing in off."""

    model_config = ConfigDict(extra="forbid")

    app_id: str = Field(default="", max_length=64, description="公众号 AppID")
    app_secret: str = Field(default="", max_length=128, description="公众号 AppSecret")
    scope: str = Field(default="snsapi_userinfo", pattern="^(snsapi_base|snsapi_userinfo)$")
    mini_app_id: str = Field(default="", max_length=64, description="小程序 AppID")
    mini_app_secret: str = Field(default="", max_length=128, description="小程序 AppSecret")

    @property
    def official_account(self) -> bool:
        return bool(self.app_id and self.app_secret)

    @property
    def mini_program(self) -> bool:
        return bool(self.mini_app_id and self.mini_app_secret)


class PhoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=11, max_length=20, examples=["13800138000"])


class PhoneCodeIn(PhoneIn):
    code: str = Field(min_length=4, max_length=8, pattern=r"^\d+$", examples=["123456"])
    invite: str | None = Field(default=None, max_length=16, description="邀请码（从好友的邀请链接注册时带上）")


class CodeSent(BaseModel):
    expires_in: int = Field(description="验证码有效秒数")
    resend_in: int = Field(description="多少秒后可以重新发送")
    demo_code: str | None = Field(default=None, description="仅演示站点：收到的验证码")


class WechatCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=256, description="微信返回的 code（网页授权或小程序 wx.login）")
    invite: str | None = Field(default=None, max_length=16, description="邀请码（从好友的邀请链接注册时带上）")


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=20, max_length=100)


class TokenPair(BaseModel):
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    access_token: str
    expires_in: int = Field(description="access_token 有效秒数")
    refresh_token: str
    refresh_expires_at: datetime
    member_id: int


class FanClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str = Field(max_length=16, examples=["taobao"])
    order: str = Field(min_length=1, max_length=500, description="订单号，或粘贴的整段订单信息")
    check: str = Field(default="", max_length=64, description="店铺要求的核对信息")
    confirm_platform: bool = Field(
        default=False,
        description="订单号不像所选平台的订单号时，会返回 409 platform_mismatch（detail.suggested 为建议的平台）；"
        "粉丝确认平台没选错后，带 true 重新提交",
    )


class FanIdentityOut(BaseModel):
    kind: str = Field(description="账号类型（解绑时用）")
    label: str = Field(description="平台名称，如 微信、抖音、手机号")
    value: str = Field(description="打码后的账号或昵称；只有平台内部编号的账号为空（从不返回原始编号）")
    created_at: datetime = Field(description="绑定时间")


class FanExpiring(BaseModel):
    points: int = Field(description="即将过期的积分")
    expires_at: datetime | None = Field(
        description="最早一批积分失效的时刻（这一刻起不能再用，月底/年底过期为次日 0 点，店铺时区）"
    )
    last_day: date | None = Field(description="最早一批积分还能使用的最后一天（店铺时区），给会员看的就是这一天")


class FanPoints(BaseModel):
    available: int
    pending: int
    debt: int
    expiring: FanExpiring | None = Field(default=None, description="近期将过期的积分（按店铺设置的提醒天数）")


class FanMe(BaseModel):
    member_id: int
    nickname: str
    display_name: str = Field(description="会员中心显示的名字：昵称，没有昵称时为打码的手机号")
    points: FanPoints
    tier: str | None
    identities: list[FanIdentityOut]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into_member_id: int = Field(ge=1, le=2**63 - 1, description="并入哪位会员")
    reason: str = Field(min_length=1, max_length=200, description="为什么是同一人，如：同一手机号")
