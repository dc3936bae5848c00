"""Who a fan is: sign-in by WeChat (official account or mini-program) or by phone and a one-time code, the
sessions API clients hold (short access tokens, rotating refresh tokens), and one member per person.

When a sign-in proves that two members are one person (a verified phone on one, the WeChat account on the
other; one unionid on both), they are merged through the ledger, audited. Nothing here commits.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.claims import service as claims
from siyu.fans import repository
from siyu.fans.models import RefreshToken, SmsCode
from siyu.fans.schemas import TokenPair, WechatConfig
from siyu.fans.sms import SmsProvider
from siyu.fans.wechat import WechatError, WechatUser
from siyu.jobs import service as jobs
from siyu.kit.errors import AppError, Conflict, InvalidInput, NotAuthenticated, RateLimited
from siyu.kit.ids import new_id
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.security import hash_token, new_token, same, sign
from siyu.kit.time import utcnow
from siyu.kit.types import plain_text
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.members import service as members
from siyu.members.models import IdentityKind, Member
from siyu.tenants import service as tenants

log = structlog.get_logger("siyu.fans")

WECHAT_KEY = "wechat"
REFRESH_DAYS = 30
CODE_SECONDS = 5 * 60
RESEND_SECONDS = 60
SEND_LIMITS = ("1/minute", "5/hour", "10/day")  # per phone number
SEND_IP_LIMIT = "30/hour"
VERIFY_LIMIT = "5/10minutes"  # wrong codes per phone number, then it is locked until the window passes
SYSTEM_LABEL = "会员登录"
MERGED_JOB = "fans.merged"  # the domains above fans move what they keep of a merged member (siyu.fans.events)


class CodeInvalid(InvalidInput):
    code = "sms_code_invalid"
    message = "验证码不正确或已过期，请重新输入"


class CodeRequired(InvalidInput):
    code = "sms_code_required"
    message = "请输入验证码"


class CodeLocked(RateLimited):
    code = "sms_code_locked"
    message = "验证码输错次数太多，请 10 分钟后重新获取"


class SendTooOften(RateLimited):
    code = "sms_too_often"
    message = "验证码发送太频繁，请稍后再试"


class TokenInvalid(NotAuthenticated):
    code = "fan_token_invalid"
    message = "登录已过期，请重新登录"


class WechatNotConfigured(AppError):
    status = 404
    code = "wechat_not_configured"
    message = "这个会员中心没有开通微信登录"


class DemoOnly(AppError):
    status = 404
    code = "demo_only"
    message = "只有演示站点可以用演示会员登录"


class MergeRefused(Conflict):
    code = "merge_refused"
    message = "这两个会员不能合并"


# Sessions
#
# A session is a family of refresh tokens: an API client's (each refresh uses one up and issues the next) or the
# H5's (one token never handed out; the cookie names the family). Ending a session revokes its family. Access
# tokens and H5 cookies carry the session id. The claim route (every claim of a live show) must not read the
# database to check it, so an access token lives only ACCESS_SECONDS and is checked against the sessions this
# process saw end; the H5 checks a session against the database at most once per CHECK_SECONDS per process.
# A session ended by another process is refused there within ACCESS_SECONDS / CHECK_SECONDS; by this process, at
# once.

ACCESS_SECONDS = 5 * 60
CHECK_SECONDS = 5 * 60
_ended: dict[int, float] = {}  # session id -> when this process ended it (kept while its tokens could live)
_alive: dict[int, float] = {}  # session id -> when this process last found it alive in the database
_MAX_ALIVE = 100_000


def ended_here(session_id: int) -> bool:
    return session_id in _ended


def _forget_ended(now: float) -> None:
    for sid in [sid for sid, at in _ended.items() if at < now - max(ACCESS_SECONDS, CHECK_SECONDS)]:
        del _ended[sid]


def end_here(*session_ids: int) -> None:
    """Sessions this process ended: refused at once here (other processes refuse them within the windows)."""
    now = time.time()
    _forget_ended(now)
    for sid in session_ids:
        _ended[sid] = now
        _alive.pop(sid, None)


def access_token(
    secret: str, *, tenant_id: int, member_id: int, session_id: int | None = None, now: float | None = None
) -> str:
    """A short-lived bearer token: who she is, in which session, until when, signed with the server's secret."""
    expires = int((now or time.time()) + ACCESS_SECONDS)
    payload = f"fa2.{tenant_id}.{member_id}.{session_id or new_id()}.{expires}"
    return f"{payload}.{sign(secret, payload)}"


def read_access_token(secret: str, token: str, *, now: float | None = None) -> tuple[int, int] | None:
    """(tenant, member) of a valid access token; None when it is forged, malformed, expired or its session was
    ended in this process. Never reads the database."""
    parts = token.split(".")
    if len(parts) != 6 or parts[0] != "fa2" or not all(p.isdigit() and len(p) < 20 for p in parts[1:5]):
        return None
    payload = ".".join(parts[:5])
    if not same(parts[5], sign(secret, payload)) or int(parts[4]) < (now or time.time()):
        return None
    if int(parts[3]) in _ended:
        return None
    return int(parts[1]), int(parts[2])


async def session_alive(session: AsyncSession, *, tenant_id: int, session_id: int, now: datetime | None = None) -> bool:
    """Whether the H5 session is still on: not ended here, and found alive in the database within CHECK_SECONDS."""
    if session_id in _ended:
        return False
    clock = time.time()
    checked = _alive.get(session_id)
    if checked is not None and checked > clock - CHECK_SECONDS:
        return True
    if not await repository.family_alive(session, tenant_id=tenant_id, family_id=session_id, now=now or utcnow()):
        return False
    if len(_alive) >= _MAX_ALIVE:
        _alive.clear()
    _alive[session_id] = clock
    return True


async def open_h5_session(
    session: AsyncSession, *, tenant_id: int, member_id: int, days: int, now: datetime | None = None
) -> int:
    """A session for the H5's cookie: a family of one token that is never handed out. Returns its id."""
    now = now or utcnow()
    row = RefreshToken(
        tenant_id=tenant_id,
        id=new_id(),
        member_id=member_id,
        family_id=new_id(),
        token_hash=hash_token(new_token()),
        expires_at=now + timedelta(days=days),
        created_at=now,
    )
    repository.add(session, row)
    await session.flush()
    _alive[row.family_id] = time.time()
    return row.family_id


async def end_session(session: AsyncSession, *, tenant_id: int, session_id: int, now: datetime | None = None) -> None:
    await repository.revoke_family(session, tenant_id=tenant_id, family_id=session_id, now=now or utcnow())
    end_here(session_id)


async def issue_tokens(
    session: AsyncSession,
    *,
    secret: str,
    tenant_id: int,
    member_id: int,
    family_id: int | None = None,
    now: datetime | None = None,
) -> TokenPair:
    now = now or utcnow()
    refresh = new_token()
    row = RefreshToken(
        tenant_id=tenant_id,
        id=new_id(),
        member_id=member_id,
        family_id=family_id or new_id(),
        token_hash=hash_token(refresh),
        expires_at=now + timedelta(days=REFRESH_DAYS),
        created_at=now,
    )
    repository.add(session, row)
    await session.flush()
    return TokenPair(
        access_token=access_token(
            secret, tenant_id=tenant_id, member_id=member_id, session_id=row.family_id, now=now.timestamp()
        ),
        expires_in=ACCESS_SECONDS,
        refresh_token=refresh,
        refresh_expires_at=row.expires_at,
        member_id=member_id,
    )


@dataclass(frozen=True)
class Refreshed:
    tokens: TokenPair | None
    error: AppError | None = None


async def refresh(
    session: AsyncSession, *, secret: str, tenant_id: int, token: str, now: datetime | None = None
) -> Refreshed:
    """Trade a refresh token for a new pair; the old one is used up. A used token presented again was copied:
    its whole family is revoked and the caller must commit before answering (hence no exception)."""
    now = now or utcnow()
    row = await repository.refresh_token(session, token_hash=hash_token(token))
    if row is None or row.tenant_id != tenant_id or row.revoked_at is not None or row.expires_at <= now:
        return Refreshed(None, TokenInvalid())
    if row.used_at is not None or not await repository.use_refresh_token(
        session, tenant_id=tenant_id, token_id=row.id, now=now
    ):
        await end_session(session, tenant_id=tenant_id, session_id=row.family_id, now=now)
        log.warning("fans.refresh_reused", tenant_id=tenant_id, member_id=row.member_id)
        return Refreshed(None, TokenInvalid("登录状态异常，请重新登录", code="fan_token_reused"))
    member = await members.current(session, tenant_id=tenant_id, member_id=row.member_id)
    if member is None:
        return Refreshed(None, TokenInvalid())
    tokens = await issue_tokens(
        session, secret=secret, tenant_id=tenant_id, member_id=member.id, family_id=row.family_id, now=now
    )
    return Refreshed(tokens)


async def sign_out(session: AsyncSession, *, tenant_id: int, token: str, now: datetime | None = None) -> None:
    row = await repository.refresh_token(session, token_hash=hash_token(token))
    if row is not None and row.tenant_id == tenant_id:
        await end_session(session, tenant_id=tenant_id, session_id=row.family_id, now=now)


async def end_sessions_of(
    session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime | None = None
) -> None:
    """End every session of the member (merged away, removed by staff)."""
    end_here(*await repository.revoke_member(session, tenant_id=tenant_id, member_id=member_id, now=now or utcnow()))


async def fan_member(session: AsyncSession, *, tenant_id: int, member_id: int) -> Member | None:
    """The member a session names now (a merged member's session carries on as the member she joined)."""
    member = await members.current(session, tenant_id=tenant_id, member_id=member_id)
    return member if member is not None and member.status == "active" else None


# Phone and one-time code


def _phone_hash(secret: str, tenant_id: int, phone: str) -> str:
    return sign(secret, f"phone:{tenant_id}:{phone}")


def _code_hash(secret: str, code_id: int, code: str) -> str:
    return sign(secret, f"sms:{code_id}:{code}")


@dataclass(frozen=True)
class SentCode:
    expires_in: int
    resend_in: int
    code: str  # for the logging provider's demo page only; never returned elsewhere


async def send_code(
    session: AsyncSession,
    *,
    secret: str,
    tenant_id: int,
    phone: str,
    ip: str,
    limiter: RateLimiter,
    sms: SmsProvider,
    now: datetime | None = None,
) -> SentCode:
    """Send a 6-digit code to the phone. At most one a minute, five an hour and ten a day per number, and a
    cap per IP. A new code replaces the one before."""
    now = now or utcnow()
    phone = members.normalise_identity(IdentityKind.phone, phone)
    tenant = await tenants.get_tenant(session, tenant_id)
    phone_hash = _phone_hash(secret, tenant_id, phone)
    # Counted before anything is sent, one atomic step per limit (the tightest first): of many parallel
    # requests, only as many codes go out as the limits allow.
    for rule in SEND_LIMITS:
        if not await limiter.hit(rule, "sms-send", phone_hash):
            raise SendTooOften()
    if not await limiter.hit(SEND_IP_LIMIT, "sms-send-ip", f"{tenant_id}:{sign(secret, ip)[:16]}"):
        raise SendTooOften()
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = SmsCode(
        tenant_id=tenant_id,
        id=new_id(),
        phone_hash=phone_hash,
        code_hash="",
        expires_at=now + timedelta(seconds=CODE_SECONDS),
        created_at=now,
    )
    row.code_hash = _code_hash(secret, row.id, code)
    repository.add(session, row)
    await session.flush()
    await sms.send_code(phone=phone, code=code, sign_name=tenant.name)
    log.info("fans.code_sent", tenant_id=tenant_id, phone=members.phone_fingerprint(phone))
    return SentCode(expires_in=CODE_SECONDS, resend_in=RESEND_SECONDS, code=code)


async def sign_in_with_code(
    session: AsyncSession,
    *,
    secret: str,
    tenant_id: int,
    phone: str,
    code: str,
    limiter: RateLimiter,
    signed_in_as: int | None = None,
    now: datetime | None = None,
) -> Member:
    """Check the code (five tries, counted before checking, lock the number for 10 minutes) and return her
    member: the one with this phone, or a new one. Signed in already (by WeChat) as another member: the two
    are one person."""
    now = now or utcnow()
    if not code.strip():
        raise CodeRequired()  # not a try: nothing was compared
    phone = members.normalise_identity(IdentityKind.phone, phone)
    phone_hash = _phone_hash(secret, tenant_id, phone)
    # Every try is counted before the code is compared, atomically: parallel guesses get five checks, not more.
    if not await limiter.hit(VERIFY_LIMIT, "sms-verify", phone_hash):
        raise CodeLocked()
    row = await repository.latest_code(session, tenant_id=tenant_id, phone_hash=phone_hash)
    fresh = row is not None and row.used_at is None and row.expires_at > now
    if row is None or not fresh or not same(row.code_hash, _code_hash(secret, row.id, code.strip())):
        log.info("fans.code_wrong", tenant_id=tenant_id, phone=members.phone_fingerprint(phone))
        raise CodeInvalid()
    if not await repository.use_code(session, tenant_id=tenant_id, code_id=row.id, now=now):
        raise CodeInvalid()
    await limiter.clear(VERIFY_LIMIT, "sms-verify", phone_hash)
    return await _one_person(
        session,
        tenant_id=tenant_id,
        identities=[(IdentityKind.phone, phone)],
        nickname=f"会员{phone[-4:]}",
        signed_in_as=signed_in_as,
        now=now,
    )


# What she sees of herself


PLATFORM_OF_KIND: dict[str, str] = {
    IdentityKind.phone: "手机号",
    IdentityKind.wechat_openid: "微信",
    IdentityKind.wechat_unionid: "微信",
    IdentityKind.channels_openid: "视频号",
    IdentityKind.taobao_nick: "淘宝",
    IdentityKind.taobao_open_uid: "淘宝",
    IdentityKind.douyin_open_id: "抖音",
    IdentityKind.kuaishou_id: "快手",
}
NAMED_KINDS = frozenset({IdentityKind.taobao_nick})  # the value is a name she chose, shown masked
DEFAULT_NICKNAME = "会员"  # phone sign-ins are named 会员 + the number's last four digits


def mask_name(name: str) -> str:
    """A nickname as others may glimpse it over her shoulder: 小鱼儿 -> 小*儿, 小鱼 -> 小*."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return f"{name[0]}*"
    return f"{name[0]}{'*' * min(len(name) - 2, 4)}{name[-1]}"


@dataclass(frozen=True)
class ShownIdentity:
    """A bound account as the fan sees it: the platform's name and a masked account, never the raw id."""

    kind: str
    platform: str
    account: str  # masked phone, masked nickname, or "" for an id only the platform knows
    bound_at: datetime
    ref: str  # names the account in an unbind form without showing it


def identity_ref(secret: str, *, member_id: int, kind: str, value: str) -> str:
    return sign(secret, f"identity:{member_id}:{kind}:{value}")[:20]


def shown_identity(secret: str, *, member: Member, kind: str, value: str, bound_at: datetime) -> ShownIdentity:
    if kind == IdentityKind.phone:
        account = members.mask(kind, value)
    elif kind in NAMED_KINDS:
        account = mask_name(value)
    elif kind in (IdentityKind.wechat_openid, IdentityKind.wechat_unionid) and not _default_name(member.nickname):
        account = mask_name(member.nickname)  # her WeChat nickname, taken when she signed in with WeChat
    else:
        account = ""
    return ShownIdentity(
        kind=kind,
        platform=PLATFORM_OF_KIND.get(kind, "其他平台"),
        account=account,
        bound_at=bound_at,
        ref=identity_ref(secret, member_id=member.id, kind=kind, value=value),
    )


def _default_name(nickname: str) -> bool:
    return not nickname.strip() or nickname in ("微信会员", "演示会员") or nickname.startswith(DEFAULT_NICKNAME)


def display_name(member: Member, phone: str | None) -> str:
    """Who the H5 greets: her nickname, else her masked phone number."""
    if member.nickname.strip() and not (member.nickname.startswith(DEFAULT_NICKNAME) and phone):
        return member.nickname.strip()
    return members.mask(IdentityKind.phone, phone) if phone else "会员"


# WeChat


async def wechat_config(session: AsyncSession, tenant_id: int) -> WechatConfig:
    tenant = await tenants.get_tenant(session, tenant_id)
    try:
        return WechatConfig.model_validate((tenant.settings or {}).get(WECHAT_KEY) or {})
    except ValidationError:
        return WechatConfig()


async def save_wechat_config(session: AsyncSession, *, actor: Principal, config: WechatConfig) -> WechatConfig:
    after = config.model_dump(mode="json")
    before = await tenants.put_setting(session, tenant_id=actor.tenant_id, key=WECHAT_KEY, value=after)
    if before != after:
        hidden = {"app_secret": "***", "mini_app_secret": "***"}
        audit.record(
            session,
            actor=actor,
            action="fans.wechat",
            target_type="tenant",
            target_id=actor.tenant_id,
            before={**(before or {}), **hidden} if before else {},
            after={**after, **hidden},
        )
    return config


async def sign_in_wechat(
    session: AsyncSession,
    *,
    tenant_id: int,
    user: WechatUser,
    signed_in_as: int | None = None,
    now: datetime | None = None,
) -> Member:
    """Her member for a WeChat account: by openid, else by unionid (the same person in another app of the
    tenant), else a new member."""
    # What WeChat sent is outside text: no NUL, no lone surrogate, no longer than the columns.
    openid, unionid = plain_text(user.openid, 128), plain_text(user.unionid, 128)
    if not openid:
        raise WechatError()
    identities: list[tuple[str, str]] = [(IdentityKind.wechat_openid, openid)]
    if unionid:
        identities.append((IdentityKind.wechat_unionid, unionid))
    return await _one_person(
        session,
        tenant_id=tenant_id,
        identities=identities,
        nickname=plain_text(user.nickname, 100) or "微信会员",
        signed_in_as=signed_in_as,
        now=now or utcnow(),
    )


async def _one_person(
    session: AsyncSession,
    *,
    tenant_id: int,
    identities: list[tuple[str, str]],
    nickname: str,
    signed_in_as: int | None,
    now: datetime,
) -> Member:
    """The member these proven identities (and the session she already has) belong to. Several members
    found: they are one person, merged into the oldest. None: a new member."""
    found: dict[int, Member] = {}
    for kind, value in identities:
        member = await members.find_by_identity(session, tenant_id=tenant_id, kind=kind, value=value)
        if member is not None:
            member = await members.current(session, tenant_id=tenant_id, member_id=member.id)
        if member is not None and member.status == "active":
            found[member.id] = member
    if signed_in_as is not None:
        current = await fan_member(session, tenant_id=tenant_id, member_id=signed_in_as)
        if current is not None:
            found[current.id] = current
    if not found:
        member = await members.create_member(session, tenant_id=tenant_id, nickname=nickname)
        log.info("fans.joined", tenant_id=tenant_id, member_id=member.id)
    else:
        member, *others = sorted(found.values(), key=lambda m: (m.created_at, m.id))
        for other in others:
            await merge_members(
                session,
                tenant_id=tenant_id,
                from_member_id=other.id,
                into_member_id=member.id,
                reason="同一人登录时验证了两个会员的账号",
                now=now,
            )
    for kind, value in identities:
        await members.bind_identity(session, tenant_id=tenant_id, member=member, kind=kind, value=value)
    named = nickname and not nickname.startswith("会员")
    if named and (not member.nickname or member.nickname.startswith("会员")):
        member.nickname = nickname[:100]
    return member


async def demo_member(session: AsyncSession, *, tenant_id: int) -> Member:
    """The demo fan: the member with the most points (a new one on an empty tenant)."""
    member_id = await ledger.richest_member(session, tenant_id=tenant_id)
    if member_id is not None:
        return await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    return await members.create_member(session, tenant_id=tenant_id, nickname="演示会员")


# One ID


async def merge_members(
    session: AsyncSession,
    *,
    tenant_id: int,
    from_member_id: int,
    into_member_id: int,
    reason: str,
    actor: Principal | None = None,
    now: datetime | None = None,
) -> None:
    """Two members are one person: the first joins the second. Points (with their holds and expiry) move
    through the ledger's merge, identities and claims follow, her sessions end; audited."""
    now = now or utcnow()
    if from_member_id == into_member_id:
        raise MergeRefused("不能把会员合并到自己")
    source = await members.get_member(session, tenant_id=tenant_id, member_id=from_member_id)
    target = await members.get_member(session, tenant_id=tenant_id, member_id=into_member_id)
    if source.status != "active" or target.status != "active":
        raise MergeRefused("已合并过的会员不能再合并")
    await ledger.merge(
        session,
        tenant_id=tenant_id,
        from_member_id=from_member_id,
        into_member_id=into_member_id,
        created_by=actor.label if actor else SYSTEM_LABEL,
        now=now,
    )
    moved = await members.absorb(
        session, tenant_id=tenant_id, from_member_id=from_member_id, into_member_id=into_member_id
    )
    claimed = await claims.move_member(
        session, tenant_id=tenant_id, from_member_id=from_member_id, into_member_id=into_member_id
    )
    await end_sessions_of(session, tenant_id=tenant_id, member_id=from_member_id, now=now)
    await loyalty.refresh_tiers(session, tenant_id=tenant_id, member_ids=[into_member_id], now=now)
    # what the domains above keep per member (task completions, check-ins, invitations) follows by a job
    await jobs.enqueue(
        session,
        MERGED_JOB,
        {"from_member_id": from_member_id, "into_member_id": into_member_id},
        tenant_id=tenant_id,
        dedupe_key=f"{MERGED_JOB}:{tenant_id}:{from_member_id}",
    )
    await session.refresh(source)
    who = actor or Principal(tenant_id=tenant_id, kind="system", actor_id=None, label=SYSTEM_LABEL)
    audit.record(
        session,
        actor=who,
        action="member.merge",
        target_type="member",
        target_id=into_member_id,
        before={"member_id": from_member_id, "nickname": source.nickname},
        after={"into": into_member_id, "identities": moved, "claims": claimed, "reason": reason},
    )
    log.info("fans.merged", tenant_id=tenant_id, from_member=from_member_id, into_member=into_member_id)


async def bind_for_staff(session: AsyncSession, *, actor: Principal, member_id: int, kind: str, value: str) -> None:
    """Ops bind an account to a member; a platform account's orders are then credited to her by a job."""
    member = await members.get_member(session, tenant_id=actor.tenant_id, member_id=member_id)
    identity = await members.bind_identity(session, tenant_id=actor.tenant_id, member=member, kind=kind, value=value)
    await claims.enqueue_bound(session, tenant_id=actor.tenant_id, member_id=member_id)
    audit.record(
        session,
        actor=actor,
        action="member.bind",
        target_type="member",
        target_id=member_id,
        after={"kind": kind, "value": members.mask(kind, identity.value)},
    )


async def unbind_for_staff(session: AsyncSession, *, actor: Principal, member_id: int, kind: str, value: str) -> None:
    await members.unbind_identity(session, tenant_id=actor.tenant_id, member_id=member_id, kind=kind, value=value)
    audit.record(
        session,
        actor=actor,
        action="member.unbind",
        target_type="member",
        target_id=member_id,
        before={"kind": kind, "value": members.mask(kind, value)},
    )
