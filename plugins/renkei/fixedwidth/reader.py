"""Read fixed-width CP932 files by layout, strictly, a chunk of records at a time.

Why vectorised, and why column-major: an extract of a 40-million-member insurer is ~10 GB,
and the reader must stay within half the speed of DuckDB scanning the same records as a
UTF-8 CSV (bench/README.md). Each chunk of records is gathered once into a column-major
byte matrix (one row per byte position of every non-kanji field), so each field's checks
and conversions run along contiguous memory; ``.all(axis=1)`` over short row slices is
several times slower. Kanji fields that are not kept are validated by a table of the
CP932 double-byte characters allowed in text instead of being decoded; records the table
cannot vouch for (a half-width character, anything invalid) take the exact decoding path,
which also words the error. A per-record Python loop would be two orders of magnitude
slower.

Strictness: any structural problem (byte-order mark, truncated or mis-terminated record,
wrong record type, bytes that are not CP932, a kanji cut by a field boundary, NUL padding,
a non-ASCII digit) raises :class:`RecordError` naming the file, the record number (the
header is record 1) and the field, never the value. Semantic checks (check digits, dates
that do not exist, duplicates) belong to the gate, which sees the whole file at once.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from renkei.eradate import parse_era_date_digits
from renkei.fixedwidth.arrow import strings_from_matrix
from renkei.layout import Field, Layout, RecordType

CR, LF, SPACE, NUL = 13, 10, 32, 0
UTF8_BOM = b"\xef\xbb\xbf"
_TEXT_PADDING = " \u3000"


class RecordError(ValueError):
    """A file cannot be read. The message names file, record and field, never a value."""

    def __init__(self, path: Path | str, record_no: int | None, field: Field | str | None,
                 reason: str):
        self.file = Path(path).name
        self.record_no = record_no
        self.field = field.name if isinstance(field, Field) else field
        label = f" ({field.label_ja})" if isinstance(field, Field) else ""
        where = [self.file]
        if record_no is not None:
            where.append(f"record {record_no}")
        if self.field:
            where.append(f"field {self.field}{label}")
        self.reason = reason
        super().__init__(f"{', '.join(where)}: {reason}")


@dataclass
class Chunk:
    """Parsed data records: ``record_no`` plus one array per requested field.

    Codes and text are object arrays of ``str`` (``None`` where an optional field is
    blank), or with ``strings="arrow"`` Arrow string arrays (null where blank) built
    straight from the bytes, no Python object per value; then ``raw[field]`` holds a code
    field's bytes as an (n, length) matrix. Ints are int64 with a mask in ``nulls``; era
    dates are ``datetime64[D]`` with ``NaT`` where blank and a boolean array
    ``invalid[field]`` where the digits name a day that does not exist (left for the gate
    to count).
    """

    record_no: np.ndarray
    values: dict[str, np.ndarray | pa.Array]
    nulls: dict[str, np.ndarray]
    invalid: dict[str, np.ndarray]
    raw: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.record_no)


class FixedWidthFile:
    """One fixed-width file opened against its layout.

    ``header`` and ``trailer`` are parsed on open; :meth:`chunks` yields the data records.
    Only the fields named in ``columns`` are materialised; every other field is still
    validated, so a file either reads completely or raises. ``strings="arrow"`` gives code
    and text fields as Arrow arrays (see :class:`Chunk`). ``threads`` parse chunks ahead
    of the caller (see :meth:`chunks`); at most ``threads + 1`` chunks are in memory.
    """

    def __init__(self, path: Path | str, layout: Layout, columns: Sequence[str] | None = None,
                 chunk_records: int = 200_000, strings: str = "object", threads: int = 2):
        if strings not in ("object", "arrow"):
            raise ValueError(f"strings must be 'object' or 'arrow', not {strings!r}")
        self.path = Path(path)
        self.layout = layout
        self.columns = set(columns) if columns is not None else None
        self.chunk_records = chunk_records
        self.arrow = strings == "arrow"
        self.threads = threads
        self._pools: set[ThreadPoolExecutor] = set()
        self._plans: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        self._fh = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        try:
            size = os.fstat(self._fh.fileno()).st_size
            self._check_frame(size, self._fh.read(layout.stride + 1))
            self.n_records = size // layout.stride
            self.header = self._parse_single(0, layout.header)
            self.trailer = self._parse_single(self.n_records - 1, layout.trailer)
        except Exception:
            self.close()
            raise

    # -- framing -------------------------------------------------------------------------
    def _err(self, record_no: int | None, field: Field | str | None, reason: str) -> RecordError:
        return RecordError(self.path, record_no, field, reason)

    def _read_rows(self, lo: int, hi: int) -> np.ndarray:
        """Records ``lo`` to ``hi - 1`` (0-based) as a (n, stride) byte matrix.

        Plain reads rather than mmap: memory stays bounded by the chunk size and no view of
        the file outlives a failed read (which would keep the file from being quarantined).
        """
        stride = self.layout.stride
        rows = np.empty((hi - lo, stride), dtype=np.uint8)
        buf, offset = memoryview(rows).cast("B"), lo * stride
        while buf:  # pread: safe from several threads at once, no shared file position
            got = os.preadv(self._fh.fileno(), [buf], offset)
            if not got:
                raise self._err(lo + 1, None, "file shrank while it was being read")
            buf, offset = buf[got:], offset + got
        return rows

    def _check_frame(self, size: int, buf: bytes) -> None:
        lay = self.layout
        if size == 0:
            raise self._err(None, None, "file is empty: expected a header, data and a trailer record")
        if buf[:3] == UTF8_BOM:
            raise self._err(1, None, "file starts with a UTF-8 byte-order mark; expected CP932")
        first_eol = buf.find(b"\n", 0, lay.stride + 1)
        if first_eol != -1 and first_eol != lay.stride - 1:
            raise self._err(1, None, f"record is {first_eol + 1} bytes including its line end, "
                                     f"layout needs {lay.stride} ({lay.record_length} + CRLF)")
        if size % lay.stride:
            self._locate_bad_framing(size)
        if size // lay.stride < 2:
            raise self._err(1, None, "file has fewer than two records (header and trailer)")

    def _locate_bad_framing(self, size: int) -> None:
        """The size is not a whole number of records: say where the framing breaks.

        A short or long record in the middle shifts every line end after it, so the first
        record whose CRLF is not where the layout puts it is the one at fault; only when all
        whole records are framed correctly is the tail itself the problem.
        """
        lay = self.layout
        n_full = size // lay.stride
        for lo in range(0, n_full, self.chunk_records):
            hi = min(lo + self.chunk_records, n_full)
            rows = self._read_rows(lo, hi)
            bad = np.flatnonzero((rows[:, lay.record_length] != CR) | (rows[:, lay.record_length + 1] != LF))
            if bad.size:
                i = lo + int(bad[0])
                raise self._err(i + 1, None, f"line end is not at byte {lay.record_length + 1}: this "
                                             "record is shorter or longer than the layout's "
                                             f"{lay.record_length} bytes")
        self._fh.seek(n_full * lay.stride)
        tail = self._fh.read()
        if not tail.strip(b"\r\n\x1a \t"):
            raise self._err(n_full, None, f"{len(tail)} extra bytes (blank line or EOF mark) after "
                                          "the last record")
        raise self._err(n_full + 1, None,
                        f"truncated: {len(tail)} bytes where a record needs {lay.stride}")

    def _check_rows(self, rows: np.ndarray, first_index: int) -> None:
        """Line ends, embedded CR/LF and NUL bytes, record types for a block of rows."""
        lay = self.layout
        L = lay.record_length
        bad = np.flatnonzero((rows[:, L] != CR) | (rows[:, L + 1] != LF))
        if bad.size:
            raise self._err(first_index + bad[0] + 1, None,
                            f"does not end with CRLF at byte {L + 1} (wrong record length?)")
        body = rows[:, :L]
        # One min() over the block (no temporary) rules out every control byte; only a
        # block that has one pays for locating it.
        if not body.size or body.min() >= SPACE:
            return
        for byte, what in ((NUL, "NUL byte (padding must be spaces)"),
                           (LF, "line feed inside a record"), (CR, "carriage return inside a record")):
            hit = np.argwhere(body == byte)
            if hit.size:
                row, col = hit[0]
                raise self._err(first_index + int(row) + 1, self._field_at(first_index + int(row), int(col)),
                                what)

    def _record_type(self, index: int) -> RecordType:
        if index == 0:
            return self.layout.header
        if index == self.n_records - 1:
            return self.layout.trailer
        return self.layout.data

    def _field_at(self, index: int, col: int) -> Field:
        for f in self._record_type(index).fields:
            if f.offset <= col < f.end:
                return f
        raise AssertionError(col)  # pragma: no cover - layouts tile the record

    def _check_types(self, rows: np.ndarray, first_index: int, rt: RecordType) -> None:
        code = ord(rt.code)
        bad = np.flatnonzero(rows[:, 0] != code)
        if bad.size:
            i = first_index + int(bad[0])
            found = bytes(rows[bad[0], :1]).decode("latin-1")
            if i == self.n_records - 1:
                reason = (f"last record has type {found!r}, expected trailer {rt.code!r}: "
                          "file incomplete?")
            else:
                reason = f"record type {found!r} where {rt.kind} record {rt.code!r} is expected"
            raise self._err(i + 1, "record_type", reason)

    # -- fields --------------------------------------------------------------------------
    def _parse_single(self, index: int, rt: RecordType) -> dict[str, object]:
        rows = self._read_rows(index, index + 1)
        self._check_rows(rows, index)
        self._check_types(rows, index, rt)
        chunk = self._parse_fields(rows, index, rt, wanted=None, arrow=False)
        for name, bad in chunk.invalid.items():
            if bad[0]:
                raise self._err(index + 1, rt.field(name), "date does not exist in its era")
        out: dict[str, object] = {}
        for name, arr in chunk.values.items():
            if chunk.nulls.get(name) is not None and chunk.nulls[name][0]:
                out[name] = None
            elif arr.dtype.kind == "M":
                out[name] = arr[0].astype("datetime64[D]").item()
            else:
                out[name] = arr[0].item() if hasattr(arr[0], "item") else arr[0]
        return out

    def chunks(self) -> Iterator[Chunk]:
        """Yield the data records (between header and trailer) in chunks, in file order.

        With ``threads`` > 1 the next chunks are read and parsed in worker threads while
        the caller works on the current one: numpy, ``pread`` and decoding release the
        GIL for most of a chunk's work, so two threads use both cores of the target
        machine. A chunk's error is raised when the caller reaches that chunk and names the
        chunk's first bad record (see :meth:`_first_error`), so the error reported is the
        first bad record in the file, at its first bad field in layout order, whatever the
        chunk size or number of threads.
        """
        spans = [(lo, min(lo + self.chunk_records, self.n_records - 1))
                 for lo in range(1, self.n_records - 1, self.chunk_records)]
        if self.threads <= 1 or len(spans) <= 1:
            for lo, hi in spans:
                yield self._parse_chunk(lo, hi)
            return
        pending: deque[Future[Chunk]] = deque()
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="renkei-reader")
        self._pools.add(pool)
        try:
            for lo, hi in spans:
                pending.append(pool.submit(self._parse_chunk, lo, hi))
                if len(pending) >= self.threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the caller stopped early or a chunk failed: drop what is queued
            pool.shutdown(wait=True, cancel_futures=True)
            self._pools.discard(pool)

    def _parse_chunk(self, lo: int, hi: int) -> Chunk:
        rows = self._read_rows(lo, hi)
        try:
            return self._parse_rows(rows, lo)
        except RecordError:
            raise self._first_error(rows, lo) from None

    def _parse_rows(self, rows: np.ndarray, lo: int) -> Chunk:
        self._check_rows(rows, lo)
        self._check_types(rows, lo, self.layout.data)
        return self._parse_fields(rows, lo, self.layout.data, wanted=self.columns, arrow=self.arrow)

    def _first_error(self, rows: np.ndarray, lo: int) -> RecordError:
        """The error of the first bad record in a block that has one.

        The checks run field by field over the whole block, so the error they raise names
        the first bad record *for that check*, and a later record's bad field can come
        before an earlier record's. Bisecting on the length of a prefix that still fails
        finds the first bad record (about 18 parses of a prefix, on bad files only); the
        prefix ending there then fails on that record alone, at its first bad field in
        layout order. So the error reported does not depend on the chunk size or threads.
        """
        good, bad = 0, len(rows)  # rows[:good] read cleanly, rows[:bad] do not
        while bad - good > 1:
            mid = (good + bad) // 2
            try:
                self._parse_rows(rows[:mid], lo)
            except RecordError:
                bad = mid
            else:
                good = mid
        try:
            self._parse_rows(rows[:bad], lo)
        except RecordError as err:
            return err
        raise AssertionError("a failing block parsed cleanly")  # pragma: no cover

    @property
    def data_record_count(self) -> int:
        return self.n_records - 2

    def _plan(self, rt: RecordType) -> tuple[np.ndarray, dict[str, int]]:
        """Byte positions gathered column-major for a record type, and where each field's
        bytes start in that matrix. Kanji fields stay row-major: they are checked in pairs."""
        plan = self._plans.get(rt.code)
        if plan is None:
            index: list[int] = []
            start: dict[str, int] = {}
            for f in rt.fields:
                if f.type != "kanji":
                    start[f.name] = len(index)
                    index.extend(range(f.offset, f.end))
            plan = self._plans[rt.code] = (np.array(index, dtype=np.intp), start)
        return plan

    def _parse_fields(self, rows: np.ndarray, first_index: int, rt: RecordType,
                      wanted: set[str] | None, arrow: bool) -> Chunk:
        chunk = Chunk(record_no=np.arange(first_index + 1, first_index + 1 + len(rows), dtype=np.int64),
                      values={}, nulls={}, invalid={})
        index, start = self._plan(rt)
        columns = _gather_columns(rows, index)
        for f in rt.fields:
            keep = wanted is None or f.name in wanted
            if f.type == "kanji":
                self._parse_kanji(f, rows[:, f.offset:f.end], first_index, chunk, keep, arrow)
            else:
                col = columns[start[f.name]:start[f.name] + f.length]
                _PARSERS[f.type](self, f, col, first_index, chunk, keep, arrow)
        return chunk

    def _first_bad(self, f: Field, mask: np.ndarray, first_index: int, reason: str) -> RecordError:
        return self._err(first_index + int(np.flatnonzero(mask)[0]) + 1, f, reason)

    def _digits(self, f: Field, col: np.ndarray, first_index: int) -> np.ndarray:
        """Validate a digit field (column-major); return the mask of blank (optional) values."""
        all_digits = _all_rows((col - np.uint8(48)) < 10)  # bytes below '0' wrap round
        blank = _all_rows(col == SPACE) if f.optional or not all_digits.all() else None
        bad = ~all_digits & ~blank if f.optional else ~all_digits
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            row = col[:, i]
            if (row >= 0x80).any():
                reason = "non-ASCII character (full-width digit?) in a digit field"
            elif blank[i]:
                reason = "required field is blank"
            else:
                reason = "non-digit character in a digit field"
            raise self._err(first_index + i + 1, f, reason)
        return blank if f.optional else np.zeros(col.shape[1], dtype=bool)

    def _parse_code(self, f: Field, col: np.ndarray, first_index: int, chunk: Chunk, keep: bool,
                    arrow: bool) -> None:
        blank = self._digits(f, col, first_index)
        if keep:
            mat = np.ascontiguousarray(col.T)
            if arrow:
                chunk.values[f.name] = strings_from_matrix(mat, blank)
                chunk.raw[f.name] = mat
            else:
                values = mat.view(f"S{f.length}").ravel().astype(f"U{f.length}").astype(object)
                values[blank] = None
                chunk.values[f.name] = values
            chunk.nulls[f.name] = blank

    def _parse_int(self, f: Field, col: np.ndarray, first_index: int, chunk: Chunk, keep: bool,
                   arrow: bool) -> None:
        blank = self._digits(f, col, first_index)
        if keep:
            weights = 10 ** np.arange(f.length - 1, -1, -1, dtype=np.int64)
            values = weights @ (col.astype(np.int64) - 48)
            values[blank] = 0
            chunk.values[f.name] = values
            chunk.nulls[f.name] = blank

    def _parse_era_date(self, f: Field, col: np.ndarray, first_index: int, chunk: Chunk,
                        keep: bool, arrow: bool) -> None:
        blank = self._digits(f, col, first_index)
        if not keep:
            return
        digits = col - np.uint8(48)
        digits[:, blank] = 0  # blank values are spaces; era code 0 then marks them bad
        days, bad = parse_era_date_digits(digits)
        chunk.values[f.name] = days
        chunk.nulls[f.name] = blank
        chunk.invalid[f.name] = bad & ~blank

    def _decode_column(self, f: Field, col: np.ndarray, first_index: int,
                       rows: np.ndarray | None = None, check_blank: bool = True,
                       check_utf8: bool = True) -> list[str]:
        """Decode a whole text column (row-major) with one strict CP932 decode.

        Each value is followed by a LF byte, which is never a valid CP932 trail byte: a
        kanji cut by the field boundary therefore fails exactly at that value instead of
        silently borrowing the first byte of the next field. ``rows`` maps the values to
        their places in the chunk when ``col`` holds only some of its records.
        """
        def record_no(i: int) -> int:
            return first_index + (int(rows[i]) if rows is not None else i) + 1

        sep = np.full((len(col), 1), LF, dtype=np.uint8)
        buf = np.concatenate([col, sep], axis=1).tobytes()
        try:
            text = buf.decode(self.layout.encoding)
        except UnicodeDecodeError as exc:
            i = exc.start // (f.length + 1)
            at_end = (exc.start % (f.length + 1)) == f.length - 1
            value = bytes(col[i])
            if at_end:
                reason = "kanji cut by the field boundary (lead byte in the last position)"
            elif not value.isascii() and _is_utf8(value):
                reason = f"text is UTF-8 encoded; expected {self.layout.encoding.upper()}"
            else:
                reason = f"bytes are not valid {self.layout.encoding.upper()}"
            raise self._err(record_no(i), f, reason) from None
        bad = _FORBIDDEN_TEXT.search(text)
        if bad:
            ch = bad.group()
            # U+F8F0-F8F3 are cp932's stray single bytes 0xA0, 0xFD-0xFF, not 外字.
            what = ("user-defined character (外字); replace it with a standard character"
                    if "\ue000" <= ch < "\uf8f0" else "control or non-text character")
            raise self._err(record_no(text.count("\n", 0, bad.start())), f, what)
        if check_blank and not f.optional:
            framed = "\n" + text
            empty = _EMPTY_VALUE.search(framed)
            if empty:
                raise self._err(record_no(framed.count("\n", 0, empty.start())), f,
                                "required field is blank")
        if check_utf8 and rows is None:  # a subset's caller runs the test over the whole column
            self._reject_utf8(f, col, first_index)
        return text.split("\n")[:-1]

    def _reject_utf8(self, f: Field, col: np.ndarray, first_index: int) -> None:
        """A value that reads as Japanese in UTF-8 was written in the wrong encoding.

        UTF-8 kanji often decode as (wrong) CP932 too. Genuine CP932 text is valid UTF-8 by
        chance only if it is not padded with U+3000 (81 40 holds a stray continuation byte),
        and then it decodes to Latin, Hangul and the like (half-width ﾅｶ is C5 B6, "Ŷ"), not
        to kana and kanji: so a value is refused only when it is valid UTF-8 and every
        non-ASCII character it decodes to is Japanese (see _reads_as_utf8_japanese). Judged
        per record, so one value pasted from a UTF-8 source among CP932 ones is caught,
        whatever shares its chunk. Only values whose first bytes could start UTF-8 text
        (ASCII, or a lead byte followed by continuation bytes) are decoded to check.
        """
        b0 = col[:, 0]
        cont = [(col[:, k] & 0xC0) == 0x80 for k in (1, 2) if k < col.shape[1]]
        if len(cont) < 2:
            candidates = np.arange(len(col))
        else:
            candidates = np.flatnonzero((b0 < 0x80) | ((b0 >= 0xC2) & (b0 < 0xE0) & cont[0])
                                        | ((b0 >= 0xE0) & (b0 < 0xF5) & cont[0] & cont[1]))
        for i in candidates.tolist():
            if _reads_as_utf8_japanese(col[i].tobytes()):
                raise self._err(first_index + i + 1, f, "text is UTF-8 encoded; expected CP932")

    def _parse_kanji(self, f: Field, col: np.ndarray, first_index: int, chunk: Chunk, keep: bool,
                     arrow: bool) -> None:
        if keep or f.length % 2:
            values = self._decode_column(f, col, first_index)
            if keep:
                arr = np.array([v.strip(_TEXT_PADDING) for v in values], dtype=object)
                chunk.values[f.name] = pa.array(arr, pa.string()) if arrow else arr
                chunk.nulls[f.name] = arr == ""
            return
        self._validate_kanji(f, np.ascontiguousarray(col), first_index)

    def _validate_kanji(self, f: Field, col: np.ndarray, first_index: int) -> None:
        """What :meth:`_decode_column` checks, for a field that is dropped, without decoding
        the records made only of allowed double-byte characters (nearly all of them); the
        rest are decoded and checked exactly as before, so errors and their order match."""
        pairs = col.view(">u2")
        allowed = _text_pairs_allowed(self.layout.encoding)[pairs]
        # Row-wise reductions over short rows are slow: reduce the whole block first and
        # look at single records only when something is off.
        fast = np.ones(len(col), dtype=bool) if allowed.all() else allowed.all(axis=1)
        # A value made only of double-byte characters is blank only if its first one is
        # U+3000, so only those records need the full test.
        blank = np.zeros(len(col), dtype=bool)
        maybe = np.flatnonzero(pairs[:, 0] == _IDEOGRAPHIC_SPACE)
        blank[maybe] = (pairs[maybe] == _IDEOGRAPHIC_SPACE).all(axis=1)
        slow = np.flatnonzero(~fast)
        if slow.size:
            values = self._decode_column(f, col[slow], first_index, rows=slow, check_blank=False)
            blank[slow] = [not v.strip(_TEXT_PADDING) for v in values]
        if not f.optional and blank.any():
            raise self._first_bad(f, blank, first_index, "required field is blank")
        self._reject_utf8(f, col, first_index)

    def _parse_kana(self, f: Field, col: np.ndarray, first_index: int, chunk: Chunk, keep: bool,
                    arrow: bool) -> None:
        # Printable ASCII and half-width katakana (single bytes 0xA1-0xDF in CP932), by two
        # wrapping range tests; anything double-byte (full-width kana, kanji) in a kana
        # field is a layout violation.
        bad = ~_all_rows(((col - np.uint8(0x20)) < 0x5F) | ((col - np.uint8(0xA1)) < 0x3F))
        if bad.any():
            raise self._first_bad(f, bad, first_index, "not half-width katakana/ASCII")
        self._require_not_blank(f, col, first_index)
        if keep:
            # No UTF-8 test here: the byte test above already refuses every byte a UTF-8
            # encoded katakana starts with (0xE3, 0xEF), while genuine half-width kana can
            # be valid UTF-8 by chance (ﾅｶ = C5 B6), which must not reject the file.
            values = self._decode_column(f, np.ascontiguousarray(col.T), first_index, check_utf8=False)
            arr = np.array([v.strip(" ") for v in values], dtype=object)
            chunk.values[f.name] = pa.array(arr, pa.string()) if arrow else arr
            chunk.nulls[f.name] = arr == ""

    def _parse_alnum(self, f: Field, col: np.ndarray, first_index: int, chunk: Chunk, keep: bool,
                     arrow: bool) -> None:
        bad = ~_all_rows((col - np.uint8(0x20)) < 0x5F)  # printable ASCII, by a wrapping range test
        if bad.any():
            raise self._first_bad(f, bad, first_index, "non-ASCII character in an ASCII field")
        self._require_not_blank(f, col, first_index)
        if keep:
            values = np.ascontiguousarray(col.T).view(f"S{f.length}").ravel().astype(f"U{f.length}")
            arr = np.char.strip(values).astype(object)
            chunk.values[f.name] = pa.array(arr, pa.string()) if arrow else arr
            chunk.nulls[f.name] = arr == ""

    def _require_not_blank(self, f: Field, col: np.ndarray, first_index: int) -> None:
        if not f.optional:
            blank = _all_rows(col == SPACE)
            if blank.any():
                raise self._first_bad(f, blank, first_index, "required field is blank")

    def _parse_filler(self, f: Field, col: np.ndarray, first_index: int, chunk: Chunk, keep: bool,
                      arrow: bool) -> None:
        bad = ~_all_rows(col == SPACE)
        if bad.any():
            raise self._first_bad(f, bad, first_index, "filler must be spaces")

    def close(self) -> None:
        # Workers of an unfinished chunks() must stop before the descriptor they pread from
        # is closed (and its number perhaps reused by another file).
        for pool in list(self._pools):
            pool.shutdown(wait=True, cancel_futures=True)
        self._fh.close()

    def __enter__(self) -> FixedWidthFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Python's cp932 codec maps a few stray single bytes (0x80, 0xA0, 0xFD-0xFF) to private-use
# code points and passes C0/C1 controls through; none of them is text in a name or address.
# The user-defined area (外字, 0xF040-0xF9FC) also lands in the private-use block.
_FORBIDDEN_TEXT = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ue000-\uf8ff]")
_EMPTY_VALUE = re.compile("\n[ \u3000]*(?=\n)")


# Where the characters of Japanese text live: CJK punctuation, kana, kanji (incl. extension
# A and compatibility ideographs), full- and half-width forms.
_JAPANESE = re.compile("[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _reads_as_utf8_japanese(value: bytes) -> bool:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    others = [ch for ch in text if not ch.isascii()]
    return bool(others) and all(_JAPANESE.match(ch) for ch in others)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@cache
def _text_pairs_allowed(encoding: str) -> np.ndarray:
    """Which double-byte values (lead * 256 + trail) decode strictly to one character that
    may stand in a name or address: the fast check for kanji fields that are not kept."""
    ok = np.zeros(65536, dtype=bool)
    for lead in range(0x81, 0x100):
        for trail in range(0x40, 0x100):
            try:
                ch = bytes((lead, trail)).decode(encoding)
            except UnicodeDecodeError:
                continue
            ok[lead << 8 | trail] = len(ch) == 1 and not _FORBIDDEN_TEXT.match(ch)
    return ok


_IDEOGRAPHIC_SPACE = 0x8140  # U+3000 in CP932


def _gather_columns(rows: np.ndarray, index: np.ndarray, block: int = 4096) -> np.ndarray:
    """The bytes at ``index`` of each record as a column-major (len(index), n) matrix.

    In blocks of records that fit in cache: one transpose of the whole chunk is about
    twice as slow, as every column it writes walks the whole chunk.
    """
    n = len(rows)
    out = np.empty((len(index), n), dtype=np.uint8)
    for lo in range(0, n, block):
        out[:, lo:lo + block] = np.take(rows[lo:lo + block], index, axis=1).T
    return out


def _all_rows(mask: np.ndarray) -> np.ndarray:
    """For a column-major (bytes, n) boolean matrix: per record, true at every byte."""
    return np.logical_and.reduce(mask, axis=0)


_PARSERS = {
    "code": FixedWidthFile._parse_code,
    "int": FixedWidthFile._parse_int,
    "era_date": FixedWidthFile._parse_era_date,
    "kana": FixedWidthFile._parse_kana,
    "alnum": FixedWidthFile._parse_alnum,
    "filler": FixedWidthFile._parse_filler,
}
