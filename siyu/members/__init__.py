"""Members (one per person per tenant) and their identities on every platform (One ID)."""
