"""The ASGI entry point sets up logging itself: each worker of `siyu serve --workers N` is a fresh interpreter that
imports only `siyu.main`, and must log at SIYU_LOG_LEVEL, not at structlog's default (every request at debug)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_worker_importing_the_entry_point_logs_at_the_configured_level(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    env.update(SIYU_LOG_LEVEL="WARNING", SIYU_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    code = (
        "import siyu.main, structlog; log = structlog.get_logger('siyu.http'); "
        "log.debug('request', path='/quiet'); log.warning('shown', path='/loud')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    output = done.stdout + done.stderr
    assert "/loud" in output and "/quiet" not in output


def test_every_route_is_ready_and_frozen_before_the_first_request(tmp_path: Path) -> None:
    """Building the routes' request handling state takes seconds: done at import, the first requests of a worker do
    not wait for it, and what it builds is frozen with the rest, never scanned by the garbage collector again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    env.update(SIYU_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    code = (
        "import gc, siyu.main; from siyu.app import route_templates; "
        "templates = siyu.main.app.state.route_templates; "
        "print(len(gc.get_objects()), route_templates(siyu.main.app) is templates, "
        "'/api/v1/members/{member_id}' in templates.values())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    unfrozen, same, known = done.stdout.split()
    assert int(unfrozen) < 1_000 and same == "True" and known == "True"
