from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.errors import InvalidInput
from siyu.members import service
from siyu.members.models import Member
from tests.support import factories


async def _owner_key(session: AsyncSession) -> tuple[int, dict[str, str]]:
    tenant = await factories.tenant(session)
    key = await factories.api_key(session, (await factories.staff_login(session, tenant.id)).principal)
    return tenant.id, {"Authorization": f"Bearer {key}"}


async def test_member_with_identities_is_found_by_any_of_them(client: httpx.AsyncClient, session: AsyncSession) -> None:
    _tenant_id, auth = await _owner_key(session)
    created = await client.post(
        "/api/v1/members",
        json={
            "nickname": "爱吃桃子",
            "identities": [{"kind": "phone", "value": "+86 138-0013-8000"}, {"kind": "taobao_nick", "value": "tb桃子"}],
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    detail = created.json()
    assert {(i["kind"], i["value"]) for i in detail["identities"]} == {
        ("phone", "13800138000"),
        ("taobao_nick", "tb桃子"),
    }
    for query in ("13800138000", "桃子", str(detail["id"])):
        found = await client.get("/api/v1/members", params={"q": query}, headers=auth)
        assert [m["id"] for m in found.json()["items"]] == [detail["id"]], query


async def test_an_identity_belongs_to_one_member_and_a_failed_create_leaves_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant_id, auth = await _owner_key(session)
    first = await client.post(
        "/api/v1/members", json={"identities": [{"kind": "phone", "value": "13900001111"}]}, headers=auth
    )
    assert first.status_code == 201
    before = await session.scalar(select(func.count()).select_from(Member).where(Member.tenant_id == tenant_id))
    second = await client.post(
        "/api/v1/members",
        json={
            "nickname": "重复",
            "identities": [{"kind": "wechat_openid", "value": "oNEW"}, {"kind": "phone", "value": "139 0000 1111"}],
        },
        headers=auth,
    )
    assert second.status_code == 409 and second.json()["code"] == "identity_taken"
    after = await session.scalar(select(func.count()).select_from(Member).where(Member.tenant_id == tenant_id))
    assert after == before  # the member row written before the conflict was rolled back with the request
    assert await service.find_by_identity(session, tenant_id=tenant_id, kind="wechat_openid", value="oNEW") is None


async def test_the_same_identity_in_two_tenants_is_two_people(session: AsyncSession) -> None:
    a = await factories.tenant(session)
    b = await factories.tenant(session)
    for tenant in (a, b):
        member = await factories.member(session, tenant.id)
        await service.bind_identity(session, tenant_id=tenant.id, member=member, kind="phone", value="13700000000")
    found_a = await service.find_by_identity(session, tenant_id=a.id, kind="phone", value="13700000000")
    found_b = await service.find_by_identity(session, tenant_id=b.id, kind="phone", value="13700000000")
    assert found_a is not None and found_b is not None and found_a.id != found_b.id


@given(st.text(alphabet="0123456789 -+()", min_size=0, max_size=20))
def test_phone_normalisation_accepts_only_mainland_mobiles(raw: str) -> None:
    digits = "".join(c for c in raw if c.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    valid = len(digits) == 11 and digits.startswith("1")
    if valid:
        assert service.normalise_identity("phone", raw) == digits
    else:
        with pytest.raises(InvalidInput):
            service.normalise_identity("phone", raw)


def test_phone_fingerprint_hides_the_number() -> None:
    fingerprint = service.phone_fingerprint("13800138000")
    assert "13800138000" not in fingerprint and len(fingerprint) == 12
