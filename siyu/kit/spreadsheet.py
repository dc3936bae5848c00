"""Cells of the CSV and XLSX files we hand out, made safe to open in Excel, WPS or LibreOffice.

A text cell starting with = + - @ (or a tab or carriage return, which some programs skip before looking) is
read as a formula: a fan's nickname "=HYPERLINK(...)" in an order export would run on the ops' computer.
Such text gets a leading apostrophe, which spreadsheets show as "text, not a formula" (OWASP's advice).
Numbers are written as they are. Every export goes through `safe_row` / `safe_cell`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

T = TypeVar("T")


def safe_cell(value: T) -> T | str:
    """`value` itself, unless it is text a spreadsheet would take for a formula: then with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[T]) -> list[T | str]:
    return [safe_cell(value) for value in values]
