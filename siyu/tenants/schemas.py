from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field

from siyu.kit.types import NOT_BLANK
from siyu.tenants.models import Platform

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$"
# The IANA zones this machine knows; published as an enum so clients see the valid values.
TIMEZONES = sorted(available_timezones())


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    timezone: str
    settings: dict[str, Any]
    created_at: datetime


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=NOT_BLANK)
    timezone: str | None = Field(
        default=None, max_length=64, json_schema_extra=cast(dict[str, Any], {"enum": TIMEZONES})
    )
    brand_color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    welcome_text: str | None = Field(default=None, max_length=200)


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Platform
    name: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK)
    shop_id: str | None = Field(default=None, max_length=64)


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=NOT_BLANK)
    shop_id: str | None = Field(default=None, max_length=64)
    active: bool | None = None


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    platform: Platform
    name: str
    shop_id: str | None
    active: bool
    created_at: datetime
