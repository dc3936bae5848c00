"""Reading what a fan typed: the order number in a pasted text, and the tenant's secondary check."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from siyu.claims.schemas import Check

_PDD = re.compile(r"\d{6}-\d{12,18}")
_DIGITS = re.compile(r"\d+")
_SPACED = re.compile(r"\d{3,6}(?:[ \u00a0]\d{3,6}){2,}")
MIN_DIGITS, MAX_DIGITS = 12, 25

# The shape of each platform's order numbers, as lengths of all-digit numbers (platform-exports.md: Taobao/Tmall
# 16 to 19 digits seen, 15 to 20 accepted; Douyin 19; Kuaishou 16; WeChat Channels about 19; the demo exports
# agree). Lenient on purpose: a number outside its platform's shape only makes us ask the fan which platform she
# meant, and only when it fits another one. Leading digits are not used (not documented anywhere we trust).
# JD is left out: we know no shape for it, so a JD number is never questioned nor suggested.
SHAPES: dict[str, range] = {
    "taobao": range(15, 21),
    "douyin": range(18, 21),
    "kuaishou": range(15, 18),
    "channels": range(18, 21),
}


def order_number(platform: str, text: str) -> str | None:
    """The order number in what a fan typed or pasted ("订单编号：1930679858170647 复制" -> "1930679858170647").
    None when there is none, or more than one different candidate."""
    text = unicodedata.normalize("NFKC", text or "")[:500]
    if platform == "pdd":
        found = set(_PDD.findall(text))
        return found.pop() if len(found) == 1 else None
    candidates = {token for token in _DIGITS.findall(text) if MIN_DIGITS <= len(token) <= MAX_DIGITS}
    if not candidates:  # written in groups: "1930 6798 5817 0647"
        candidates = {
            joined
            for group in _SPACED.findall(text)
            if MIN_DIGITS <= len(joined := re.sub(r"\D", "", group)) <= MAX_DIGITS
        }
    return candidates.pop() if len(candidates) == 1 else None


def fits(platform: str, order_id: str) -> bool:
    """Whether a number read for `platform` has that platform's shape (True for a platform of unknown shape)."""
    if platform == "pdd":
        return _PDD.fullmatch(order_id) is not None
    shape = SHAPES.get(platform)
    return shape is None or (order_id.isdigit() and len(order_id) in shape)


def fitting_elsewhere(platform: str, text: str, read: str | None, platforms: tuple[str, ...]) -> tuple[str, ...]:
    """When the number `read` for `platform` from `text` does not have that platform's shape: the platforms among
    `platforms` whose shape the text's number has (a 16-digit Taobao number typed under 抖音 -> taobao, kuaishou).
    Empty when it fits `platform`, or fits nothing else we know (then it is her number as she typed it). A
    well-shaped number costs one length check: this is on the claim path."""
    if read is not None and fits(platform, read):
        return ()
    found = []
    for other in platforms:
        if other != platform and (other in SHAPES or other == "pdd"):
            number = order_number(other, text)
            if number is not None and fits(other, number):
                found.append(other)
    return tuple(found)


def _normal(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def account_matches(stored: str, given: str) -> bool:
    """ "t**1" (as the platform masks it) matches "tiantian1"; unmasked values must be equal."""
    stored, given = _normal(stored), _normal(given)
    if not stored or not given:
        return False
    if "*" not in stored:
        return stored == given
    visible = [re.escape(part) for part in re.split(r"\*+", stored)]
    return re.fullmatch(".+".join(visible), given) is not None


def amount_matches(paid_fen: int, given: str) -> bool:
    cleaned = _normal(given).replace("¥", "").replace("￥", "").replace("元", "").replace(",", "")
    try:
        return round(float(cleaned) * 100) == paid_fen
    except ValueError:
        return False


def pay_date_matches(paid_at: datetime, timezone: str, given: str) -> bool:
    try:
        wanted = date.fromisoformat(_normal(given).replace("/", "-").replace(".", "-"))
    except ValueError:
        return False
    return paid_at.astimezone(ZoneInfo(timezone)).date() == wanted


def phone_last4_matches(receiver_phone: str, given: str) -> bool:
    digits = re.sub(r"\D", "", receiver_phone)
    wanted = re.sub(r"\D", "", given)
    return len(wanted) == 4 and len(digits) >= 4 and digits[-4:] == wanted


def check_passes(
    check: Check,
    given: str,
    *,
    accounts: tuple[str, ...],
    paid_fen: int,
    paid_at: datetime | None,
    receiver_phone: str | None,
    timezone: str,
) -> bool | None:
    """True or False; None when the order does not carry what the check needs (the check cannot be made)."""
    if check == Check.none:
        return True
    if check == Check.account:
        known = [a for a in accounts if a]
        return any(account_matches(a, given) for a in known) if known else None
    if check == Check.amount:
        return amount_matches(paid_fen, given)
    if check == Check.pay_date:
        return None if paid_at is None else pay_date_matches(paid_at, timezone, given)
    return None if not receiver_phone else phone_last4_matches(receiver_phone, given)
