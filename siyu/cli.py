"""The `siyu` command: serve, worker, database, tenants, staff and the demo. Everything it prints, its help
included, is in Chinese; command and option names stay as they are."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
import typer.core
import typer.rich_utils
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from siyu import db, logs
from siyu.config import Settings, get_settings
from siyu.kit.errors import AppError
from siyu.staff.models import ROLE_LABELS

if TYPE_CHECKING:
    from siyu.demo.data import DemoSummary
    from siyu.demo.gateways import Running

T = TypeVar("T")

# The words Typer puts around our help, in Chinese too.
typer.rich_utils.OPTIONS_PANEL_TITLE = "选项"
typer.rich_utils.COMMANDS_PANEL_TITLE = "命令"
typer.rich_utils.ARGUMENTS_PANEL_TITLE = "参数"
typer.rich_utils.DEFAULT_STRING = "[默认：{}]"
typer.rich_utils.REQUIRED_LONG_STRING = "[必填]"
typer.rich_utils.ENVVAR_STRING = "[环境变量：{}]"


class _Chinese:
    """Usage line and the --help option of a command, in Chinese."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = "显示帮助并退出。"
        return option

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="用法：")


class Command(_Chinese, typer.core.TyperCommand):
    pass


class Group(_Chinese, typer.core.TyperGroup):
    pass


DEFAULTS = Settings.model_fields  # the built-in defaults, shown in --help (SIYU_* variables override them)
ROLE_HELP = " / ".join(f"{code}（{label}）" for code, label in ROLE_LABELS.items())


def _group(help: str, **kwargs: Any) -> typer.Typer:
    return typer.Typer(
        help=help,
        cls=Group,
        no_args_is_help=True,
        options_metavar="[选项]",
        subcommand_metavar="命令 [参数]...",
        **kwargs,
    )


app = _group("siyu 私域会员平台：运营后台、粉丝 H5、开放接口和后台任务。", add_completion=False)
db_app = _group("数据库")
tenant_app = typer.Typer(
    help="店铺（租户）", no_args_is_help=True, options_metavar="[选项]", subcommand_metavar="命令 [参数]..."
)
staff_app = typer.Typer(
    help="员工", no_args_is_help=True, options_metavar="[选项]", subcommand_metavar="命令 [参数]..."
)
app.add_typer(db_app, name="db", cls=Group)
app.add_typer(tenant_app, name="tenant", cls=Group)
app.add_typer(staff_app, name="staff", cls=Group)
orders_app = typer.Typer(
    help="订单导入与导出", no_args_is_help=True, options_metavar="[选项]", subcommand_metavar="命令 [参数]..."
)
app.add_typer(orders_app, name="orders", cls=Group)
ledger_app = typer.Typer(
    help="积分账本", no_args_is_help=True, options_metavar="[选项]", subcommand_metavar="命令 [参数]..."
)
app.add_typer(ledger_app, name="ledger", cls=Group)
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


@db_app.command("upgrade", cls=Command, options_metavar="[选项]")
def db_upgrade(revision: Annotated[str, typer.Argument(help="迁移到哪个版本", metavar="版本")] = "head") -> None:
    """执行数据库迁移（建表、改表），可以重复运行。"""
    settings = _settings()
    db.upgrade(settings.database_url, revision)
    out.print(f"数据库已迁移到 {revision}")


@tenant_app.command("create", cls=Command, options_metavar="[选项]")
def tenant_create(
    slug: Annotated[str, typer.Argument(help="店铺标识（H5 地址里的那一段，如 xinghe）", metavar="标识")],
    name: Annotated[str, typer.Option(help="店铺名称", metavar="名称")],
    timezone: Annotated[str, typer.Option(help="时区", metavar="时区")] = "Asia/Shanghai",
) -> None:
    """新建店铺（租户）。"""
    from siyu.tenants import service

    tenant = _in_transaction(lambda s: service.create_tenant(s, slug=slug, name=name, timezone=timezone))
    out.print(f"已创建店铺 {tenant.name}（{tenant.slug}），H5：/h5/{tenant.slug}/")


@staff_app.command("create", cls=Command, options_metavar="[选项]")
def staff_create(
    tenant: Annotated[str, typer.Option(help="店铺标识", metavar="标识")],
    email: Annotated[str, typer.Option(help="登录邮箱", metavar="邮箱")],
    role: Annotated[str, typer.Option(help=f"角色：{ROLE_HELP}，也可以直接写中文名", metavar="角色")],
    password: Annotated[str | None, typer.Option(help="新账号的密码（至少 8 位）", metavar="密码")] = None,
    name: Annotated[str, typer.Option(help="姓名（后台和操作日志里显示）", metavar="姓名")] = "",
) -> None:
    """给一个人在店铺里分配角色（邮箱是新的就同时建账号）。"""
    from siyu.staff import service as staff
    from siyu.tenants import service as tenants

    role = {label: code for code, label in ROLE_LABELS.items()}.get(role, role)

    async def work(session: AsyncSession) -> str:
        found = await tenants.get_by_slug(session, tenant)
        user, _ = await staff.add_staff(
            session, tenant_id=found.id, email=email, role=role, password=password, name=name
        )
        return user.email

    created = _in_transaction(work)
    out.print(f"已添加员工 {created}（{ROLE_LABELS.get(role, role)}）到 {tenant}")


@orders_app.command("import", cls=Command, options_metavar="[选项]")
def orders_import(
    files: Annotated[
        list[Path],
        typer.Argument(help="平台导出的订单文件（CSV/XLSX）", exists=True, dir_okay=False, metavar="文件"),
    ],
    tenant: Annotated[str, typer.Option(help="店铺标识", metavar="标识")],
    platform: Annotated[
        str,
        typer.Option(
            help="平台：auto（自动识别）、taobao（淘宝/天猫）、douyin（抖音）、kuaishou（快手）、channels（视频号）、"
            "jd（京东）、pdd（拼多多）",
            metavar="平台",
        ),
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="最后一行输出每个文件的 JSON 摘要")] = False,
    force: Annotated[bool, typer.Option(help="同一文件已导入过时仍然重新导入")] = False,
) -> None:
    """导入平台导出的订单文件；有文件被拒绝时以非 0 状态退出。"""
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


@ledger_app.command("sweep", cls=Command, options_metavar="[选项]")
def ledger_sweep(
    tenant: Annotated[str | None, typer.Option(help="只处理这个店铺；不填则处理所有店铺", metavar="标识")] = None,
    batch: Annotated[
        int, typer.Option(min=1, max=100_000, help="每批处理的行数（每批一个事务）", metavar="行数")
    ] = 2000,
) -> None:
    """立即处理到期的积分：等待期满的入账、过期、过期提醒和等级评估。后台任务会按时做同样的事，重复运行不会重复处理。"""
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


@orders_app.command("export", cls=Command, options_metavar="[选项]")
def orders_export(
    tenant: Annotated[str, typer.Option(help="店铺标识", metavar="标识")],
    out_path: Annotated[
        Path, typer.Option("--out", help="输出 CSV 文件（UTF-8 BOM；英文列名、金额为分，给程序用）", metavar="文件")
    ],
) -> None:
    """把订单表导出为给程序用的 CSV（运营用的中文表格在后台“订单”页导出）。"""
    from siyu import cli_orders

    settings = _settings()
    count = asyncio.run(cli_orders.export_csv(settings, tenant_slug=tenant, path=out_path))
    out.print(f"已导出 {count} 个订单到 {out_path}")


@app.command(cls=Command, options_metavar="[选项]")
def demo(
    members: Annotated[int, typer.Option(help="演示会员数", metavar="人数")] = 240,
    port: Annotated[
        int | None, typer.Option(help="打印的地址用哪个端口（与 siyu serve --port 一致）", metavar="端口")
    ] = None,
) -> None:
    """载入演示店铺和数据（已载入则不重复），并打印登录地址和演示账号。"""
    from siyu.demo import data

    summary = _in_transaction(lambda s: data.load(s, members_count=members))
    settings = get_settings()
    with _fake_gateways(settings) as running:
        _load_demo(settings, summary, fakes=running is not None)
    out.print("[bold]演示数据" + ("已载入" if summary.created else "已存在") + f"[/bold]：会员 {summary.members} 位")
    _print_addresses(settings.host, port or settings.port, summary.tenant_slug, serving=False)
    out.print(f"  演示账号（密码均为 {data.DEMO_PASSWORD}）：")
    for email, role in summary.staff:
        out.print(f"    {email:28s} {ROLE_LABELS.get(role, role)}")


def _load_demo(settings: Settings, summary: DemoSummary, *, fakes: bool) -> None:
    """The demo's data beyond its fans (the first load only), then the background work it queued."""
    if summary.created:
        import tempfile

        from siyu import cli_orders
        from siyu.demo import exports
        from siyu.kit.time import utcnow

        with tempfile.TemporaryDirectory(prefix="siyu-demo-") as workdir:
            for path in exports.write_all(Path(workdir), now=utcnow()):
                result = asyncio.run(cli_orders.import_path(settings, tenant_slug=summary.tenant_slug, path=path))
                out.print(f"  导入 {path.name}：新增订单 {result.get('inserted', 0)}")
        from siyu.demo import engagement_referrals, points

        invited = _in_transaction(lambda s: engagement_referrals.load(s, slug=summary.tenant_slug))  # new members then
        credited = _in_transaction(lambda s: points.load(s, slug=summary.tenant_slug))
        out.print(f"  积分：{credited} 笔订单已由会员领取积分")
        from siyu.demo import mall

        stocked = _in_transaction(lambda s: mall.load(s, slug=summary.tenant_slug))
        out.print(f"  积分商城：奖品 {stocked.rewards} 个，兑换 {stocked.redemptions} 笔")
        from siyu.demo import engagement_tasks

        offered = _in_transaction(
            lambda s: engagement_tasks.load(s, slug=summary.tenant_slug, data_dir=settings.data_dir)
        )
        out.print(f"  积分任务：任务 {offered.tasks} 个，完成 {offered.completions} 次，评价截图 {offered.reviews} 张")
        paid = _in_transaction(lambda s: engagement_referrals.pay(s, slug=summary.tenant_slug))
        out.print(f"  邀请有礼：受邀注册 {invited} 位，其中 {paid} 位已完成首单、双方得积分；排行榜 2 个")
        from siyu.demo import engagement_checkin

        checked = _in_transaction(lambda s: engagement_checkin.load(s, slug=summary.tenant_slug))
        out.print(f"  每日签到：近 30 天签到 {checked} 次")
        from siyu.demo import live

        shows = _in_transaction(lambda s: live.load(s, slug=summary.tenant_slug, data_dir=settings.data_dir))
        out.print(f"  直播预告：已播 {shows.past} 场，即将开播 {shows.coming} 场，预约 {shows.reservations} 人次")
        from siyu.demo import groups

        grouped = _in_transaction(lambda s: groups.load(s, slug=summary.tenant_slug, data_dir=settings.data_dir))
        out.print(f"  粉丝群：{grouped.groups} 个群（其中 1 个是溢出群），已有 {grouped.joined} 位粉丝确认入群")
        from siyu.demo import voice

        heard = _in_transaction(lambda s: voice.load(s, slug=summary.tenant_slug, data_dir=settings.data_dir))
        out.print(
            f"  粉丝心声：愿望 {heard.wishes} 个（+1 {heard.plus} 次），需求 {heard.demands} 条，"
            f"返场票 {heard.encore_votes} 张，问卷回答 {heard.answers} 份"
        )
        from siyu.demo import trials

        tried = _in_transaction(lambda s: trials.load(s, slug=summary.tenant_slug, data_dir=settings.data_dir))
        out.print(
            f"  商品试用：活动 {tried.trials} 个，申请 {tried.applications} 份，"
            f"中选 {tried.winners} 人，试用报告 {tried.reports} 份"
        )
        from siyu.demo import analytics

        rows = _in_transaction(lambda s: analytics.load(s, slug=summary.tenant_slug, data_dir=settings.data_dir))
        out.print(f"  数据分析：分析快照已计算（{rows} 笔订单），会员价值和私域贡献页面可直接查看")
        from siyu.demo import segments

        grouped_members = _in_transaction(
            lambda s: segments.load(s, slug=summary.tenant_slug, data_dir=settings.data_dir)
        )
        out.print(
            f"  会员标签与分群：标签 {grouped_members.tags} 个（手动打上 {grouped_members.tagged} 次），分群 "
            + "、".join(f"{name} {n} 人" for name, n in grouped_members.segments)
        )
        _in_transaction(lambda s: points.gift(s, slug=summary.tenant_slug))
        if fakes:
            from siyu.demo import notices

            consented = _in_transaction(lambda s: notices.load(s, slug=summary.tenant_slug))
            out.print(f"  粉丝通知：公众号和短信接到本机模拟网关，{consented} 次订阅")
        ran = _run_due_work(settings)
        delivered = _in_transaction(lambda s: _deliveries(s, summary.tenant_slug))
        out.print(f"  后台任务：已处理 {ran} 个，粉丝通知发送记录 {delivered} 条")


@contextmanager
def _fake_gateways(settings: Settings) -> Iterator[Running | None]:
    """On a demo server without real WeChat or SMS gateways: the fake ones, on this machine, for as long as the
    command runs (see siyu/demo/gateways). None when they are not wanted."""
    from siyu.demo import gateways

    if not gateways.wanted(settings) or _demo_has_real_credentials(settings):
        yield None
        return
    try:
        running = gateways.started(settings)
        fakes = running.__enter__()
    except (ValueError, RuntimeError, OSError) as error:
        out.print(f"[red]本机模拟网关没有启动：{error}[/red]")
        raise typer.Exit(2) from None
    try:
        out.print(f"  模拟微信  {fakes.wechat_base}（公众号、小程序、JS-SDK；当前：{fakes.wechat.mode}）")
        out.print(f"  模拟短信  {fakes.sms_base}（阿里云、腾讯云；当前：{fakes.sms.mode}）")
        out.print(
            f"  让它出错：curl -X POST '{fakes.sms_base}/_fake/mode?mode=throttle'（ok / throttle / refuse / down）"
        )
        yield fakes
    finally:
        running.__exit__(None, None, None)


def _demo_has_real_credentials(settings: Settings) -> bool:
    """Whether the demo tenant was given WeChat or SMS credentials of its own (then the real gateways are meant)."""
    from siyu.demo import gateways

    async def look(session: AsyncSession) -> bool:
        from siyu.tenants import service as tenants

        tenant = await tenants.find_by_slug(session, settings.demo_tenant)
        if tenant is None:
            return False
        stored = tenant.settings or {}
        return gateways.real_credentials(stored.get("wechat") or {}, stored.get("notices") or {})

    if any(c in settings.demo_tenant for c in "*?["):
        return False
    return _in_transaction(look)


def _run_due_work(settings: Settings) -> int:
    """Run the background work the demo queued that is due now (news for fans and the notices it files, orders to
    match), as a worker would: the delivery log then shows real deliveries before any worker runs."""
    from siyu.jobs.worker import Worker
    from siyu.tasks import load_handlers

    load_handlers()

    async def run() -> int:
        engine = db.engine_for(settings, jobs=True)
        try:
            return await Worker(db.create_sessionmaker(engine)).drain()
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _deliveries(session: AsyncSession, slug: str) -> int:
    from siyu.kit.pagination import PageRequest
    from siyu.notices import service as notices
    from siyu.tenants import service as tenants

    tenant = await tenants.get_by_slug(session, slug)
    return (await notices.deliveries(session, tenant_id=tenant.id, page=PageRequest(size=1))).total


def _print_addresses(host: str, port: int, slug: str | None, *, serving: bool) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (comparing, not binding)
    base = f"http://{shown}:{port}"
    if not serving:
        out.print(f"  运行 siyu serve{'' if port == DEFAULTS['port'].default else f' --port {port}'} 后打开：")
    out.print(f"  运营后台  {base}/console/")
    if slug:
        out.print(f"  粉丝 H5   {base}/h5/{slug}/")
    out.print(f"  接口文档  {base}/docs")


@app.command(cls=Command, options_metavar="[选项]")
def serve(
    host: Annotated[
        str | None,
        typer.Option(help=f"监听地址 [默认：{DEFAULTS['host'].default}，或环境变量 SIYU_HOST]", metavar="地址"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help=f"端口 [默认：{DEFAULTS['port'].default}，或环境变量 SIYU_PORT]", metavar="端口"),
    ] = None,
    workers: Annotated[int, typer.Option(help="HTTP 进程数", metavar="个数")] = 1,
) -> None:
    """启动服务：运营后台、粉丝 H5 和开放接口。用 SQLite 时后台任务在同一进程里运行。"""
    import uvicorn

    settings = _settings()
    host, port = host or settings.host, port or settings.port
    try:
        settings.check(host)
    except ValueError as unsafe:
        out.print(f"[red]{unsafe}[/red]")
        raise typer.Exit(2) from None
    _share_metrics(settings)
    out.print("[bold]siyu 私域[/bold] 正在启动：")
    _print_addresses(host, port, _demo_slug(settings), serving=True)
    options: dict[str, Any] = {
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,
        "forwarded_allow_ips": settings.trusted_proxies,
    }
    with _fake_gateways(settings):
        if workers <= 1:
            uvicorn.run("siyu.main:app", host=host, port=port, **options)
            return
        # Several processes: each new connection goes to the one with the fewest open (siyu.kit.serving).
        from siyu.kit import serving

        try:
            listener = serving.bind(host, port)
        except OSError as error:
            out.print(f"[red]无法监听 {host}:{port}：{error.strerror or error}[/red]")
            raise typer.Exit(1) from None
        status = serving.Balancer("siyu.main:app", host=host, port=port, workers=workers, options=options).run(listener)
        if status:
            out.print("[red]服务没有启动成功，请查看上面的日志[/red]")
            raise typer.Exit(status)


@app.command(cls=Command, options_metavar="[选项]")
def worker(
    once: Annotated[bool, typer.Option(help="处理完当前到期的任务后退出")] = False,
    concurrency: Annotated[int, typer.Option(help="本进程内并行的取任务循环数", metavar="个数")] = 1,
) -> None:
    """运行后台任务（导入、积分入账与过期、通知……）。PostgreSQL 上可以同时运行多个，不会重复处理同一个任务。"""
    from siyu.jobs.worker import Worker
    from siyu.orders.uploads import remove_abandoned_temp_dirs
    from siyu.tasks import load_handlers

    settings = _settings()
    _share_metrics(settings)
    remove_abandoned_temp_dirs()  # an import killed mid-file leaves its work directory behind
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


def _share_metrics(settings: Settings) -> None:
    """Counters of every process in one directory, added up by /metrics (see docs/running.md "监控")."""
    import os

    from siyu.kit import metrics

    directory = os.environ.get(metrics.MULTIPROC_ENV) or str(settings.data_dir / "metrics")
    metrics.prepare_multiprocess_dir(Path(directory))


def _demo_slug(settings: Settings) -> str | None:
    """The demo tenant's H5 address is worth printing when the demo is on."""
    if not settings.demo:
        return None
    from siyu.demo import data

    return data.DEMO_SLUG


def main() -> None:
    app()
