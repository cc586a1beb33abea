import datetime as dt

import pytest

from renkei.eradate import EraDateError, format_era_date, parse_era_date


@pytest.mark.parametrize(("text", "expected"), [
    ("3640107", dt.date(1989, 1, 7)),    # 昭和64年1月7日: last day of 昭和
    ("4010108", dt.date(1989, 1, 8)),    # 平成元年1月8日: first day of 平成
    ("4310430", dt.date(2019, 4, 30)),   # 平成31年4月30日: last day of 平成
    ("5010501", dt.date(2019, 5, 1)),    # 令和元年5月1日: first day of 令和
    ("3011225", dt.date(1926, 12, 25)),  # 昭和元年12月25日
    ("4120229", dt.date(2000, 2, 29)),   # 平成12年: 2000 is a leap year
    ("5060229", dt.date(2024, 2, 29)),   # 令和6年
    ("2150730", dt.date(1926, 7, 30)),   # 大正15年
    ("1450729", dt.date(1912, 7, 29)),   # 明治45年7月29日
])
def test_valid_era_dates(text, expected):
    assert parse_era_date(text) == expected


@pytest.mark.parametrize("text", [
    "3640108",  # 昭和64年1月8日 is 平成元年
    "4310501",  # 平成31年5月1日 is 令和元年
    "5010430",  # 令和元年4月30日 is still 平成
    "4010107",  # 平成元年1月7日 is still 昭和
    "3011224",  # 昭和元年12月24日 is still 大正
    "4110229",  # 平成11年 = 1999, not a leap year
    "5070229",  # 令和7年 = 2025, not a leap year
    "4130229",  # 平成13年 = 2001
    "4000101",  # year 00 does not exist
    "6010101",  # unknown era code
    "0010101",
    "4011301",  # month 13
    "4010132",  # day 32
    "401010",   # too short
    "4O10101",  # letter O
    "４０１０１０１",  # full-width digits
])
def test_invalid_era_dates(text):
    with pytest.raises(EraDateError):
        parse_era_date(text)


def test_error_message_holds_no_value():
    with pytest.raises(EraDateError) as exc:
        parse_era_date("3640108")
    assert "3640108" not in str(exc.value)
    assert "64" not in str(exc.value).replace("1989", "")


@pytest.mark.parametrize("day", [
    dt.date(1989, 1, 7), dt.date(1989, 1, 8), dt.date(2019, 4, 30), dt.date(2019, 5, 1),
    dt.date(1926, 12, 24), dt.date(1926, 12, 25), dt.date(2000, 2, 29),
])
def test_format_round_trips(day):
    assert parse_era_date(format_era_date(day)) == day


def test_format_uses_era_in_force():
    assert format_era_date(dt.date(1989, 1, 7)) == "3640107"
    assert format_era_date(dt.date(1989, 1, 8)) == "4010108"
    assert format_era_date(dt.date(2019, 5, 1)) == "5010501"


def test_vectorised_parse_agrees_with_the_single_value_parse():
    """The reader's column parse against parse_era_date for every era code (incl. unknown
    ones), every year 00-99, months 00-13 and the days around month and era ends."""
    import numpy as np

    from renkei.eradate import parse_era_date_digits
    keys = [f"{c}{yy:02d}{mm:02d}{dd:02d}" for c in range(10) for yy in range(100)
            for mm in range(14) for dd in (0, 1, 7, 8, 24, 25, 28, 29, 30, 31, 32)]
    digits = np.frombuffer("".join(keys).encode(), dtype=np.uint8).reshape(-1, 7).T - 48
    days, bad = parse_era_date_digits(digits)
    for key, day, flagged in zip(keys, days, bad, strict=True):
        try:
            expected = np.datetime64(parse_era_date(key), "D")
        except EraDateError:
            assert flagged and np.isnat(day), key
        else:
            assert not flagged and day == expected, key
    # the era switches themselves, spelled out
    probe = ["4310430", "4310501", "5010430", "5010501", "3640107", "3640108", "4010107",
             "4010108", "4120229", "4110229"]
    d, b = parse_era_date_digits(np.frombuffer("".join(probe).encode(), np.uint8).reshape(-1, 7).T - 48)
    assert b.tolist() == [False, True, True, False, False, True, True, False, False, True]
    assert str(d[0]) == "2019-04-30" and str(d[3]) == "2019-05-01" and str(d[8]) == "2000-02-29"
