"""Reading the files ops upload to the mall: code pools (TXT/CSV, one code a line) and tracking numbers
(CSV or XLSX with a header row). Rows are numbered as a spreadsheet shows them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from siyu.kit import xlsx
from siyu.kit.errors import InvalidInput
from siyu.kit.spreadsheet import safe_cell
from siyu.kit.time import format_local

MAX_CODE = 120
MAX_ROWS = 100_000
XLSX_MAX_BYTES = 64 * 1024 * 1024  # a tracking sheet's XML, unpacked; checked before it is parsed


class FileUnreadable(InvalidInput):
    code = "file_unreadable"
    message = "文件无法读取，请上传 UTF-8 或 GBK 编码的 CSV / TXT，或 XLSX 表格"


class MissingColumns(InvalidInput):
    code = "missing_columns"
    message = "表格缺少必需的列：兑换单号、快递公司、运单号"


class TooManyRows(InvalidInput):
    code = "too_many_rows"
    message = f"一次最多导入 {MAX_ROWS} 行"


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileUnreadable()


@dataclass(frozen=True)
class Line:
    row: int
    value: str


def code_lines(data: bytes, filename: str) -> list[Line]:
    """One code a line; for a CSV the first column. Blank lines are kept (the report names them)."""
    text = decode(data)
    if filename.lower().endswith(".csv"):
        values = [(cells[0] if cells else "") for cells in _csv_rows(text)]
    else:
        values = text.splitlines()
    if len(values) > MAX_ROWS:
        raise TooManyRows()
    return [Line(n, value.strip()) for n, value in enumerate(values, start=1)]


HEADERS = {
    "redemption_id": ("兑换单号", "兑换订单号", "redemption_id", "订单号"),
    "carrier": ("快递公司", "物流公司", "carrier"),
    "tracking_no": ("运单号", "快递单号", "物流单号", "tracking_no"),
}


@dataclass(frozen=True)
class TrackingRow:
    row: int
    redemption_id: str
    carrier: str
    tracking_no: str


def _clean(header: object) -> str:
    return re.sub(r"\s+", "", str(header or "")).lower()


def _table(data: bytes, filename: str) -> list[list[str]]:
    if filename.lower().endswith((".xlsx", ".xls")) or data.startswith(b"PK\x03\x04"):
        import fastexcel

        try:
            xlsx.check_workbook(data, max_bytes=XLSX_MAX_BYTES, max_rows=MAX_ROWS + 1)  # + the header row
        except xlsx.WorkbookRefused as refused:
            if refused.code == "xlsx_too_many_rows":
                raise TooManyRows() from refused
            raise FileUnreadable(refused.message, code=refused.code) from refused
        try:
            frame = fastexcel.read_excel(data).load_sheet(0, dtypes="string", header_row=None).to_polars()
        except Exception as error:
            raise FileUnreadable("XLSX 文件已损坏或不是 Excel 文件") from error
        return [[("" if cell is None else str(cell)) for cell in row] for row in frame.iter_rows()]
    return _csv_rows(decode(data))


def _csv_rows(text: str) -> list[list[str]]:
    try:
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as error:
        raise FileUnreadable("CSV 文件格式有误（引号或换行不成对）") from error


def tracking_rows(data: bytes, filename: str) -> list[TrackingRow]:
    """The rows of a tracking file, by the header's names (兑换单号, 快递公司, 运单号).

    Blocking (an XLSX is checked and parsed here): call it in a thread from a request."""
    table = _table(data, filename)
    if not table:
        raise MissingColumns()
    header = [_clean(h) for h in table[0]]
    where: dict[str, int] = {}
    for field, names in HEADERS.items():
        for name in names:
            if _clean(name) in header:
                where[field] = header.index(_clean(name))
                break
    if len(where) < len(HEADERS):
        raise MissingColumns()
    if len(table) - 1 > MAX_ROWS:
        raise TooManyRows()

    def cell(cells: list[str], field: str) -> str:
        index = where[field]
        return cells[index].strip() if index < len(cells) else ""

    return [
        TrackingRow(n, cell(cells, "redemption_id"), cell(cells, "carrier"), cell(cells, "tracking_no"))
        for n, cells in enumerate(table[1:], start=2)
        if any(c.strip() for c in cells)
    ]


PICK_LIST_HEADER = [
    "兑换单号",
    "兑换时间",
    "奖品",
    "数量",
    "收件人",
    "手机号",
    "地区",
    "详细地址",
    "快递公司",
    "运单号",
]


def pick_list_xlsx(rows: Sequence[Any], timezone: str) -> bytes:
    """Redemptions to ship as an XLSX pick list. The number is written as text so Excel keeps all its digits;
    text that would read as a formula starts with an apostrophe."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("待发货")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, PICK_LIST_HEADER, bold)
    for n, row in enumerate(rows, start=1):
        address = row.address or {}
        sheet.write_string(n, 0, str(row.id))
        sheet.write_string(n, 1, format_local(row.created_at, timezone))
        sheet.write_string(n, 2, safe_cell(row.title))  # a fan's or an operator's words: never a formula
        sheet.write_number(n, 3, 1)
        for column, key in enumerate(("name", "phone", "region", "detail"), start=4):
            sheet.write_string(n, column, safe_cell(str(address.get(key, ""))))
    for column, width in enumerate((22, 17, 24, 6, 10, 14, 18, 36, 12, 22)):
        sheet.set_column(column, column, width)
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()
