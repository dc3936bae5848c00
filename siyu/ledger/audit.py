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
  and its state agrees with its resolution; an immediate credit is never posted or voided; a resolution
  names its lot's source
Per entry:
- each (kind, source_ref) at most once; each source credited at most once, pending or not
- a spend, void, expiry or deduction took exactly its amount from lots; an expiry is not early
- a refund follows a spend and gives back no more than was spent

How it reads a million entries in a few seconds: each table is read a small, fixed number of times, everything
is aggregated before it is joined, and uniqueness is first checked by counting keys in the order of the unique
indexes (a stream, no hashing): the rows behind a count that does not add up, or behind a lot that looks wrong,
are then looked up in detail, so the messages stay as exact as they are for a tenant of ten entries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.bulk import bulk_reads

# PostgreSQL: the audit reads a whole tenant. Its aggregates and joins hold a row per member or per lot (tens of
# MB for a million entries), far more than the default work_mem (4MB): they would spill to disk, or the planner
# would walk an index and fetch each row at random instead (one large tenant makes that index look sequential).
# Compiling the statements (JIT) costs more than it saves at this size. Both only for the audit's own statements.
AUDIT_WORK_MEM = "64MB"

# Per member: each table aggregated by member, then joined to the balances (no balance row: _WITHOUT_BALANCE).
_MEMBERS = text(
    """
    SELECT b.member_id, b.available, b.pending, b.debt, b.merged_into,
           COALESCE(l.posted, 0) AS lots_posted, COALESCE(l.pending, 0) AS lots_pending, COALESCE(l.lots, 0) AS lots,
           COALESCE(e.amount, 0) AS entries_available, COALESCE(e.pending, 0) AS entries_pending
    FROM ledger_balances b
    LEFT JOIN (
        SELECT member_id,
               CAST(SUM(CASE WHEN status = 'posted' THEN remaining ELSE 0 END) AS BIGINT) AS posted,
               CAST(SUM(CASE WHEN status = 'pending' THEN remaining ELSE 0 END) AS BIGINT) AS pending,
               COUNT(*) AS lots
        FROM ledger_lots WHERE tenant_id = :t GROUP BY member_id
    ) l ON l.member_id = b.member_id
    LEFT JOIN (
        SELECT member_id, CAST(SUM(amount) AS BIGINT) AS amount, CAST(SUM(pending_amount) AS BIGINT) AS pending
        FROM ledger_entries WHERE tenant_id = :t GROUP BY member_id
    ) e ON e.member_id = b.member_id
    WHERE b.tenant_id = :t
      AND (b.available <> COALESCE(l.posted, 0) - b.debt
           OR b.available <> COALESCE(e.amount, 0)
           OR b.pending <> COALESCE(l.pending, 0)
           OR b.pending <> COALESCE(e.pending, 0)
           OR b.debt < 0 OR b.pending < 0
           OR (b.debt > 0 AND COALESCE(l.posted, 0) > 0)
           OR (b.merged_into IS NOT NULL
               AND (b.available <> 0 OR b.pending <> 0 OR b.debt <> 0 OR COALESCE(l.lots, 0) > 0)))
    ORDER BY b.member_id
    """
)
# Members with lots or entries and no balance row: their ids read in the order of the member indexes.
_WITHOUT_BALANCE = text(
    """
    SELECT m.member_id FROM (
        SELECT member_id FROM ledger_lots WHERE tenant_id = :t GROUP BY member_id ORDER BY member_id
    ) m WHERE NOT EXISTS (SELECT 1 FROM ledger_balances b WHERE b.tenant_id = :t AND b.member_id = m.member_id)
    UNION ALL
    SELECT m.member_id FROM (
        SELECT member_id FROM ledger_entries WHERE tenant_id = :t GROUP BY member_id ORDER BY member_id
    ) m WHERE NOT EXISTS (SELECT 1 FROM ledger_balances b WHERE b.tenant_id = :t AND b.member_id = m.member_id)
    """
)

# Per lot, one row per resolution (post or void entry; normally none or one): its allocations, the credit that made
# it, the resolution. Two resolutions of one lot show as two rows: at most one can be right for the lot's state and
# source (and two with the same source are a duplicate entry).
_LOT_BROKEN = """
    l.amount <= 0 OR l.remaining < 0 OR l.remaining > l.amount
    OR l.status NOT IN ('pending', 'posted', 'voided')
    OR (l.status = 'voided' AND l.remaining <> 0)
    OR l.amount - l.remaining <> COALESCE(a.drawn, 0)
"""
_RESOLUTION_BROKEN = """
    c.kind IS NULL OR c.lot_id IS NULL OR c.lot_id <> l.id OR c.source_ref <> l.source_ref
    OR c.amount + c.pending_amount <> l.amount
    OR COALESCE(r.source_ref, l.source_ref) <> l.source_ref
    OR NOT ((c.kind = 'earn_pending' AND l.status = 'pending' AND r.id IS NULL)
            OR (c.kind = 'earn_pending' AND l.status = 'posted' AND COALESCE(r.kind, '') = 'post')
            OR (c.kind = 'earn_pending' AND l.status = 'voided' AND COALESCE(r.kind, '') = 'void')
            OR (c.kind IN ('earn', 'adjust') AND l.status = 'posted' AND r.id IS NULL))
"""  # (never NULL: a row without a resolution is judged like any other)
_LOTS = text(
    f"""
    WITH a AS (
        SELECT lot_id, CAST(SUM(amount) AS BIGINT) AS drawn
        FROM ledger_allocations WHERE tenant_id = :t GROUP BY lot_id
    )
    SELECT l.id, l.amount, l.remaining, l.status, COALESCE(a.drawn, 0) AS drawn,
           CASE WHEN {_LOT_BROKEN} THEN 1 ELSE 0 END AS lot_broken,
           CASE WHEN {_RESOLUTION_BROKEN} THEN 1 ELSE 0 END AS resolution_broken
    FROM ledger_lots l
    LEFT JOIN a ON a.lot_id = l.id
    LEFT JOIN ledger_entries c
        ON c.tenant_id = l.tenant_id AND c.id = l.entry_id AND c.kind IN ('earn', 'earn_pending', 'adjust')
    LEFT JOIN ledger_entries r ON r.tenant_id = l.tenant_id AND r.lot_id = l.id AND r.kind IN ('post', 'void')
    WHERE l.tenant_id = :t AND ({_LOT_BROKEN} OR {_RESOLUTION_BROKEN})
    ORDER BY l.id
    """
)
# The lots found above whose credit or resolutions are wrong, in detail.
_RESOLUTIONS_OF = text(
    """
    SELECT l.id, l.source_ref, l.status, c.kind AS credit_kind,
           SUM(CASE WHEN r.kind = 'post' THEN 1 ELSE 0 END) AS posts,
           SUM(CASE WHEN r.kind = 'void' THEN 1 ELSE 0 END) AS voids
    FROM ledger_lots l
    LEFT JOIN ledger_entries c ON c.tenant_id = l.tenant_id AND c.id = l.entry_id
    LEFT JOIN ledger_entries r ON r.tenant_id = l.tenant_id AND r.lot_id = l.id AND r.kind IN ('post', 'void')
    WHERE l.tenant_id = :t AND l.id IN :ids
    GROUP BY l.id, l.source_ref, l.status, c.kind
    ORDER BY l.id
    """
).bindparams(bindparam("ids", expanding=True))

# Uniqueness: as many keys as rows? Counted in the order of the unique indexes (tenant_id, kind, source_ref) and
# (tenant_id, source_ref), which the ORDER BY asks for: a stream over the index instead of a hash of every key.
_KEY_COUNTS = text(
    """
    SELECT (SELECT COUNT(*) FROM ledger_entries WHERE tenant_id = :t) AS entries,
           (SELECT COUNT(*) FROM (SELECT kind, source_ref FROM ledger_entries WHERE tenant_id = :t
                                  GROUP BY kind, source_ref ORDER BY kind, source_ref) k) AS entry_keys,
           (SELECT COUNT(*) FROM ledger_lots WHERE tenant_id = :t) AS lots,
           (SELECT COUNT(*) FROM (SELECT source_ref FROM ledger_lots WHERE tenant_id = :t
                                  GROUP BY source_ref ORDER BY source_ref) k) AS lot_keys
    """
)
_DUPLICATE_ENTRIES = text(
    """
    SELECT kind, source_ref, COUNT(*) AS n FROM ledger_entries WHERE tenant_id = :t
    GROUP BY kind, source_ref HAVING COUNT(*) > 1 ORDER BY kind, source_ref
    """
)
_DUPLICATE_LOTS = text(
    """
    SELECT source_ref, COUNT(*) AS n FROM ledger_lots WHERE tenant_id = :t
    GROUP BY source_ref HAVING COUNT(*) > 1 ORDER BY source_ref
    """
)
# A source credited both held and at once (the same kind twice is a duplicate entry, counted above).
_CREDITED_BOTH_WAYS = text(
    """
    SELECT p.source_ref FROM ledger_entries p
    JOIN ledger_entries e ON e.tenant_id = p.tenant_id AND e.kind = 'earn' AND e.source_ref = p.source_ref
    WHERE p.tenant_id = :t AND p.kind = 'earn_pending'
    """
)
_CREDITS_OF = text(
    """
    SELECT source_ref, COUNT(*) AS n FROM ledger_entries
    WHERE tenant_id = :t AND kind IN ('earn', 'earn_pending') AND source_ref IN :refs
    GROUP BY source_ref ORDER BY source_ref
    """
).bindparams(bindparam("refs", expanding=True))

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

_EMPTY_ALLOCATIONS = text(
    "SELECT entry_id, lot_id, amount FROM ledger_allocations WHERE tenant_id = :t AND amount = 0 ORDER BY entry_id"
)
# Allocations of lots that do not exist: the lots they name, in the order of both indexes (a merge, no hash of all
# the tenant's lots).
_ALLOCATED_UNKNOWN_LOTS = text(
    """
    SELECT a.lot_id FROM (
        SELECT lot_id FROM ledger_allocations WHERE tenant_id = :t GROUP BY lot_id ORDER BY lot_id
    ) a
    LEFT JOIN (SELECT id FROM ledger_lots WHERE tenant_id = :t ORDER BY id) l ON l.id = a.lot_id
    WHERE l.id IS NULL
    """
)
_ALLOCATIONS_OF = text(
    """
    SELECT entry_id, lot_id, amount FROM ledger_allocations WHERE tenant_id = :t AND lot_id IN :lots
    ORDER BY entry_id, lot_id
    """
).bindparams(bindparam("lots", expanding=True))


async def check_invariants(session: AsyncSession, tenant_id: int) -> list[str]:
    """Every violation of the ledger's invariants in this tenant, in words; [] when the books balance."""
    await session.flush()
    async with bulk_reads(session, work_mem=AUDIT_WORK_MEM):
        params = {"t": tenant_id}
        return [
            *await _members(session, params),
            *await _lots(session, params),
            *await _duplicates(session, params),
            *await _entries(session, params),
        ]


async def _members(session: AsyncSession, params: dict[str, Any]) -> list[str]:
    problems: dict[int, list[str]] = {}
    for member_id in sorted(set((await session.execute(_WITHOUT_BALANCE, params)).scalars())):
        problems[member_id] = [f"member {member_id}: has entries or lots but no balance row"]
    for m in (await session.execute(_MEMBERS, params)).mappings():
        who = f"member {m['member_id']}"
        out = problems.setdefault(m["member_id"], [])
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
    return [problem for _, found in sorted(problems.items()) for problem in found]


async def _lots(session: AsyncSession, params: dict[str, Any]) -> list[str]:
    out: list[str] = []
    broken: dict[int, Any] = {}
    unresolved: set[int] = set()
    for lot in (await session.execute(_LOTS, params)).mappings():  # (a lot with two resolutions: two rows)
        if lot["lot_broken"]:
            broken[lot["id"]] = lot
        if lot["resolution_broken"]:
            unresolved.add(lot["id"])
    for lot in broken.values():
        out.append(
            f"lot {lot['id']} ({lot['status']}): amount {lot['amount']}, remaining {lot['remaining']}, "
            f"allocations {lot['drawn']} (amount - remaining must equal allocations, 0 <= remaining <= amount)"
        )
    if unresolved:
        lots = await session.execute(_RESOLUTIONS_OF, {**params, "ids": sorted(unresolved)})
        for lot in lots.mappings():
            out.append(
                f"lot {lot['id']} ({lot['source_ref']}, {lot['status']}, credited by {lot['credit_kind']}): "
                f"{lot['posts']} post and {lot['voids']} void entries disagree with its state or its credit"
            )
    return out


async def _duplicates(session: AsyncSession, params: dict[str, Any]) -> list[str]:
    out: list[str] = []
    counts = (await session.execute(_KEY_COUNTS, params)).one()
    duplicates = []
    if counts.entries != counts.entry_keys:
        duplicates = list((await session.execute(_DUPLICATE_ENTRIES, params)).mappings())
    for dup in duplicates:
        out.append(f"{dup['kind']} {dup['source_ref']}: {dup['n']} times (at most once)")
    twice = {dup["source_ref"] for dup in duplicates if dup["kind"] in ("earn", "earn_pending")}
    twice.update((await session.execute(_CREDITED_BOTH_WAYS, params)).scalars())
    if twice:
        for dup in (await session.execute(_CREDITS_OF, {**params, "refs": sorted(twice)})).mappings():
            out.append(f"credit {dup['source_ref']}: {dup['n']} times (at most once)")
    if counts.lots != counts.lot_keys:
        for dup in (await session.execute(_DUPLICATE_LOTS, params)).mappings():
            out.append(f"lot {dup['source_ref']}: {dup['n']} times (at most once)")
    return out


async def _entries(session: AsyncSession, params: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for entry in (await session.execute(_DRAWS, params)).mappings():
        out.append(
            f"{entry['kind']} entry {entry['id']}: changed {entry['change']} but drew {entry['drawn']} from lots"
        )
    for entry in (await session.execute(_EARLY_EXPIRY, params)).mappings():
        out.append(f"expire entry {entry['id']}: lot {entry['lot_id']} had not expired yet")
    for entry in (await session.execute(_REFUNDS, params)).mappings():
        out.append(f"refund {entry['source_ref']}: gave back {entry['amount']} of a spend of {entry['spent']}")
    wrong = list((await session.execute(_EMPTY_ALLOCATIONS, params)).mappings())
    unknown = list((await session.execute(_ALLOCATED_UNKNOWN_LOTS, params)).scalars())
    if unknown:
        wrong += list((await session.execute(_ALLOCATIONS_OF, {**params, "lots": unknown})).mappings())
    seen = set()
    for allocation in wrong:
        key = (allocation["entry_id"], allocation["lot_id"])
        if key not in seen:
            seen.add(key)
            out.append(
                f"allocation of entry {allocation['entry_id']} on lot {allocation['lot_id']}: "
                f"{allocation['amount']} (zero or unknown lot)"
            )
    return out
