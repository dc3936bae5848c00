"""Per-process memory of what is derived from a tenant's configuration (policies, channels, campaigns, tiers).

Each value is kept with the tenant's `config_version` it was read under. Every change to the configuration bumps
that number in the same transaction, and every request reads the number it has to compare (one indexed row), so an
edit is seen by the next request in every worker process without any message between them. Values must be
immutable snapshots (frozen dataclasses, tuples): never rows bound to a session.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, TypeVar

T = TypeVar("T")


class VersionedCache:
    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._values: OrderedDict[tuple[str, int], tuple[int, Any]] = OrderedDict()

    def get(self, name: str, tenant_id: int, version: int) -> Any | None:
        found = self._values.get((name, tenant_id))
        if found is None or found[0] != version:
            return None
        return found[1]

    def put(self, name: str, tenant_id: int, version: int, value: T) -> T:
        key = (name, tenant_id)
        self._values[key] = (version, value)
        self._values.move_to_end(key)
        if len(self._values) > self._limit:
            self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        self._values.clear()


# One per process: every domain keeps its own names in it.
tenant_configs = VersionedCache()
