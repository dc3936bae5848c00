"""Page-number pagination and column sorting shared by API lists and console tables."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    size: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "page", max(1, self.page))
        object.__setattr__(self, "size", min(200, max(1, self.size)))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    request: PageRequest

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.request.size))

    @property
    def first(self) -> int:
        """Position (from 1) of the first item on this page; 0 when the page is empty."""
        return self.request.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.request.offset + len(self.items)


@dataclass(frozen=True)
class Sort:
    """A list's order: a column key of the list and a direction. Written `key` (ascending) or `-key`."""

    key: str
    descending: bool = False

    @classmethod
    def parse(cls, raw: str | None, *, allowed: Collection[str], default: str) -> Sort:
        """The sort a request asks for, or `default` when it names a column the list cannot sort by."""
        value = (raw or "").strip()
        key = value.removeprefix("-")
        if key not in allowed:
            value, key = default, default.removeprefix("-")
        return cls(key=key, descending=value.startswith("-"))

    @property
    def token(self) -> str:
        return f"-{self.key}" if self.descending else self.key

    def order_by(self, columns: Mapping[str, Any], *tiebreak: Any) -> list[Any]:
        """ORDER BY clauses: the chosen column (empty values last), then `tiebreak` in the same direction."""
        first = columns[self.key]
        clauses: list[Any] = [(first.desc() if self.descending else first.asc()).nulls_last()]
        clauses += [column.desc() if self.descending else column.asc() for column in tiebreak]
        return clauses


async def paginate(
    session: AsyncSession, statement: Select[Any], page: PageRequest, order_by: list[ColumnElement[Any]] | list[Any]
) -> Page[Any]:
    """One page of `statement` (rows of one entity) and the number of rows it matches."""
    total = await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = await session.scalars(statement.order_by(*order_by).offset(page.offset).limit(page.size))
    return Page(items=list(rows), total=total, request=page)
