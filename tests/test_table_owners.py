"""Each domain's queries name only its own tables. A domain asks another one through its service, so that the
owner of a table can change it without hunting for SQL elsewhere. The few set-wise questions that must join
across domains are listed here with the reason; a new one fails this test until it is listed (or rewritten)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import siyu
import siyu.models  # every table registered
from siyu.kit.db import Base

ROOT = Path(siyu.__file__).parent
DOMAINS = (
    "tenants",
    "staff",
    "members",
    "orders",
    "ledger",
    "loyalty",
    "claims",
    "mall",
    "fans",
    "audit",
    "jobs",
    "live",
    "groups",
    "voice",
    "segments",
)
QUERY_MODULES = re.compile(r"(repository|queries|batch)\.py$")
SQL = re.compile(r"\b(SELECT\b.*\bFROM|INSERT INTO|UPDATE\b.*\bSET|DELETE FROM|JOIN)\b", re.DOTALL)

# (module, table of another domain): why the query may name it.
ALLOWED = {
    ("siyu/claims/repository.py", "orders"): "waiting claims whose order arrived, and bound accounts' orders: one join",
    ("siyu/claims/repository.py", "member_identities"): "bound accounts' orders: one join over identities",
    ("siyu/ledger/batch_queries.py", "members"): "a batch of credits names no unknown member: one anti-join",
    ("siyu/claims/repository.py", "ledger_lots"): "bound accounts' orders not credited yet: one anti-join",
    ("siyu/loyalty/repository.py", "ledger_entries"): "tier growth of many members: one aggregate over their entries",
    ("siyu/loyalty/repository.py", "ledger_lots"): "expiry warnings of many members: one pass over their lots",
    ("siyu/loyalty/repository.py", "ledger_balances"): "tier reviews: the members who have points",
}


def _owners() -> dict[str, str]:
    owners = {}
    for mapper in Base.registry.mappers:
        domain = mapper.class_.__module__.split(".")[1]
        for table in mapper.tables:
            owners[table.name] = domain
    return owners


def _named_tables(path: Path, owners: dict[str, str]) -> set[str]:
    """Tables a module names: through another domain's models it imports, and in raw SQL text."""
    tree = ast.parse(path.read_text())
    classes = {mapper.class_.__name__: mapper for mapper in Base.registry.mappers}
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith(".models"):
            for alias in node.names:
                mapper = classes.get(alias.name)
                if mapper is not None and mapper.class_.__module__ == node.module:
                    named.update(table.name for table in mapper.tables)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in owners:  # a table named on its own (e.g. to a join helper)
                named.add(node.value)
            elif SQL.search(node.value):
                named.update(t for t in owners if re.search(rf"\b{t}\b", node.value))
    return named


def test_queries_name_only_their_own_domains_tables() -> None:
    owners = _owners()
    found = set()
    for domain in DOMAINS:
        for path in sorted((ROOT / domain).glob("*.py")):
            if not QUERY_MODULES.search(path.name):
                continue
            module = str(path.relative_to(ROOT.parent))
            for table in _named_tables(path, owners):
                if owners.get(table, domain) != domain:
                    found.add((module, table))
    assert found - set(ALLOWED) == set(), "queries naming another domain's tables (ask its service instead)"
    assert set(ALLOWED) - found == set(), "allowed crossings no longer used: remove them from ALLOWED"
