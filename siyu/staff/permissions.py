"""What each role may do. API keys carry a subset of their creator's permissions."""

from __future__ import annotations

from enum import StrEnum

from siyu.staff.models import Role

PERMISSION_LABELS: dict[str, str] = {
    "tenant.read": "查看店铺设置",
    "tenant.write": "修改店铺设置",
    "channels.read": "查看渠道",
    "channels.write": "管理渠道",
    "staff.read": "查看员工",
    "staff.write": "管理员工",
    "api_keys.manage": "管理 API 密钥",
    "audit.read": "查看操作日志",
    "members.read": "查看会员",
    "members.write": "管理会员",
    "jobs.read": "查看后台任务",
    "orders.read": "查看订单",
    "orders.import": "导入订单",
    "points.adjust": "人工调整会员积分",
    "points.rules": "配置积分规则、活动与会员等级",
    "claims.review": "审核订单换积分、合并会员",
    "mall.read": "查看积分商城与兑换订单",
    "mall.manage": "管理积分商城：奖品、库存、兑换码",
    "mall.fulfil": "兑换订单发货、签收与取消",
    "analytics.read": "查看数据分析",
}

# Permission names as a type, so the API schema lists them.
Permission = StrEnum("Permission", {name.replace(".", "_"): name for name in PERMISSION_LABELS})  # type: ignore[misc]

_READ = {"tenant.read", "channels.read", "members.read", "orders.read", "mall.read"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.owner: frozenset(PERMISSION_LABELS),
    Role.operator: frozenset(
        _READ
        | {
            "channels.write",
            "members.write",
            "audit.read",
            "jobs.read",
            "orders.import",
            "points.adjust",
            "points.rules",
            "claims.review",
            "mall.manage",
            "mall.fulfil",
        }
    ),
    Role.fulfillment: frozenset(_READ | {"mall.fulfil"}),
    Role.analyst: frozenset(_READ | {"audit.read", "jobs.read", "analytics.read"}),
}


def permissions_for(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())
