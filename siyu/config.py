"""Settings from the environment (prefix SIYU_) or a .env file."""

from __future__ import annotations

import ipaddress
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-siyu-development-secret"  # noqa: S105 - refused in production and off localhost
DEMO_SLUG = "xinghe"  # the demo tenant `siyu demo` loads


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps the server to this machine."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIYU_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./siyu.db"
    redis_url: str | None = None
    secret_key: str = DEFAULT_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    timezone: str = "Asia/Shanghai"
    demo: bool = False
    # Which tenant (slug, or a pattern such as host-*) anyone may look around as the demo fan, on a demo server.
    demo_tenant: str = DEMO_SLUG
    log_level: str = "INFO"
    log_json: bool = False
    session_hours: int = Field(default=12, ge=1)
    login_limit: str = "5/5minutes"
    login_ip_limit: str = "30/5minutes"
    worker_concurrency: int = Field(default=1, ge=1)
    job_max_attempts: int = Field(default=8, ge=1)
    # Connections (see docs/running.md for the budget): each process keeps up to pool + overflow open, and
    # a request that cannot get one within db_pool_timeout seconds is answered 503 with Retry-After.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    db_pool_timeout: float = Field(default=1.5, gt=0, le=30)
    # PostgreSQL only; 0 turns a limit off. Background jobs (imports, sweeps) get their own, longer limit.
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    db_lock_timeout_ms: int = Field(default=3_000, ge=0)
    db_job_statement_timeout_ms: int = Field(default=600_000, ge=0)
    data_dir: Path = Path("var")
    max_upload_mb: int = Field(default=512, ge=1)
    # /metrics: with a token, only for `Authorization: Bearer <token>`; without one, only for callers on this machine.
    metrics_token: str | None = None
    # Fan sign-in: WeChat's endpoints (point them at a fake in tests or staging) and who sends SMS codes.
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_open_base: str = "https://open.weixin.qq.com"
    # WeChat's JS-SDK, loaded by the H5 pages that offer official-account subscribe notices (the page's script
    # sources allow its origin).
    wechat_js_sdk: str = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
    sms_provider: str = "log"
    # Notices by SMS: the providers' endpoints (point them at a fake in tests or staging).
    aliyun_sms_base: str = "https://dysmsapi.aliyuncs.com"
    tencent_sms_base: str = "https://sms.tencentcloudapi.com"
    # Addresses of the reverse proxies whose X-Forwarded-Proto / X-Forwarded-For are believed (comma separated,
    # IPs or networks; "*" trusts anyone, only for a server no one reaches but through the proxy). Others' headers
    # are ignored: the scheme (Secure cookies) and the client's IP (rate limits) are what the connection says.
    trusted_proxies: str = "127.0.0.1"
    # Run the job worker inside `siyu serve`. Unset: yes on SQLite, no on PostgreSQL (run `siyu worker`).
    embedded_worker: bool | None = None

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def runs_embedded_worker(self) -> bool:
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.database_url.startswith("sqlite")

    @property
    def cookie_secure(self) -> bool:
        return self.is_production

    def is_demo_tenant(self, slug: str) -> bool:
        """The demo fan sign-in is open on a demo server, on the demo tenant only."""
        return self.demo and fnmatchcase(slug, self.demo_tenant)

    def check(self, host: str | None = None) -> None:
        """Refuse configurations that are unsafe to run: in production, or listening beyond this machine (`host`,
        else SIYU_HOST), the secret must be set, and not to the built-in one."""
        weak = self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        if self.is_production and weak:
            raise ValueError("生产环境必须设置 SIYU_SECRET_KEY（至少 32 个字符，且不能使用默认值）")
        if self.secret_key == DEFAULT_SECRET and not is_loopback(host or self.host):
            raise ValueError(
                f"监听 {host or self.host} 时其他机器也能访问：请设置 SIYU_SECRET_KEY"
                "（至少 32 个字符，不能使用默认值），或只监听 127.0.0.1"
            )


@lru_cache
def get_settings() -> Settings:
    return Settings()
