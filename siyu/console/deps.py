"""What every console page needs: the signed-in staff member, their tenant, navigation and CSRF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator

from siyu.console.waiting import NOTHING_COUNTED, Waiting, waiting
from siyu.kit.errors import Forbidden, NotAuthenticated
from siyu.kit.web import CurrentPrincipal, DbSession, Principal, form_text
from siyu.staff import service as staff
from siyu.templating import templates
from siyu.tenants import service as tenants
from siyu.tenants.models import Tenant


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str
    permission: str
    area: str


# The left navigation, by area (a heading over each area's pages).
NAV: list[NavItem] = [
    NavItem("dashboard", "概览", "/console/", "tenant.read", "数据"),
    NavItem("rfm", "会员价值", "/console/analytics/rfm", "analytics.read", "数据"),
    NavItem("contribution", "私域贡献", "/console/analytics/contribution", "analytics.read", "数据"),
    NavItem("members", "会员", "/console/members", "members.read", "会员"),
    NavItem("segments", "会员分群", "/console/segments", "members.read", "会员"),
    NavItem("tags", "会员标签", "/console/tags", "members.read", "会员"),
    NavItem("orders", "订单", "/console/orders", "orders.read", "订单与积分"),
    NavItem("claims", "订单换积分", "/console/claims", "members.read", "订单与积分"),
    NavItem("review", "领取审核", "/console/claims/review", "members.read", "订单与积分"),
    NavItem("points", "积分规则", "/console/points", "tenant.read", "订单与积分"),
    NavItem("mall", "积分商城", "/console/mall", "mall.read", "积分商城"),
    NavItem("fulfilment", "兑换发货", "/console/mall/redemptions", "mall.read", "积分商城"),
    NavItem("lottery", "积分抽奖", "/console/mall/lottery", "mall.read", "积分商城"),
    NavItem("checkin", "每日签到", "/console/checkin", "tenant.read", "粉丝互动"),
    NavItem("tasks", "积分任务", "/console/tasks", "members.read", "粉丝互动"),
    NavItem("task_reviews", "评价审核", "/console/tasks/reviews", "members.read", "粉丝互动"),
    NavItem("referrals", "邀请有礼", "/console/referrals", "members.read", "粉丝互动"),
    NavItem("live", "直播预告", "/console/live", "members.read", "粉丝互动"),
    NavItem("groups", "粉丝群", "/console/groups", "members.read", "粉丝互动"),
    NavItem("trials", "商品试用", "/console/trials", "members.read", "粉丝互动"),
    NavItem("voice", "粉丝心声", "/console/voice", "members.read", "粉丝互动"),
    NavItem("notices", "粉丝通知", "/console/notices", "tenant.read", "粉丝互动"),
    NavItem("channels", "渠道", "/console/channels", "channels.read", "设置"),
    NavItem("staff", "员工", "/console/staff", "staff.read", "设置"),
    NavItem("api_keys", "API 密钥", "/console/api-keys", "api_keys.manage", "设置"),
    NavItem("audit", "操作日志", "/console/audit", "audit.read", "设置"),
    NavItem("settings", "店铺设置", "/console/settings", "tenant.read", "设置"),
]


@dataclass
class Console:
    request: Request
    principal: Principal
    tenant: Tenant
    tenants: list[Tenant]
    waiting: Waiting

    def can(self, permission: str) -> bool:
        return self.principal.can(permission)

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise Forbidden(required=permission)

    def render(self, template: str, active: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        nav = [item for item in NAV if self.can(item.permission)]
        return templates.TemplateResponse(
            self.request,
            template,
            {
                "console": self,
                "principal": self.principal,
                "tenant": self.tenant,
                "tenants": self.tenants,
                "nav": nav,
                "nav_badges": self.waiting.for_nav(),
                "waiting": self.waiting,
                "active": active,
                "csrf_token": self.principal.csrf_token,
                **context,
            },
            status_code=status_code,
        )


async def console_context(request: Request, session: DbSession, principal: CurrentPrincipal) -> Console:
    if principal.kind != "staff" or principal.actor_id is None:
        raise NotAuthenticated()
    tenant = await tenants.get_tenant(session, principal.tenant_id)
    tenant_ids = await staff.tenants_of(session, principal.actor_id)
    return Console(
        request=request,
        principal=principal,
        tenant=tenant,
        tenants=await tenants.tenants_by_id(session, tenant_ids),
        # the counts are for a full page's navigation: not for forms posted or htmx fragments (an import's card
        # polls every second)
        waiting=await waiting(session, principal) if _full_page(request) else NOTHING_COUNTED,
    )


def _full_page(request: Request) -> bool:
    return request.method == "GET" and "hx-request" not in request.headers


ConsoleContext = Annotated[Console, Depends(console_context)]

text = form_text  # what the console's forms call it


def blank_is_none(value: object) -> object:
    """A filter left at its "all" choice: an HTML form sends the select's empty value, meaning no filter."""
    return None if value == "" else value


# (the constraints go on the type inside the union: `Annotated[Annotated[int, Field(ge=1)] | None, Blank, Query()]`)
Blank = BeforeValidator(blank_is_none)
