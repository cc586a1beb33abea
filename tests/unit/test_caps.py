"""The 高額療養費 cap of `renkei cap` (plugins/renkei/caps.py, which runs the dbt macro
macros/high_cost_cap.sql on the seed high_cost_caps) against DOMAIN.md 3.2 and 3.3.

The reference below is written again from DOMAIN.md, in integer yen, and reads neither the seed
nor the macro: a wrong figure in either, or a formula change in the macro, makes these tests
fail. All cases are synthetic; no person is involved.
"""

from __future__ import annotations

from datetime import date

import duckdb
import jinja2
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renkei.caps import MACRO_FILE, CapInputError, cap_for
from renkei.cli import main
from renkei.settings import paths

OPEN = date(9999, 12, 31)
TO_2017_07 = (date(2015, 1, 1), date(2017, 7, 31))
FY2017 = (date(2017, 8, 1), date(2018, 7, 31))
FROM_2018_08 = (date(2018, 8, 1), OPEN)
FROM_2015 = (date(2015, 1, 1), OPEN)

# (age band, tier) -> [(period, base, threshold, 多数回, 外来 cap)], from DOMAIN.md. A threshold
# means base + (total - threshold) x 1%. 現役並み to 2018-07 has "the same formula" as ウ, and so
# ウ's 多数回 44,400; 一般 to 2017-07 has no 多数回 of its own (44,400 is already its cap).
DOMAIN_CAPS: dict[tuple[str, str], list[tuple[tuple[date, date], int, int | None, int | None,
                                              int | None]]] = {
    ("under70", "ア"): [(FROM_2015, 252_600, 842_000, 140_100, None)],
    ("under70", "イ"): [(FROM_2015, 167_400, 558_000, 93_000, None)],
    ("under70", "ウ"): [(FROM_2015, 80_100, 267_000, 44_400, None)],
    ("under70", "エ"): [(FROM_2015, 57_600, None, 44_400, None)],
    ("under70", "オ"): [(FROM_2015, 35_400, None, 24_600, None)],
    ("70-74", "現役並み"): [(TO_2017_07, 80_100, 267_000, 44_400, 44_400),
                          (FY2017, 80_100, 267_000, 44_400, 57_600)],
    ("70-74", "現役並みⅢ"): [(FROM_2018_08, 252_600, 842_000, 140_100, None)],
    ("70-74", "現役並みⅡ"): [(FROM_2018_08, 167_400, 558_000, 93_000, None)],
    ("70-74", "現役並みⅠ"): [(FROM_2018_08, 80_100, 267_000, 44_400, None)],
    ("70-74", "一般"): [(TO_2017_07, 44_400, None, None, 12_000),
                       (FY2017, 57_600, None, 44_400, 14_000),
                       (FROM_2018_08, 57_600, None, 44_400, 18_000)],
    ("70-74", "低所得Ⅱ"): [(FROM_2015, 24_600, None, None, 8_000)],
    ("70-74", "低所得Ⅰ"): [(FROM_2015, 15_000, None, None, 8_000)],
}
BIRTHDAY_75_PERCENT = 50  # benefit_parameters birthday_75_month_cap_percent


def _half(amount: int | None) -> int | None:
    if amount is None:
        return None
    assert amount * BIRTHDAY_75_PERCENT % 100 == 0, "official halves are whole yen"
    return amount * BIRTHDAY_75_PERCENT // 100


def reference_cap(month: date, age_band: str, tier: str, total: int, many_times: bool = False,
                  outpatient_only: bool = False, birthday_75_month: bool = False) -> int:
    """DOMAIN.md 3.2/3.3 in integer arithmetic."""
    [(base, threshold, many, outpatient)] = [
        row[1:] for row in DOMAIN_CAPS[(age_band, tier)] if row[0][0] <= month <= row[0][1]]
    if birthday_75_month:
        base, threshold, many, outpatient = map(_half, (base, threshold, many, outpatient))
    if outpatient_only and outpatient is not None:
        return outpatient  # 多数回 does not apply to the 外来 cap
    if many_times and many is not None:
        return many
    if threshold is None:
        return base
    # 1% of the excess, rounded half up: (excess + 50) // 100 for an excess >= 0.
    return base + (max(total - threshold, 0) + 50) // 100


PERIODS = [(band, tier, period) for (band, tier), rows in DOMAIN_CAPS.items()
           for period, *_ in rows]


def _months(period: tuple[date, date]):
    first, last = period
    last = min(last, date(2030, 12, 31))  # open periods: a generous window is enough
    return st.dates(first, last).map(lambda d: d.replace(day=1))


@pytest.mark.parametrize(("age_band", "tier", "period"), PERIODS,
                         ids=[f"{b}-{t}-{p[0]:%Y%m}" for b, t, p in PERIODS])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), total=st.integers(0, 10_000_000), many_times=st.booleans(),
       outpatient_only=st.booleans(), birthday_75_month=st.booleans())
def test_cap_matches_domain_formula(age_band, tier, period, data, total, many_times,
                                    outpatient_only, birthday_75_month):
    month = data.draw(_months(period), label="month")
    result = cap_for(month, age_band, tier, total, many_times=many_times,
                     outpatient_only=outpatient_only, birthday_75_month=birthday_75_month)
    assert result.cap_yen == reference_cap(month, age_band, tier, total, many_times,
                                           outpatient_only, birthday_75_month)
    assert f"{result.cap_yen:,}" in result.explanation


@given(total=st.integers(0, 10_000_000))
@settings(max_examples=15, deadline=None)
def test_cap_never_below_base_and_grows_with_total(total):
    low = cap_for("2025-05", "under70", "ア", total).cap_yen
    high = cap_for("2025-05", "under70", "ア", total + 100).cap_yen
    assert 252_600 <= low <= high <= low + 1


# Hand-worked examples: (month, age band, tier, total, flags, cap) with the arithmetic.
WORKED = [
    # under 70 (3.2), total 1,000,000 unless said
    ("2025-05", "under70", "ア", 1_000_000, {}, 254_180),   # 252,600 + 158,000 x 1% = +1,580
    ("2025-05", "under70", "イ", 1_000_000, {}, 171_820),   # 167,400 + 442,000 x 1% = +4,420
    ("2025-05", "under70", "ウ", 1_000_000, {}, 87_430),    # 80,100 + 733,000 x 1% = +7,330
    ("2025-05", "under70", "エ", 1_000_000, {}, 57_600),    # flat
    ("2025-05", "under70", "オ", 1_000_000, {}, 35_400),    # flat
    ("2025-05", "under70", "ウ", 100_000, {}, 80_100),      # below 267,000: 1% part 0, not -1,670
    ("2025-05", "under70", "ア", 1_000_000, {"many_times": True}, 140_100),
    ("2025-05", "under70", "イ", 1_000_000, {"many_times": True}, 93_000),
    ("2025-05", "under70", "ウ", 1_000_000, {"many_times": True}, 44_400),
    ("2025-05", "under70", "エ", 1_000_000, {"many_times": True}, 44_400),
    ("2025-05", "under70", "オ", 1_000_000, {"many_times": True}, 24_600),
    # no 外来 cap under 70: the household formula, 87,430 as above
    ("2025-05", "under70", "ウ", 1_000_000, {"outpatient_only": True}, 87_430),
    # 70-74 to 2017-07: 現役並み 外来 44,400, household 87,430; 一般 外来 12,000 / 44,400
    ("2017-07", "70-74", "現役並み", 1_000_000, {}, 87_430),
    ("2017-07", "70-74", "現役並み", 1_000_000, {"outpatient_only": True}, 44_400),
    ("2017-07", "70-74", "現役並み", 1_000_000, {"many_times": True}, 44_400),
    ("2017-07", "70-74", "一般", 300_000, {"outpatient_only": True}, 12_000),
    ("2017-07", "70-74", "一般", 300_000, {}, 44_400),
    ("2017-07", "70-74", "一般", 300_000, {"many_times": True}, 44_400),  # no 多数回 amount
    # 2017-08: 現役並み 外来 57,600; 一般 外来 14,000, household 57,600, 多数回 44,400
    ("2017-08", "70-74", "現役並み", 1_000_000, {"outpatient_only": True}, 57_600),
    ("2017-08", "70-74", "現役並み", 1_000_000, {}, 87_430),
    ("2017-08", "70-74", "一般", 300_000, {"outpatient_only": True}, 14_000),
    ("2017-08", "70-74", "一般", 300_000, {}, 57_600),
    ("2017-08", "70-74", "一般", 300_000, {"many_times": True}, 44_400),
    # 多数回 never applies to the 外来 cap
    ("2017-08", "70-74", "一般", 300_000, {"many_times": True, "outpatient_only": True}, 14_000),
    # from 2018-08: 現役並みⅢ/Ⅱ/Ⅰ like ア/イ/ウ, no 外来 cap; 一般 外来 18,000
    ("2018-08", "70-74", "現役並みⅢ", 1_000_000, {}, 254_180),  # 252,600 + 1,580
    ("2018-08", "70-74", "現役並みⅡ", 1_000_000, {}, 171_820),  # 167,400 + 4,420
    ("2018-08", "70-74", "現役並みⅠ", 1_000_000, {}, 87_430),   # 80,100 + 7,330
    ("2018-08", "70-74", "現役並みⅢ", 1_000_000, {"outpatient_only": True}, 254_180),
    ("2018-08", "70-74", "現役並みⅠ", 1_000_000, {"outpatient_only": True, "many_times": True},
     44_400),  # no 外来 cap: the household cap, where 多数回 applies
    ("2018-08", "70-74", "現役並みⅡ", 1_000_000, {"many_times": True}, 93_000),
    ("2018-08", "70-74", "一般", 300_000, {"outpatient_only": True}, 18_000),
    ("2018-08", "70-74", "一般", 300_000, {}, 57_600),
    ("2018-08", "70-74", "一般", 300_000, {"many_times": True}, 44_400),
    # 低所得Ⅱ / Ⅰ: 外来 8,000, household 24,600 / 15,000, no 多数回
    ("2018-08", "70-74", "低所得Ⅱ", 300_000, {"outpatient_only": True}, 8_000),
    ("2018-08", "70-74", "低所得Ⅱ", 300_000, {}, 24_600),
    ("2018-08", "70-74", "低所得Ⅰ", 300_000, {"outpatient_only": True}, 8_000),
    ("2018-08", "70-74", "低所得Ⅰ", 300_000, {"many_times": True}, 15_000),
    ("2016-01", "70-74", "低所得Ⅰ", 300_000, {}, 15_000),
    # 75歳到達月: every figure halved
    ("2025-05", "under70", "ウ", 1_000_000, {"birthday_75_month": True}, 48_715),
    # 40,050 + (1,000,000 - 133,500) x 1% = 40,050 + 8,665
    ("2025-05", "70-74", "現役並みⅢ", 1_000_000, {"birthday_75_month": True}, 132_090),
    # 126,300 + (1,000,000 - 421,000) x 1% = 126,300 + 5,790
    ("2025-05", "70-74", "現役並みⅢ", 1_000_000, {"birthday_75_month": True, "many_times": True},
     70_050),  # 140,100 / 2
    ("2025-05", "70-74", "一般", 300_000, {"birthday_75_month": True}, 28_800),  # 57,600 / 2
    ("2025-05", "70-74", "一般", 300_000, {"birthday_75_month": True, "outpatient_only": True},
     9_000),  # 18,000 / 2
    ("2025-05", "70-74", "低所得Ⅰ", 300_000, {"birthday_75_month": True}, 7_500),  # 15,000 / 2
    # rounding half up of the 1% part
    ("2025-05", "under70", "ウ", 1_000_050, {}, 87_431),  # 733,050 x 1% = 7,330.5 -> 7,331
    ("2025-05", "under70", "ウ", 1_000_040, {}, 87_430),  # 733,040 x 1% = 7,330.4 -> 7,330
    ("2025-05", "under70", "ウ", 267_050, {}, 80_101),    # 50 x 1% = 0.5 -> 1
    ("2025-05", "under70", "ウ", 267_049, {}, 80_100),    # 49 x 1% = 0.49 -> 0
    ("2025-05", "under70", "ウ", 267_000, {}, 80_100),    # at the threshold: 0
    ("2025-05", "under70", "ウ", 1_000_050, {"birthday_75_month": True}, 48_716),
    # 40,050 + (1,000,050 - 133,500) x 1% = 40,050 + 8,665.5 -> 8,666
]


@pytest.mark.parametrize(("month", "age_band", "tier", "total", "flags", "cap"), WORKED)
def test_worked_examples(month, age_band, tier, total, flags, cap):
    assert cap_for(month, age_band, tier, total, **flags).cap_yen == cap


@pytest.mark.parametrize(("month", "tier", "outpatient_cap"), [
    ("2017-07", "一般", 12_000), ("2017-08", "一般", 14_000),
    ("2018-07", "一般", 14_000), ("2018-08", "一般", 18_000),
    ("2017-07", "現役並み", 44_400), ("2017-08", "現役並み", 57_600),
    ("2018-07", "現役並み", 57_600),
])
def test_period_boundaries_outpatient(month, tier, outpatient_cap):
    assert cap_for(month, "70-74", tier, 500_000, outpatient_only=True).cap_yen == outpatient_cap


def test_period_boundaries_household():
    # 一般 household 44,400 to 2017-07, 57,600 from 2017-08
    assert cap_for("2017-07", "70-74", "一般", 500_000).cap_yen == 44_400
    assert cap_for("2017-08", "70-74", "一般", 500_000).cap_yen == 57_600
    # 現役並み ends with 2018-07; Ⅲ/Ⅱ/Ⅰ start with 2018-08
    assert cap_for("2018-07", "70-74", "現役並み", 1_000_000).cap_yen == 87_430
    with pytest.raises(CapInputError, match="現役並みⅢ, 現役並みⅡ, 現役並みⅠ") as err:
        cap_for("2018-08", "70-74", "現役並み", 1_000_000)
    assert err.value.option == "tier"
    with pytest.raises(CapInputError, match="'現役並みⅢ' is not a tier") as err:
        cap_for("2018-07", "70-74", "現役並みⅢ", 1_000_000)
    assert err.value.option == "tier"


def test_month_as_date_uses_its_month():
    # the treatment month's first day decides the row: any day of July 2017 is July
    assert cap_for(date(2017, 7, 31), "70-74", "一般", 0, outpatient_only=True).cap_yen == 12_000
    assert cap_for(date(2017, 8, 1), "70-74", "一般", 0, outpatient_only=True).cap_yen == 14_000
    assert cap_for(date(2017, 8, 31), "70-74", "一般", 0).month == date(2017, 8, 1)


def test_result_parameters_and_explanation():
    r = cap_for("2025-05", "under70", "ウ", 1_000_000)
    assert r.explanation == "80,100 + (1,000,000 - 267,000) x 1% = 87,430"
    p = r.parameters
    assert (p.base_yen, p.threshold_yen, p.many_times_yen, p.outpatient_cap_yen) == (
        80_100, 267_000, 44_400, None)
    assert p.rate * 100 == 1 and p.scale_percent == 100
    assert (p.valid_from, p.valid_to) == (date(2015, 1, 1), OPEN)

    half = cap_for("2025-05", "under70", "ウ", 1_000_050, birthday_75_month=True)
    assert (half.parameters.base_yen, half.parameters.threshold_yen) == (40_050, 133_500)
    assert half.parameters.many_times_yen == 22_200 and half.parameters.scale_percent == 50
    assert "75歳到達月" in half.explanation
    assert half.explanation.endswith(
        "40,050 + (1,000,050 - 133,500) x 1% = 40,050 + 8,665.5 (rounded half up to 8,666)"
        " = 48,716")

    below = cap_for("2025-05", "under70", "ウ", 100_000)
    assert below.explanation == "80,100 + 0 (total 100,000 is not above 267,000: no 1% part) = 80,100"
    assert "多数回" in cap_for("2025-05", "under70", "エ", 0, many_times=True).explanation
    assert "外来" in cap_for("2018-08", "70-74", "一般", 0, outpatient_only=True).explanation
    assert "no 多数回 amount" in cap_for("2018-08", "70-74", "低所得Ⅰ", 0, many_times=True).explanation


def test_tier_spelt_from_a_keyboard():
    # half-width katakana and Roman numerals typed as letters mean the seed's tier
    assert cap_for("2025-05", "under70", "ｳ", 1_000_000).parameters.tier == "ウ"
    r = cap_for("2025-05", "70-74", "現役並みIII", 1_000_000)
    assert (r.parameters.tier, r.cap_yen) == ("現役並みⅢ", 254_180)


@pytest.mark.parametrize(("args", "option", "text"), [
    (("2025-05", "under70", "カ", 1), "tier", "valid tiers: ア, イ, ウ, エ, オ"),
    (("2025-05", "under70", "一般", 1), "tier", "valid tiers: ア, イ, ウ, エ, オ"),
    (("2025-05", "70-74", "ア", 1), "tier", "現役並みⅢ, 現役並みⅡ, 現役並みⅠ, 一般, 低所得Ⅱ, 低所得Ⅰ"),
    (("2025-05", "under70", "ウ", -1), "total_cost", "must not be negative"),
    (("2025-05", "under70", "ウ", 1.5), "total_cost", "whole number"),
    (("2025-05", "under70", "ウ", True), "total_cost", "whole number"),
    (("2014-12", "under70", "ウ", 1), "month", "outside the periods"),
    (("2014-12", "70-74", "一般", 1), "month", "2015-01 onwards"),
    (("2025-13", "under70", "ウ", 1), "month", "YYYY-MM"),
    (("2025/05", "under70", "ウ", 1), "month", "YYYY-MM"),
    (("2025-05", "70-75", "ウ", 1), "age_band", "under70, 70-74"),
])
def test_bad_input_names_the_option(args, option, text):
    with pytest.raises(ValueError, match=option) as err:
        cap_for(*args)
    assert err.value.option == option
    assert text in str(err.value)


def test_zero_total_is_allowed():
    assert cap_for("2025-05", "under70", "ア", 0).cap_yen == 252_600


def _macro(expression: str) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(paths().dbt_project / "macros")),
                             undefined=jinja2.StrictUndefined)
    return env.from_string(
        "{% from '" + MACRO_FILE + "' import high_cost_cap_yen, scaled_cap_yen %}select "
        + expression).render()


def test_scaled_cap_is_exact_or_fails():
    con = duckdb.connect()
    assert con.execute(_macro("{{ scaled_cap_yen('140100', '50') }}")).fetchone() == (70_050,)
    assert con.execute(_macro("{{ scaled_cap_yen('80100', '100') }}")).fetchone() == (80_100,)
    assert con.execute(_macro("{{ scaled_cap_yen('null', '50') }}")).fetchone() == (None,)
    # 801 / 2 = 400.5 is not whole yen: an error, never a silent rounding
    with pytest.raises(duckdb.Error, match="not a whole yen"):
        con.execute(_macro("{{ scaled_cap_yen('801', '50') }}")).fetchone()


def test_macro_returns_bigint_yen():
    con = duckdb.connect()
    sql = _macro("typeof({{ high_cost_cap_yen('1000050', '80100', '267000', '0.01', '44400', "
                 "'null') }}), {{ high_cost_cap_yen('1000050', '80100', '267000', '0.01', '44400',"
                 " 'null') }}")
    assert con.execute(sql).fetchone() == ("BIGINT", 87_431)


def _cli(*args: str):
    return CliRunner().invoke(main, ["cap", *args])


def test_cli_prints_cap_and_arithmetic():
    result = _cli("--month", "2025-05", "--age-band", "under70", "--tier", "ウ",
                  "--total-cost", "1000000")
    assert result.exit_code == 0, result.output
    assert result.output == "87,430 yen\n80,100 + (1,000,000 - 267,000) x 1% = 87,430\n"


def test_cli_flags():
    result = _cli("--month", "2025-05", "--age-band", "70-74", "--tier", "一般",
                  "--total-cost", "300000", "--outpatient-only", "--many-times",
                  "--birthday-75-month")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "9,000 yen"  # 18,000 / 2, no 多数回 on 外来


def test_cli_bad_tier_names_the_option_without_traceback():
    result = _cli("--month", "2025-05", "--age-band", "under70", "--tier", "現役並み",
                  "--total-cost", "1000000")
    assert result.exit_code == 2
    assert "--tier" in result.output and "ア, イ, ウ, エ, オ" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(("args", "option"), [
    (["--month", "2025-05", "--age-band", "under70", "--tier", "ウ", "--total-cost", "-1"],
     "--total-cost"),
    (["--month", "2014-12", "--age-band", "under70", "--tier", "ウ", "--total-cost", "1"],
     "--month"),
    (["--month", "2025-05", "--age-band", "u70", "--tier", "ウ", "--total-cost", "1"],
     "--age-band"),
])
def test_cli_other_bad_input(args, option):
    result = _cli(*args)
    assert result.exit_code == 2
    assert option in result.output and "Traceback" not in result.output


def test_cli_help_reads_well():
    result = _cli("--help")
    assert result.exit_code == 0
    for term in ("高額療養費", "自己負担限度額", "多数回", "外来のみ", "75歳到達月の特例", "--total-cost"):
        assert term in result.output
