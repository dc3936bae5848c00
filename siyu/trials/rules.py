"""The draw of a product trial, as a pure function anyone can run again.

Inputs: the seed (recorded and shown before the draw), the applications in the order they came in (numbered
1, 2, 3 …) with each one's weight (1 for all in a plain draw; by tier in a weighted one), and the quota.

Each application holds `weight` tickets. Ticket k (1 … weight) of application number n is the 256-bit number
SHA-256("<seed>:<n>:<k>") read as an unsigned big-endian integer; an application's key is the smallest of its
tickets. The applications with the `quota` smallest keys win (ties, which do not happen in practice, go to the
lower number). With weight 1 for everyone every ordering is equally likely; with weights, the chance to be drawn
next is proportional to the weight (the smallest of w uniform tickets is a race at rate w), without replacement.
Integers only: the same result in any language.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


def ticket(seed: str, number: int, k: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{number}:{k}".encode()).digest(), "big")


def key_of(seed: str, number: int, weight: int) -> int:
    return min(ticket(seed, number, k) for k in range(1, max(1, weight) + 1))


@dataclass(frozen=True)
class Drawn:
    number: int  # 1-based position in the ordered list of applications
    key: int

    @property
    def key_hex(self) -> str:
        return f"{self.key:064x}"


def draw(seed: str, weights: Sequence[int], quota: int) -> list[Drawn]:
    """The winners, best key first: `weights[i]` is the weight of application number i + 1."""
    keyed = [Drawn(number, key_of(seed, number, weight)) for number, weight in enumerate(weights, start=1)]
    keyed.sort(key=lambda d: (d.key, d.number))
    return keyed[: max(0, quota)]


def tier_weight(rank: int | None) -> int:
    """A tier's weight in a weighted draw: 1 without a tier, 2 for the lowest tier, one more for each tier above
    (at most 10)."""
    return 1 if rank is None else min(10, rank + 2)
