"""The `siyu` command on a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli import app
from siyu.config import get_settings
from tests.support.databases import fresh_database

runner = CliRunner()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_database(tmp_path, "cli", migrate=False) as url:
        monkeypatch.setenv("SIYU_DATABASE_URL", url)
        monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path / "var"))  # the demo's pictures stay with the test
        get_settings.cache_clear()
        yield url
    get_settings.cache_clear()


def test_upgrade_create_tenant_and_staff(cli_database: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(app, ["tenant", "create", "jiaoge", "--name", "交个朋友"])
    assert created.exit_code == 0, created.output
    assert "/h5/jiaoge/" in created.output
    staff = runner.invoke(
        app,
        [
            "staff",
            "create",
            "--tenant",
            "jiaoge",
            "--email",
            "Ops@Example.com",
            "--role",
            "operator",
            "--password",
            "long-enough-1",
        ],
    )
    assert staff.exit_code == 0, staff.output
    assert "ops@example.com" in staff.output


def test_bad_input_exits_non_zero_with_a_message(cli_database: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    bad_slug = runner.invoke(app, ["tenant", "create", "Bad Slug!", "--name", "x"])
    assert bad_slug.exit_code == 2 and "invalid_slug" in bad_slug.output
    assert runner.invoke(app, ["tenant", "create", "dup-host", "--name", "一"]).exit_code == 0
    duplicate = runner.invoke(app, ["tenant", "create", "dup-host", "--name", "二"])
    assert duplicate.exit_code == 2 and "slug_taken" in duplicate.output
    no_tenant = runner.invoke(
        app,
        ["staff", "create", "--tenant", "nope", "--email", "a@b.c", "--role", "owner", "--password", "long-enough-1"],
    )
    assert no_tenant.exit_code == 2 and "tenant_not_found" in no_tenant.output
    bad_role = runner.invoke(
        app,
        [
            "staff",
            "create",
            "--tenant",
            "dup-host",
            "--email",
            "a@b.c",
            "--role",
            "boss",
            "--password",
            "long-enough-1",
        ],
    )
    assert bad_role.exit_code == 2 and "invalid_role" in bad_role.output


def test_demo_loads_once(cli_database: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(app, ["demo", "--members", "25"])
    assert first.exit_code == 0, first.output
    assert "已载入" in first.output and "owner@demo.siyu.local" in first.output and "/h5/xinghe/" in first.output
    assert "积分商城：奖品 9 个" in first.output
    assert "积分任务：任务 5 个" in first.output
    assert "直播预告：已播 5 场，即将开播 3 场" in first.output
    second = runner.invoke(app, ["demo", "--members", "25"])
    assert second.exit_code == 0 and "已存在" in second.output and "会员 25 位" in second.output


def test_ledger_sweep_expires_by_hand_and_a_second_run_changes_nothing(cli_database: str) -> None:
    import asyncio
    from datetime import timedelta

    from siyu import db
    from siyu.kit.time import utcnow
    from siyu.ledger import service as ledger
    from siyu.members import service as members
    from siyu.tenants import service as tenants

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["tenant", "create", "sweep-host", "--name", "扫描"]).exit_code == 0

    async def points_that_expired_yesterday() -> None:
        engine = db.create_engine(cli_database)
        async with db.create_sessionmaker(engine)() as session, session.begin():
            tenant = await tenants.get_by_slug(session, "sweep-host")
            fan = await members.create_member(session, tenant_id=tenant.id, nickname="小鱼")
            earned = utcnow() - timedelta(days=3)
            await ledger.earn(
                session,
                tenant_id=tenant.id,
                member_id=fan.id,
                amount=30,
                source_ref="order:taobao:1",
                expires_at=earned + timedelta(days=2),
                now=earned,
            )
        await engine.dispose()

    asyncio.run(points_that_expired_yesterday())
    first = runner.invoke(app, ["ledger", "sweep", "--tenant", "sweep-host"])
    assert first.exit_code == 0, first.output
    assert "sweep-host: 入账 0 笔，过期 1 笔" in first.output
    again = runner.invoke(app, ["ledger", "sweep"])
    assert again.exit_code == 0 and "过期 0 笔" in again.output
    unknown = runner.invoke(app, ["ledger", "sweep", "--tenant", "nope"])
    assert unknown.exit_code == 2 and "tenant_not_found" in unknown.output


def test_help_is_in_chinese_and_serve_shows_its_defaults() -> None:
    for args in (["--help"], ["serve", "--help"], ["staff", "create", "--help"], ["orders", "--help"]):
        shown = runner.invoke(app, args, env={"COLUMNS": "160"})
        assert shown.exit_code == 0, shown.output
        assert "用法：" in shown.output and "显示帮助并退出" in shown.output
        for english in ("Usage:", "Show this message", "Options", "Commands", "[default"):
            assert english not in shown.output, (args, english)
    serve = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "160"}).output
    assert "默认：127.0.0.1" in serve and "默认：8000" in serve
    assert "所有者" in runner.invoke(app, ["staff", "create", "--help"], env={"COLUMNS": "160"}).output


def test_the_demo_prints_the_port_it_serves_on_and_roles_in_chinese(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIYU_PORT", "8765")
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    loaded = runner.invoke(app, ["demo", "--members", "3"])
    assert loaded.exit_code == 0, loaded.output
    assert "http://127.0.0.1:8765/console/" in loaded.output and ":8000" not in loaded.output
    assert "所有者" in loaded.output and "运营" in loaded.output
    for code in ("owner\n", "operator\n", "fulfillment\n", "analyst\n"):
        assert code not in loaded.output
    again = runner.invoke(app, ["demo", "--port", "9100"])
    assert "siyu serve --port 9100" in again.output and "http://127.0.0.1:9100/docs" in again.output
