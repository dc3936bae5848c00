"""Turn an uploaded file into UTF-8 CSV text Polars can stream, whatever the platform wrote.

Encodings tried in order: UTF-8 (with or without BOM), UTF-16 (by BOM), GB18030 (a superset of GBK,
which classic Taobao exports use). Large GB18030 files are transcoded by iconv when the system has it
(several times faster than Python's codec), otherwise by Python in chunks; memory stays bounded.
XLSX is read with fastexcel into the same all-text table.
"""

from __future__ import annotations

import codecs
import csv
import io
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from siyu.kit.errors import InvalidInput

SNIFF_BYTES = 256 * 1024
CHUNK = 4 * 1024 * 1024


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


def _transcode(source: Path, target: Path, encoding: str) -> None:
    iconv = shutil.which("iconv")
    if encoding == "gb18030" and iconv:
        with open(source, "rb") as src, open(target, "wb") as dst:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [iconv, "-f", "GB18030", "-t", "UTF-8"],
                stdin=src,
                stdout=dst,
                stderr=subprocess.PIPE,
                check=False,
            )
        if done.returncode == 0:
            return
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


def open_text(path: Path, workdir: Path) -> TextFile:
    size = path.stat().st_size
    if size == 0:
        raise FileRefused("文件是空的", code="empty_file")
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    encoding = sniff_encoding(head)
    target = path
    transcoded = encoding not in ("utf-8", "utf-8-sig")
    if transcoded:
        target = workdir / (path.name + ".utf8.csv")
        _transcode(path, target, encoding)
        with open(target, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    text = head.decode("utf-8-sig", errors="ignore")
    headers, separator = _first_record(text)
    if not headers:
        raise FileRefused("文件里没有表头，也没有数据", code="empty_file")
    return TextFile(
        path=target,
        encoding=encoding,
        separator=separator,
        headers=headers,
        transcoded=transcoded,
        source_bytes=size,
    )


def read_xlsx(path: Path) -> pl.DataFrame:
    """The first sheet as an all-text table (fastexcel reads it in Rust, not cell by cell)."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
        sheet = reader.load_sheet(0, dtypes="string")
        frame = sheet.to_polars()
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, Exception) as error:
        if isinstance(error, FileRefused):
            raise
        raise FileRefused("XLSX 文件已损坏或不是 Excel 文件", code="corrupt_xlsx") from error
    if frame.width == 0:
        raise FileRefused("表格是空的", code="empty_file")
    return frame.with_columns(pl.all().cast(pl.String))


def peek_headers(path: Path) -> list[str]:
    """The header row, read from the head of the file only (no full decode): quick refusals at upload."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise FileRefused("文件是空的", code="empty_file")
    if is_xlsx(head):
        import fastexcel

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
