"""How a source of points is named in the ledger (`source_ref`): the one place that spells each format.

The ledger knows nothing of what a source is (an order's status, its amounts): callers name the source and the
ledger keeps it unique. Names are `<kind>:<parts joined by ":">`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, literal

ORDER = "order"
ORDER_PREFIX = f"{ORDER}:"


def order_ref(platform: str, order_id: str) -> str:
    """An order of a platform, as the source of the points it earned (one credit per order)."""
    return f"{ORDER_PREFIX}{platform}:{order_id}"


def order_ref_sql(platform: ColumnElement[str], order_id: ColumnElement[str]) -> ColumnElement[str]:
    """order_ref spelt in SQL, for set-wise queries that join orders to their credits."""
    return literal(ORDER_PREFIX) + platform + literal(":") + order_id


def order_number(source_ref: str) -> str | None:
    """The order number a source names, when it names an order."""
    if not source_ref.startswith(ORDER_PREFIX):
        return None
    return source_ref.rsplit(":", 1)[-1]


CHECKIN = "checkin"
CHECKIN_MAKEUP = "checkin-makeup"


def checkin_ref(member_id: int, day: date) -> str:
    """A member's daily check-in of one tenant-local day, as the source of its points (one credit a day)."""
    return f"{CHECKIN}:{member_id}:{day.isoformat()}"


def checkin_makeup_ref(member_id: int, day: date) -> str:
    """What a make-up check-in (补签) of one day cost her (one spend a day)."""
    return f"{CHECKIN_MAKEUP}:{member_id}:{day.isoformat()}"
