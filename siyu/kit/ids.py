"""Application-generated 63-bit ids: time-ordered, unique without a database sequence.

Tenant-owned tables key on (tenant_id, id); generating ids here keeps that key usable on SQLite
(which only auto-increments a single-column key) and on a database distributed by tenant.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from typing import Annotated

from pydantic import Field

_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_lock = threading.Lock()
_last_ms = 0
_seq = 0
_node = secrets.randbits(8)
_random = random.Random(secrets.randbits(64))  # the sequence's start: spread, not secret


def new_id() -> int:
    """41 bits of milliseconds, 8 bits of process, 14 bits of sequence."""
    global _last_ms, _seq
    with _lock:
        now = int(time.time() * 1000) - _EPOCH_MS
        if now <= _last_ms:
            _seq += 1
            if _seq >= 1 << 14:
                _last_ms += 1
                _seq = 0
            now = _last_ms
        else:
            _seq = _random.getrandbits(6)
        _last_ms = now
        return (now << 22) | (_node << 14) | _seq


MAX_ID = 2**63 - 1
# A row's id in a request body: a positive 64-bit integer (anything larger is a 422, not a database error).
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
