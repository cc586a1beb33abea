"""Render a layout (``renkei/layouts/*.json``) as the Markdown page in ``docs/interfaces/``.

The page is generated, and a test keeps it equal to the layout, so documentation and the
reader can never disagree.
"""

from __future__ import annotations

from renkei.layout import FIELD_TYPES, Layout

_TRIM = {
    "kanji": "leading/trailing U+3000 and spaces removed; inner U+3000 kept",
    "kana": "leading/trailing spaces removed",
    "alnum": "leading/trailing spaces removed",
    "code": "none (blank allowed only if optional)",
    "int": "none (blank allowed only if optional)",
    "era_date": "none (blank allowed only if optional)",
    "filler": "must be spaces",
}


def render_markdown(layout: Layout) -> str:
    out = [
        f"# {layout.title_ja} — {layout.title_en}",
        "",
        f"<!-- generated from plugins/renkei/layouts/{layout.name}.json by "
        f"`renkei layout-doc {layout.name}`; do not edit by hand -->",
        "",
        f"- Encoding: **{layout.encoding.upper()}** (Windows Shift_JIS); lengths are in **bytes** "
        "(a kanji is 2 bytes, a half-width katakana 1).",
        f"- Fixed-length records of {layout.record_length} bytes plus CRLF "
        f"({layout.stride} bytes per line); no byte-order mark.",
        "- Record 1 is the header, the last record the trailer (carrying the data-record count); "
        "record numbers in error messages count the header as 1.",
        "- Personal fields (marked P) are validated but never loaded; restricted fields (R, "
        "記号・番号) become keyed tokens at once.",
        "",
        "Field types:",
        "",
    ]
    out += [f"- `{name}`: {text}" for name, text in FIELD_TYPES.items()]
    for kind in ("header", "data", "trailer"):
        rt = layout.records[kind]
        out += ["", f"## {kind.capitalize()} record (record type `{rt.code}`)", "",
                "| # | field | 項目 | offset | length | type | optional | notes | trimming |",
                "|---|---|---|---|---|---|---|---|---|"]
        for i, f in enumerate(rt.fields, start=1):
            notes = []
            if f.personal:
                notes.append("P")
            if f.restricted:
                notes.append("R")
            if f.values:
                notes.append(", ".join(f"`{k}` {v}" for k, v in f.values.items()))
            out.append(f"| {i} | `{f.name}` | {f.label_ja} | {f.offset} | {f.length} | {f.type} | "
                       f"{'yes' if f.optional else ''} | {'; '.join(notes)} | {_TRIM[f.type]} |")
    return "\n".join(out) + "\n"
