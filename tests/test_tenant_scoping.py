"""Every query of a tenant's table says "rows of this tenant" one way: siyu.kit.db.of_tenant.

A filter written by hand is one a reviewer has to read to trust; one helper is one place to read. Joins between
two tables of the same tenant (`A.tenant_id == B.tenant_id`) are not filters of a tenant and stay as they are.
The route-generated isolation test (test_tenant_isolation.py) is the net behind this rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import siyu

SOURCE = Path(siyu.__file__).parent
# A table's tenant column compared with anything but another table's tenant column.
BY_HAND = re.compile(r"\b(?:[A-Z]\w*|\w+\.c)\.tenant_id\s*==\s*+(?![A-Z]\w*\.tenant_id\b|\w+\.c\.tenant_id\b)")


def test_tenant_filters_are_spelt_by_the_one_helper() -> None:
    found = [
        f"{path.relative_to(SOURCE.parent)}:{number}: {line.strip()}"
        for path in sorted(SOURCE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if BY_HAND.search(line)
    ]
    assert not found, "use siyu.kit.db.of_tenant for a tenant filter:\n" + "\n".join(found)


def test_the_rule_sees_a_filter_by_hand_and_lets_a_join_be() -> None:
    assert BY_HAND.search("select(Order).where(Order.tenant_id == tenant_id)")
    assert BY_HAND.search('.where(lots.c.tenant_id == bindparam("tenant_id"))')
    assert not BY_HAND.search("(Order.tenant_id == OrderChange.tenant_id) & (Order.id == OrderChange.order_id)")
    assert not BY_HAND.search("if row is not None and row.tenant_id == tenant_id:")
