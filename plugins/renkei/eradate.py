"""Japanese era dates as they appear in exchange files: era code + YYMMDD (7 digits).

Era boundaries come from japanera (a maintained table), not from constants here; this
module only maps the numeric era codes used in files (1 明治 .. 5 令和) onto it and is strict
about dates that do not exist in the named era, such as 昭和64年1月8日.
"""

from __future__ import annotations

import datetime as dt
from functools import cache, lru_cache

import numpy as np
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


@cache
def _era_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per era code 0-9: first Gregorian year, first day and first day after, as arrays.

    Codes other than 1-5 get an empty span, so every date under them is invalid. Built
    from the same japanera eras as :func:`parse_era_date`.
    """
    base = np.zeros(10, dtype=np.int64)
    since = np.full(10, np.datetime64("9999-12-31"), dtype="datetime64[D]")
    until = np.full(10, np.datetime64("0001-01-01"), dtype="datetime64[D]")
    for code, kanji in ERA_CODES.items():
        era = _era(kanji)
        i = int(code)
        base[i] = era.relative_year_to_absolute_year(1)
        since[i] = np.datetime64(era.since, "D")
        until[i] = np.datetime64(era.until, "D") if era.until else np.datetime64("9999-12-31")
    return base, since, until


def parse_era_date_digits(digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`parse_era_date` over a (7, n) matrix of digit values 0-9.

    Returns ``(days, bad)``: ``datetime64[D]`` (NaT where bad) and the mask of values that
    name no day: unknown era code, year 00, no such month or day, or a day outside the era
    (昭和64年1月8日). Why not one call per value: an extract has millions of dates and the
    reader must stay near the speed of a CSV scan; tests check this against
    :func:`parse_era_date` for every code, month and day at the era boundaries.
    """
    d = digits.astype(np.uint8, copy=False)  # two digits fit a byte: no wide temporaries
    code = d[0].astype(np.intp)
    yy, mm, dd = ((d[i] * 10 + d[i + 1]).astype(np.int32) for i in (1, 3, 5))
    base, since, until = _era_table()
    year = base[code] + yy - 1
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month = np.clip(mm, 1, 12)
    month_days = _MONTH_DAYS[month] + ((month == 2) & leap)
    days = _days_from_civil(year, month, np.clip(dd, 1, 31)).astype("datetime64[D]")
    bad = ((yy < 1) | (mm < 1) | (mm > 12) | (dd < 1) | (dd > month_days)
           | (days < since[code]) | (days >= until[code]))
    days[bad] = np.datetime64("NaT")
    return days, bad


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates, in integer arithmetic (H. Hinnant's
    days_from_civil): several times cheaper than going through datetime64[M] casts."""
    y = year.astype(np.int64) - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
