"""Building blocks with no domain knowledge: database base, types, ids, time, money, security, web glue."""
