"""Normalise the four basic facts (基本4情報) before they are sent to J-LIS.

J-LIS finds a member's individual number by name (kanji and kana), birth date, sex and
address, and answers only when exactly one resident matches all four. The insurer's records
and the resident register write the same person differently — half-width katakana, spaces of
either width, old and variant kanji (髙/高, 﨑/崎, 齋/斎), house numbers as ``１丁目２番３号`` or
``1-2-3`` — so both sides compare normalised forms. This module produces the platform's:

* **Name (kanji):** Unicode NFKC (full-width Latin and digits to ASCII, CJK compatibility
  ideographs to their unified form, half-width kana to full-width), every space removed, and
  variant kanji folded to their everyday form (:func:`fold_variant`).
* **Name (kana):** full-width katakana (jaconv: half-width to full-width, hiragana to
  katakana), spaces and ``・`` removed, a hyphen written for the long vowel read as ``ー``.
* **Address:** NFKC, spaces removed, variant kanji folded, ``ヶ`` as ``ケ``, and the house
  number written as digits joined by hyphens: ``一丁目２番３号``, ``１－２－３`` and ``1丁目2-3``
  all become ``1-2-3``.

Nothing here decides a match: J-LIS does, on all four facts, and a partial match is never
accepted (DOMAIN.md section 1). The raw value is always kept beside the normalised one
(:class:`Facts`), because staff following up a member need what the insurer actually holds.

Why the variant rule is conservative: jntajis-python's MJ tables (法務省 family-register
notices) list, for thousands of rare characters, which everyday characters they may be
written as, but some entries link characters that are not the same at all. A wrongly folded
character could make two people look alike, so a JIS level-1 character (the everyday kanji)
is never replaced, and another character is folded only when the table names exactly one
level-1 character for it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jaconv
import jntajis

# The notices on characters in family registers (戸籍法関連通達) name the everyday form of old
# and variant characters; NFKC already covers the CJK compatibility ideographs.
_MJ_SCHEME = jntajis.MJShrinkSchemeCombo.MOJ_FAMILY_REGISTER_ACT_RELATED_NOTICE

# Shift_JIS codes of JIS X 0208 level-1 kanji (亜 .. 腕): the everyday characters.
_LEVEL1_FIRST, _LEVEL1_LAST = 0x889F, 0x9872

_SPACES = re.compile(r"[\s\u3000]+")
# Hyphen-like marks people type between the numbers of an address.
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff0d\uff70\u2500\u2501"
_DASH_BETWEEN_DIGITS = re.compile(f"(?<=[0-9])[{_DASHES}](?=[0-9])")
_KANJI_DIGITS = "〇一二三四五六七八九"
_NUM = f"[0-9{_KANJI_DIGITS}十百]"
# A kanji numeral is part of the house number when 丁目 follows it, when 番地/番 follow it
# and the house number goes on (or ends), or when it ends the address after 番地/番/の/-
# (号 may close it). Place names such as 三番町 or 一の宮 fit none of these shapes.
_KANJI_NUMBER = re.compile(f"([{_KANJI_DIGITS}十百]+)(?=丁目|(?:番地|番)(?:{_NUM}|の|号|$)|号$)")
_KANJI_NUMBER_LAST = re.compile(f"(番地|番|の|-)([{_KANJI_DIGITS}十百]+)(号?)$")
_HOUSE_SEPARATOR = re.compile(r"(?<=[0-9])(?:丁目|番地の|番地|番の|番|の)(?=[0-9])")
_HOUSE_END = re.compile(r"(?<=[0-9])(?:丁目|番地|番|号)$")
_KANA_DROP = re.compile(r"[\s\u3000・･]+")


@dataclass(frozen=True)
class Facts:
    """A member's four basic facts, as held (``raw_*``) and as sent to J-LIS."""

    raw_name_kanji: str
    raw_name_kana: str
    raw_address: str
    name_kanji: str
    name_kana: str
    sex: str
    birth_date: dt.date
    address: str


def _is_level1(ch: str) -> bool:
    try:
        code = ch.encode("cp932")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and _LEVEL1_FIRST <= int.from_bytes(code, "big") <= _LEVEL1_LAST


@lru_cache(maxsize=16384)
def fold_variant(ch: str) -> str:
    """The everyday form of one character, or the character itself (see the module doc)."""
    if ch.isascii() or _is_level1(ch) or not unicodedata.name(ch, "").startswith("CJK"):
        return ch
    try:
        candidates = jntajis.mj_shrink_candidates(ch, _MJ_SCHEME)
    except Exception:  # noqa: BLE001 - a character jntajis cannot map stays as it is
        return ch
    everyday = {c for c in candidates if c != ch and _is_level1(c)}
    return everyday.pop() if len(everyday) == 1 else ch


def _fold_all(text: str) -> str:
    return "".join(fold_variant(ch) for ch in text)


@lru_cache(maxsize=65536)
def normalise_name_kanji(raw: str) -> str:
    """``髙橋　一郎``, ``高橋 一郎`` and ``高橋一郎`` all become ``高橋一郎``."""
    return _fold_all(_SPACES.sub("", unicodedata.normalize("NFKC", raw)))


@lru_cache(maxsize=65536)
def normalise_name_kana(raw: str) -> str:
    """``ﾀｶﾊｼ ｲﾁﾛｳ``, ``タカハシ　イチロウ`` and ``たかはし いちろう`` all become ``タカハシイチロウ``."""
    text = jaconv.h2z(raw, kana=True, ascii=False, digit=False)
    text = jaconv.hira2kata(text)
    # Legacy kana fields write the long vowel as an ASCII or full-width hyphen (ｺ-ﾋ-).
    text = text.replace("-", "ー").replace("－", "ー")
    return _KANA_DROP.sub("", text)


def _kanji_number(text: str) -> str:
    """``三`` -> ``3``, ``二十三`` -> ``23``, ``百五`` -> ``105`` (house numbers stay below 1000)."""
    if "十" not in text and "百" not in text:
        return "".join(str(_KANJI_DIGITS.index(c)) for c in text)
    total, current = 0, 0
    for c in text:
        if c == "百":
            total += (current or 1) * 100
            current = 0
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _KANJI_DIGITS.index(c)
    return str(total + current)


@lru_cache(maxsize=65536)
def normalise_address(raw: str) -> str:
    """``東京都千代田区千代田一丁目２番３号`` becomes ``東京都千代田区千代田1-2-3``.

    Kanji numerals are turned into digits only in front of 丁目/番地/番/号, so place names
    such as 三鷹 or 八王子 keep their characters.
    """
    text = _SPACES.sub("", unicodedata.normalize("NFKC", raw))
    text = _fold_all(text).replace("ヶ", "ケ")
    text = _KANJI_NUMBER.sub(lambda m: _kanji_number(m.group(1)), text)
    text = _KANJI_NUMBER_LAST.sub(lambda m: m.group(1) + _kanji_number(m.group(2)) + m.group(3), text)
    text = _DASH_BETWEEN_DIGITS.sub("-", text)
    text = _HOUSE_SEPARATOR.sub("-", text)
    return _HOUSE_END.sub("", text)


def normalise(name_kanji: str, name_kana: str, sex: str, birth_date: dt.date, address: str) -> Facts:
    """The four facts as sent to J-LIS, with the raw values kept beside them."""
    return Facts(
        raw_name_kanji=name_kanji, raw_name_kana=name_kana, raw_address=address,
        name_kanji=normalise_name_kanji(name_kanji), name_kana=normalise_name_kana(name_kana),
        sex=sex, birth_date=birth_date, address=normalise_address(address),
    )
