"""Strict reader for the CSV exchanges (``renkei/layouts/csv/*.json``).

Some exchanges are CSV rather than fixed width (DOMAIN.md section 4). They are small next to
the eligibility extract, so a plain Python pass is enough; the rules are the same as for the
fixed-width reader: CP932 only (no BOM, no UTF-8), CRLF, the header exactly as the layout
says, ASCII digits only in number fields, and errors that name the file, record number
(the header is record 1) and field — never the value.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from renkei.fixedwidth.reader import RecordError

COLUMN_TYPES = {
    "code": "ASCII digits kept as a string (leading zeros matter)",
    "year": "four ASCII digits, a calendar or fiscal year",
    "flag": "1 or 0",
    "yen": "non-negative integer yen in ASCII digits, no separators",
    "date": "ISO date YYYY-MM-DD (Gregorian)",
}
_DIGITS = re.compile(r"[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Column:
    name: str
    label_ja: str
    type: str
    length: int | None = None
    max_length: int | None = None
    optional: bool = False
    personal: bool = False
    restricted: bool = False


@dataclass(frozen=True)
class CsvLayout:
    name: str
    title_ja: str
    title_en: str
    encoding: str
    line_ending: str
    file_pattern: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]


@cache
def load_csv_layout(name: str) -> CsvLayout:
    raw = json.loads(resources.files("renkei.layouts").joinpath("csv", f"{name}.json")
                     .read_text("utf-8"))
    columns = tuple(Column(**c) for c in raw.pop("columns"))
    for c in columns:
        if c.type not in COLUMN_TYPES:
            raise ValueError(f"csv layout {name}: column {c.name} has unknown type {c.type}")
    return CsvLayout(columns=columns, **raw)


def _convert(path: Path, record_no: int, col: Column, text: str) -> object:
    def bad(reason: str) -> RecordError:
        return RecordError(path, record_no, f"{col.name} ({col.label_ja})", reason)

    if text == "":
        if col.optional:
            return None
        raise bad("required field is blank")
    if not text.isascii():
        raise bad("non-ASCII characters where ASCII is expected (full-width digits?)")
    if col.type == "date":
        if not _DATE.fullmatch(text):
            raise bad("not a date in YYYY-MM-DD form")
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise bad("date does not exist in the calendar") from None
    if not _DIGITS.fullmatch(text):
        raise bad("not ASCII digits")
    if col.type == "code":
        if col.length is not None and len(text) != col.length:
            raise bad(f"must be exactly {col.length} digits")
        if col.max_length is not None and len(text) > col.max_length:
            raise bad(f"longer than {col.max_length} digits")
        return text
    if col.type == "flag":
        if text not in ("0", "1"):
            raise bad("must be 1 or 0")
        return text == "1"
    if col.type == "year":
        if len(text) != 4:
            raise bad("must be a four-digit year")
        return int(text)
    return int(text)  # yen


def read_csv(path: Path, layout: CsvLayout) -> dict[str, list]:
    """Read the whole file strictly; return one list per column (record_no included).

    Raises :class:`RecordError` at the first problem; nothing is returned half-read.
    """
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        raise RecordError(path, 1, None, "starts with a UTF-8 byte order mark; CP932 without BOM "
                          "is expected")
    if not data:
        raise RecordError(path, None, None, "the file is empty (not even a header)")
    eol = layout.line_ending.encode("ascii")
    bare_lf = data.replace(b"\r\n", b"").find(b"\n")
    if eol == b"\r\n" and bare_lf >= 0:
        first = data.find(b"\n", 0)
        while first > 0 and data[first - 1:first] == b"\r":
            first = data.find(b"\n", first + 1)
        raise RecordError(path, data[:first].count(b"\n") + 1, None, "line ending is not CRLF")
    if not data.endswith(eol):
        raise RecordError(path, data.count(b"\n") + 1, None,
                          "the last record is truncated (no line ending)")
    lines = data[: -len(eol)].split(eol)
    out: dict[str, list] = {"record_no": []} | {c.name: [] for c in layout.columns}
    for i, raw in enumerate(lines, start=1):
        if b"\n" in raw or b"\r" in raw:
            raise RecordError(path, i, None, "line ending is not CRLF")
        if b"\x00" in raw:
            raise RecordError(path, i, None, "NUL bytes in the record")
        try:
            text = raw.decode(layout.encoding)
        except UnicodeDecodeError:
            raise RecordError(path, i, None, f"not valid {layout.encoding.upper()} "
                              "(UTF-8 or a cut multi-byte character?)") from None
        row = next(csv.reader(io.StringIO(text), strict=True), [])
        if i == 1:
            if row != layout.header:
                raise RecordError(path, 1, None, "header row differs from the layout: expected "
                                  + ",".join(layout.header))
            continue
        if len(row) != len(layout.columns):
            raise RecordError(path, i, None, f"{len(row)} fields, the layout has "
                              f"{len(layout.columns)}")
        out["record_no"].append(i)
        for col, value in zip(layout.columns, row, strict=True):
            out[col.name].append(_convert(path, i, col, value))
    return out
