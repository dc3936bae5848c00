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


def order_of(source_ref: str) -> tuple[str, str] | None:
    """(platform, order number) of a source that names an order."""
    if not source_ref.startswith(ORDER_PREFIX):
        return None
    platform, _, number = source_ref[len(ORDER_PREFIX) :].partition(":")
    return (platform, number) if number else None


def task_ref(task_id: int, member_id: int, period_key: str, n: int = 1) -> str:
    """A points task completed by a member in a period (the n-th time in it, when the task allows more than one)."""
    return f"task:{task_id}:{member_id}:{period_key}" + (f":{n}" if n > 1 else "")


def review_ref(platform: str, order_id: str) -> str:
    """An approved review screenshot (评价有礼) of an order: paid once per order, whoever asks twice."""
    return f"review:{platform}:{order_id}"


def invite_ref(referral_id: int, side: str) -> str:
    """One side ("inviter" or "invitee") of an invitation's reward (siyu.engagement.referrals): paid once."""
    return f"invite:{referral_id}:{side}"


def board_ref(board_id: int, rank: int) -> str:
    """The points prize of one rank of a share leaderboard (siyu.engagement.referrals): paid once."""
    return f"board:{board_id}:{rank}"


CHECKIN = "checkin"
CHECKIN_MAKEUP = "checkin-makeup"


def checkin_ref(member_id: int, day: date) -> str:
    """A member's daily check-in of one tenant-local day, as the source of its points (one credit a day)."""
    return f"{CHECKIN}:{member_id}:{day.isoformat()}"


def checkin_makeup_ref(member_id: int, day: date) -> str:
    """What a make-up check-in (补签) of one day cost her (one spend a day)."""
    return f"{CHECKIN_MAKEUP}:{member_id}:{day.isoformat()}"


def survey_ref(survey_id: int, member_id: int) -> str:
    """The points for answering a survey of fan voice (siyu.voice): paid once per member."""
    return f"survey:{survey_id}:{member_id}"


TRIAL = "trial"
TRIAL_PENALTY = "trial-penalty"


def trial_ref(application_id: int) -> str:
    """What applying for a product trial cost her (one spend per application; refunded once when she is not drawn)."""
    return f"{TRIAL}:{application_id}"


def trial_penalty_ref(application_id: int) -> str:
    """Points taken back when a trial's winner sends no report in time (at most once per application)."""
    return f"{TRIAL_PENALTY}:{application_id}"
