from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from siyu.kit.types import NOT_BLANK
from siyu.staff.models import Role
from siyu.staff.permissions import Permission


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(default="", max_length=100)
    role: Role
    password: str | None = Field(default=None, min_length=8, max_length=200)


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class StaffOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    active: bool


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK)
    permissions: list[Permission] = Field(min_length=1)
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    permissions: list[str] = Field(description="密钥被授予、且创建人当前角色仍拥有的权限")
    created_by: int | None = Field(description="创建人（密钥随其当前角色收窄，随其离开而失效）")
    created_by_name: str | None = Field(description="创建人姓名与邮箱；创建人账号已不存在时为空")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="完整密钥，只显示这一次")


class Me(BaseModel):
    tenant_id: int
    kind: str
    label: str
    role: str | None
    permissions: list[str]
