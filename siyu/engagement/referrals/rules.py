"""Pure decisions of invitations: the invite code's alphabet, the default rules, who counts as herself.

Nothing here reads the database; siyu.engagement.referrals.service gathers the facts and asks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

# No 0/O, 1/I/L: a code read aloud in a live room or copied by hand is not mistaken.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6

NETWORK_WINDOW_S = 3600  # the network limit of the rules counts invitees within this many seconds


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str | None) -> str | None:
    """The code as stored, or None when the text cannot be one (nothing is looked up then)."""
    if not text:
        return None
    code = text.strip().upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


@dataclass(frozen=True)
class Person:
    """What is known of one side when an invitee joins: her proven identities and where she was seen."""

    phones: frozenset[str] = frozenset()
    unionids: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()  # keyed hashes
    networks: frozenset[str] = frozenset()  # keyed hashes


def self_referral(inviter: Person, invitee: Person) -> str | None:
    """Why the invitee is the inviter herself (the same phone, WeChat unionid, device or network address), or None."""
    if inviter.phones & invitee.phones:
        return "same_phone"
    if inviter.unionids & invitee.unionids:
        return "same_unionid"
    if inviter.devices & invitee.devices:
        return "same_device"
    if inviter.networks & invitee.networks:
        return "same_network"
    return None


def suspicion(*, invitees_from_network: int, network_limit: int, device_seen_before: bool) -> str | None:
    """Why a new invitation should wait for a person to look at it, or None."""
    if device_seen_before:
        return "shared_device"
    if network_limit and invitees_from_network >= network_limit:
        return "busy_network"
    return None


def board_prizes(prizes: list[int]) -> list[int]:
    """Prize points by rank (rank 1 first), trailing zero ranks dropped."""
    kept = [max(0, int(p)) for p in prizes]
    while kept and kept[-1] == 0:
        kept.pop()
    return kept


def board_rewards(reward_ids: list[int | None]) -> list[int] | None:
    """Prize reward ids by rank (0: none), trailing empty ranks dropped; None when no rank gets one."""
    kept = [int(r or 0) for r in reward_ids]
    while kept and kept[-1] == 0:
        kept.pop()
    return kept or None
