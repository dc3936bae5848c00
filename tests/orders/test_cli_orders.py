"""`siyu orders import|export` on the orders test database, with its own data directory."""

from __future__ import annotations

import codecs
import csv
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from siyu.cli import app
from siyu.config import get_settings
from siyu.orders.exporting import EXPORT_COLUMNS
from tests.orders import exports

runner = CliRunner()


@dataclass
class Cli:
    slug: str
    files: Path

    def write(self, name: str, data: bytes) -> Path:
        path = self.files / name
        path.write_bytes(data)
        return path

    def run(self, *args: str | Path) -> Result:
        return runner.invoke(app, [str(a) for a in args])

    def import_json(self, *paths: Path, force: bool = False) -> tuple[Result, list[dict]]:
        result = self.run("orders", "import", *paths, "--tenant", self.slug, "--json", *(["--force"] if force else []))
        lines = result.stdout.strip().splitlines()
        return result, json.loads(lines[-1])


@pytest.fixture
def cli(orders_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("SIYU_DATABASE_URL", orders_database_url)
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SIYU_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    files = tmp_path / "files"
    files.mkdir()
    slug = f"cli-{secrets.token_hex(4)}"
    created = runner.invoke(app, ["tenant", "create", slug, "--name", "命令行店铺"])
    assert created.exit_code == 0, created.output
    yield Cli(slug=slug, files=files)
    get_settings.cache_clear()


def flat(text: str) -> str:
    """Rich wraps long lines at the console width."""
    return text.replace("\n", "")


SUMMARY_KEYS = {"file", "platform", "rows", "inserted", "updated", "unchanged", "rejected"}


def test_import_prints_a_json_summary_and_recognises_the_same_file(cli: Cli) -> None:
    path = cli.write("ExportOrderList202611111200.csv", exports.taobao_classic())

    result, summaries = cli.import_json(path)
    assert result.exit_code == 0, result.output
    assert isinstance(summaries, list) and len(summaries) == 1
    first = summaries[0]
    assert set(first) >= SUMMARY_KEYS
    assert (first["file"], first["platform"], first["rows"]) == (str(path), "taobao", 8)
    assert (first["inserted"], first["updated"], first["unchanged"], first["rejected"]) == (5, 0, 0, [])

    # The same bytes again (under another name): recognised, nothing imported.
    copy = cli.write("副本.csv", exports.taobao_classic())
    again = cli.run("orders", "import", copy, "--tenant", cli.slug)
    assert again.exit_code == 0, again.output
    assert f"与导入 {first['import_id']} 是同一个文件，已跳过" in flat(again.stdout)
    result, (duplicate,) = cli.import_json(copy)
    assert duplicate["duplicate_of"] == first["import_id"]
    assert (duplicate["inserted"], duplicate["updated"], duplicate["unchanged"]) == (0, 0, 5)

    # --force imports it again: every order unchanged.
    result, (forced,) = cli.import_json(copy, force=True)
    assert result.exit_code == 0
    assert "duplicate_of" not in forced
    assert (forced["rows"], forced["inserted"], forced["updated"], forced["unchanged"]) == (8, 0, 0, 5)
    assert forced["import_id"] != first["import_id"]


def test_rejected_rows_are_listed_by_row_and_reason(cli: Cli) -> None:
    rows = [
        exports.taobao_new_row("1930679858170649001", paid="10.00", status="交易成功"),
        exports.taobao_new_row("1.93068E+15", paid="10.00", status="交易成功"),
        exports.taobao_new_row("1930679858170649003", paid="免费", status="交易成功"),
    ]
    path = cli.write("new.csv", exports.taobao_new_csv(rows))
    result, (summary,) = cli.import_json(path)
    assert result.exit_code == 0
    assert (summary["inserted"], summary["rejected_count"]) == (1, 2)
    assert summary["rejected"] == [
        {"row": 3, "reason": "订单编号被 Excel 改成了科学计数法（1.93068E+15），请把该列设为文本后重新导出"},
        {"row": 4, "reason": "实付金额无法识别：免费"},
    ]
    text = cli.run("orders", "import", cli.write("new2.csv", exports.taobao_new_csv(rows[1:])), "--tenant", cli.slug)
    assert "第 2 行：订单编号被 Excel 改成了科学计数法" in flat(text.stdout)


def test_a_refused_file_makes_the_command_fail(cli: Cli) -> None:
    good = cli.write("抖店.csv", exports.douyin())
    bad = cli.write("会员.csv", exports.member_list())
    result, summaries = cli.import_json(good, bad)
    assert result.exit_code == 1
    assert [s.get("refused") for s in summaries] == [None, "not_an_order_export"]
    assert summaries[0]["inserted"] == 2 and summaries[1]["inserted"] == 0

    plain = cli.run("orders", "import", cli.write("坏.xlsx", exports.corrupt_xlsx()), "--tenant", cli.slug)
    assert plain.exit_code == 1
    assert "corrupt_xlsx" in flat(plain.stderr)

    empty = cli.run("orders", "import", cli.write("空.csv", b""), "--tenant", cli.slug, "--json")
    assert empty.exit_code == 1
    assert json.loads(empty.stdout.strip().splitlines()[-1])[0]["refused"] == "empty_file"


def test_export_writes_utf8_with_bom_and_ids_intact(cli: Cli, tmp_path: Path) -> None:
    for name, data in (("classic.csv", exports.taobao_classic()), ("pdd.csv", exports.pdd())):
        assert cli.run("orders", "import", cli.write(name, data), "--tenant", cli.slug).exit_code == 0
    out = tmp_path / "orders.csv"
    result = cli.run("orders", "export", "--tenant", cli.slug, "--out", out)
    assert result.exit_code == 0, result.output
    assert "已导出 8 个订单" in flat(result.stdout)

    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(rows[0]) == EXPORT_COLUMNS
    for column in (
        "platform",
        "order_id",
        "status",
        "paid_fen",
        "refund_fen",
        "paid_at",
        "buyer_nick",
        "buyer_open_uid",
    ):
        assert column in EXPORT_COLUMNS
    by_id = {r["order_id"]: r for r in rows}
    assert sorted(by_id) == sorted(
        [
            "1930679858170647123",
            "2930679858170647001",
            "3930679858170647",
            "4930679858170647002",
            "5930679858170647003",
            "261110-987654321098",
            "261111-123456789012",
            "261111-123456789013",
        ]
    )
    first = by_id["1930679858170647123"]
    assert (first["platform"], first["status"], first["paid_fen"], first["refund_fen"]) == (
        "taobao",
        "paid",
        "129900",
        "0",
    )
    assert (first["buyer_nick"], first["buyer_open_uid"], first["receiver_phone"]) == ("小鱼儿", "", "138****1234")
    assert first["paid_at"] == "2026-11-11 00:01:30"  # the tenant's local time, as the platform showed it
    assert by_id["5930679858170647003"]["paid_at"] == ""
    refunded = by_id["261110-987654321098"]
    assert (refunded["platform"], refunded["status"], refunded["paid_fen"], refunded["refund_fen"]) == (
        "pdd",
        "refunded",
        "990",
        "990",
    )


def test_export_neutralises_cells_a_spreadsheet_would_run(cli: Cli, tmp_path: Path) -> None:
    rows = [
        exports.taobao_new_row(
            "1930679858170649101", paid="10.00", status="交易成功", title="@SUM(1+1)*cmd|' /C calc'!A0"
        )
    ]
    assert (
        cli.run(
            "orders", "import", cli.write("hostile.csv", exports.taobao_new_csv(rows)), "--tenant", cli.slug
        ).exit_code
        == 0
    )
    out = tmp_path / "orders.csv"
    assert cli.run("orders", "export", "--tenant", cli.slug, "--out", out).exit_code == 0
    (row,) = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert row["title"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert row["order_id"] == "1930679858170649101" and row["paid_fen"] == "1000"


def _leave_unfinished(url: str, import_id: int) -> None:
    """What `kill -9` of the command leaves once its batches committed: the import still running."""
    import asyncio

    from sqlalchemy import update

    from siyu.db import create_engine
    from siyu.orders.models import OrderImport

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(OrderImport)
                    .where(OrderImport.id == import_id)
                    .values(status="running", finished_at=None, inserted=0, unchanged=0)
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_killed_import_is_carried_on_by_running_the_file_again(cli: Cli, orders_database_url: str) -> None:
    path = cli.write("ExportOrderList202611111200.csv", exports.taobao_classic())
    _result, (first,) = cli.import_json(path)
    _leave_unfinished(orders_database_url, first["import_id"])

    result, (again,) = cli.import_json(path)

    assert result.exit_code == 0, result.output
    assert "duplicate_of" not in again
    assert again["import_id"] == first["import_id"]  # the same import, finished now
    assert (again["rows"], again["inserted"], again["updated"], again["unchanged"]) == (8, 5, 0, 0)
    # Finished: the file is now recognised as imported.
    _result, (third,) = cli.import_json(path)
    assert third["duplicate_of"] == first["import_id"]
