"""Look inside an uploaded XLSX before anything parses it: a zip bomb is refused in milliseconds.

An XLSX is a zip of XML parts. A few megabytes can hold gigabytes of sheet XML; the parsers (fastexcel)
read the whole sheet into memory whatever is asked of them. `check_workbook` refuses, before they run:

- a workbook whose parts declare more than `max_bytes` uncompressed, or compress suspiciously well;
- a first sheet (or shared strings) that really unpacks past `max_bytes` (read as a stream, a chunk at a time;
  zipfile never yields more than a part declares, and a part that lies fails its checksum);
- a first sheet with more than `max_rows` rows (counted on the stream, not parsed).

It is plain blocking work (memory stays at one chunk): run it in a thread when an event loop is waiting.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from siyu.kit.errors import InvalidInput

CHUNK = 1 << 20
# Ordinary sheets compress 5-20 times; a part that shrank more than this (and is not tiny) is a bomb.
MAX_RATIO = 200
RATIO_FLOOR = 1 << 20
# A row's opening tag, with or without a namespace prefix (never <rowBreaks> or <rows>).
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,15}:)?row[\s>/]")
_TAG_OVERLAP = 32  # longer than any match of _ROW_TAG
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class WorkbookRefused(InvalidInput):
    code = "corrupt_xlsx"
    message = "XLSX 文件已损坏或不是 Excel 文件"


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MB"


def _too_large(max_bytes: int) -> WorkbookRefused:
    return WorkbookRefused(
        f"XLSX 解压后超过 {_mib(max_bytes)}（或压缩比异常），无法导入。请分批导出，或导出为 CSV",
        code="xlsx_too_large",
    )


def check_workbook(source: Path | bytes, *, max_bytes: int, max_rows: int) -> int:
    """Refuse a workbook too large to parse safely (see the module); otherwise the first sheet's row count."""
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as book:
            infos = book.infolist()
            if sum(info.file_size for info in infos) > max_bytes:
                raise _too_large(max_bytes)
            for info in infos:
                if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                    raise _too_large(max_bytes)
            sheet = _first_sheet(book)
            rows = _stream(book, sheet, max_bytes=max_bytes, count_rows=True)
            if "xl/sharedStrings.xml" in book.NameToInfo:
                _stream(book, "xl/sharedStrings.xml", max_bytes=max_bytes, count_rows=False)
    except WorkbookRefused:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, ValueError, EOFError) as error:
        raise WorkbookRefused() from error
    except Exception as error:  # zlib.error, ElementTree.ParseError and the like: not a workbook we can read
        raise WorkbookRefused() from error
    if rows > max_rows:
        raise WorkbookRefused(
            f"表格有 {rows} 行，超过一次最多 {max_rows} 行的上限。请分批导出", code="xlsx_too_many_rows"
        )
    return rows


def _first_sheet(book: zipfile.ZipFile) -> str:
    """The part holding the workbook's first sheet (by workbook.xml and its relationships)."""
    names = book.NameToInfo
    try:
        workbook = ElementTree.fromstring(_small(book, "xl/workbook.xml"))  # noqa: S314 - no DTD (see _small)
        first = next(workbook.iter(_SHEET))
        rels = ElementTree.fromstring(_small(book, "xl/_rels/workbook.xml.rels"))  # noqa: S314
        target = next(r.get("Target", "") for r in rels.iter(_RELS) if r.get("Id") == first.get(_REL_ID))
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        if path in names:
            return path
    except (KeyError, StopIteration, ElementTree.ParseError):
        pass
    sheets = sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
    if not sheets:
        raise WorkbookRefused()
    return sheets[0]


def _small(book: zipfile.ZipFile, name: str) -> bytes:
    """A part that should be small (workbook.xml, its relationships); refused when it is not, or when it
    declares a DTD (no entities to expand, so the standard parser is safe on it)."""
    if book.getinfo(name).file_size > 4 * CHUNK:
        raise WorkbookRefused()
    data = book.read(name)
    if b"<!DOCTYPE" in data.upper():
        raise WorkbookRefused()
    return data


def _stream(book: zipfile.ZipFile, name: str, *, max_bytes: int, count_rows: bool) -> int:
    """Unpack one part a chunk at a time, refusing it past `max_bytes`; the number of rows in it if asked."""
    seen = rows = 0
    carry = b""
    with book.open(name) as part:
        while chunk := part.read(CHUNK):
            seen += len(chunk)
            if seen > max_bytes:
                raise _too_large(max_bytes)
            if count_rows:
                buffer = carry + chunk
                edge = max(len(buffer) - _TAG_OVERLAP, 0)
                rows += sum(1 for match in _ROW_TAG.finditer(buffer) if match.start() < edge)
                carry = buffer[edge:]
    if count_rows:
        rows += len(_ROW_TAG.findall(carry))
    return rows
