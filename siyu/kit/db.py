"""Declarative base with a constraint naming convention and column helpers used by every domain."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import JSON, BigInteger, ColumnElement, Integer, MetaData, inspect, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, make_transient_to_detached, mapped_column
from sqlalchemy.orm.util import identity_key

from siyu.kit.time import utcnow
from siyu.kit.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; plain INTEGER on SQLite so a single-column key stays the rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL, JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: Json,
        int: BigInteger(),
    }


def of_tenant(model: Any, tenant_id: Any) -> ColumnElement[bool]:
    """Rows of one tenant: the one spelling of the filter that every repository's query of a tenant's table
    carries (`tenant_id` leads every such table's key). `tenant_id` is the id, or a bound parameter of a
    statement built once. tests/test_tenant_scoping.py keeps repositories from writing it by hand, and the
    route-generated isolation test (tests/test_tenant_isolation.py) is the net behind it."""
    column: ColumnElement[Any] = model.tenant_id
    return column == tenant_id


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


T = TypeVar("T")
KEPT = "siyu.kept"


def adopt(session: AsyncSession, row: object, values: dict[str, Any]) -> None:
    """A row whose every column is known (written with a plain INSERT of `values`, or read with a plain SELECT)
    becomes the session's as if the ORM had loaded it: no second INSERT, and changes to it flushed as UPDATEs."""
    for key, value in values.items():
        if key not in row.__dict__:
            setattr(row, key, value)
    make_transient_to_detached(row)
    session.add(row)


M = TypeVar("M", bound=Base)


def adopt_new(session: AsyncSession, model: type[M], values: dict[str, Any]) -> M:
    """`adopt` a row of `model` made straight from its columns' values: the constructor's attribute events (a
    tenth of the work of reading a row) are skipped, since none of them is a change."""
    row: M = model.__mapper__.class_manager.new_instance()
    row.__dict__.update(values)
    make_transient_to_detached(row)
    session.add(row)
    return row


def in_memory(session: AsyncSession, model: type[M], key: tuple[Any, ...]) -> M | None:
    """The row the session holds for this primary key, when every column of it is loaded: what `session.get` would
    answer without asking the database, minus its trip through the ORM's greenlet (a fan's every request reads her
    row by id more than once). None when the session does not hold it whole: ask `session.get`."""
    row = session.identity_map.get(identity_key(model, key))
    if row is None:
        return None
    state = inspect(row)
    if state.expired_attributes or state.deleted or state.was_deleted:
        return None
    return row


def keep(session: AsyncSession, row: T, limit: int = 256) -> T:
    """Hold a loaded row for the rest of the session, so that reading it again by primary key (session.get)
    finds it in the identity map, which holds rows only while someone else does. The most recent `limit`."""
    kept: OrderedDict[int, object] = session.info.setdefault(KEPT, OrderedDict())
    kept[id(row)] = row
    kept.move_to_end(id(row))
    if len(kept) > limit:
        kept.popitem(last=False)
    return row


async def gather_statistics(session: AsyncSession) -> dict[str, Any]:
    """Planner statistics: SQLite gathers none on its own (PostgreSQL's autovacuum does). The first time every
    table is analysed, then only those whose statistics went stale."""
    if session.bind is None or session.bind.dialect.name != "sqlite":
        return {"skipped": "autovacuum gathers statistics"}
    if not await session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
        await session.execute(text("ANALYZE"))
        return {"analyzed": "all"}
    await session.execute(text("PRAGMA optimize"))
    return {"optimized": True}
