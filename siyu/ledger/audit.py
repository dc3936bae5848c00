"""The ledger's invariants, computed in SQL over one tenant. An empty list means the books balance.

Per member (every member with a balance row, a lot or an entry):
- available == sum(remaining of posted lots) - debt     (lots: what she holds; debt: what she owes)
- available == sum(entries.amount)                        (the entries explain every point)
- pending == sum(remaining of pending lots) == sum(entries.pending_amount)
- debt >= 0, pending >= 0, and debt > 0 only while no posted lot holds points (new points repay debt first)
- a member merged away holds nothing: zero balance and no lots
Per lot:
- 0 <= remaining <= amount, and amount - remaining == sum of its allocations (every change is recorded)
- a voided lot holds nothing; a held credit is resolved at most once (posted or voided, never both),
  and its state agrees with its resolution; an immediate credit is never posted or voided
Per entry:
- each (kind, source_ref) at most once; each source credited at most once, pending or not
- a spend, void, expiry or deduction took exactly its amount from lots; an expiry is not early
- a refund follows a spend and gives back no more than was spent
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_MEMBERS = text(
    """
    WITH m AS (
        SELECT member_id FROM ledger_balances WHERE tenant_id = :t
        UNION SELECT member_id FROM ledger_lots WHERE tenant_id = :t
        UNION SELECT member_id FROM ledger_entries WHERE tenant_id = :t
    ),
    l AS (
        SELECT member_id,
               SUM(CASE WHEN status = 'posted' THEN remaining ELSE 0 END) AS posted,
               SUM(CASE WHEN status = 'pending' THEN remaining ELSE 0 END) AS pending,
               COUNT(*) AS lots
        FROM ledger_lots WHERE tenant_id = :t GROUP BY member_id
    ),
    e AS (
        SELECT member_id, SUM(amount) AS amount, SUM(pending_amount) AS pending
        FROM ledger_entries WHERE tenant_id = :t GROUP BY member_id
    )
    SELECT m.member_id, b.member_id IS NOT NULL AS has_balance,
           COALESCE(b.available, 0) AS available, COALESCE(b.pending, 0) AS pending, COALESCE(b.debt, 0) AS debt,
           b.merged_into,
           COALESCE(l.posted, 0) AS lots_posted, COALESCE(l.pending, 0) AS lots_pending, COALESCE(l.lots, 0) AS lots,
           COALESCE(e.amount, 0) AS entries_available, COALESCE(e.pending, 0) AS entries_pending
    FROM m
    LEFT JOIN ledger_balances b ON b.tenant_id = :t AND b.member_id = m.member_id
    LEFT JOIN l ON l.member_id = m.member_id
    LEFT JOIN e ON e.member_id = m.member_id
    WHERE b.member_id IS NULL
       OR b.available <> COALESCE(l.posted, 0) - b.debt
       OR b.available <> COALESCE(e.amount, 0)
       OR b.pending <> COALESCE(l.pending, 0)
       OR b.pending <> COALESCE(e.pending, 0)
       OR b.debt < 0 OR b.pending < 0
       OR (b.debt > 0 AND COALESCE(l.posted, 0) > 0)
       OR (b.merged_into IS NOT NULL AND (b.available <> 0 OR b.pending <> 0 OR b.debt <> 0 OR COALESCE(l.lots, 0) > 0))
    ORDER BY m.member_id
    """
)

_LOTS = text(
    """
    SELECT l.id, l.amount, l.remaining, l.status, COALESCE(a.drawn, 0) AS drawn
    FROM ledger_lots l
    LEFT JOIN (
        SELECT lot_id, SUM(amount) AS drawn FROM ledger_allocations WHERE tenant_id = :t GROUP BY lot_id
    ) a ON a.lot_id = l.id
    WHERE l.tenant_id = :t
      AND (l.amount <= 0 OR l.remaining < 0 OR l.remaining > l.amount
           OR l.status NOT IN ('pending', 'posted', 'voided')
           OR (l.status = 'voided' AND l.remaining <> 0)
           OR l.amount - l.remaining <> COALESCE(a.drawn, 0))
    ORDER BY l.id
    """
)

_RESOLUTIONS = text(
    """
    SELECT l.id, l.source_ref, l.status, c.kind AS credit_kind,
           SUM(CASE WHEN r.kind = 'post' THEN 1 ELSE 0 END) AS posts,
           SUM(CASE WHEN r.kind = 'void' THEN 1 ELSE 0 END) AS voids
    FROM ledger_lots l
    LEFT JOIN ledger_entries c ON c.tenant_id = l.tenant_id AND c.id = l.entry_id
    LEFT JOIN ledger_entries r ON r.tenant_id = l.tenant_id AND r.lot_id = l.id AND r.kind IN ('post', 'void')
    WHERE l.tenant_id = :t
    GROUP BY l.id, l.source_ref, l.status, l.amount, c.kind, c.amount, c.pending_amount, c.lot_id, c.source_ref
    HAVING c.kind IS NULL
        OR c.lot_id IS NULL OR c.lot_id <> l.id OR c.source_ref <> l.source_ref
        OR c.amount + c.pending_amount <> l.amount
        OR NOT (
            (c.kind = 'earn_pending' AND l.status = 'pending'
                AND SUM(CASE WHEN r.kind = 'post' THEN 1 ELSE 0 END) = 0
                AND SUM(CASE WHEN r.kind = 'void' THEN 1 ELSE 0 END) = 0)
            OR (c.kind = 'earn_pending' AND l.status = 'posted'
                AND SUM(CASE WHEN r.kind = 'post' THEN 1 ELSE 0 END) = 1
                AND SUM(CASE WHEN r.kind = 'void' THEN 1 ELSE 0 END) = 0)
            OR (c.kind = 'earn_pending' AND l.status = 'voided'
                AND SUM(CASE WHEN r.kind = 'post' THEN 1 ELSE 0 END) = 0
                AND SUM(CASE WHEN r.kind = 'void' THEN 1 ELSE 0 END) = 1)
            OR (c.kind IN ('earn', 'adjust') AND l.status = 'posted' AND COUNT(r.id) = 0)
        )
    ORDER BY l.id
    """
)

_DUPLICATE_ENTRIES = text(
    """
    SELECT kind, source_ref, COUNT(*) AS n FROM ledger_entries WHERE tenant_id = :t
    GROUP BY kind, source_ref HAVING COUNT(*) > 1
    UNION ALL
    SELECT 'credit' AS kind, source_ref, COUNT(*) AS n FROM ledger_entries
    WHERE tenant_id = :t AND kind IN ('earn', 'earn_pending') GROUP BY source_ref HAVING COUNT(*) > 1
    UNION ALL
    SELECT 'lot' AS kind, source_ref, COUNT(*) AS n FROM ledger_lots WHERE tenant_id = :t
    GROUP BY source_ref HAVING COUNT(*) > 1
    """
)

_DRAWS = text(
    """
    SELECT e.id, e.kind, e.amount + e.pending_amount AS change, COALESCE(SUM(a.amount), 0) AS drawn
    FROM ledger_entries e
    LEFT JOIN ledger_allocations a ON a.tenant_id = e.tenant_id AND a.entry_id = e.id
    WHERE e.tenant_id = :t AND (e.kind IN ('spend', 'void', 'expire') OR (e.kind = 'adjust' AND e.amount < 0))
    GROUP BY e.id, e.kind, e.amount, e.pending_amount
    HAVING e.amount + e.pending_amount + COALESCE(SUM(a.amount), 0) <> 0
    ORDER BY e.id
    """
)

_EARLY_EXPIRY = text(
    """
    SELECT e.id, l.id AS lot_id FROM ledger_entries e
    JOIN ledger_lots l ON l.tenant_id = e.tenant_id AND l.id = e.lot_id
    WHERE e.tenant_id = :t AND e.kind = 'expire' AND (l.expires_at IS NULL OR l.expires_at > e.created_at)
    """
)

_REFUNDS = text(
    """
    SELECT r.id, r.source_ref, r.amount, s.amount AS spent
    FROM ledger_entries r
    LEFT JOIN ledger_entries s ON s.tenant_id = r.tenant_id AND s.kind = 'spend' AND s.source_ref = r.source_ref
    WHERE r.tenant_id = :t AND r.kind = 'refund' AND (s.id IS NULL OR r.amount < 0 OR r.amount > -s.amount)
    """
)

_ALLOCATIONS = text(
    """
    SELECT a.entry_id, a.lot_id, a.amount FROM ledger_allocations a
    LEFT JOIN ledger_lots l ON l.tenant_id = a.tenant_id AND l.id = a.lot_id
    WHERE a.tenant_id = :t AND (a.amount = 0 OR l.id IS NULL)
    """
)


async def check_invariants(session: AsyncSession, tenant_id: int) -> list[str]:
    """Every violation of the ledger's invariants in this tenant, in words; [] when the books balance."""
    await session.flush()
    params = {"t": tenant_id}
    out: list[str] = []

    for m in (await session.execute(_MEMBERS, params)).mappings():
        who = f"member {m['member_id']}"
        if not m["has_balance"]:
            out.append(f"{who}: has entries or lots but no balance row")
            continue
        available, pending, debt = m["available"], m["pending"], m["debt"]
        if available != m["lots_posted"] - debt:
            out.append(f"{who}: available {available} != posted lots {m['lots_posted']} - debt {debt}")
        if available != m["entries_available"]:
            out.append(f"{who}: available {available} != sum of entries {m['entries_available']}")
        if pending != m["lots_pending"]:
            out.append(f"{who}: pending {pending} != pending lots {m['lots_pending']}")
        if pending != m["entries_pending"]:
            out.append(f"{who}: pending {pending} != sum of pending entries {m['entries_pending']}")
        if debt < 0 or pending < 0:
            out.append(f"{who}: negative debt {debt} or pending {pending}")
        if debt > 0 and m["lots_posted"] > 0:
            out.append(f"{who}: owes {debt} while holding {m['lots_posted']} posted points")
        if m["merged_into"] is not None and (available or pending or debt or m["lots"]):
            out.append(f"{who}: merged into {m['merged_into']} but still holds points or lots")

    for lot in (await session.execute(_LOTS, params)).mappings():
        out.append(
            f"lot {lot['id']} ({lot['status']}): amount {lot['amount']}, remaining {lot['remaining']}, "
            f"allocations {lot['drawn']} (amount - remaining must equal allocations, 0 <= remaining <= amount)"
        )

    for lot in (await session.execute(_RESOLUTIONS, params)).mappings():
        out.append(
            f"lot {lot['id']} ({lot['source_ref']}, {lot['status']}, credited by {lot['credit_kind']}): "
            f"{lot['posts']} post and {lot['voids']} void entries disagree with its state or its credit"
        )

    for dup in (await session.execute(_DUPLICATE_ENTRIES, params)).mappings():
        out.append(f"{dup['kind']} {dup['source_ref']}: {dup['n']} times (at most once)")

    for entry in (await session.execute(_DRAWS, params)).mappings():
        out.append(
            f"{entry['kind']} entry {entry['id']}: changed {entry['change']} but drew {entry['drawn']} from lots"
        )

    for entry in (await session.execute(_EARLY_EXPIRY, params)).mappings():
        out.append(f"expire entry {entry['id']}: lot {entry['lot_id']} had not expired yet")

    for entry in (await session.execute(_REFUNDS, params)).mappings():
        out.append(f"refund {entry['source_ref']}: gave back {entry['amount']} of a spend of {entry['spent']}")

    for allocation in (await session.execute(_ALLOCATIONS, params)).mappings():
        out.append(
            f"allocation of entry {allocation['entry_id']} on lot {allocation['lot_id']}: "
            f"{allocation['amount']} (zero or unknown lot)"
        )
    return out
