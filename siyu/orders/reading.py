"""Turn an uploaded file into UTF-8 CSV text Polars can stream, whatever the platform wrote.

Encodings tried in order: UTF-8 (with or without BOM), UTF-16 (by BOM), GB18030 (a superset of GBK,
which classic Taobao exports use). Large GB18030 files are transcoded by iconv when the system has it
(several times faster than Python's codec; one process per CPU on parts of the file), otherwise by Python in
chunks; memory stays bounded. The whole file is transcoded (so checked) before anything of it is stored.
The UTF-8 text is then handed out in pieces that end at a record boundary (`record_chunks`).
XLSX is read with fastexcel into the same all-text table, once `check_xlsx` has seen it is no zip bomb.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import polars as pl

from siyu.kit import xlsx
from siyu.kit.errors import InvalidInput
from siyu.orders.layouts import clean_header

SNIFF_BYTES = 256 * 1024
CHUNK = 4 * 1024 * 1024
RECORD_CHUNK = 16 * 1024 * 1024  # bytes of UTF-8 text parsed at a time
PARALLEL_ICONV_BYTES = 32 * 1024 * 1024  # files at least this large are transcoded by several iconv processes
# An XLSX is parsed whole, in memory: its sheet XML may unpack to at most this, in at most Excel's rows.
XLSX_MAX_BYTES = 256 * 1024 * 1024
XLSX_MAX_ROWS = 1_048_576


class FileRefused(InvalidInput):
    """The whole file is refused; nothing from it is stored."""

    code = "file_refused"
    message = "文件无法导入"


@dataclass(frozen=True)
class TextFile:
    """A UTF-8 CSV on disk (possibly a transcoded copy) and what we learned reading its head."""

    path: Path
    encoding: str
    separator: str
    headers: list[str]
    transcoded: bool
    source_bytes: int
    parts: tuple[Path, ...] = ()  # the text is these files one after the other (`path` is the first); () = path

    @property
    def files(self) -> tuple[Path, ...]:
        return self.parts or (self.path,)


def is_xlsx(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def sniff_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the sniff window is still UTF-8.
        if error.start >= len(head) - 3 and error.reason == "unexpected end of data":
            return "utf-8"
    try:
        head.decode("gb18030")
    except UnicodeDecodeError:
        # Tolerate a character cut at the window's end; anything else is not a text export.
        try:
            head[:-4].decode("gb18030")
        except UnicodeDecodeError as error:
            raise FileRefused(
                "文件编码无法识别：请导出为 CSV（UTF-8 或 GBK）或 XLSX", code="unknown_encoding"
            ) from error
    return "gb18030"


def _first_record(text: str) -> tuple[list[str], str]:
    first_line = text.splitlines()[0] if text else ""
    separator = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                return row, separator
    except csv.Error as error:
        raise FileRefused("文件不是有效的 CSV 表格", code="not_a_table") from error
    return [], separator


def _line_starts(source: Path, parts: int) -> list[int]:
    """Offsets splitting the file into about `parts` pieces, each starting right after a newline byte.

    In GB18030 the byte 0x0A is never part of a multi-byte character, so each piece transcodes on its own."""
    size = source.stat().st_size
    starts = [0]
    with open(source, "rb") as handle:
        for n in range(1, parts):
            handle.seek(max(size * n // parts, starts[-1]))
            handle.readline()
            if handle.tell() >= size:
                break
            starts.append(handle.tell())
    return starts


def _iconv_part(iconv: str, source: Path, start: int, end: int, target: Path) -> bool:
    argv = [iconv, "-f", "GB18030", "-t", "UTF-8"]
    with open(source, "rb") as src, open(target, "wb") as dst:
        if end >= source.stat().st_size:  # to the end of the file: iconv reads it directly
            src.seek(start)
            return subprocess.run(argv, stdin=src, stdout=dst, stderr=subprocess.DEVNULL, check=False).returncode == 0  # noqa: S603
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=dst, stderr=subprocess.DEVNULL)  # noqa: S603
        assert process.stdin is not None
        try:
            _feed(src, process.stdin, start, end)
        except BrokenPipeError:
            pass  # iconv stopped at bad input: its exit status says so
        finally:
            process.stdin.close()
        return process.wait() == 0


def _feed(src: BinaryIO, pipe: IO[bytes], start: int, end: int) -> None:
    """Bytes [start, end) of `src` into `pipe`: by sendfile (no copy through Python) where the system allows."""
    offset = start
    try:
        while offset < end:
            sent = os.sendfile(pipe.fileno(), src.fileno(), offset, min(end - offset, CHUNK))
            if sent == 0:
                return
            offset += sent
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            raise
        src.seek(offset)
        while offset < end and (block := src.read(min(end - offset, CHUNK))):
            pipe.write(block)
            offset += len(block)


def _iconv(iconv: str, source: Path, target: Path) -> list[Path] | None:
    """GB18030 -> UTF-8 by iconv: the UTF-8 files, one per part of a large file (transcoded in parallel, one
    process per CPU, read one after the other later); None on bad input."""
    parts = min(os.cpu_count() or 1, 8) if source.stat().st_size >= PARALLEL_ICONV_BYTES else 1
    starts = _line_starts(source, parts)
    ends = [*starts[1:], source.stat().st_size]
    targets = [target] + [target.with_name(f"{target.name}.part{n}") for n in range(1, len(starts))]
    with ThreadPoolExecutor(max_workers=len(starts)) as pool:
        done = list(pool.map(lambda n: _iconv_part(iconv, source, starts[n], ends[n], targets[n]), range(len(starts))))
    if all(done):
        return targets
    for part in targets[1:]:
        part.unlink(missing_ok=True)
    return None


def _transcode(source: Path, target: Path, encoding: str) -> list[Path]:
    """`source` as UTF-8 text: the files that hold it, in order."""
    iconv = shutil.which("iconv")
    if encoding == "gb18030" and iconv and (parts := _iconv(iconv, source, target)):
        return parts
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with open(source, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(CHUNK):
                dst.write(decoder.decode(chunk))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as error:
        raise FileRefused(
            f"文件中有无法按 {encoding} 解码的内容（第 {error.start} 字节附近）", code="bad_encoding"
        ) from error
    return [target]


def open_text(path: Path, workdir: Path) -> TextFile:
    size = path.stat().st_size
    if size == 0:
        raise FileRefused("文件是空的", code="empty_file")
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    encoding = sniff_encoding(head)
    target, parts = path, [path]
    transcoded = encoding not in ("utf-8", "utf-8-sig")
    if transcoded:
        target = workdir / (path.name + ".utf8.csv")
        parts = _transcode(path, target, encoding)
        with open(target, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    text = head.decode("utf-8-sig", errors="ignore")
    headers, separator = _first_record(text)
    if not headers:
        raise FileRefused("文件里没有表头，也没有数据", code="empty_file")
    check_quotes(parts)
    return TextFile(
        path=target,
        encoding=encoding,
        separator=separator,
        headers=headers,
        transcoded=transcoded,
        source_bytes=size,
        parts=tuple(parts) if len(parts) > 1 else (),
    )


def check_quotes(files: Sequence[Path], size: int = RECORD_CHUNK, quote: bytes = b'"') -> None:
    """Refuse a file whose quotes do not pair up: from its last unpaired quote on, the whole rest of the file would
    be one cell, which no retry can read. One pass counting bytes (no parsing), before anything is imported."""
    quotes, lines, last_quote_line = 0, 0, 0
    for path in files:
        with open(path, "rb") as handle:
            while block := handle.read(size):
                found = block.count(quote)
                if found:
                    quotes += found
                    last_quote_line = lines + block.count(b"\n", 0, block.rfind(quote)) + 1
                lines += block.count(b"\n")
    if quotes % 2:
        raise FileRefused(
            f'第 {last_quote_line} 行附近有一个没有配对的英文引号（"），从那里起的内容无法分成单元格。'
            "请在表格软件里打开检查这一行（或重新从平台导出）后再导入",
            code="unbalanced_quote",
        )


def record_chunks(files: Sequence[Path], size: int = RECORD_CHUNK, quote: bytes = b'"') -> Iterator[bytes]:
    """The bytes of `files` (one text, one after the other) in pieces of about `size` that each end at a record
    boundary: a newline outside quotes.

    Quote state is tracked the way Polars splits a CSV for parallel parsing (every quote byte toggles it), so
    parsing the pieces one after the other gives the rows parsing the whole file would. A record longer than a
    piece makes the piece longer; memory is bounded by the piece size otherwise."""
    carry = b""
    for path in files:
        with open(path, "rb") as handle:
            while block := handle.read(size):
                data = carry + block
                cut = _last_record_end(data, quote)
                if cut < 0:
                    carry = data
                    continue
                yield data[: cut + 1]
                carry = data[cut + 1 :]
    if carry:
        yield carry


def _last_record_end(data: bytes, quote: bytes) -> int:
    """Index of the last newline of `data` (which starts at a record boundary) that is outside quotes; -1 if none."""
    cut = data.rfind(b"\n")
    if cut < 0:
        return -1
    quotes_before = data.count(quote) - data.count(quote, cut)
    while quotes_before % 2:
        previous = data.rfind(b"\n", 0, cut)
        if previous < 0:
            return -1
        quotes_before -= data.count(quote, previous, cut)
        cut = previous
    return cut


@dataclass(frozen=True)
class Sheet:
    """The first sheet of an XLSX: every header (cleaned, in order) and an all-text table of the columns read."""

    headers: list[str]
    frame: pl.DataFrame


def read_xlsx(path: Path, columns: Callable[[str], bool] | None = None, rows: Sequence[int] | None = None) -> Sheet:
    """The first sheet, read by fastexcel (in Rust, not cell by cell), its cells as text.

    fastexcel parses the whole sheet whatever is asked of it (a range of rows costs as much as all of them), so
    what saves time and memory is converting fewer cells: with `columns`, only the columns whose cleaned header
    it accepts (every header is still seen and returned); with `rows`, only those data rows (0 = the first row
    under the header)."""
    import fastexcel

    headers: list[str] = []

    def use(column: Any) -> bool:
        header = clean_header(str(column.name))
        headers.append(header)
        return columns is None or columns(header)

    wanted = None if rows is None else set(rows)
    try:
        sheet = fastexcel.read_excel(str(path)).load_sheet(
            0,
            dtypes="string",
            use_columns=use,
            skip_rows=None if wanted is None else (lambda row: row not in wanted),
        )
        frame = sheet.to_polars()
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, Exception) as error:
        if isinstance(error, FileRefused):
            raise
        raise FileRefused("XLSX 文件已损坏或不是 Excel 文件", code="corrupt_xlsx") from error
    if not headers:
        raise FileRefused("表格是空的", code="empty_file")
    frame = frame.rename({c: clean_header(c) for c in frame.columns})
    return Sheet(headers=headers, frame=frame.with_columns(pl.all().cast(pl.String)))


def check_xlsx(path: Path) -> int:
    """Refuse an XLSX too large to parse (a zip bomb among them) before fastexcel sees it; else its row count."""
    try:
        return xlsx.check_workbook(path, max_bytes=XLSX_MAX_BYTES, max_rows=XLSX_MAX_ROWS)
    except xlsx.WorkbookRefused as refused:
        raise FileRefused(refused.message, code=refused.code) from refused


def peek_headers(path: Path) -> list[str]:
    """The header row, read from the head of the file only (no full decode): quick refusals at upload.

    Blocking (an XLSX is checked and parsed here): call it in a thread from a request."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise FileRefused("文件是空的", code="empty_file")
    if is_xlsx(head):
        import fastexcel

        check_xlsx(path)

        try:
            sheet = fastexcel.read_excel(str(path)).load_sheet(0, n_rows=1, dtypes="string")
        except Exception as error:
            raise FileRefused("XLSX 文件已损坏或不是 Excel 文件", code="corrupt_xlsx") from error
        headers = [str(c) for c in sheet.to_polars().columns]
    else:
        encoding = sniff_encoding(head)
        text = head.decode("utf-8-sig" if encoding.startswith("utf-8") else encoding, errors="ignore")
        headers, _ = _first_record(text)
    if not headers:
        raise FileRefused("文件里没有表头，也没有数据", code="empty_file")
    return headers
