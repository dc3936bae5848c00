"""Tables ops download, as CSV (UTF-8 with BOM, so Excel opens Chinese correctly) or XLSX.

Long digit strings (order numbers, phones) are text in both: in XLSX a string cell, in CSV the `="…"` form
Excel reads as text, so a 19-digit Taobao order number is not turned into 1.93E+18. Any other text a spreadsheet
would run as a formula (a nickname "=HYPERLINK(…)") gets a leading apostrophe, in both.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import TypeVar

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.kit.pagination import Page, PageRequest
from siyu.kit.spreadsheet import XLSX_TYPE, attachment, safe_cell, xlsx_bytes

T = TypeVar("T")

FORMATS = ("csv", "xlsx")


def csv_cell(value: object, *, text: bool) -> object:
    if value is None:
        return ""
    if text and isinstance(value, str) and value.isdigit():
        return f'="{value}"'
    return safe_cell(value)


async def every_page(
    sessionmaker: async_sessionmaker[AsyncSession],
    read: Callable[[AsyncSession, PageRequest], Awaitable[Page[T]]],
    *,
    size: int = 200,
) -> AsyncIterator[tuple[AsyncSession, list[T]]]:
    """Every page of a list, read in a session of its own (an export streams on after the request's session has
    closed), with that session for what the rows need besides."""
    async with sessionmaker() as session:
        number = 1
        while True:
            result = await read(session, PageRequest(page=number, size=size))
            if result.items:
                yield session, result.items
            if not result.items or number >= result.pages:
                return
            number += 1


async def table_response(
    *,
    fmt: str,
    filename: str,
    sheet: str,
    headers: Sequence[str],
    chunks: AsyncIterator[list[list[object]]],
    text_columns: Collection[int] = (),
    widths: Sequence[int] = (),
) -> Response:
    """`chunks` yields lists of rows; CSV is streamed as they come, XLSX is written to a temporary file first."""
    if fmt == "xlsx":
        return Response(
            await xlsx_bytes(sheet, headers, chunks, text_columns, widths),
            media_type=XLSX_TYPE,
            headers={"Content-Disposition": attachment(f"{filename}.xlsx")},
        )

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        yield "\ufeff" + buffer.getvalue()
        async for chunk in chunks:
            buffer.seek(0)
            buffer.truncate()
            for row in chunk:
                writer.writerow([csv_cell(v, text=i in text_columns) for i, v in enumerate(row)])
            yield buffer.getvalue()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(f"{filename}.csv")},
    )
