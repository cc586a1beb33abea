"""The sandbox as municipalities and members: TAX_FY<YYYY>.csv and KIJUN_<YYYYMM>.csv.

Files are parsed here with the csv module from raw bytes, not with anything the platform
has: these tests must hold while the platform's readers are being written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from pathlib import Path

import jpholiday
import pytest
from click.testing import CliRunner

from renkei_sandbox import (
    Population,
    generate,
    tiers,
    write_income_threshold_applications,
    write_tax_information,
)
from renkei_sandbox.__main__ import cli
from renkei_sandbox.population import CHILD, INSURED, age_on, month_end, months_between
from renkei_sandbox.tax import fiscal_years_for, fiscal_years_of, received_on

D = dt.date
START, END = "2017-07", "2017-10"    # crosses July/August and August/September
MONTHS = months_between(START, END)
MEMBERS, SEED = 3000, 7
TAX_HEADER = ["insurer_number", "symbol", "number", "branch_number", "fiscal_year", "taxable",
              "income_yen", "revenue_yen", "public_pension_revenue_yen", "pension_income_yen",
              "received_on"]
KIJUN_HEADER = ["insurer_number", "symbol", "number", "branch_number", "applied_on"]


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    return list(csv.reader(io.StringIO(raw.decode("cp932"), newline="")))


def key_of(row: list[str]) -> str:
    return "".join(row[:4])


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("delivery")
    paths = generate(out / "elig", start=START, end=END, members=MEMBERS, seed=SEED,
                     tax_dir=out / "tax", applications_dir=out / "kijun")
    population = Population(members=MEMBERS, seed=SEED, start=START)
    population.simulate_until(END)
    return {"out": out, "paths": paths, "population": population}


# --- which fiscal years ------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "end", "years"), [
    ("2017-07", "2017-07", [2016]),
    ("2017-08", "2017-08", [2016, 2017]),     # 高額療養費 already FY2017, copay still FY2016
    ("2017-09", "2017-09", [2017]),
    ("2017-07", "2017-09", [2016, 2017]),
    ("2017-09", "2018-07", [2017]),
    ("2018-07", "2018-08", [2017, 2018]),
    ("2017-07", "2018-03", [2016, 2017]),
])
def test_fiscal_years_a_range_needs(start, end, years):
    assert fiscal_years_for(months_between(start, end)) == years


def test_received_on_is_the_first_business_day_from_10_july():
    assert received_on(2016) == D(2016, 7, 11)   # 10 July 2016 was a Sunday
    assert received_on(2017) == D(2017, 7, 10)   # a Monday
    for year in range(2015, 2031):
        day = received_on(year)
        assert day.weekday() < 5 and not jpholiday.is_holiday(day)
        skipped = [D(year, 7, 10) + dt.timedelta(n) for n in range((day - D(year, 7, 10)).days)]
        assert all(d.weekday() >= 5 or jpholiday.is_holiday(d) for d in skipped)


# --- the tax files -----------------------------------------------------------------------------
def test_one_tax_file_per_fiscal_year_and_nothing_else(delivered):
    tax_dir = delivered["out"] / "tax"
    assert sorted(p.name for p in tax_dir.iterdir()) == ["TAX_FY2016.csv", "TAX_FY2017.csv"]
    names = [p.name for p in delivered["paths"]]
    assert names[:len(MONTHS)] == [f"ELIG_{m:%Y%m}.dat" for m in MONTHS]
    assert names[-2:] == ["TAX_FY2016.csv", "TAX_FY2017.csv"]


@pytest.mark.parametrize("fiscal_year", [2016, 2017])
def test_tax_file_format(delivered, fiscal_year):
    rows = read_csv(delivered["out"] / "tax" / f"TAX_FY{fiscal_year}.csv")
    assert rows[0] == TAX_HEADER
    keys = [key_of(r) for r in rows[1:]]
    assert keys == sorted(keys) and len(keys) == len(set(keys))
    for row in rows[1:]:
        assert len(row) == 11
        assert re.fullmatch(r"\d{8}", row[0]) and re.fullmatch(r"\d{8}", row[1])
        assert re.fullmatch(r"\d{8}", row[2]) and re.fullmatch(r"\d{2}", row[3])
        assert row[4] == str(fiscal_year) and row[5] in ("0", "1")
        assert all(re.fullmatch(r"\d+", v) for v in row[6:8])
        assert (row[8] == "") == (row[9] == ""), "pension revenue and pension income go together"
        assert all(re.fullmatch(r"\d*", v) for v in row[8:10])
        assert row[10] == received_on(fiscal_year).isoformat()


def test_a_tax_file_lists_everyone_enrolled_in_a_month_using_its_year(delivered):
    population = delivered["population"]
    enrolled = {m: {p.key for p in population.members_in(m)} for m in MONTHS}
    for fiscal_year in (2016, 2017):
        in_file = {key_of(r) for r in read_csv(delivered["out"] / "tax" / f"TAX_FY{fiscal_year}.csv")[1:]}
        months = [m for m in MONTHS if fiscal_year in fiscal_years_of(m)]
        wanted = set().union(*(enrolled[m] for m in months))
        no_record = {p.key for p in population.persons
                     if p.key in wanted and population.tax_facts(p, fiscal_year) is None}
        assert in_file == wanted - no_record
        assert no_record, "some person-years have no record"
    # FY2016 serves July and August (copay); FY2017 August to October
    joined_later = enrolled[D(2017, 9, 1)] - enrolled[D(2017, 7, 1)] - enrolled[D(2017, 8, 1)]
    left_in_july = enrolled[D(2017, 7, 1)] - enrolled[D(2017, 8, 1)]
    fy2016 = {key_of(r) for r in read_csv(delivered["out"] / "tax" / "TAX_FY2016.csv")[1:]}
    fy2017 = {key_of(r) for r in read_csv(delivered["out"] / "tax" / "TAX_FY2017.csv")[1:]}
    assert joined_later and left_in_july
    assert not joined_later & fy2016 and not left_in_july & fy2017


def test_tax_rows_are_the_populations_facts(delivered):
    population = delivered["population"]
    by_key = {p.key: p for p in population.persons}
    for fiscal_year in (2016, 2017):
        for row in read_csv(delivered["out"] / "tax" / f"TAX_FY{fiscal_year}.csv")[1:]:
            facts = population.tax_facts(by_key[key_of(row)], fiscal_year)
            blank = "" if facts.public_pension_revenue_yen is None else str(facts.public_pension_revenue_yen)
            assert row[5:10] == ["1" if facts.taxable else "0", str(facts.income_yen),
                                 str(facts.revenue_yen), blank,
                                 "" if facts.pension_income_yen is None else str(facts.pension_income_yen)]


def test_the_oracle_sees_exactly_the_delivered_records(delivered):
    """Every person ever simulated, every delivered fiscal year: a record is in the file if and
    only if the oracle's lookup (as delivered up to the last month) finds one."""
    population = delivered["population"]
    for fiscal_year in (2016, 2017):
        in_file = {key_of(r) for r in read_csv(delivered["out"] / "tax" / f"TAX_FY{fiscal_year}.csv")[1:]}
        found = {p.key for p in population.persons
                 if population.delivered_tax_record(p, fiscal_year, END) is not None}
        assert found == in_file


def test_about_2_percent_of_person_years_have_no_record(default_population):
    population = default_population
    checked = missing = 0
    for fiscal_year in (2016, 2017):
        for person in population.persons:
            checked += 1
            missing += population.tax_facts(person, fiscal_year) is None
    assert checked > 40_000
    assert 0.015 <= missing / checked <= 0.025


def test_facts_are_plausible(default_population):
    population = default_population
    fiscal_year, income_year_end = 2017, D(2016, 12, 31)
    ratios = []
    for person in population.persons:
        facts = population.tax_facts(person, fiscal_year)
        if facts is None:
            continue
        age = age_on(person.birth_date, income_year_end)
        assert 0 <= facts.income_yen <= facts.revenue_yen
        assert (facts.pension_income_yen or 0) <= facts.income_yen
        assert (facts.public_pension_revenue_yen is None) == (facts.pension_income_yen is None)
        if facts.public_pension_revenue_yen is not None:
            assert 0 <= facts.pension_income_yen <= facts.public_pension_revenue_yen <= facts.revenue_yen
            assert age >= 65
        if person.role == CHILD:
            assert (facts.taxable, facts.income_yen, facts.revenue_yen) == (False, 0, 0)
        elif person.role == INSURED:
            assert (facts.public_pension_revenue_yen is not None) == (age >= 65)
            if age < 60 and person.acquired_date <= D(2016, 1, 1):
                ratios.append(facts.revenue_yen / person.remuneration_as_of(D(2016, 6, 1)))
        else:
            assert facts.revenue_yen < 1_800_000     # a dependent's income stays under the limit
        if facts.income_yen == 0:
            assert not facts.taxable
    assert min(ratios) >= 12 and max(ratios) <= 14.01     # 12 months plus 0-2 months of bonus
    assert 12.5 <= sorted(ratios)[len(ratios) // 2] <= 13.5


def test_facts_change_between_fiscal_years(default_population):
    population = default_population
    changes = Counter()
    for person in population.persons:
        old, new = population.tax_facts(person, 2016), population.tax_facts(person, 2017)
        if old and new:
            changes[(old.taxable, new.taxable)] += 1
            changes["revenue"] += old.revenue_yen != new.revenue_yen
    assert changes[(True, False)] and changes[(False, True)] and changes["revenue"]


def test_facts_do_not_depend_on_how_far_the_simulation_ran(delivered):
    longer = delivered["population"]
    shorter = Population(members=MEMBERS, seed=SEED, start=START)
    shorter.simulate_until("2017-08")
    by_key = {p.key: p for p in longer.persons}
    for person in shorter.persons:
        for fiscal_year in (2016, 2017):
            assert shorter.tax_facts(person, fiscal_year) == longer.tax_facts(by_key[person.key], fiscal_year)


def test_facts_of_an_unsettled_income_year_are_refused():
    population = Population(members=300, seed=3, start="2017-07")
    population.simulate_until("2017-11")
    person = population.persons[0]
    with pytest.raises(ValueError, match="FY2018"):
        population.tax_facts(person, 2018)      # income year 2017 is still running
    population.simulate_month()                 # December 2017
    population.tax_facts(person, 2018)


def test_a_fiscal_year_no_month_uses_is_refused(delivered, tmp_path):
    with pytest.raises(ValueError):
        write_tax_information(delivered["population"], 2018, MONTHS, tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- determinism -------------------------------------------------------------------------------
def test_tax_and_applications_leave_the_extracts_unchanged(delivered, tmp_path):
    plain = generate(tmp_path / "plain", start=START, end=END, members=MEMBERS, seed=SEED)
    with_all = [p for p in delivered["paths"] if p.name.startswith("ELIG_")]
    assert [p.name for p in plain] == [p.name for p in with_all]
    assert [p.read_bytes() for p in plain] == [p.read_bytes() for p in with_all]


def test_same_inputs_same_bytes(delivered, tmp_path):
    again = generate(tmp_path / "elig", start=START, end=END, members=MEMBERS, seed=SEED,
                     tax_dir=tmp_path / "tax", applications_dir=tmp_path / "kijun")
    first = delivered["paths"]
    assert [p.name for p in again] == [p.name for p in first]
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in first]
    generate(tmp_path / "o", start=START, end=END, members=MEMBERS, seed=SEED + 1, tax_dir=tmp_path / "otax")
    assert (tmp_path / "otax" / "TAX_FY2017.csv").read_bytes() != \
        (delivered["out"] / "tax" / "TAX_FY2017.csv").read_bytes()


# --- applications ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def default_applications(default_population, tmp_path_factory) -> dict[dt.date, Path | None]:
    out = tmp_path_factory.mktemp("kijun")
    return {m: write_income_threshold_applications(default_population, m, out)
            for m in months_between("2017-07", "2018-03")}


def test_application_files_only_for_months_with_applications(default_population, default_applications):
    folder = next(p for p in default_applications.values() if p is not None).parent
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(p.name for p in default_applications.values() if p is not None)
    for month, path in default_applications.items():
        made = default_population.income_threshold_applications(month)
        assert (path is None) == (not made)
        if path is not None:
            assert path.name == f"KIJUN_{month:%Y%m}.csv"
            rows = read_csv(path)
            assert rows[0] == KIJUN_HEADER and len(rows) > 1
            expected = sorted((p.key, d.isoformat()) for p, d in made)
            assert [(key_of(r), r[4]) for r in rows[1:]] == expected


def test_who_applies_and_when(default_population, default_applications):
    population = default_population
    applicants = Counter()
    passing = failing = 0
    for month in default_applications:
        for person, day in population.income_threshold_applications(month):
            applicants[person.key] += 1
            assert person.branch_number == "00" and person.role == INSURED
            assert month <= day <= month_end(month)
            assert day.weekday() < 5 and not jpholiday.is_holiday(day)
            assert person.acquired_date <= day and (person.lost_date is None or day < person.lost_date)
            assert tiers.age_band(person.birth_date, month) == "70-74"
            assert person.remuneration_as_of(month) >= 280_000
            present = [p for p in population.members_in(month)
                       if p.household is person.household and p is not person]
            test = tiers.income_test(month, person, present,
                                     lambda p, fy, m=month: population.delivered_tax_record(p, fy, m))
            passing += test.granted
            failing += not test.granted
    assert max(applicants.values()) == 1, "one application per person"
    assert failing and passing > failing


def test_share_of_passing_candidates_who_apply(default_population):
    """About 60% of those whose income passes alone (and all who pass only with a partner)
    apply; checked over the first month's candidates, most of whom decide at once."""
    population = default_population
    first = population.start
    applied = {p.key for p, _ in population.income_threshold_applications(first)}
    later = {p.key for m in months_between("2017-08", "2018-03")
             for p, _ in population.income_threshold_applications(m)}
    members = population.members_in(first)
    passing = []
    for person in members:
        if (person.role == INSURED and tiers.age_band(person.birth_date, first) == "70-74"
                and person.remuneration_as_of(first) >= 280_000):
            present = [p for p in members if p.household is person.household and p is not person]
            test = tiers.income_test(first, person, present,
                                     lambda p, fy: population.delivered_tax_record(p, fy, first))
            if test.granted:
                passing.append(person.key)
    share = sum(k in applied or k in later for k in passing) / len(passing)
    assert len(passing) >= 10
    assert 0.45 <= share <= 0.9


# --- command line ------------------------------------------------------------------------------
def test_cli_generate_with_tax_and_applications(tmp_path):
    result = CliRunner().invoke(cli, [
        "generate", "--members", "400", "--seed", "5", "--start", "2017-08", "--end", "2017-09",
        "--out", str(tmp_path / "elig"), "--tax-dir", str(tmp_path / "tax"),
        "--applications-dir", str(tmp_path / "kijun")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "elig").iterdir()) == ["ELIG_201708.dat", "ELIG_201709.dat"]
    assert sorted(p.name for p in (tmp_path / "tax").iterdir()) == ["TAX_FY2016.csv", "TAX_FY2017.csv"]
    kijun = tmp_path / "kijun"
    assert not kijun.exists() or all(re.fullmatch(r"KIJUN_20170[89]\.csv", p.name) for p in kijun.iterdir())
