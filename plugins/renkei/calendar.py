"""Japanese business days: the days an insurer's office is open.

A business day is a Monday to Friday that is neither a national holiday (国民の祝日, including
振替休日 and 国民の休日, as ``jpholiday`` computes them) nor one of the year-end closure days.
Pure functions on ``datetime.date``: the caller decides which calendar day it means (Tokyo).

This module is named ``calendar`` inside the ``renkei`` package; it never imports the standard
library's ``calendar`` so that it cannot pick itself up by mistake.
"""

from __future__ import annotations

import datetime

import jpholiday

# 行政機関の休日に関する法律 第1条: 12月29日から翌年1月3日までは行政機関の休日 (官公庁の年末年始の
# 閉庁日). The insurer, the municipalities and the intermediary server's operator all close on
# these days, and none of them is a national holiday except 1 January, so jpholiday alone
# would count 29-31 December and 2-3 January as working days. Ordered as the closure runs.
YEAR_END_CLOSURE: tuple[tuple[int, int], ...] = ((12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3))

_SATURDAY = 5


def is_business_day(day: datetime.date) -> bool:
    """True when ``day`` is a weekday, not a national holiday and not in the year-end closure."""
    # A datetime is also a date; refuse it, because its calendar day depends on its timezone
    # (09:00 JST on the 1st is still the previous day in UTC) and guessing would shift runs.
    if isinstance(day, datetime.datetime) or not isinstance(day, datetime.date):
        raise TypeError(f"is_business_day expects a datetime.date, got {type(day).__name__}")
    if day.weekday() >= _SATURDAY:
        return False
    if (day.month, day.day) in YEAR_END_CLOSURE:
        return False
    return not jpholiday.is_holiday(day)


def business_days(year: int, month: int) -> list[datetime.date]:
    """Every business day of the month, in order."""
    day = datetime.date(year, month, 1)
    days = []
    while day.month == month:
        if is_business_day(day):
            days.append(day)
        day += datetime.timedelta(days=1)
    return days


def nth_business_day(year: int, month: int, n: int) -> datetime.date:
    """The ``n``-th business day (1 = the first) of the month.

    Raises ValueError when ``n`` is below 1 or the month has fewer than ``n`` business days.
    """
    # bool is an int; "True-th business day" is a caller's mistake, not the 1st.
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be 1 or more (1 = the first business day), got {n}")
    days = business_days(year, month)
    if n > len(days):
        raise ValueError(
            f"{year:04d}-{month:02d} has only {len(days)} business days, so it has no business day "
            f"number {n}"
        )
    return days[n - 1]
