"""The Japanese business-day calendar (renkei.calendar).

Every expected date below is worked out by hand from the calendar and the holiday law
(国民の祝日に関する法律: 振替休日 = the next non-holiday after a holiday on Sunday; 国民の休日 =
a weekday between two holidays) plus the 29 Dec - 3 Jan closure. Each case states its reasoning,
and the weekday premises are asserted with ``date.weekday()`` so a wrong premise fails loudly.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from renkei.calendar import YEAR_END_CLOSURE, business_days, is_business_day, nth_business_day

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- single days -----------------------------------------------------------------------------

HOLIDAYS_ON_WEEKDAYS = [
    # 振替休日: こどもの日 2019-05-05 was a Sunday, so Monday 5/6 is off.
    ("2019-05-06", MON),
    # 振替休日: 天皇誕生日 2020-02-23 was a Sunday, so Monday 2/24 is off.
    ("2020-02-24", MON),
    # 振替休日: 建国記念の日 2024-02-11 was a Sunday, so Monday 2/12 is off.
    ("2024-02-12", MON),
    # 国民の休日: 4/30/2019 lies between 昭和の日 (4/29) and 天皇の即位の日 (5/1).
    ("2019-04-30", TUE),
    # 国民の休日: 5/2/2019 lies between 天皇の即位の日 (5/1) and 憲法記念日 (5/3).
    ("2019-05-02", THU),
    # 国民の休日: 2026-09-22 lies between 敬老の日 (3rd Monday, 9/21) and 秋分の日 (9/23).
    ("2026-09-22", TUE),
    # Ordinary fixed holidays on weekdays, for contrast.
    ("2026-09-23", WED),  # 秋分の日 2026
    ("2027-01-11", MON),  # 成人の日 = 2nd Monday of January 2027 (Mondays: 4, 11)
    ("2021-05-03", MON),  # 憲法記念日
]


@pytest.mark.parametrize(("day", "weekday"), HOLIDAYS_ON_WEEKDAYS)
def test_national_holidays_on_weekdays_are_not_business_days(day, weekday):
    assert d(day).weekday() == weekday  # the premise: it is a weekday, so only the holiday rule applies
    assert is_business_day(d(day)) is False


CLOSURE_DAYS_THAT_ARE_WEEKDAYS = [
    # None of these is a national holiday; only the year-end closure makes them non-business.
    ("2026-12-29", TUE),
    ("2026-12-30", WED),
    ("2026-12-31", THU),
    ("2025-01-02", THU),
    ("2025-01-03", FRI),
    ("2017-12-29", FRI),
]


@pytest.mark.parametrize(("day", "weekday"), CLOSURE_DAYS_THAT_ARE_WEEKDAYS)
def test_year_end_closure_weekdays_are_not_business_days(day, weekday):
    assert d(day).weekday() == weekday
    assert is_business_day(d(day)) is False


def test_closure_boundaries_28_december_and_4_january_are_business_days():
    # The closure is 12/29 .. 1/3 inclusive. Both neighbours are business days when they are
    # ordinary weekdays: 2026-12-28 is a Monday, 2027-01-04 a Monday, and neither is a holiday
    # (成人の日 2027 is 1/11).
    assert d("2026-12-28").weekday() == MON and is_business_day(d("2026-12-28")) is True
    assert d("2026-12-29").weekday() == TUE and is_business_day(d("2026-12-29")) is False
    assert d("2027-01-03").weekday() == SUN and is_business_day(d("2027-01-03")) is False
    assert d("2027-01-04").weekday() == MON and is_business_day(d("2027-01-04")) is True
    # And on the other side with weekdays inside: 2025-01-03 (Fri) closed, 2025-01-06 (Mon) open.
    assert is_business_day(d("2025-01-03")) is False
    assert is_business_day(d("2025-01-06")) is True


def test_the_closure_constant_is_29_december_to_3_january():
    assert YEAR_END_CLOSURE == ((12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3))


def test_weekends_are_not_business_days_and_plain_weekdays_are():
    # 2026-06-06/07 are Saturday/Sunday; 2026-06-08..12 Monday..Friday with no holiday in June.
    assert [is_business_day(d(f"2026-06-{day:02d}")) for day in range(6, 13)] == [
        False, False, True, True, True, True, True,
    ]


def test_a_datetime_is_refused_because_its_day_depends_on_the_timezone():
    with pytest.raises(TypeError, match="datetime.date"):
        is_business_day(datetime(2026, 6, 8, 9, 0))
    with pytest.raises(TypeError):
        is_business_day("2026-06-08")


# --- nth business day ------------------------------------------------------------------------

# First business day of January, 2017-2027. Jan 1-3 are always closed, and 成人の日 (2nd Monday)
# is never before 1/8, so the answer is 1/4 when it is a weekday, else the Monday after it.
# 1 January fell on: 2017 Sun, 2018 Mon, 2019 Tue, 2020 Wed, 2021 Fri, 2022 Sat, 2023 Sun,
# 2024 Mon, 2025 Wed, 2026 Thu, 2027 Fri; 4 January is three weekdays later.
FIRST_BUSINESS_DAY_OF_JANUARY = [
    (2017, WED, "2017-01-04"),  # also: 元日 on Sunday made 1/2 a 振替休日, inside the closure anyway
    (2018, THU, "2018-01-04"),
    (2019, FRI, "2019-01-04"),
    (2020, SAT, "2020-01-06"),
    (2021, MON, "2021-01-04"),
    (2022, TUE, "2022-01-04"),
    (2023, WED, "2023-01-04"),
    (2024, THU, "2024-01-04"),
    (2025, SAT, "2025-01-06"),
    (2026, SUN, "2026-01-05"),
    (2027, MON, "2027-01-04"),
]


@pytest.mark.parametrize(("year", "jan4_weekday", "expected"), FIRST_BUSINESS_DAY_OF_JANUARY)
def test_first_business_day_of_january(year, jan4_weekday, expected):
    assert date(year, 1, 4).weekday() == jan4_weekday
    assert nth_business_day(year, 1, 1) == d(expected)


# Golden Week, one case per year 2017-2027 where it moves the answer. May holidays are
# 5/3 憲法記念日, 5/4 みどりの日, 5/5 こどもの日 (+ 5/6 振替休日 when 5/3 or 5/5 is a Sunday);
# in 2019 also 5/1 即位の日 and 5/2 国民の休日.
GOLDEN_WEEK = [
    # 2017: 5/1 Mon, 5/2 Tue open; 3-5 Wed-Fri holidays; next is Mon 5/8.
    (2017, 3, "2017-05-08"),
    # 2018: 5/1 Tue, 5/2 Wed open; 3-4 Thu-Fri holidays, 5/5 Sat; 5/6 Sun; next Mon 5/7.
    (2018, 3, "2018-05-07"),
    # 2019: 5/1 .. 5/6 all off (即位の日, 国民の休日, 3 holidays, 振替休日); first is Tue 5/7.
    (2019, 1, "2019-05-07"),
    (2019, 3, "2019-05-09"),
    # 2020: 5/1 Fri open; 5/3 is a Sunday so 5/4, 5/5, 5/6 (振替) Mon-Wed are off; next Thu 5/7.
    (2020, 2, "2020-05-07"),
    # 2021: 5/1 Sat, 5/2 Sun, 3-5 Mon-Wed holidays; first is Thu 5/6.
    (2021, 1, "2021-05-06"),
    # 2022: 5/1 Sun, 5/2 Mon open, 3-5 Tue-Thu holidays, 5/6 Fri open.
    (2022, 2, "2022-05-06"),
    # 2023: 5/1 Mon, 5/2 Tue open; 3-5 Wed-Fri holidays; next Mon 5/8.
    (2023, 3, "2023-05-08"),
    # 2024: 5/1 Wed, 5/2 Thu open; 5/3 Fri holiday; 5/5 Sun -> 5/6 Mon 振替休日; next Tue 5/7.
    (2024, 3, "2024-05-07"),
    # 2025: 5/1 Thu, 5/2 Fri open; 5/4 Sun -> 5/6 Tue 振替休日 (5/5 Mon is こどもの日); next Wed 5/7.
    (2025, 3, "2025-05-07"),
    # 2026: 5/1 Fri open; 5/3 Sun -> 5/6 Wed 振替休日, 5/4 Mon, 5/5 Tue off; next Thu 5/7, Fri 5/8.
    (2026, 3, "2026-05-08"),
    # 2027: 5/1 Sat, 5/2 Sun, 3-5 Mon-Wed holidays; first is Thu 5/6.
    (2027, 1, "2027-05-06"),
]


@pytest.mark.parametrize(("year", "n", "expected"), GOLDEN_WEEK)
def test_golden_week(year, n, expected):
    assert nth_business_day(year, 5, n) == d(expected)


def test_months_starting_on_a_sunday():
    # 2026-02-01 is a Sunday: the 1st business day is Monday 2/2 and the 3rd is Wednesday 2/4.
    assert d("2026-02-01").weekday() == SUN
    assert nth_business_day(2026, 2, 1) == d("2026-02-02")
    assert nth_business_day(2026, 2, 3) == d("2026-02-04")
    # 2023-01-01 is a Sunday (元日), so 1/2 is a 振替休日 and 1/3 is closed: first is Wed 1/4.
    assert d("2023-01-01").weekday() == SUN
    assert nth_business_day(2023, 1, 1) == d("2023-01-04")


def test_silver_week_2026():
    # 9/19 Sat, 9/20 Sun, 9/21 敬老の日, 9/22 国民の休日, 9/23 秋分の日: the next business day
    # after Friday 9/18 is Thursday 9/24. September 2026 starts on Tuesday: business days
    # 1-4 (4), 7-11 (5), 14-18 (5) make 9/18 the 14th, so 9/24 is the 15th.
    assert nth_business_day(2026, 9, 14) == d("2026-09-18")
    assert nth_business_day(2026, 9, 15) == d("2026-09-24")


def test_january_2027_after_the_closure_and_coming_of_age_day():
    # 1/4 Mon .. 1/8 Fri are the 1st-5th; 1/11 is 成人の日, so Tuesday 1/12 is the 6th.
    assert nth_business_day(2027, 1, 1) == d("2027-01-04")
    assert nth_business_day(2027, 1, 3) == d("2027-01-06")
    assert nth_business_day(2027, 1, 5) == d("2027-01-08")
    assert nth_business_day(2027, 1, 6) == d("2027-01-12")


def test_last_business_day_of_december_before_the_closure():
    # 12/28 is the last possible day. 2026-12-28 is a Monday; 2025-12-28 a Sunday, so the last
    # is Friday 12/26; 2024-12-28 a Saturday, so the last is Friday 12/27.
    assert business_days(2026, 12)[-1] == d("2026-12-28")
    assert business_days(2025, 12)[-1] == d("2025-12-26")
    assert business_days(2024, 12)[-1] == d("2024-12-27")


def test_n_at_the_boundaries_of_a_month():
    # February 2026 (starts Sunday): weekdays 2-6, 9-13, 16-20, 23-27 = 20, less 建国記念の日
    # (Wed 2/11) and 天皇誕生日 (Mon 2/23) = 18 business days; the 18th is Friday 2/27.
    assert nth_business_day(2026, 2, 18) == d("2026-02-27")
    with pytest.raises(ValueError, match=r"2026-02 has only 18 business days.*number 19"):
        nth_business_day(2026, 2, 19)
    with pytest.raises(ValueError, match="1 or more"):
        nth_business_day(2026, 2, 0)
    with pytest.raises(ValueError, match="1 or more"):
        nth_business_day(2026, 2, -1)
    with pytest.raises(TypeError):
        nth_business_day(2026, 2, True)


# --- whole months ----------------------------------------------------------------------------


def test_business_days_of_may_2019_the_longest_golden_week():
    # 4/27 .. 5/6 were all off (see GOLDEN_WEEK). May 2019 starts on Wednesday; the rest of the
    # month has no holiday, so business days are 7-10, 13-17, 20-24 and 27-31.
    expected = [date(2019, 5, day) for day in [7, 8, 9, 10, *range(13, 18), *range(20, 25), *range(27, 32)]]
    assert business_days(2019, 5) == expected


MONTH_COUNTS = [
    # February 2020 starts Saturday: weekdays 3-7, 10-14, 17-21, 24-28 = 20; less 2/11 (Tue) and
    # 2/24 (振替休日) = 18.
    (2020, 2, 18),
    # February 2024 (leap) starts Thursday: weekdays 1-2, 5-9, 12-16, 19-23, 26-29 = 21; less 2/12
    # (振替休日) and 2/23 (Fri, 天皇誕生日) = 19.
    (2024, 2, 19),
    # April 2019 starts Monday: weekdays 1-5, 8-12, 15-19, 22-26, 29-30 = 22; less 4/29 (昭和の日)
    # and 4/30 (国民の休日) = 20.
    (2019, 4, 20),
    # September 2026 starts Tuesday: weekdays 1-4, 7-11, 14-18, 21-25, 28-30 = 22; less
    # 9/21, 9/22, 9/23 = 19.
    (2026, 9, 19),
    # January 2027 starts Friday: weekdays 1, 4-8, 11-15, 18-22, 25-29 = 21; less 1/1 and 1/11 = 19.
    (2027, 1, 19),
    # December 2026 starts Tuesday: weekdays 1-4, 7-11, 14-18, 21-25, 28-31 = 23; less the
    # closure weekdays 12/29, 12/30, 12/31 = 20.
    (2026, 12, 20),
    # May 2020 starts Friday: weekdays 1, 4-8, 11-15, 18-22, 25-29 = 21; less 5/4, 5/5, 5/6 = 18.
    (2020, 5, 18),
]


@pytest.mark.parametrize(("year", "month", "count"), MONTH_COUNTS)
def test_business_day_counts(year, month, count):
    assert len(business_days(year, month)) == count


def test_every_month_2017_2027_has_no_weekend_or_closure_day_and_is_ordered():
    # A structural check over the whole range the brief covers; values are pinned above.
    for year in range(2017, 2028):
        for month in range(1, 13):
            days = business_days(year, month)
            assert days == sorted(days)
            assert all(day.month == month and day.weekday() < SAT for day in days)
            assert not any((day.month, day.day) in YEAR_END_CLOSURE for day in days)
            # Consistent with nth_business_day for every n.
            assert [nth_business_day(year, month, n) for n in range(1, len(days) + 1)] == days


def test_business_days_walk_whole_months_only():
    # The first and last day of a 31-day and of a 30-day month are both considered.
    assert business_days(2026, 7)[0] == d("2026-07-01")  # Wednesday
    assert business_days(2026, 7)[-1] == d("2026-07-31")  # Friday
    assert business_days(2026, 6)[-1] == d("2026-06-30")  # Tuesday
    assert business_days(2026, 6)[0] == d("2026-06-01")  # Monday
