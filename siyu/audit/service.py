"""Record what staff and API keys did. Called inside the same transaction as the change itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import repository
from siyu.audit.models import AuditEntry
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.web import Principal

ACTION_LABELS: dict[str, str] = {
    "tenant.update": "修改店铺设置",
    "channel.create": "新增渠道",
    "channel.update": "修改渠道",
    "staff.add": "添加员工",
    "staff.update": "修改员工角色",
    "staff.remove": "移除员工",
    "api_key.create": "创建 API 密钥",
    "api_key.revoke": "吊销 API 密钥",
    "api_key.narrow": "收窄 API 密钥权限（创建人角色变更）",
    "member.create": "新建会员",
    "points.adjust": "手工调整积分",
    "points.policy": "修改积分规则",
    "campaign.create": "新建积分活动",
    "campaign.update": "修改积分活动",
    "campaign.delete": "删除积分活动",
    "tier.create": "新建会员等级",
    "tier.update": "修改会员等级",
    "tier.delete": "删除会员等级",
    "claims.policy": "修改订单换积分设置",
    "reward.create": "新建积分商城奖品",
    "reward.update": "修改积分商城奖品",
    "reward.delete": "删除积分商城奖品",
    "reward.image": "更换奖品图片",
    "reward.codes": "导入兑换码",
    "redemption.ship": "兑换订单发货",
    "redemption.deliver": "兑换订单签收",
    "redemption.cancel": "取消兑换订单",
    "auth.login": "登录后台",
    "auth.logout": "退出登录",
}


def record(
    session: AsyncSession,
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        tenant_id=actor.tenant_id,
        id=new_id(),
        actor_kind=actor.kind,
        actor_id=actor.actor_id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before,
        after=after,
        ip=actor.ip,
    )
    repository.add(session, entry)
    return entry


def record_change(
    session: AsyncSession,
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | int | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> AuditEntry | None:
    """Record an update only when it changed something (saving a form unchanged leaves no entry)."""
    if before == after:
        return None
    return record(
        session, actor=actor, action=action, target_type=target_type, target_id=target_id, before=before, after=after
    )


async def list_entries(
    session: AsyncSession, *, tenant_id: int, page: PageRequest, action: str | None = None
) -> Page[AuditEntry]:
    return await repository.list_entries(session, tenant_id=tenant_id, page=page, action=action)
