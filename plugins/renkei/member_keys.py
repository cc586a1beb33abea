"""Insurer keys (保険者番号・記号・番号・枝番) for member tokens, for staff work lists only.

The warehouse holds tokens, never keys; staff need keys to find a member in the insurer's
system. This module re-reads the key fields of the eligibility extracts kept in the
exchange folders (newest month first), tokenises them and keeps only the tokens asked for.
Keys go into work lists for staff and nowhere else: never into logs, messages or the
warehouse.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from renkei.fixedwidth.reader import FixedWidthFile
from renkei.interfaces import eligibility
from renkei.layout import load_layout
from renkei.settings import paths
from renkei.tokens import Tokenizer


def _extracts() -> list[Path]:
    p = paths()
    files: dict[str, Path] = {}
    for folder in (p.archive(eligibility.INTERFACE), p.inbox(eligibility.INTERFACE)):
        if folder.is_dir():
            for f in folder.glob("ELIG_*.dat"):
                files.setdefault(f.name, f)
    return [files[name] for name in sorted(files, reverse=True)]


def insurer_keys(tokens: Iterable[str], tokenizer: Tokenizer | None = None) -> dict[str, str]:
    """Token -> ``保険者番号-記号-番号-枝番`` for every token found in a kept extract."""
    wanted = set(tokens)
    found: dict[str, str] = {}
    if not wanted:
        return found
    tok = tokenizer or Tokenizer()
    layout = load_layout(eligibility.INTERFACE)
    for path in _extracts():
        with FixedWidthFile(path, layout, columns=eligibility.KEY_FIELDS) as f:
            for chunk in f.chunks():
                keys = list(zip(*(chunk.values[k] for k in eligibility.KEY_FIELDS), strict=True))
                for token, key in zip(tok.tokens("".join(k).encode() for k in keys), keys, strict=True):
                    if token in wanted and token not in found:
                        found[token] = "-".join(key)
        if len(found) == len(wanted):
            break
    return found


def token_for(keys: str, tokenizer: Tokenizer | None = None) -> str:
    """The member token of keys typed by staff: ``01130012-00001234-00000001-00`` (hyphens,
    spaces or colons between the four parts, or none)."""
    digits = "".join(ch for ch in keys if ch not in " -:")
    if not (digits.isascii() and digits.isdigit()) or len(digits) < 12:
        raise ValueError("member keys are 保険者番号, 記号, 番号 and 枝番 in digits, e.g. "
                         "01130012-00001234-00000001-00")
    return (tokenizer or Tokenizer()).token(digits.encode())
