"""Japanese era dates as they appear in exchange files: era code + YYMMDD (7 digits).

Era boundaries come from japanera (a maintained table), not from constants here; this
module only maps the numeric era codes used in files (1 明治 .. 5 令和) onto it and is strict
about dates that do not exist in the named era, such as 昭和64年1月8日.
"""

from __future__ import annotations

import datetime as dt
from functools import cache, lru_cache

from japanera import ERA_DATA_GENERAL, Era

# Era codes used by Japanese public-sector files (住基, 年金, 医療保険).
ERA_CODES: dict[str, str] = {"1": "明治", "2": "大正", "3": "昭和", "4": "平成", "5": "令和"}
_CODE_BY_KANJI = {kanji: code for code, kanji in ERA_CODES.items()}


class EraDateError(ValueError):
    """The 7-digit era date is malformed or names a day that does not exist in that era."""


@cache
def _era(kanji: str) -> Era:
    for era in ERA_DATA_GENERAL:
        if era.kanji == kanji:
            return era
    raise LookupError(f"japanera has no era {kanji}")  # pragma: no cover - library data


@lru_cache(maxsize=65536)
def parse_era_date(text: str) -> dt.date:
    """Parse ``GYYMMDD`` (e.g. ``4310430`` = 平成31年4月30日) into a Gregorian date.

    Cached because a month's extract repeats the same few tens of thousands of dates
    millions of times.
    """
    if len(text) != 7 or not text.isascii() or not text.isdigit():
        raise EraDateError("era date must be 7 ASCII digits (era code + YYMMDD)")
    code, yy, mm, dd = text[0], int(text[1:3]), int(text[3:5]), int(text[5:7])
    if code not in ERA_CODES:
        raise EraDateError(f"unknown era code {code!r} (expected 1-5)")
    if yy < 1:
        raise EraDateError("era year 00 does not exist (元年 is 01)")
    era = _era(ERA_CODES[code])
    try:
        date = dt.date(era.relative_year_to_absolute_year(yy), mm, dd)
    except ValueError:
        raise EraDateError("no such calendar day (month or day out of range)") from None
    if date not in era:
        # The message names the era's span, never the value: dates of birth are personal.
        last = (era.until - dt.timedelta(days=1)).isoformat() if era.until else "today"
        raise EraDateError(
            f"day does not exist in {ERA_CODES[code]} ({era.since.isoformat()} to {last})"
        )
    return date


@lru_cache(maxsize=65536)
def format_era_date(date: dt.date) -> str:
    """The 7-digit era form of ``date`` in the era in force on that day."""
    for kanji, code in _CODE_BY_KANJI.items():
        era = _era(kanji)
        if date in era:
            return f"{code}{era.absolute_year_to_relative_year(date.year):02d}{date:%m%d}"
    raise EraDateError(f"{date.isoformat()} is before 明治")
