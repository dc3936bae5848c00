from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from siyu.jobs import service
from siyu.kit.web import DbSession, Principal, ResourceId, require

router = APIRouter(tags=["后台任务"])


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    attempts: int
    max_attempts: int
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@router.get("/jobs/{job_id}", response_model=JobOut, summary="后台任务进度")
async def get_job(
    job_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("jobs.read")]
) -> JobOut:
    return JobOut.model_validate(await service.get_for_tenant(session, tenant_id=principal.tenant_id, job_id=job_id))
