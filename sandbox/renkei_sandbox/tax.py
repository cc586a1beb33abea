"""Synthetic 住民税 (municipal tax) facts per person and fiscal year, and ``TAX_FY<YYYY>.csv``.

Until the tax linkage through the intermediary server exists, the sandbox plays the
municipalities: for every person and 住民税 fiscal year N (assessed on income of year N-1)
it knows whether they are taxable, their 所得 (income after deductions), their 収入 (gross
income) and their public pension, and it delivers them in one CSV file per fiscal year.

Design choices, and why:

* **Own random stream per person and year.** Every draw is a hash of (seed, member key,
  fiscal year) — or (seed, member key) for traits that last, such as the size of a pension —
  never the population's monthly ``random.Random``: adding tax facts must not move a
  single byte of the eligibility extracts. The hash is BLAKE2b, so ``PYTHONHASHSEED`` does
  not matter and no Random object is built per person.
* **Settled years only.** Facts for FY N read the grades of year N-1 and the household on
  31 December N-1; both can only change while those months are simulated. Asking for FY N
  before the simulation has passed December N-1 is refused, so a fact never changes after
  it was first given out (the files and the tier oracle always agree).
* **Plausible, and biased where the platform needs cases.** Salaries follow the grade
  history (12 months of 標準報酬月額 plus 0-2 months of bonus), 65+ get a public pension,
  dependents mostly have nothing or a pension only, children nothing. A few groups are
  drawn on purpose so that every tier occurs in a 20,000-member population: older insured
  persons on a low grade who lived on a small pension in the income year (低所得Ⅰ/Ⅱ), and
  70-74 insured persons on grade 20+ whose income of the year lies near the 基準収入額
  limits (3,830,000 and 5,200,000 yen), so that applications both pass and fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jpholiday

from renkei.exchange import atomic_output
from renkei_sandbox.population import CHILD, INSURED, age_on, month_end, parse_month

if TYPE_CHECKING:   # the population imports this module lazily; no import cycle at run time
    from renkei_sandbox.population import Person, Population

FILE_PREFIX = "TAX_FY"
ENCODING = "cp932"
COLUMNS = ("insurer_number", "symbol", "number", "branch_number", "fiscal_year", "taxable",
           "income_yen", "revenue_yen", "public_pension_revenue_yen", "pension_income_yen",
           "received_on")
# Municipalities fix 住民税 in June; the linkage answers arrive in early July.
RECEIVED_MONTH, RECEIVED_DAY = 7, 10

SHARE_NO_RECORD = 0.02        # person-years the municipality answers "not found"

# Rates of the biased groups (see the module docstring).
OLD_LOW_PAY_MIN_AGE = 68      # on 31 December of the income year: 70-74 while FY N applies
OLD_LOW_PAY_MAX_GRADE = 12
SHARE_OLD_PENSION_ONLY = 0.45
THRESHOLD_MIN_AGE = 68
THRESHOLD_MIN_GRADE = 20
SHARE_BELOW_ALONE_LIMIT = 0.35   # revenue under 3,830,000: passes alone
SHARE_BELOW_PAIR_LIMIT = 0.35    # 3,860,000-4,450,000: passes only with a low-income partner
SHARE_EXTRA_WITH_AGED_PARTNER = 0.2   # with a 70+ dependent: 90% near the pair limit


# --- fiscal years ------------------------------------------------------------------------------
def fiscal_year_high_cost(month: str | dt.date) -> int:
    """住民税 fiscal year used for 高額療養費 / 低所得 / オ in a treatment month (Aug-Jul)."""
    month = parse_month(month)
    return month.year if month.month >= 8 else month.year - 1


def fiscal_year_copay(month: str | dt.date) -> int:
    """Fiscal year used for the 70-74 copay ratio and 基準収入額 (re-determined each September)."""
    month = parse_month(month)
    return month.year if month.month >= 9 else month.year - 1


def fiscal_years_of(month: str | dt.date) -> frozenset[int]:
    return frozenset((fiscal_year_high_cost(month), fiscal_year_copay(month)))


def fiscal_years_for(months: Iterable[str | dt.date]) -> list[int]:
    """Every fiscal year some month of ``months`` needs (by either rule), ascending."""
    return sorted(set().union(*(fiscal_years_of(m) for m in months)))


def received_on(fiscal_year: int) -> dt.date:
    """The first business day on or after 10 July of the fiscal year (weekends and national
    holidays excluded), when the year's answers reach the insurer."""
    day = dt.date(fiscal_year, RECEIVED_MONTH, RECEIVED_DAY)
    while day.weekday() >= 5 or jpholiday.is_holiday(day):
        day += dt.timedelta(days=1)
    return day


# --- the facts ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TaxFacts:
    """One person's 住民税 facts for one fiscal year (amounts in integer yen)."""

    fiscal_year: int
    taxable: bool                           # 課税 True, 非課税 False
    income_yen: int                         # 所得 (総所得金額等)
    revenue_yen: int                        # 収入: salary and pension before deductions
    public_pension_revenue_yen: int | None  # 公的年金等収入; None: receives no public pension
    pension_income_yen: int | None          # 公的年金等に係る雑所得

    @property
    def taxable_code(self) -> str:
        return "1" if self.taxable else "0"


class HashDraws:
    """Uniform numbers in [0, 1) from BLAKE2b of a label: 8 per digest, more on demand."""

    def __init__(self, label: str):
        self._label = label.encode()
        self._block = 0
        self._buffer: list[float] = []

    def __call__(self) -> float:
        if not self._buffer:
            digest = hashlib.blake2b(self._label + b"#%d" % self._block, digest_size=64).digest()
            self._block += 1
            self._buffer = [(int.from_bytes(digest[i:i + 8], "big") >> 11) / 2**53
                            for i in range(56, -1, -8)]
        return self._buffer.pop()

    def between(self, low: int, high: int) -> int:
        """An integer from ``low`` to ``high``, both included."""
        return low + int(self() * (high - low + 1))


def salary_income(revenue: int) -> int:
    """給与所得 = salary revenue minus 給与所得控除 (the table of income years 2017-2019).

    One table for every year: the sandbox needs plausible 所得, not each year's exact law.
    """
    if revenue <= 0:
        return 0
    if revenue < 1_625_000:
        deduction = 650_000
    elif revenue < 1_800_000:
        deduction = revenue * 40 // 100
    elif revenue < 3_600_000:
        deduction = revenue * 30 // 100 + 180_000
    elif revenue < 6_600_000:
        deduction = revenue * 20 // 100 + 540_000
    elif revenue < 10_000_000:
        deduction = revenue * 10 // 100 + 1_200_000
    else:
        deduction = 2_200_000
    return max(0, revenue - deduction)


def pension_income(revenue: int, aged_65: bool) -> int:
    """公的年金等に係る雑所得 = pension revenue minus 公的年金等控除 (before the 2020 reform)."""
    if revenue <= 3_300_000 and aged_65:
        deduction = 1_200_000
    elif revenue <= 1_300_000:
        deduction = 700_000
    elif revenue <= 4_100_000:
        deduction = revenue * 25 // 100 + 375_000
    elif revenue <= 7_700_000:
        deduction = revenue * 15 // 100 + 785_000
    else:
        deduction = revenue * 5 // 100 + 1_555_000
    return max(0, revenue - deduction)


def non_taxable_limit(dependents: int) -> int:
    """The 所得 up to which 住民税 均等割 is not levied (1級地): 350,000 alone, 350,000 x
    (1 + dependents) + 210,000 with dependents [u: municipalities in 2級地/3級地 use less]."""
    return 350_000 if dependents == 0 else 350_000 * (1 + dependents) + 210_000


def _initial_grade(person: Person) -> int | None:
    """The grade the person had when the simulation first saw them: fixed for good, so the
    groups drawn on purpose do not change as later months are simulated."""
    return person.grade_history[0][1] if person.grade_history else person.grade


def _dependents_on(person: Person, day: dt.date) -> int:
    """Dependents enrolled in the insured person's household on ``day``."""
    return sum(1 for m in person.household.members[1:]
               if m.acquired_date <= day and (m.lost_date is None or m.lost_date > day))


def _aged_dependents(person: Person, day: dt.date) -> list[Person]:
    """Dependents aged 70 or more enrolled in the household on ``day`` (for an insured person
    of this age the household no longer changes: births and marriages are of the young)."""
    return [m for m in person.household.members[1:]
            if m.acquired_date <= day and (m.lost_date is None or m.lost_date > day)
            and age_on(m.birth_date, day) >= 70]


def _pension(draws: HashDraws, year: HashDraws, low: int, high: int) -> int:
    """A pension whose size is the person's own (``draws``) and moves by up to 1% a year."""
    base = draws.between(low, high)
    return int(round(base * (1 + (year() - 0.5) / 50), -2))


def _salary_revenue(person: Person, income_year: int, age: int, draws: HashDraws, year: HashDraws) -> int:
    """Twelve months of 標準報酬月額 of the income year plus 0-2 months of bonus; months before
    the person joined count only when they worked elsewhere before (most adults; a student
    hired after the income year had nothing, and is 非課税 in the first year)."""
    worked_elsewhere = age >= 23 and draws() < 0.85
    months = [dt.date(income_year, m, 1) for m in range(1, 13)]
    pay = [person.remuneration_as_of(m) or 0 for m in months
           if worked_elsewhere or person.acquired_date <= month_end(m)]
    if not pay:
        return 0
    bonus_months = 0.0 if year() < 0.3 else 0.3 + 1.7 * year()
    return sum(pay) + int(round(bonus_months * sum(pay) / len(pay), -3))


def derive_tax_facts(seed: int, person: Person, fiscal_year: int) -> TaxFacts | None:
    """The facts of ``person`` for 住民税 FY ``fiscal_year``; None when no record exists.

    Call it only when the income year (``fiscal_year - 1``) has been simulated to its end or
    lies before the simulation (:meth:`Population.tax_facts` checks this).
    """
    key = person.key
    year = HashDraws(f"renkei-sandbox/{seed}/tax/{key}/{fiscal_year}")
    if year() < SHARE_NO_RECORD:
        return None
    draws = HashDraws(f"renkei-sandbox/{seed}/tax/{key}/person")
    income_year = fiscal_year - 1
    year_end = dt.date(income_year, 12, 31)
    age = age_on(person.birth_date, year_end)
    aged_65 = age >= 65
    salary = 0
    pension: int | None = None
    dependents = 0

    if person.role == CHILD:
        pass   # children (and students among them) have nothing to declare
    elif person.role == INSURED:
        dependents = _dependents_on(person, year_end)
        profile = draws()
        grade = _initial_grade(person) or 0
        if aged_65:
            pension = _pension(draws, year, 500_000, 2_400_000)
        if age >= OLD_LOW_PAY_MIN_AGE and grade <= OLD_LOW_PAY_MAX_GRADE and profile < SHARE_OLD_PENSION_ONLY:
            # Lived on a small pension in the income year (hired or re-hired since): half of
            # them at most 800,000 yen, which counts as no income for 低所得Ⅰ.
            salary = 0
            pension = _pension(draws, year, 450_000, 800_000) if draws() < 0.5 else \
                _pension(draws, year, 800_001, 1_500_000)
        elif age >= THRESHOLD_MIN_AGE and grade >= THRESHOLD_MIN_GRADE and profile < (
                SHARE_BELOW_ALONE_LIMIT + SHARE_BELOW_PAIR_LIMIT
                + SHARE_EXTRA_WITH_AGED_PARTNER * bool(_aged_dependents(person, year_end))):
            # Revenue of the income year near the 基準収入額 limits (a part year at the current
            # pay); moves by up to 4% a year, so the September re-determination changes some.
            # With a 70+ dependent, mostly just above the limit for one: only the pair passes,
            # and once that dependent leaves for 後期高齢者医療 the former-dependent rule decides.
            aged = _aged_dependents(person, year_end)
            alone = profile < SHARE_BELOW_ALONE_LIMIT and not aged
            target = draws.between(2_900_000, 3_780_000) if alone else draws.between(3_860_000, 4_450_000)
            target = int(round(target * (1 + (year() - 0.5) / 12.5), -3))
            if aged:
                # keep the pair under 5,200,000 with the partners' own revenue of the year
                partners = sum(f.revenue_yen for f in (derive_tax_facts(seed, d, fiscal_year) for d in aged)
                               if f is not None)
                target = max(3_840_000, min(target, 5_150_000 - partners))
            salary = max(0, target - (pension or 0))
        else:
            salary = _salary_revenue(person, income_year, age, draws, year)
    elif aged_65:
        # spouses and parents: mostly the basic pension (about 780,000 a year), some more
        pension = (_pension(draws, year, 450_000, 800_000) if draws() < 0.65
                   else _pension(draws, year, 800_001, 1_600_000))
    elif year() < 0.4:
        # part-time work, kept under the 1,300,000 yen limit for dependents; changes by year
        salary = int(round(300_000 + 950_000 * year(), -3))

    income = salary_income(salary) + (0 if pension is None else pension_income(pension, aged_65))
    return TaxFacts(
        fiscal_year=fiscal_year,
        taxable=income > non_taxable_limit(dependents),
        income_yen=income,
        revenue_yen=salary + (pension or 0),
        public_pension_revenue_yen=pension,
        pension_income_yen=None if pension is None else pension_income(pension, aged_65),
    )


# --- the file ----------------------------------------------------------------------------------
def tax_information_path(out_dir: str | os.PathLike[str], fiscal_year: int) -> Path:
    return Path(out_dir) / f"{FILE_PREFIX}{fiscal_year:04d}.csv"


def people_for_fiscal_year(population: Population, fiscal_year: int,
                           months: Sequence[str | dt.date]) -> list[Person]:
    """Everyone enrolled on at least one day of a month of ``months`` that uses
    ``fiscal_year`` (by either rule), sorted by member key."""
    seen: dict[str, Person] = {}
    for month in months:
        if fiscal_year in fiscal_years_of(month):
            for person in population.members_in(month):
                seen.setdefault(person.key, person)
    return [seen[k] for k in sorted(seen)]


def _csv_text(rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def _blank(value: int | None) -> object:
    return "" if value is None else value


def write_atomically(final: Path, text: str) -> Path:
    """Write ``text`` as CP932 into ``final`` through a hidden ``.part`` file and a rename, so a
    folder watcher never sees half a file."""
    with atomic_output(final) as out:
        out.write(text.encode(ENCODING))
    return final


def write_tax_information(population: Population, fiscal_year: int, months: Sequence[str | dt.date],
                          out_dir: str | os.PathLike[str]) -> Path:
    """Write ``TAX_FY<fiscal_year>.csv`` for the treatment months ``months`` into ``out_dir``.

    One row per person enrolled in a month of ``months`` that uses the fiscal year, except
    those the municipality has no record of; sorted by member key. Same inputs, same bytes.
    """
    if fiscal_year not in fiscal_years_for(months):
        raise ValueError(f"no month of the range uses FY{fiscal_year}")
    received = received_on(fiscal_year).isoformat()
    rows = []
    for person in people_for_fiscal_year(population, fiscal_year, months):
        facts = population.tax_facts(person, fiscal_year)
        if facts is None:
            continue
        h = person.household
        rows.append((h.insurer_number, h.symbol, h.number, person.branch_number, fiscal_year,
                     facts.taxable_code, facts.income_yen, facts.revenue_yen,
                     _blank(facts.public_pension_revenue_yen), _blank(facts.pension_income_yen),
                     received))
    return write_atomically(tax_information_path(out_dir, fiscal_year), _csv_text(rows))
