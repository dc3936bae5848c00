"""Members: search by nickname, phone, platform account or member number; a member's identities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from siyu.console.deps import ConsoleContext
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, ResourceId
from siyu.members import service as members
from siyu.members.models import IDENTITY_LABELS

router = APIRouter()


@router.get("/members", response_class=HTMLResponse)
async def members_page(
    console: ConsoleContext,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    console.require("members.read")
    result = await members.search(session, tenant_id=console.tenant.id, query=q, page=PageRequest(page=page))
    identities = await members.identities_by_member(
        session, tenant_id=console.tenant.id, member_ids=[m.id for m in result.items]
    )
    return console.render(
        "console/members.html",
        "members",
        result=result,
        q=q or "",
        identities=identities,
        identity_labels=IDENTITY_LABELS,
        mask=members.mask,
    )


@router.get("/members/{member_id}", response_class=HTMLResponse)
async def member_page(member_id: ResourceId, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("members.read")
    member = await members.get_member(session, tenant_id=console.tenant.id, member_id=member_id)
    identities = await members.identities_of(session, tenant_id=console.tenant.id, member_id=member_id)
    return console.render(
        "console/member.html",
        "members",
        member=member,
        identities=identities,
        identity_labels=IDENTITY_LABELS,
        mask=members.mask,
    )
