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

STARTUP_SECONDS = 30


@dataclass(frozen=True)
class Served:
    base_url: str
    database_url: str
    env: dict[str, str]
    workdir: Path


def siyu_command() -> str:
    """The `siyu` script of the interpreter running the tests."""
    script = Path(sys.executable).parent / "siyu"
    if not script.exists():
        raise RuntimeError(f"{script} not found: install the project into this environment")
    return str(script)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def server_env(database_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    env.update(
        SIYU_DATABASE_URL=database_url,
        SIYU_DEMO="true",
        SIYU_ENV="test",
        SIYU_LOG_LEVEL="WARNING",
        SIYU_DATA_DIR=str(workdir / "var"),
        SIYU_EMBEDDED_WORKER="true",  # the browser drives imports end to end, also on PostgreSQL
        # Every browser test signs in from 127.0.0.1: the per-address limit (30 sign-ins in 5 minutes) would refuse
        # the later ones. The limit itself is tested in tests/test_throttles.py.
        SIYU_LOGIN_IP_LIMIT="1000/5minutes",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"siyu serve exited with {process.returncode}:\n{tail(log)}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.2)
    raise RuntimeError(f"siyu serve not healthy after {STARTUP_SECONDS} s ({last}):\n{tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def served(database_url: str, workdir: Path, *, demo_members: int = 30) -> Iterator[Served]:
    """`siyu demo` then `siyu serve` on `database_url`, run from `workdir` (uploads and logs go there)."""
    siyu = siyu_command()
    env = server_env(database_url, workdir)
    demo = subprocess.run(
        [siyu, "demo", "--members", str(demo_members)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if demo.returncode != 0:
        raise RuntimeError(f"siyu demo failed ({demo.returncode}):\n{demo.stdout}\n{demo.stderr}")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = workdir / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [siyu, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_healthy(base_url, process, log)
            yield Served(base_url=base_url, database_url=database_url, env=env, workdir=workdir)
        finally:
            _stop(process)


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
