"""Whom each order of the snapshot belongs to, in SQL over the snapshot's tables (DuckDB).

Three readings, from the narrowest:
- `claimed`: the member the order was credited to (she claimed it, or it was credited to an account she bound);
- `members`: that, or else the member who bound a buyer account the order carries;
- `tied`: that, or else the member a buyer account is tied to because it is on an order credited to her (a buyer
  id seen on an order she claimed ties all that buyer's orders on that platform to her).
An account seen on orders credited to two members ties to nobody; an order whose accounts lead to two members
belongs to nobody (beyond what was credited). Merged members count as the member they were merged into.
"""

from __future__ import annotations

from typing import Literal

Reading = Literal["claimed", "members", "tied"]
READINGS: tuple[Reading, ...] = ("claimed", "members", "tied")
RfmView = Literal["claimed", "tied"]  # the two views of member value


def owned_sql(reading: Reading, where: str = "TRUE") -> str:
    """CTEs ending in `owned`: the orders satisfying `where` (over columns of `orders`, unqualified), each with
    `owner` (the member it belongs to in this reading, or null)."""
    if reading == "claimed":
        return f"""
    owned AS (
      SELECT o.*, coalesce(g.into_id, o.member_id) AS owner
      FROM (SELECT * FROM orders WHERE {where}) o LEFT JOIN merges g ON g.member_id = o.member_id
    )"""
    seen = (
        """SELECT account, member_id FROM seen WHERE account NOT IN (SELECT account FROM bound)"""
        if reading == "tied"
        else "SELECT NULL::VARCHAR, NULL::BIGINT WHERE FALSE"
    )
    return f"""
    bound AS (
      SELECT b.account, coalesce(g.into_id, b.member_id) AS member_id
      FROM bindings b LEFT JOIN merges g ON g.member_id = b.member_id
    ),
    claimed_accounts AS (
      SELECT DISTINCT a.account, a.member_id FROM (
        SELECT unnest(c.accounts) AS account, coalesce(g.into_id, c.member_id) AS member_id
        FROM orders c LEFT JOIN merges g ON g.member_id = c.member_id WHERE c.member_id IS NOT NULL
      ) a
    ),
    seen AS (
      SELECT account, min(member_id) AS member_id FROM claimed_accounts
      GROUP BY account HAVING count(DISTINCT member_id) = 1
    ),
    ties AS (SELECT account, member_id FROM bound UNION ALL {seen}),
    in_scope AS (SELECT * FROM orders WHERE {where}),
    order_ties AS (
      SELECT u.platform, u.order_id, min(t.member_id) AS member_id
      FROM (SELECT platform, order_id, unnest(accounts) AS account FROM in_scope WHERE member_id IS NULL) u
      JOIN ties t ON t.account = u.account
      GROUP BY u.platform, u.order_id HAVING count(DISTINCT t.member_id) = 1
    ),
    owned AS (
      SELECT o.*, coalesce(g.into_id, o.member_id, ot.member_id) AS owner
      FROM in_scope o LEFT JOIN merges g ON g.member_id = o.member_id
      LEFT JOIN order_ties ot ON ot.platform = o.platform AND ot.order_id = o.order_id
    )"""
