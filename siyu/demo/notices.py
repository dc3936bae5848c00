"""The demo tenant's notice channels, pointed at the fake WeChat and SMS gateways the demo runs on this machine
(`siyu.demo.gateways`): the official account and the mini-program with the fakes' credentials, subscribe templates
for the notices fans get most, Aliyun SMS with the fake's keys, and subscribe consents some fans gave (one message
each), so the console's delivery log shows real HTTP deliveries and what the gateways answered."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.demo.gateways import SMS_KEY, WECHAT_APP, WECHAT_MINI
from siyu.fans import service as fans
from siyu.fans.schemas import WechatConfig
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.members import service as members
from siyu.members.models import IdentityKind
from siyu.notices import service as notices
from siyu.notices.schemas import NoticeSettings, SmsSettings, WechatTemplate
from siyu.tenants import service as tenants

# kind -> (template id, fields, official account?)
TEMPLATES: dict[str, tuple[str, dict[str, str], bool]] = {
    "live_show_reminder": ("oa-live-reminder-01", {"thing1": "title", "time2": "starts_at"}, True),
    "claim_credited": ("oa-points-credited-01", {"thing1": "label", "number2": "points"}, True),
    "prize_won": ("oa-prize-won-01", {"thing1": "title", "thing2": "=请到会员中心查看"}, True),
    "shipped": ("mp-shipped-01", {"thing1": "title", "thing2": "carrier", "character_string3": "tracking_no"}, False),
}


def _system(tenant_id: int) -> Principal:
    return Principal(tenant_id=tenant_id, kind="system", actor_id=None, label="演示数据", permissions=frozenset())


async def load(session: AsyncSession, *, slug: str, seed: int = 23) -> int:
    """Set the channels up (unless the tenant has its own) and record some fans' consents; returns how many."""
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    wechat = await fans.wechat_config(session, tenant.id)
    if not (wechat.official_account or wechat.mini_program):
        await fans.save_wechat_config(
            session,
            actor=actor,
            config=WechatConfig(
                app_id=WECHAT_APP[0],
                app_secret=WECHAT_APP[1],
                scope="snsapi_base",
                mini_app_id=WECHAT_MINI[0],
                mini_app_secret=WECHAT_MINI[1],
            ),
        )
    settings = await notices.settings_of(session, tenant.id)
    if not settings.wechat and not settings.sms.access_key_id:
        settings = NoticeSettings(
            **{
                **settings.model_dump(exclude={"wechat", "sms"}),
                "wechat": {
                    kind: WechatTemplate(template_id=template, fields=fields, official=official)
                    for kind, (template, fields, official) in TEMPLATES.items()
                },
                "sms": SmsSettings(
                    provider="aliyun",
                    access_key_id=SMS_KEY[0],
                    access_key_secret=SMS_KEY[1],
                    sign_name="星河好物",
                    templates={"shipped": "SMS_900001", "prize_won": "SMS_900002", "live_show_changed": "SMS_900003"},
                ),
            }
        )
        await notices.save_settings(session, actor=actor, settings=settings)
    # Fans who tapped 订阅 before: about half of those with WeChat, one or two messages per notice kind.
    rng = random.Random(seed)
    page = await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(size=200))
    found = await members.identities_by_member(session, tenant_id=tenant.id, member_ids=[m.id for m in page.items])
    recorded = 0
    now = utcnow()
    for member_id, identities in found.items():
        openid = next((i.value for i in identities if i.kind == IdentityKind.wechat_openid), None)
        if openid is None or rng.random() < 0.5:
            continue
        for template, _fields, _official in TEMPLATES.values():
            for tap in range(rng.randint(1, 2)):
                accepted, _left = await notices.record_consents(
                    session,
                    tenant_id=tenant.id,
                    member_id=member_id,
                    results={template: "accept"},
                    tap=f"demo{member_id}{template}{tap}"[:64],
                    openid=openid,
                    now=now - timedelta(days=rng.randint(1, 20)),
                )
                recorded += accepted
    return recorded
