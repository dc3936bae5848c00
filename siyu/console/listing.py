"""What every console table shares: its filters, sort and page in the address, and links that keep them.

A page builds a `Listing` from its query parameters; the macros in `console/_list.html` draw sortable column
headers, the result count and the pager from it, so every list pages, sorts and counts the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from siyu.kit.pagination import Page, PageRequest, Sort

T = TypeVar("T")

PAGE_SIZE = 50


@dataclass(frozen=True)
class Listing:
    path: str
    sort: Sort
    page: int = 1
    filters: Mapping[str, str] = field(default_factory=dict)  # the other query parameters, kept on every link
    size: int = PAGE_SIZE

    @classmethod
    def of(
        cls,
        path: str,
        *,
        sort: str | None,
        allowed: Collection[str],
        default: str,
        page: int = 1,
        size: int = PAGE_SIZE,
        **filters: str | int | None,
    ) -> Listing:
        kept = {key: str(value) for key, value in filters.items() if value not in (None, "")}
        return cls(
            path=path,
            sort=Sort.parse(sort, allowed=allowed, default=default),
            page=page,
            filters=kept,
            size=size,
        )

    @property
    def request(self) -> PageRequest:
        return PageRequest(page=self.page, size=self.size)

    @property
    def filtered(self) -> bool:
        return bool(self.filters)

    def url(self, *, page: int | None = None, sort: str | None = None, path: str | None = None) -> str:
        params = dict(self.filters)
        params["sort"] = sort or self.sort.token
        if page is not None and page > 1:
            params["page"] = str(page)
        return f"{path or self.path}?{urlencode(params)}"

    def sort_url(self, key: str) -> str:
        """Clicking a header sorts by it; clicking the sorted header again turns the direction round."""
        if key == self.sort.key:
            return self.url(sort=key if self.sort.descending else f"-{key}")
        return self.url(sort=f"-{key}")

    def export_url(self, path: str) -> str:
        return self.url(path=path)


def paged(items: Sequence[T], listing: Listing, keys: Mapping[str, Callable[[T], Any]]) -> Page[T]:
    """Sort and page a short list the service returns whole (rewards, lotteries, staff …) the way the database
    pages the long ones, so that every console table behaves the same. Empty values sort last."""
    key = keys[listing.sort.key]
    present = [item for item in items if key(item) is not None]
    missing = [item for item in items if key(item) is None]
    ordered = sorted(present, key=key, reverse=listing.sort.descending) + missing
    request = listing.request
    return Page(items=ordered[request.offset : request.offset + request.size], total=len(ordered), request=request)
