"""The HTTP API: upload (202, queued), the worker imports, progress, rejected rows, search and order detail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from siyu.app import create_app
from siyu.config import Settings, get_settings
from siyu.jobs.models import Job
from siyu.jobs.worker import Worker
from siyu.kit.ratelimit import RateLimiter
from siyu.tasks import load_handlers
from tests.orders import exports
from tests.orders.conftest import make_tenant
from tests.support import factories

MAIN = "6931234567890900000"


@dataclass
class Api:
    client: httpx.AsyncClient
    headers: dict[str, str]
    db: async_sessionmaker[AsyncSession]
    uploads: Path
    tenant_id: int

    async def upload(self, filename: str, data: bytes, **form: str) -> httpx.Response:
        return await self.client.post(
            "/api/v1/order-imports",
            files={"file": (filename, data, "text/csv")},
            data=form,
            headers=self.headers,
        )

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.client.get(f"/api/v1{path}", params=params, headers=self.headers)

    async def jobs(self) -> list[Job]:
        async with self.db() as session:
            return list(await session.scalars(select(Job).where(Job.tenant_id == self.tenant_id)))

    async def work(self) -> int:
        load_handlers()
        return await Worker(self.db).drain()


@pytest.fixture
async def api(
    orders_database_url: str,
    orders_engine: AsyncEngine,
    db: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Api]:
    # The app keeps uploads under its settings' data dir; the worker's handler finds them through
    # get_settings(): point both at this test's directory.
    data_dir = tmp_path / "var"
    monkeypatch.setenv("SIYU_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    settings = Settings(
        database_url=orders_database_url,
        env="test",
        embedded_worker=False,
        data_dir=data_dir,
        _env_file=None,  # type: ignore[call-arg]
    )
    app: FastAPI = create_app(settings)
    app.state.engine = orders_engine
    app.state.sessionmaker = db
    app.state.limiter = RateLimiter()
    tenant = await make_tenant(db)
    async with db() as session, session.begin():
        owner = await factories.staff_login(session, tenant.id)
        secret = await factories.api_key(session, owner.principal)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(
            client=client,
            headers={"Authorization": f"Bearer {secret}"},
            db=db,
            uploads=settings.uploads_dir,
            tenant_id=tenant.id,
        )
    get_settings.cache_clear()


def line(sub: str, *, paid: str = "1,000.00", after_sale: str = "-") -> dict[str, object]:
    return exports.douyin_row(
        MAIN, sub, title=f"商品{sub[-1]}", quantity="1", paid=paid, status="已完成", after_sale=after_sale
    )


FIRST = [line("6931234567890900001"), line("6931234567890900002"), line("6931234567890900003", paid="十块")]
SECOND = [line("6931234567890900001"), line("6931234567890900002", after_sale="退款成功")]


async def test_upload_import_progress_rejections_search_and_detail(api: Api) -> None:
    uploaded = await api.upload("抖店订单.csv", exports.douyin(FIRST))
    assert uploaded.status_code == 202, uploaded.text
    queued = uploaded.json()
    assert (queued["status"], queued["filename"], queued["requested_platform"]) == ("queued", "抖店订单.csv", "auto")
    assert isinstance(queued["job_id"], int) and queued["duplicate_of"] is None
    import_id = queued["id"]
    assert any(api.uploads.rglob(queued["sha256"]))  # the file is kept under its hash

    assert [(j.kind, j.payload) for j in await api.jobs()] == [("orders.import", {"import_id": import_id})]
    assert await api.work() >= 1
    # The import ran; the new orders were announced to whoever waits for them (claims).
    assert sorted((j.kind, j.status) for j in await api.jobs()) == [
        ("orders.arrived", "done"),
        ("orders.import", "done"),
    ]
    done = (await api.get(f"/order-imports/{import_id}")).json()
    assert (done["status"], done["platform"], done["layout"]) == ("done", "douyin", "douyin")
    assert (done["rows"], done["inserted"], done["updated"], done["unchanged"], done["rejected"]) == (3, 1, 0, 0, 1)
    assert done["finished_at"] is not None

    rejected = await api.get(f"/order-imports/{import_id}/rejections")
    assert rejected.status_code == 200
    assert rejected.json() == [{"row": 4, "order_id": MAIN, "reason": "实付金额无法识别：十块"}]

    found = (await api.get("/orders", q=MAIN)).json()
    assert found["total"] == 1
    order = found["items"][0]
    assert (order["platform"], order["order_id"], order["status"]) == ("douyin", MAIN, "completed")
    assert (order["paid_fen"], order["refund_fen"], order["item_count"]) == (200000, 0, 2)
    assert order["paid_at"].replace("+00:00", "Z") == "2026-11-10T16:01:30Z"
    assert (await api.get("/orders", q="6931234567890")).json()["total"] == 1  # an id prefix finds it too

    # A newer export: one line refunded after sale.
    newer = await api.upload("抖店订单-新.csv", exports.douyin(SECOND))
    assert newer.status_code == 202
    await api.work()
    detail = await api.get(f"/orders/douyin/{MAIN}")
    assert detail.status_code == 200
    body = detail.json()
    assert (body["status"], body["paid_fen"], body["refund_fen"]) == ("completed", 200000, 100000)
    assert (body["first_import_id"], body["last_import_id"]) == (import_id, newer.json()["id"])
    assert [(i["sub_id"], i["status"], i["paid_fen"], i["refund_fen"]) for i in body["items"]] == [
        ("6931234567890900001", "completed", 100000, 0),
        ("6931234567890900002", "refunded", 100000, 100000),
    ]
    assert [
        (c["import_id"], c["from_status"], c["to_status"], c["from_refund_fen"], c["to_refund_fen"])
        for c in body["changes"]
    ] == [(newer.json()["id"], "completed", "completed", 0, 100000)]

    # The same file again is recognised and not queued.
    same = await api.upload("抖店订单-新-副本.csv", exports.douyin(SECOND))
    assert same.status_code == 202
    assert (same.json()["status"], same.json()["duplicate_of"], same.json()["job_id"]) == (
        "done",
        newer.json()["id"],
        None,
    )
    assert (await api.get(f"/orders/douyin/{MAIN}")).json()["last_import_id"] == newer.json()["id"]

    listed = (await api.get("/order-imports")).json()
    assert listed["total"] == 3


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("会员.csv", exports.member_list(), "not_an_order_export"),
        ("坏的.xlsx", exports.corrupt_xlsx(), "corrupt_xlsx"),
        ("炸弹.xlsx", exports.zip_bomb_xlsx(), "xlsx_too_large"),
        ("空.csv", b"", "empty_file"),
        ("京东.csv", exports.unknown_layout(), "unknown_layout"),
    ],
)
async def test_a_refused_upload_is_422_and_stores_no_import(api: Api, filename: str, data: bytes, code: str) -> None:
    response = await api.upload(filename, data)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert (await api.get("/order-imports")).json()["total"] == 0
    assert not api.uploads.exists() or not any(p.is_file() for p in api.uploads.rglob("*"))
    assert await api.jobs() == []  # nothing queued
    assert (await api.get("/orders")).json()["total"] == 0


async def test_order_detail_of_an_unknown_order_is_404(api: Api) -> None:
    response = await api.get("/orders/taobao/1930679858170649999")
    assert response.status_code == 404 and response.json()["code"] == "order_not_found"
    assert (await api.get("/order-imports/12345")).json()["code"] == "import_not_found"


async def test_uploading_needs_a_key(api: Api) -> None:
    response = await api.client.post("/api/v1/order-imports", files={"file": ("a.csv", exports.douyin(), "text/csv")})
    assert response.status_code == 401


async def test_an_xlsx_upload_does_not_stall_other_requests(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sheet is looked at in a thread: while it is, the event loop keeps serving everyone else."""
    import asyncio
    import time

    import fastexcel  # noqa: F401 - imported once per process; its first import is not what is measured

    from siyu.orders import reading

    checking = reading.check_xlsx

    def slow_check(path: Path) -> int:
        time.sleep(2.0)  # a large, honest sheet being counted
        return checking(path)

    monkeypatch.setattr(reading, "check_xlsx", slow_check)
    longest = 0.0

    async def tick() -> None:
        nonlocal longest
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            longest = max(longest, time.monotonic() - before)

    ticker = asyncio.create_task(tick())
    try:
        assert (await api.upload("订单.xlsx", exports.taobao_new_xlsx())).status_code == 202
    finally:
        ticker.cancel()
    assert longest < 1.0  # on the loop, the check would have held it for 2 s
