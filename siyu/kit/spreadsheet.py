"""Cells of the CSV and XLSX files we hand out, made safe to open in Excel, WPS or LibreOffice.

A text cell starting with = + - @ (or a tab or carriage return, which some programs skip before looking) is
read as a formula: a fan's nickname "=HYPERLINK(...)" in an order export would run on the ops' computer.
Such text gets a leading apostrophe, which spreadsheets show as "text, not a formula" (OWASP's advice).
Numbers are written as they are. Every export goes through `safe_row` / `safe_cell`.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from typing import TypeVar
from urllib.parse import quote

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

T = TypeVar("T")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: T) -> T | str:
    """`value` itself, unless it is text a spreadsheet would take for a formula: then with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[T]) -> list[T | str]:
    return [safe_cell(value) for value in values]


def attachment(filename: str) -> str:
    """A Content-Disposition that names a download, Chinese names included (RFC 6266)."""
    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


async def xlsx_bytes(
    sheet_name: str,
    headers: Sequence[str],
    chunks: AsyncIterator[list[list[object]]],
    text_columns: Collection[int],
    widths: Sequence[int],
) -> bytes:
    """An XLSX of `headers` and the rows `chunks` yields, every text cell made safe (long digit strings stay text).
    Written to a temporary file a row at a time (constant memory)."""
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
