from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from siyu.members.models import IdentityKind


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: IdentityKind
    value: str = Field(min_length=1, max_length=128)


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: IdentityKind
    value: str
    created_at: datetime


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nickname: str = Field(default="", max_length=100)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    nickname: str
    status: str
    created_at: datetime


class MemberDetail(MemberOut):
    identities: list[IdentityOut]


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int
    page: int
    pages: int
