"""The oracle: each member's age band, 高額療養費 tier and copay ratio for a treatment month.

The dbt tier engine decides the same thing from the files the sandbox delivers (eligibility
extracts, ``TAX_FY<YYYY>.csv``, ``KIJUN_<YYYYMM>.csv``); an end-to-end test compares the two.
This module is written from the written rules (DOMAIN.md 3.1-3.7, as specified for the
engine), in plain Python and on purpose without looking at the SQL: two independent
readings of one rule that agree are the point of the comparison.

Everything here is a pure function of what is passed in: the members of the month's extract
(:class:`~renkei_sandbox.population.Person` objects, read as the extract shows them: grade
as of the month, loss dates as known then), a lookup of delivered tax records and the
基準収入額 applications. :meth:`Population.expected_tiers` supplies these from the
simulation; tests can supply hand-made households.

Amounts are the figures of the rules; in production they live in dbt seeds, here they are
the second, independent statement of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from renkei_sandbox.population import Person
    from renkei_sandbox.tax import TaxFacts

# --- bands, tiers, rules --------------------------------------------------------------------
UNDER_70, AGE_70_74, AGE_75_PLUS = "under70", "70-74", "75+"

# rule: which rule decided the tier
RULE_NON_TAXABLE = "non_taxable"            # under 70, insured person 住民税非課税: オ
RULE_REMUNERATION = "remuneration"          # under 70: ア..エ by 標準報酬月額
RULE_ACTIVE_INCOME = "active_income"        # 70-74: 現役並み
RULE_LOW_INCOME_1 = "low_income_1"
RULE_LOW_INCOME_2 = "low_income_2"
RULE_GENERAL = "general"
RULE_RELIEF = "income_threshold_relief"     # 一般 because the 基準収入額 application succeeded
RULE_AGE_75 = "age_75"                      # left for 後期高齢者医療; should not be in an extract

# copay rule: why the copay ratio
COPAY_PRESCHOOL = "preschool"               # under 70 until the March after turning 6: 0.2
COPAY_STANDARD = "standard"                 # under 70 otherwise: 0.3
COPAY_ACTIVE_INCOME = "active_income"       # 70-74 現役並み: 0.3
COPAY_BORN_BY_1944_04_01 = "born_by_1944_04_01"   # the 1割 special measure: 0.1
COPAY_AGE_70_74 = "age_70_74"               # 0.2

# relief basis: how the 基準収入額 test came out
RELIEF_WITH_DEPENDENTS = "with_70_74_dependents"
RELIEF_ALONE = "alone"
RELIEF_WITH_FORMER_DEPENDENTS = "with_former_dependents"
NO_APPLICATION = "no_application"
APPLICATION_NOT_YET_EFFECTIVE = "application_not_yet_effective"
REVENUE_MISSING = "revenue_missing"
REVENUE_TOO_HIGH = "revenue_too_high"

# --- figures ------------------------------------------------------------------------------------
ACTIVE_INCOME_MIN_REMUNERATION = 280_000    # grade 21+
TIER_A_MIN, TIER_I_MIN, TIER_U_MIN = 830_000, 530_000, 280_000
ACTIVE_INCOME_SPLIT_FROM = dt.date(2018, 8, 1)   # 現役並み split into Ⅰ/Ⅱ/Ⅲ
PAIR_REVENUE_LIMIT = 5_200_000              # insured + 70-74 (or former) dependents, below
ALONE_REVENUE_LIMIT = 3_830_000             # insured alone, below
FORMER_DEPENDENT_MONTHS = 60                # until the end of the 5th year after they left
PENSION_COUNTS_AS_ZERO_YEN = 800_000        # 低所得Ⅰ: public pension revenue up to this is 0
ONE_TENTH_BORN_BY = dt.date(1944, 4, 1)     # 1割 for those born on or before ...
ONE_TENTH_UNTIL = dt.date(2019, 3, 1)       # ... in treatment months up to this one


class ExpectedTier(NamedTuple):
    age_band: str
    tier_code: str | None
    copay_ratio: str | None     # '0.1' / '0.2' / '0.3'
    rule: str                   # which rule decided the tier


class Relief(NamedTuple):
    granted: bool
    basis: str                  # one of the RELIEF_* / NO_* / REVENUE_* names above


class ExpectedTiers(dict[str, ExpectedTier]):
    """Member key -> :class:`ExpectedTier` for one month, plus the reasons behind the numbers:
    ``copay_rules`` (key -> COPAY_*) and ``relief`` (key of a 70-74 insured person on grade
    21+ -> :class:`Relief`)."""

    def __init__(self, month: dt.date):
        super().__init__()
        self.month = month
        self.copay_rules: dict[str, str] = {}
        self.relief: dict[str, Relief] = {}


# A delivered tax record of a person for a fiscal year, or None (none delivered).
TaxRecord = Callable[["Person", int], "TaxFacts | None"]


# --- dates --------------------------------------------------------------------------------------
def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def birthday(birth: dt.date, age: int) -> dt.date:
    """The ``age``-th birthday; 1 March for a 29 February birth in a common year (the age is
    reached at the end of 28 February, 年齢計算ニ関スル法律; the tier engine's ``anniversary``
    macro and the simulation's loss at 75 agree)."""
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:
        return dt.date(birth.year + age, 3, 1)


def age_band(birth: dt.date, month: dt.date) -> str:
    """Band in the treatment month starting ``month`` (DOMAIN.md 3.1).

    An age is reached the day before the birthday, so 70-74 starts with the month after
    that day (the birthday's own month when it falls on the 1st). The month of the 75th
    birthday still counts as 70-74 unless the birthday is the 1st (the member left on it).
    """
    month = first_of_month(month)
    b75 = birthday(birth, 75)
    month75 = first_of_month(b75)
    if month > month75 or (month == month75 and b75.day == 1):
        return AGE_75_PLUS
    reached_70 = birthday(birth, 70) - dt.timedelta(days=1)
    if month >= add_months(first_of_month(reached_70), 1):
        return AGE_70_74
    return UNDER_70


def fiscal_year_high_cost(month: dt.date) -> int:
    """高額療養費, 低所得, オ: August..December use FY year, January..July FY year-1."""
    return month.year if month.month >= 8 else month.year - 1


def fiscal_year_copay(month: dt.date) -> int:
    """70-74 copay and 基準収入額: re-determined each 1 September."""
    return month.year if month.month >= 9 else month.year - 1


def preschool_until(birth: dt.date) -> dt.date:
    """The first 31 March on or after the day before the 6th birthday (end of 未就学)."""
    day = birthday(birth, 6) - dt.timedelta(days=1)
    march = dt.date(day.year, 3, 31)
    return march if day <= march else dt.date(day.year + 1, 3, 31)


def adjusted_income(facts: TaxFacts) -> int:
    """所得 for 低所得Ⅰ: pension income replaced by public pension revenue above 800,000."""
    pension_revenue = facts.public_pension_revenue_yen or 0
    return (facts.income_yen - (facts.pension_income_yen or 0)
            + max(0, pension_revenue - PENSION_COUNTS_AS_ZERO_YEN))


# --- 基準収入額 ---------------------------------------------------------------------------------
def former_dependents(insured: Person, month: dt.date) -> list[Person]:
    """Dependents of the household who left on their 75th birthday (to 後期高齢者医療) and
    whose leaving month is at most 60 months before ``month``.

    """
    out = []
    for member in insured.household.members:
        if member is insured or member.lost_date is None:
            continue
        left = first_of_month(member.lost_date)
        if (member.lost_date == birthday(member.birth_date, 75)
                and left <= month <= add_months(left, FORMER_DEPENDENT_MONTHS)):
            out.append(member)
    return out


def income_test(month: dt.date, insured: Person, dependents: Sequence[Person],
                tax_record: TaxRecord) -> Relief:
    """Would a 基準収入額 application pass in ``month``? (revenues of FY fiscal_year_copay)

    ``dependents`` are the insured person's dependents in the month's extract.
    """
    fiscal_year = fiscal_year_copay(month)

    def revenues(people: Iterable[Person]) -> int | None:
        total = 0
        for person in people:
            record = tax_record(person, fiscal_year)
            if record is None:
                return None
            total += record.revenue_yen
        return total

    own = revenues([insured])
    if own is None:
        return Relief(False, REVENUE_MISSING)
    aged = [d for d in dependents if age_band(d.birth_date, month) == AGE_70_74]
    if aged:
        together = revenues(aged)
        if together is None:
            return Relief(False, REVENUE_MISSING)
        if own + together < PAIR_REVENUE_LIMIT:
            return Relief(True, RELIEF_WITH_DEPENDENTS)
        return Relief(False, REVENUE_TOO_HIGH)
    if own < ALONE_REVENUE_LIMIT:
        return Relief(True, RELIEF_ALONE)
    former = former_dependents(insured, month)
    if not former:
        return Relief(False, REVENUE_TOO_HIGH)
    together = revenues(former)
    if together is None:
        return Relief(False, REVENUE_MISSING)
    if own + together < PAIR_REVENUE_LIMIT:
        return Relief(True, RELIEF_WITH_FORMER_DEPENDENTS)
    return Relief(False, REVENUE_TOO_HIGH)


def relief(month: dt.date, insured: Person, dependents: Sequence[Person], tax_record: TaxRecord,
           applied_on: Iterable[dt.date]) -> Relief:
    """基準収入額適用 in ``month``: an application effective from the month after it was made,
    and the income test passing on the revenues of the copay fiscal year."""
    dates = list(applied_on)
    if not dates:
        return Relief(False, NO_APPLICATION)
    if not any(add_months(first_of_month(d), 1) <= month for d in dates):
        return Relief(False, APPLICATION_NOT_YET_EFFECTIVE)
    return income_test(month, insured, dependents, tax_record)


# --- tiers ------------------------------------------------------------------------------------
def _under_70(member: Person, month: dt.date, remuneration: int,
              insured_non_taxable: bool) -> tuple[ExpectedTier, str]:
    if insured_non_taxable:
        tier, rule = "オ", RULE_NON_TAXABLE
    else:
        rule = RULE_REMUNERATION
        tier = ("ア" if remuneration >= TIER_A_MIN else "イ" if remuneration >= TIER_I_MIN
                else "ウ" if remuneration >= TIER_U_MIN else "エ")
    if month <= preschool_until(member.birth_date):
        return ExpectedTier(UNDER_70, tier, "0.2", rule), COPAY_PRESCHOOL
    return ExpectedTier(UNDER_70, tier, "0.3", rule), COPAY_STANDARD


def _active_income_tier(month: dt.date, remuneration: int) -> str:
    if month < ACTIVE_INCOME_SPLIT_FROM:
        return "現役並み"
    if remuneration >= TIER_A_MIN:
        return "現役並みⅢ"
    return "現役並みⅡ" if remuneration >= TIER_I_MIN else "現役並みⅠ"


def decide_household(month: dt.date, insured: Person, dependents: Sequence[Person],
                     tax_record: TaxRecord, applied_on: Iterable[dt.date],
                     into: ExpectedTiers) -> None:
    """Tiers of one household (the insured person and the dependents in the month's extract),
    written into ``into``."""
    remuneration = insured.remuneration_as_of(month)
    if remuneration is None:
        raise ValueError("an insured person in the extract has no 標準報酬月額")
    insured_band = age_band(insured.birth_date, month)
    high_cost = tax_record(insured, fiscal_year_high_cost(month))
    # A missing record counts as taxable: no low-income tier without proof.
    non_taxable = high_cost is not None and not high_cost.taxable

    could_be_active = insured_band == AGE_70_74 and remuneration >= ACTIVE_INCOME_MIN_REMUNERATION
    relieved = Relief(False, NO_APPLICATION)
    if could_be_active:
        relieved = relief(month, insured, dependents, tax_record, applied_on)
        into.relief[insured.key] = relieved
    active = could_be_active and not relieved.granted

    low_income_1 = None   # computed once, only when a 70-74 member needs it

    def all_zero_income() -> bool:
        fiscal_year = fiscal_year_high_cost(month)
        for person in (insured, *dependents):
            record = tax_record(person, fiscal_year)
            if record is None or adjusted_income(record) != 0:
                return False
        return True

    for member in (insured, *dependents):
        band = age_band(member.birth_date, month)
        if band == AGE_75_PLUS:
            into[member.key] = ExpectedTier(band, None, None, RULE_AGE_75)
            continue
        if band == UNDER_70:
            into[member.key], into.copay_rules[member.key] = _under_70(
                member, month, remuneration, non_taxable)
            continue
        if active:
            tier, rule = _active_income_tier(month, remuneration), RULE_ACTIVE_INCOME
        elif non_taxable:
            if low_income_1 is None:
                low_income_1 = all_zero_income()
            tier, rule = ("低所得Ⅰ", RULE_LOW_INCOME_1) if low_income_1 else ("低所得Ⅱ", RULE_LOW_INCOME_2)
        else:
            tier, rule = "一般", RULE_RELIEF if relieved.granted else RULE_GENERAL
        if active:
            ratio, copay_rule = "0.3", COPAY_ACTIVE_INCOME
        elif member.birth_date <= ONE_TENTH_BORN_BY and month <= ONE_TENTH_UNTIL:
            ratio, copay_rule = "0.1", COPAY_BORN_BY_1944_04_01
        else:
            ratio, copay_rule = "0.2", COPAY_AGE_70_74
        into[member.key] = ExpectedTier(band, tier, ratio, rule)
        into.copay_rules[member.key] = copay_rule


def expected_tiers(month: dt.date, members: Iterable[Person], tax_record: TaxRecord,
                   applications: Mapping[str, Sequence[dt.date]]) -> ExpectedTiers:
    """Tiers of everyone in the month's extract (``members``).

    ``tax_record(person, fiscal_year)`` gives the delivered record or None;
    ``applications`` maps an insured person's key to the dates of their 基準収入額
    applications.
    """
    month = first_of_month(month)
    households: dict[tuple[str, str, str], list[Person]] = {}
    for person in members:
        h = person.household
        households.setdefault((h.insurer_number, h.symbol, h.number), []).append(person)
    out = ExpectedTiers(month)
    for people in households.values():
        insured = [p for p in people if p.branch_number == "00"]
        if len(insured) != 1:
            raise ValueError("a household in the extract has no insured person (枝番 00)")
        dependents = sorted((p for p in people if p is not insured[0]), key=lambda p: p.branch_number)
        decide_household(month, insured[0], dependents, tax_record,
                         applications.get(insured[0].key, ()), out)
    return out
