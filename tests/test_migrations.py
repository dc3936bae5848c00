"""Migrations run forwards and backwards on both databases and match the models exactly."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from siyu.db import downgrade, upgrade
from siyu.models import metadata
from tests.support.databases import fresh_database


async def test_the_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == [], "models and migrations disagree; add a migration"


def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    with fresh_database(tmp_path, "roundtrip", migrate=False) as url:
        upgrade(url)
        downgrade(url, "base")
        upgrade(url)


def test_every_tenant_owned_table_is_keyed_by_tenant_first() -> None:
    for table in metadata.sorted_tables:
        if "tenant_id" not in table.c or table.name in {"jobs", "staff_sessions"}:
            continue
        assert next(iter(table.primary_key.columns.keys())) == "tenant_id", table.name
        for constraint in table.constraints:
            columns = getattr(constraint, "columns", None)
            if constraint.__class__.__name__ == "UniqueConstraint" and columns is not None:
                assert next(iter(columns.keys())) == "tenant_id" or table.name == "api_keys", (table.name, constraint)
