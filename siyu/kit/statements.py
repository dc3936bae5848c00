"""Counting the statements a process sends to its database, for benchmarks (off unless switched on).

`SIYU_COUNT_STATEMENTS=<directory>` in a server's environment makes every worker process count what it executes,
through SQLAlchemy (its cursor hook) and through kit.fast alike, and write its running total to
`<directory>/<pid>` a few times a second: a benchmark sums the files before and after its timed phase.
Transaction control (BEGIN, COMMIT) is not counted.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_count = [0]
_started: list[Path] = []


def counted() -> None:
    _count[0] += 1


def enabled() -> bool:
    return bool(_started)


def _count_cursor(*_args: Any) -> None:
    _count[0] += 1


def _write_forever(path: Path) -> None:
    while True:
        path.write_text(str(_count[0]))
        time.sleep(0.2)


def install(engine: Engine) -> None:
    """Count this engine's statements when the environment asks for it."""
    directory = os.environ.get("SIYU_COUNT_STATEMENTS")
    if not directory:
        return
    event.listen(engine, "before_cursor_execute", _count_cursor)
    if not _started:
        path = Path(directory) / str(os.getpid())
        _started.append(path)
        threading.Thread(target=_write_forever, args=(path,), daemon=True, name="statement-count").start()


def total(directory: Path) -> int:
    """What every process counting into `directory` has executed so far."""
    return sum(int(p.read_text() or 0) for p in directory.iterdir() if p.name.isdigit())
