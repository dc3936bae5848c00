from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from siyu.audit import service
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, Principal, require

router = APIRouter(tags=["操作日志"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    actor_kind: str
    actor_label: str
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str | None
    created_at: datetime


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    page: int
    pages: int


@router.get("/audit", response_model=AuditPage, summary="操作日志")
async def list_audit(
    session: DbSession,
    principal: Annotated[Principal, require("audit.read")],
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    result = await service.list_entries(
        session, tenant_id=principal.tenant_id, page=PageRequest(page=page, size=size), action=action
    )
    return AuditPage(
        items=[AuditOut.model_validate(e) for e in result.items],
        total=result.total,
        page=page,
        pages=result.pages,
    )
