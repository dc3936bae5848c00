"""Signing in on the H5: phone code, WeChat OAuth round trip (with a state bound to the browser), binding a
phone while signed in (two members of one person merge), and unbinding accounts."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.fans.service import identity_ref
from siyu.fans.wechat import WechatClient
from siyu.h5.fans import cookie_name
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.fans.conftest import sent_code
from tests.support import factories
from tests.support.fake_wechat import APP_ID, APP_SECRET, FakeWechat
from tests.support.fans import h5_cookies

PHONE = "13900139000"


def _token(page: httpx.Response) -> str:
    """The login form's CSRF token (its cookie is in the client's jar)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the login form carries a CSRF token"
    return match.group(1)


async def test_phone_code_sign_in_keeps_what_she_typed_on_a_mistake(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    base = f"/h5/{tenant.slug}"
    page = await client.get(f"{base}/login?next={base}/claim")
    assert page.status_code == 200 and 'id="phone-login"' in page.text and "wechat-login" not in page.text

    token = _token(page)
    sent = await client.post(
        f"{base}/login/code", data={"phone": PHONE, "csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert sent.status_code == 200 and "验证码已发送" in sent.text and sent_code(app, PHONE) not in sent.text  # no demo
    wrong = await client.post(
        f"{base}/login",
        data={"phone": PHONE, "code": "999999" if sent_code(app, PHONE) != "999999" else "1", "csrf_token": token},
    )
    assert wrong.status_code == 422 and "验证码不正确" in wrong.text and f'value="{PHONE}"' in wrong.text
    signed = await client.post(
        f"{base}/login",
        data={"phone": PHONE, "code": sent_code(app, PHONE), "next": f"{base}/claim", "csrf_token": token},
    )
    assert signed.status_code == 303 and signed.headers["location"] == f"{base}/claim"
    assert cookie_name(tenant.slug) in signed.cookies


async def test_wechat_round_trip_signs_in_and_a_forged_state_is_refused(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, wechat: tuple[FakeWechat, str]
) -> None:
    app.state.wechat = WechatClient(wechat[1])
    tenant = await factories.tenant(session)
    await tenants.put_setting(
        session, tenant_id=tenant.id, key="wechat", value={"app_id": APP_ID, "app_secret": APP_SECRET}
    )
    base = f"/h5/{tenant.slug}"
    assert 'id="wechat-login"' in (await client.get(f"{base}/login")).text

    start = await client.get(f"{base}/wechat?next={base}/points")
    assert start.status_code == 303
    target = urlsplit(start.headers["location"])
    query = parse_qs(target.query)
    assert target.netloc == "open.weixin.qq.com" and target.fragment == "wechat_redirect"
    assert query["appid"] == [APP_ID] and query["scope"] == ["snsapi_userinfo"]
    assert query["redirect_uri"] == [f"http://testserver{base}/wechat/callback"]
    state = query["state"][0]
    assert state.isalnum()
    cookies = {"siyu_wx_state": start.cookies["siyu_wx_state"]}

    forged = await client.get(f"{base}/wechat/callback", params={"code": "ok:h5-1", "state": "other"}, cookies=cookies)
    assert forged.status_code == 400 and "登录已过期" in forged.text
    bad = await client.get(f"{base}/wechat/callback", params={"code": "bad", "state": state}, cookies=cookies)
    assert bad.status_code == 400 and "微信授权已失效" in bad.text
    back = await client.get(f"{base}/wechat/callback", params={"code": "ok:h5-1:u-h5", "state": state}, cookies=cookies)
    assert back.status_code == 303 and back.headers["location"] == f"{base}/points"
    member = await members.find_by_identity(session, tenant_id=tenant.id, kind="wechat_openid", value="h5-1")
    assert member is not None and back.cookies[cookie_name(tenant.slug)].startswith(f"{tenant.id}.{member.id}.")


async def test_binding_a_phone_merges_the_member_it_belonged_to(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    base = f"/h5/{tenant.slug}"
    older = await members.create_member(session, tenant_id=tenant.id, nickname="老会员")
    await members.bind_identity(session, tenant_id=tenant.id, member=older, kind="phone", value=PHONE)
    await ledger.earn(session, tenant_id=tenant.id, member_id=older.id, amount=30, source_ref="order:taobao:9")
    newer = await members.create_member(session, tenant_id=tenant.id, nickname="微信会员")
    await members.bind_identity(session, tenant_id=tenant.id, member=newer, kind="wechat_openid", value="oa-77")
    await ledger.earn(session, tenant_id=tenant.id, member_id=newer.id, amount=20, source_ref="order:taobao:10")

    jar = await h5_cookies(app, session, tenant, newer.id)

    accounts = await client.get(f"{base}/accounts", cookies=jar)
    assert accounts.status_code == 200 and 'id="bind-phone"' in accounts.text
    bind_page = await client.get(f"{base}/login?bind=1", cookies=jar)
    assert bind_page.status_code == 200 and "验证并绑定" in bind_page.text
    form = {"phone": PHONE, "csrf_token": _token(bind_page), "bind": "1"}
    await client.post(f"{base}/login/code", data=form, cookies=jar)
    done = await client.post(f"{base}/login", data={**form, "code": sent_code(app, PHONE)}, cookies=jar)
    assert done.status_code == 303
    assert done.cookies[cookie_name(tenant.slug)].startswith(f"{tenant.id}.{older.id}.")
    assert (await ledger.balance(session, tenant_id=tenant.id, member_id=older.id)).available == 50
    # The merge ended the merged member's sessions: her old cookie signs no one in; the new one is the member's.
    assert (await client.get(f"{base}/accounts", cookies=jar)).status_code == 303
    jar = {cookie_name(tenant.slug): done.cookies[cookie_name(tenant.slug)]}
    merged_view = await client.get(f"{base}/accounts", cookies=jar)
    assert merged_view.status_code == 200

    secret = app.state.settings.secret_key
    page = merged_view.text
    assert "oa-77" not in page and ">微信<" in page and "绑定</div>" in page  # the platform and when, never the id
    ref = identity_ref(secret, member_id=older.id, kind="wechat_openid", value="oa-77")
    unbind = await client.post(f"{base}/accounts/unbind", data={"kind": "wechat_openid", "ref": ref}, cookies=jar)
    assert unbind.status_code == 303
    ref = identity_ref(secret, member_id=older.id, kind="phone", value=PHONE)
    last = await client.post(f"{base}/accounts/unbind", data={"kind": "phone", "ref": ref}, cookies=jar)
    assert last.status_code == 409 and "唯一的登录方式" in last.text


async def test_a_cross_site_sign_in_is_refused(app: FastAPI, client: httpx.AsyncClient, session: AsyncSession) -> None:
    """Login CSRF: another site's page cannot post a phone and code (its own) to sign the fan in as its account,
    nor make us send codes: without the token of our own login page, nothing happens."""
    tenant = await factories.tenant(session)
    base = f"/h5/{tenant.slug}"
    await members.bind_identity(
        session,
        tenant_id=tenant.id,
        member=await members.create_member(session, tenant_id=tenant.id, nickname="攻击者"),
        kind="phone",
        value=PHONE,
    )
    token = _token(await client.get(f"{base}/login"))
    assert (await client.post(f"{base}/login/code", data={"phone": PHONE, "csrf_token": token})).status_code == 200
    code = sent_code(app, PHONE)
    client.cookies.clear()  # the victim's browser: no cookie of our login page
    forged_send = await client.post(f"{base}/login/code", data={"phone": "13900139001"})
    assert forged_send.status_code == 403 and "页面已过期" in forged_send.text
    forged = await client.post(f"{base}/login", data={"phone": PHONE, "code": code, "csrf_token": token})
    assert forged.status_code == 403 and "页面已过期" in forged.text
    assert cookie_name(tenant.slug) not in forged.cookies


async def test_signing_in_while_signed_in_never_merges_without_the_binding_form(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    base = f"/h5/{tenant.slug}"
    other = await members.create_member(session, tenant_id=tenant.id, nickname="手机号会员")
    await members.bind_identity(session, tenant_id=tenant.id, member=other, kind="phone", value=PHONE)
    current = await members.create_member(session, tenant_id=tenant.id, nickname="微信会员")
    await members.bind_identity(session, tenant_id=tenant.id, member=current, kind="wechat_openid", value="oa-88")
    jar = await h5_cookies(app, session, tenant, current.id)

    token = _token(await client.get(f"{base}/login?bind=1", cookies=jar))
    await client.post(f"{base}/login/code", data={"phone": PHONE, "csrf_token": token}, cookies=jar)
    done = await client.post(
        f"{base}/login", data={"phone": PHONE, "code": sent_code(app, PHONE), "csrf_token": token}, cookies=jar
    )
    assert done.status_code == 303
    assert done.cookies[cookie_name(tenant.slug)].startswith(f"{tenant.id}.{other.id}.")  # signed in as the phone's
    kept = await members.identities_of(session, tenant_id=tenant.id, member_id=current.id)
    assert [(i.kind, i.value) for i in kept] == [("wechat_openid", "oa-88")]  # nothing bound, nothing merged
    assert [i.kind for i in await members.identities_of(session, tenant_id=tenant.id, member_id=other.id)] == ["phone"]
