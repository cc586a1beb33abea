"""Write fixed-width records from a layout: what the outside bodies (and we, for outgoing
files) put on the wire. Lengths are in bytes of the layout's encoding (CP932)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

from renkei.eradate import format_era_date
from renkei.exchange import atomic_output
from renkei.layout import Field, Layout, RecordType

FULL_WIDTH_SPACE = "\u3000"


class EncodeError(ValueError):
    """A value does not fit its field."""


def _fit_text(text: str, f: Field, encoding: str, pad: str) -> bytes:
    """Encode ``text`` and pad it to the field's byte length.

    Text longer than the field is cut at a character boundary, as the insurer's legacy
    systems do; a kanji is never split across the boundary.
    """
    out = text.encode(encoding)
    if len(out) > f.length:
        cut = bytearray()
        for ch in text:
            b = ch.encode(encoding)
            if len(cut) + len(b) > f.length:
                break
            cut += b
        out = bytes(cut)
    pad_b = pad.encode(encoding)
    room = f.length - len(out)
    # Pad with whole padding characters; an odd byte left by a 2-byte pad becomes a space.
    return out + pad_b * (room // len(pad_b)) + b" " * (room % len(pad_b))


def encode_field(f: Field, value: object, encoding: str) -> bytes:
    if value is None or value == "":
        if f.type == "filler" or f.optional or f.type in ("alnum", "kanji", "kana"):
            return b" " * f.length
        raise EncodeError(f"field {f.name} is required")
    if f.type == "code":
        s = str(value)
        if len(s) != f.length or not (s.isascii() and s.isdigit()):
            raise EncodeError(f"field {f.name} needs exactly {f.length} ASCII digits")
        return s.encode("ascii")
    if f.type == "int":
        s = str(int(value)).rjust(f.length, "0")
        if len(s) != f.length:
            raise EncodeError(f"field {f.name} overflows {f.length} digits")
        return s.encode("ascii")
    if f.type == "alnum":
        s = str(value).encode("ascii")
        if len(s) > f.length:
            raise EncodeError(f"field {f.name} is longer than {f.length} bytes")
        return s.ljust(f.length, b" ")
    if f.type == "kanji":
        return _fit_text(str(value), f, encoding, FULL_WIDTH_SPACE)
    if f.type == "kana":
        return _fit_text(str(value), f, encoding, " ")
    if f.type == "era_date":
        if not isinstance(value, dt.date):
            raise EncodeError(f"field {f.name} needs a date")
        return format_era_date(value).encode("ascii")
    if f.type == "filler":
        return b" " * f.length
    raise EncodeError(f"field {f.name}: unknown type {f.type}")  # pragma: no cover


def encode_record(layout: Layout, rt: RecordType, values: Mapping[str, object]) -> bytes:
    parts = []
    for f in rt.fields:
        v = rt.code if f.name == "record_type" else values.get(f.name)
        parts.append(encode_field(f, v, layout.encoding))
    rec = b"".join(parts)
    assert len(rec) == layout.record_length, (rt.kind, len(rec))
    return rec + layout.line_ending


def write_file(out: BinaryIO, layout: Layout, header: Mapping[str, object],
               rows: Iterable[Mapping[str, object]]) -> int:
    """Write header, data records and a trailer carrying the data-record count."""
    out.write(encode_record(layout, layout.header, header))
    n = 0
    for row in rows:
        out.write(encode_record(layout, layout.data, row))
        n += 1
    out.write(encode_record(layout, layout.trailer, {"record_count": n}))
    return n


def write_file_atomically(path: Path, layout: Layout, header: Mapping[str, object],
                          records: Iterable[Mapping[str, object]], buffering: int = -1) -> int:
    """:func:`write_file` into ``path`` so that a reader never sees half a file
    (:func:`renkei.exchange.atomic_output`). Returns the number of data records."""
    with atomic_output(path, buffering) as out:
        return write_file(out, layout, header, records)
