"""Record layouts of exchange files, kept as data in ``renkei/layouts/*.json``.

A layout says, for each record type (header, data, trailer), where each field sits in the
record in **bytes** and how to read it. Keeping layouts as data means that a real interface
specification replaces a JSON file, not code. ``docs/interfaces/`` renders them for people.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

FIELD_TYPES = {
    "code": "ASCII digits kept as a string (leading zeros matter)",
    "int": "ASCII digits, right-aligned, read as an integer (yen, counts)",
    "alnum": "ASCII text, right-padded with spaces",
    "kanji": "CP932 text (full-width), padded with U+3000 or spaces",
    "kana": "CP932 half-width katakana, padded with spaces",
    "era_date": "era code (1 明治 .. 5 令和) + YYMMDD",
    "filler": "spaces only",
}


@dataclass(frozen=True)
class Field:
    name: str
    label_ja: str
    offset: int
    length: int
    type: str
    optional: bool = False
    personal: bool = False
    restricted: bool = False
    values: dict[str, str] | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class RecordType:
    kind: str
    code: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class Layout:
    name: str
    title_ja: str
    title_en: str
    encoding: str
    record_length: int
    line_ending: bytes
    records: dict[str, RecordType] = field(default_factory=dict)

    @property
    def header(self) -> RecordType:
        return self.records["header"]

    @property
    def data(self) -> RecordType:
        return self.records["data"]

    @property
    def trailer(self) -> RecordType:
        return self.records["trailer"]

    @property
    def stride(self) -> int:
        """Bytes per record including the line ending."""
        return self.record_length + len(self.line_ending)


def _check(layout: Layout) -> Layout:
    for rt in layout.records.values():
        pos = 0
        for f in rt.fields:
            if f.type not in FIELD_TYPES:
                raise ValueError(f"layout {layout.name}: field {f.name} has unknown type {f.type}")
            if f.offset != pos:
                raise ValueError(f"layout {layout.name}/{rt.kind}: field {f.name} starts at "
                                 f"{f.offset}, expected {pos} (fields must tile the record)")
            pos = f.end
        if pos != layout.record_length:
            raise ValueError(f"layout {layout.name}/{rt.kind}: fields cover {pos} bytes, "
                             f"record is {layout.record_length}")
    return layout


@cache
def load_layout(name: str) -> Layout:
    """Load and validate ``renkei/layouts/<name>.json``."""
    raw = json.loads(resources.files("renkei.layouts").joinpath(f"{name}.json").read_text("utf-8"))
    records = {
        kind: RecordType(kind=kind, code=spec["code"],
                         fields=tuple(Field(**f) for f in spec["fields"]))
        for kind, spec in raw["records"].items()
    }
    return _check(Layout(
        name=raw["name"], title_ja=raw["title_ja"], title_en=raw["title_en"],
        encoding=raw["encoding"], record_length=raw["record_length"],
        line_ending=raw["line_ending"].encode("ascii"), records=records,
    ))
