"""The points ledger: append-only entries, lots with expiry, allocations, cached balances and debt."""
