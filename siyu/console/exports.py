"""Tables ops download, as CSV (UTF-8 with BOM, so Excel opens Chinese correctly) or XLSX.

Long digit strings (order numbers, phones) are text in both: in XLSX a string cell, in CSV the `="…"` form
Excel reads as text, so a 19-digit Taobao order number is not turned into 1.93E+18. Any other text a spreadsheet
would run as a formula (a nickname "=HYPERLINK(…)") gets a leading apostrophe, in both.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import TypeVar
from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.kit.pagination import Page, PageRequest
from siyu.kit.spreadsheet import safe_cell

T = TypeVar("T")

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


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
            await _xlsx(sheet, headers, chunks, text_columns, widths),
            media_type=XLSX_TYPE,
            headers={"Content-Disposition": _disposition(f"{filename}.xlsx")},
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
        headers={"Content-Disposition": _disposition(f"{filename}.csv")},
    )


async def _xlsx(
    sheet_name: str,
    headers: Sequence[str],
    chunks: AsyncIterator[list[list[object]]],
    text_columns: Collection[int],
    widths: Sequence[int],
) -> bytes:
    import xlsxwriter

    with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
        book = xlsxwriter.Workbook(handle.name, {"constant_memory": True, "strings_to_numbers": False})
        sheet = book.add_worksheet(sheet_name)
        bold = book.add_format({"bold": True, "bg_color": "#F2F2F2"})
        money = book.add_format({"num_format": "0.00"})
        for column, width in enumerate(widths):
            sheet.set_column(column, column, width)
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, list(headers), bold)
        n = 0
        async for chunk in chunks:
            for row in chunk:
                n += 1
                for column, value in enumerate(row):
                    if value is None or value == "":
                        continue
                    if column in text_columns or isinstance(value, str):
                        sheet.write_string(n, column, str(safe_cell(str(value))))
                    elif isinstance(value, float):
                        sheet.write_number(n, column, value, money)
                    elif isinstance(value, int):
                        sheet.write_number(n, column, value)
                    else:
                        sheet.write_string(n, column, str(value))
        if n:
            sheet.autofilter(0, 0, n, len(headers) - 1)
        book.close()
        handle.seek(0)
        return handle.read()
