"""The `siyu` command: serve, worker, database, tenants, staff and the demo."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from siyu import db, logs
from siyu.config import Settings, get_settings
from siyu.kit.errors import AppError

T = TypeVar("T")

app = typer.Typer(help="siyu 私域会员平台", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="数据库", no_args_is_help=True)
tenant_app = typer.Typer(help="店铺（租户）", no_args_is_help=True)
staff_app = typer.Typer(help="员工", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(staff_app, name="staff")
orders_app = typer.Typer(help="订单导入与导出", no_args_is_help=True)
app.add_typer(orders_app, name="orders")
ledger_app = typer.Typer(help="积分账本", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
out = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    settings = get_settings()
    logs.configure(settings.log_level, json=settings.log_json)
    return settings


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction: committed when it returns, rolled back when it raises."""
    settings = _settings()

    async def run() -> T:
        engine = db.engine_for(settings, jobs=True)
        try:
            async with db.create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except AppError as error:
        err.print(f"[red]错误[/red] {error.message} ({error.code})")
        raise typer.Exit(2) from error


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Run the database migrations."""
    settings = _settings()
    db.upgrade(settings.database_url, revision)
    out.print(f"数据库已迁移到 {revision}")


@tenant_app.command("create")
def tenant_create(
    slug: str,
    name: Annotated[str, typer.Option(help="店铺名称")],
    timezone: Annotated[str, typer.Option(help="时区")] = "Asia/Shanghai",
) -> None:
    """Create a tenant."""
    from siyu.tenants import service

    tenant = _in_transaction(lambda s: service.create_tenant(s, slug=slug, name=name, timezone=timezone))
    out.print(f"已创建店铺 {tenant.name}（{tenant.slug}），H5：/h5/{tenant.slug}/")


@staff_app.command("create")
def staff_create(
    tenant: Annotated[str, typer.Option(help="店铺标识")],
    email: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="owner / operator / fulfillment / analyst")],
    password: Annotated[str | None, typer.Option(help="新账号的密码（至少 8 位）")] = None,
    name: Annotated[str, typer.Option()] = "",
) -> None:
    """Give a person a role in a tenant (creating the account when the email is new)."""
    from siyu.staff import service as staff
    from siyu.tenants import service as tenants

    async def work(session: AsyncSession) -> str:
        found = await tenants.get_by_slug(session, tenant)
        user, _ = await staff.add_staff(
            session, tenant_id=found.id, email=email, role=role, password=password, name=name
        )
        return user.email

    created = _in_transaction(work)
    out.print(f"已添加员工 {created}（{role}）到 {tenant}")


@orders_app.command("import")
def orders_import(
    files: Annotated[list[Path], typer.Argument(help="平台导出的订单文件（CSV/XLSX）", exists=True, dir_okay=False)],
    tenant: Annotated[str, typer.Option(help="店铺标识")],
    platform: Annotated[str, typer.Option(help="auto|taobao|douyin|kuaishou|channels|jd|pdd")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="最后一行输出每个文件的 JSON 摘要")] = False,
    force: Annotated[bool, typer.Option(help="同一文件已导入过时仍然重新导入")] = False,
) -> None:
    """Import order exports. Exits non-zero when a file is refused."""
    import json

    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from siyu import cli_orders

    settings = _settings()
    summaries: list[dict[str, object]] = []
    show = not as_json and out.is_terminal
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} 行"),
        TimeElapsedColumn(),
        console=out,
        disable=not show,
    ) as progress:
        for path in files:
            bar = progress.add_task(path.name, total=None)

            def report(done: int, total: int, bar: TaskID = bar) -> None:
                progress.update(bar, completed=done, total=total)

            summary = asyncio.run(
                cli_orders.import_path(
                    settings,
                    tenant_slug=tenant,
                    path=path,
                    platform=platform,
                    force=force,
                    on_progress=report,
                )
            )
            summaries.append(summary)
            if not as_json:
                _print_summary(summary)
    if as_json:
        print(json.dumps(summaries, ensure_ascii=False))
    if any(s.get("refused") for s in summaries):
        raise typer.Exit(1)


def _print_summary(summary: dict[str, object]) -> None:
    if summary.get("refused"):
        err.print(f"[red]拒绝[/red] {summary['file']}：{summary['message']} ({summary['refused']})")
        return
    if summary.get("duplicate_of"):
        out.print(f"{summary['file']}：与导入 {summary['duplicate_of']} 是同一个文件，已跳过（加 --force 重新导入）")
        return
    out.print(
        f"{summary['file']}（{summary['platform']}）：{summary['rows']} 行，新增 {summary['inserted']}，"
        f"更新 {summary['updated']}，未变 {summary['unchanged']}，拒绝 {len(summary['rejected'])}"  # type: ignore[arg-type]
    )
    for item in list(summary["rejected"])[:10]:  # type: ignore[call-overload]
        out.print(f"  第 {item['row']} 行：{item['reason']}")


@ledger_app.command("sweep")
def ledger_sweep(
    tenant: Annotated[str | None, typer.Option(help="只处理这个店铺；不填则处理所有店铺")] = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="每批处理的行数（每批一个事务）")] = 2000,
) -> None:
    """Post held points whose hold ended, expire points, warn of coming expiry and review tiers, now.
    The worker does the same on schedule; running it again changes nothing."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from siyu.claims import crediting
    from siyu.tenants import service as tenants

    settings = _settings()

    async def run() -> dict[str, crediting.SweepResult]:
        engine = db.engine_for(settings, jobs=True)
        makesession = db.create_sessionmaker(engine)
        results: dict[str, crediting.SweepResult] = {}
        try:
            async with makesession() as session:
                if tenant is None:
                    chosen = await tenants.tenants_by_id(session, await tenants.tenant_ids(session))
                else:
                    chosen = [await tenants.get_by_slug(session, tenant)]
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
            ) as progress:
                for row in chosen:
                    total = crediting.SweepResult()
                    task = progress.add_task(f"{row.slug}", total=None)
                    while True:
                        async with makesession() as session, session.begin():
                            step = await crediting.sweep(session, tenant_id=row.id, batch=batch)
                        total.add(step)
                        progress.update(task, description=f"{row.slug}: 入账 {total.posted} 过期 {total.expired}")
                        if not step.more:
                            break
                    results[row.slug] = total
        finally:
            await engine.dispose()
        return results

    try:
        results = asyncio.run(run())
    except AppError as error:
        err.print(f"[red]错误[/red] {error.message} ({error.code})")
        raise typer.Exit(2) from error
    for slug, result in results.items():
        out.print(
            f"{slug}: 入账 {result.posted} 笔，过期 {result.expired} 笔，过期提醒 {result.warned} 笔，"
            f"评估等级 {result.reviewed} 人，等级变化 {result.tier_changes} 人"
        )


@orders_app.command("export")
def orders_export(
    tenant: Annotated[str, typer.Option(help="店铺标识")],
    out_path: Annotated[Path, typer.Option("--out", help="输出 CSV 文件（UTF-8 BOM，Excel 可直接打开）")],
) -> None:
    """Export the canonical order table as CSV."""
    from siyu import cli_orders

    settings = _settings()
    count = asyncio.run(cli_orders.export_csv(settings, tenant_slug=tenant, path=out_path))
    out.print(f"已导出 {count} 个订单到 {out_path}")


@app.command()
def demo(members: Annotated[int, typer.Option(help="演示会员数")] = 240) -> None:
    """Load the demo tenant (idempotent)."""
    from siyu.demo import data

    summary = _in_transaction(lambda s: data.load(s, members_count=members))
    settings = get_settings()
    if summary.created:
        import tempfile

        from siyu import cli_orders
        from siyu.demo import exports
        from siyu.kit.time import utcnow

        with tempfile.TemporaryDirectory(prefix="siyu-demo-") as workdir:
            for path in exports.write_all(Path(workdir), now=utcnow()):
                result = asyncio.run(cli_orders.import_path(settings, tenant_slug=summary.tenant_slug, path=path))
                out.print(f"  导入 {path.name}：新增订单 {result.get('inserted', 0)}")
        from siyu.demo import points

        credited = _in_transaction(lambda s: points.load(s, slug=summary.tenant_slug))
        out.print(f"  积分：{credited} 笔订单已由会员领取积分")
        from siyu.demo import mall

        stocked = _in_transaction(lambda s: mall.load(s, slug=summary.tenant_slug))
        out.print(f"  积分商城：奖品 {stocked.rewards} 个，兑换 {stocked.redemptions} 笔")
    base = f"http://{settings.host}:{settings.port}"
    out.print("[bold]演示数据" + ("已载入" if summary.created else "已存在") + f"[/bold]：会员 {summary.members} 位")
    out.print(f"  运营后台  {base}/console/")
    out.print(f"  粉丝 H5   {base}/h5/{summary.tenant_slug}/")
    out.print(f"  接口文档  {base}/docs")
    out.print(f"  演示账号（密码均为 {data.DEMO_PASSWORD}）：")
    for email, role in summary.staff:
        out.print(f"    {email:28s} {role}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="HTTP 进程数")] = 1,
) -> None:
    """Serve the console, the H5 and the API. On SQLite the job worker runs in the same process."""
    import uvicorn

    settings = _settings()
    settings.check()
    uvicorn.run(
        "siyu.main:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="处理完当前到期的任务后退出")] = False,
    concurrency: Annotated[int, typer.Option(help="本进程内并行的取任务循环数")] = 1,
) -> None:
    """Drain the jobs table. Run several on PostgreSQL; they never take the same job."""
    from siyu.jobs.worker import Worker
    from siyu.tasks import load_handlers

    settings = _settings()
    load_handlers()

    async def run() -> None:
        engine = db.engine_for(settings, jobs=True)
        sessionmaker = db.create_sessionmaker(engine)
        try:
            if once:
                handled = await Worker(sessionmaker).drain()
                out.print(f"已处理 {handled} 个任务")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await asyncio.gather(*(Worker(sessionmaker).run_forever(stop) for _ in range(concurrency)))
        finally:
            await engine.dispose()

    asyncio.run(run())


def main() -> None:
    app()
