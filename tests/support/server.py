"""The real application served by `siyu serve` in a subprocess, on a database of its own, with demo data."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SIYU = str(Path(sys.executable).parent / "siyu")


@dataclass(frozen=True)
class Served:
    base_url: str
    database_url: str
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    env.update(SIYU_DATABASE_URL=database_url, SIYU_DEMO="true", SIYU_ENV="test", SIYU_LOG_LEVEL="WARNING")
    return env


@contextmanager
def served(database_url: str, *, demo_members: int = 30, log_path: Path | None = None) -> Iterator[Served]:
    env = server_env(database_url)
    subprocess.run([SIYU, "demo", "--members", str(demo_members)], env=env, check=True, capture_output=True)
    port = free_port()
    log = open(log_path or os.devnull, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([SIYU, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"siyu serve exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("siyu serve did not become healthy within 30 s")
            time.sleep(0.2)
        yield Served(base_url=base, database_url=database_url, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def demo_owner_key(database_url: str, permissions: list[str] | None = None) -> str:
    """An API key of the demo tenant's owner, made through the service (its own event loop and engine)."""
    from siyu.db import create_engine, create_sessionmaker
    from siyu.staff import api_keys
    from siyu.staff import service as staff
    from siyu.staff.permissions import PERMISSION_LABELS
    from siyu.tenants import service as tenants

    async def make() -> str:
        engine = create_engine(database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                tenant = await tenants.get_by_slug(session, "xinghe")
                rows = await staff.list_staff(session, tenant_id=tenant.id)
                user, membership = next((u, m) for u, m in rows if m.role == "owner")
                owner = staff.principal_for(user, membership)
                _key, secret = await api_keys.create(
                    session,
                    actor=owner,
                    name="tests",
                    permissions=permissions or sorted(PERMISSION_LABELS),
                    expires_at=None,
                )
                return secret
        finally:
            await engine.dispose()

    return asyncio.run(make())
