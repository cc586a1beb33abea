"""A deterministic simulation of a 協会けんぽ-like insurer's membership, month by month.

It stands in for the insurer's own eligibility system so that the platform has realistic
monthly extracts to ingest, and it knows the *true* answer for each month
(:meth:`Population.expected_counts`) so tests can check the platform against it.

Design choices, and why:

* **Deterministic.** Every draw comes from ``random.Random`` seeded with a string built
  from the seed (string seeds are hashed with SHA-512, so ``PYTHONHASHSEED`` does not
  matter). The initial population has its own stream and every simulated month its own,
  so simulating 2017-07..2017-09 gives the same July as simulating 2017-07..2018-03.
  Nothing iterates over a ``set`` of objects: dict and list order is insertion order.
* **Fast at a million members.** Names and addresses come from pools sampled once
  (:mod:`renkei_sandbox.pools`); identical strings and dates are shared; birthdays at 70
  and 75 are indexed by month instead of scanning everyone every month.
* **Loss dates follow one rule.** A loss produced while simulating month X always falls on
  a day from the 2nd of X to the 1st of X+1 (資格喪失日 is the day after retirement or
  death, and a 75th birthday on the 1st of X+1 is known when X is processed). So an
  extract for month M can show exactly the losses recorded up to M by showing only loss
  dates up to the 1st of M+1, even when the population was simulated further
  (:meth:`Person.lost_date_known_at`). Grade changes keep a small history for the same
  reason.
* **Tax, applications and tiers stand apart.** :meth:`Population.tax_facts`,
  :meth:`Population.income_threshold_applications` and :meth:`Population.expected_tiers`
  (modules :mod:`~renkei_sandbox.tax`, :mod:`~renkei_sandbox.applications`,
  :mod:`~renkei_sandbox.tiers`) draw from hashes of (seed, member key), never from the
  monthly streams, so asking for them changes no extract.
* **My Number stays in memory.** Each person has a synthetic 個人番号 with a valid check
  digit (the platform will need one per member later), but no code here writes it out.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gc
import math
import random
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

from renkei.identifiers import insurer_number, my_number_with_check_digit
from renkei_sandbox.pools import NameMaker, house_number, postal_rows_by_prefecture, sample_name_pools
from renkei_sandbox.reference import (
    MAX_GRADE,
    MIN_GRADE,
    PREFECTURES,
    Prefecture,
    amount_for_grade,
    grade_for_pay,
)

if TYPE_CHECKING:   # these modules import this one; the methods below import them when called
    from renkei_sandbox.applications import ApplicationBook
    from renkei_sandbox.tax import TaxFacts
    from renkei_sandbox.tiers import ExpectedTiers

# --- codes as they appear in the extract -----------------------------------------------
INSURED_CODE, DEPENDENT_CODE = "1", "2"   # 本人家族区分
MALE, FEMALE = "1", "2"                   # 性別

# Roles inside a household. Only "insured" is a 被保険者; the others are 被扶養者.
INSURED, SPOUSE, CHILD, PARENT = "insured", "spouse", "child", "parent"

# --- event kinds (Event.kind) ----------------------------------------------------------
ACQUIRE_INSURED = "acquire_insured"        # a new hire; date = 資格取得年月日
ACQUIRE_DEPENDENT = "acquire_dependent"    # detail: "with_insured" (hired with family) | "marriage"
BIRTH = "birth"                            # new child; acquired on the birth date
LOSS_RETIREMENT = "loss_retirement"        # date = day after the last working day
LOSS_DEATH = "loss_death"                  # date = day after death (insured or dependent)
LOSS_AGE75 = "loss_age75"                  # date = 75th birthday (moves to 後期高齢者医療)
LOSS_WITH_INSURED = "loss_with_insured"    # a dependent loses when the insured person does
DEPENDENT_REMOVED = "dependent_removed"    # detail: "employment" | "marriage" | "divorce" | "other"
GRADE_TEIJI = "grade_teiji"                # September 定時決定; date = first of the month
GRADE_ZUIJI = "grade_zuiji"                # 随時改定; date = first of the month
TURNS_70 = "turns_70"                      # no change of eligibility; 高齢受給者 from next month
LOSS_KINDS = frozenset({LOSS_RETIREMENT, LOSS_DEATH, LOSS_AGE75, LOSS_WITH_INSURED, DEPENDENT_REMOVED})
ACQUIRE_KINDS = frozenset({ACQUIRE_INSURED, ACQUIRE_DEPENDENT, BIRTH})

# --- monthly rates ---------------------------------------------------------------------
# A few tenths of a percent a month, as in a large employees' insurer. Hires slightly
# outnumber leavers: 協会けんぽ grew in 2017.
RATE_HIRE = 0.0072            # of active insured persons
RATE_RETIRE = 0.0062          # of active insured persons
RATE_DEATH_60_PLUS = 0.0005   # of active members aged 60+
RATE_DEATH_UNDER_60 = 0.00003
RATE_BIRTH = 0.0030           # of active insured persons aged 20-49
RATE_MARRIAGE = 0.0012        # of active insured persons aged 22-45 (spouse becomes a dependent)
RATE_DEPENDENT_LEAVES = 0.0035  # of dependents old enough to leave (spouses, parents, children 15+)
RATE_ZUIJI = 0.004            # 随時改定 in months other than September
MALE_SHARE_INSURED = 0.63
SHARE_HIRED_ON_FIRST = 0.5    # most hires start on the 1st
SHARE_LEAVING_AT_MONTH_END = 0.4  # and many leave on the last day (loss on the 1st of next month)

# September 定時決定: change in grades, most people stay or move one grade up.
TEIJI_DELTAS = (-2, -1, 0, 1, 2, 3)
TEIJI_WEIGHTS = (2, 9, 52, 27, 8, 2)
_TEIJI_CUM = tuple(accumulate(TEIJI_WEIGHTS))
_CHILDREN_CUM = tuple(accumulate((38, 47, 15)))   # 1, 2 or 3 children in a family with children

LAW_CODE_KYOKAI = "01"       # 法別番号 of 協会けんぽ
INSURER_SERIAL = "001"       # 保険者別番号: one insurer per prefecture branch


# --- dates -----------------------------------------------------------------------------
def parse_month(value: str | dt.date) -> dt.date:
    """First day of the month given as ``date``, ``"2017-07"`` or ``"201707"``."""
    if isinstance(value, dt.date):
        return value.replace(day=1)
    text = value.strip().replace("-", "").replace("/", "")
    if len(text) != 6 or not text.isdigit():
        raise ValueError(f"month must look like 2017-07, got {value!r}")
    return dt.date(int(text[:4]), int(text[4:]), 1)


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def months_between(start: str | dt.date, end: str | dt.date) -> list[dt.date]:
    """Every month from ``start`` to ``end``, both included."""
    month, last = parse_month(start), parse_month(end)
    if last < month:
        raise ValueError("end month is before start month")
    out = []
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def add_years(day: dt.date, years: int) -> dt.date:
    """Same day ``years`` later or earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def anniversary(birth: dt.date, age: int) -> dt.date:
    """The birthday on which a person born on ``birth`` turns ``age``.

    People born on 29 February reach their age at the end of 28 February in other years
    (年齢計算ニ関スル法律), so their birthday is taken as 1 March; the 75th-birthday loss
    falls on that day.
    """
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:
        return dt.date(birth.year + age, 3, 1)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on ``day`` (the birthday counts as reached)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# --- the people ------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class Employer:
    """An employer (事業所) in one branch: its 記号 and the next free 番号."""

    symbol: str
    next_number: int = 1


@dataclass(slots=True, eq=False)
class Branch:
    prefecture: Prefecture
    insurer_number: str
    employers: list[Employer] = field(default_factory=list, repr=False)
    used_symbols: set[str] = field(default_factory=set, repr=False)
    # while the initial population is built, employers fill up one after the other
    open_employer: Employer | None = field(default=None, repr=False)
    open_slots: int = 0


@dataclass(slots=True, eq=False)
class Household:
    """An insured person and their dependents: one 記号・番号, one address, one family name."""

    insurer_number: str
    symbol: str
    number: str
    family: tuple[str, str]   # (kanji, full-width katakana) family name shared by all members
    postal_code: str
    address: str
    members: list[Person] = field(default_factory=list, repr=False)
    next_branch: int = 0      # 枝番 are never reused, even after a member leaves

    @property
    def insured(self) -> Person:
        return self.members[0]


@dataclass(slots=True, eq=False)
class Person:
    household: Household = field(repr=False)
    branch_number: str        # 枝番: "00" insured, "01".."99" dependents
    role: str                 # INSURED / SPOUSE / CHILD / PARENT
    name_kanji: str           # family + U+3000 + given
    name_kana: str            # half-width katakana, family + " " + given
    sex: str
    birth_date: dt.date
    acquired_date: dt.date
    my_number: str = field(repr=False)   # synthetic 個人番号; memory only, never written by the sandbox
    grade: int | None = None             # current 標準報酬等級 (insured persons only)
    lost_date: dt.date | None = None     # 資格喪失年月日
    # (effective month, grade) once the grade has changed at least once; None saves memory
    grade_history: list[tuple[dt.date, int]] | None = field(default=None, repr=False)

    @property
    def relationship(self) -> str:
        return INSURED_CODE if self.role == INSURED else DEPENDENT_CODE

    @property
    def insurer_number(self) -> str:
        return self.household.insurer_number

    @property
    def key(self) -> str:
        """insurer_number + 記号 + 番号 + 枝番: unique over the whole population."""
        h = self.household
        return h.insurer_number + h.symbol + h.number + self.branch_number

    def grade_as_of(self, month: dt.date) -> int | None:
        if self.grade_history is None:
            return self.grade
        for effective, grade in reversed(self.grade_history):
            if effective <= month:
                return grade
        return None  # pragma: no cover - the history starts with the initial grade

    def remuneration_as_of(self, month: dt.date) -> int | None:
        grade = self.grade_as_of(month)
        return None if grade is None else amount_for_grade(grade)

    def lost_date_known_at(self, month: dt.date) -> dt.date | None:
        """The loss date as the insurer's system knew it when ``month`` was closed."""
        if self.lost_date is not None and self.lost_date <= next_month(month):
            return self.lost_date
        return None

    def overlaps(self, month: dt.date) -> bool:
        """Enrolled on at least one day of ``month`` (what the month's extract contains)."""
        return self.acquired_date <= month_end(month) and (self.lost_date is None or self.lost_date > month)

    def enrolled_at_end_of(self, month: dt.date) -> bool:
        last = month_end(month)
        return self.acquired_date <= last and (self.lost_date is None or self.lost_date > last)


class Event(NamedTuple):
    """One change in the membership, as the simulation made it."""

    month: dt.date    # the simulated month that produced the event
    date: dt.date     # the day it takes effect
    kind: str         # one of the *_KIND constants above
    person: Person
    detail: str = ""


# --- age and pay distributions ---------------------------------------------------------
def _insured_age_weight(age: int) -> float:
    """Stock of insured persons by age: flat through working life, thinning after 60, and
    a small group still working at 70-74 (so some turn 75 in any year)."""
    if age < 20:
        return 1.0
    if age < 25:
        return 3.0
    if age < 40:
        return 4.0
    if age < 50:
        return 4.6
    if age < 60:
        return 4.0
    if age < 65:
        return 2.4
    if age < 70:
        return 1.1
    return 0.45


def _hire_age_weight(age: int) -> float:
    """New hires are mostly young; a few re-employed older people."""
    if age < 23:
        return 5.0
    if age < 30:
        return 4.0
    if age < 40:
        return 2.5
    if age < 60:
        return 1.5
    if age < 70:
        return 0.8
    return 0.1


INSURED_AGES = tuple(range(18, 75))
_INSURED_AGE_CUM = tuple(accumulate(_insured_age_weight(a) for a in INSURED_AGES))
HIRE_AGES = tuple(range(18, 74))   # at most 73 on the hire date, so nobody hired turns 75 that month
_HIRE_AGE_CUM = tuple(accumulate(_hire_age_weight(a) for a in HIRE_AGES))

# Median monthly pay of men by age (yen), interpolated; women earn about 72% of it. With a
# lognormal spread this puts the mode of grades around 18-24 with a tail to grade 50.
_PAY_KNOTS = ((18, 185_000), (30, 285_000), (45, 370_000), (55, 390_000), (60, 320_000), (74, 240_000))
PAY_SIGMA = 0.42
FEMALE_PAY_FACTOR = 0.72


def _median_pay(age: int, sex: str) -> float:
    for (a0, p0), (a1, p1) in zip(_PAY_KNOTS, _PAY_KNOTS[1:], strict=False):
        if age <= a1:
            t = max(0.0, (age - a0) / (a1 - a0))
            pay = p0 + t * (p1 - p0)
            break
    else:
        pay = _PAY_KNOTS[-1][1]
    return pay * (FEMALE_PAY_FACTOR if sex == FEMALE else 1.0)


def _draw_grade(rng: random.Random, age: int, sex: str) -> int:
    return grade_for_pay(int(_median_pay(age, sex) * math.exp(rng.gauss(0.0, PAY_SIGMA))))


def _weighted(rng: random.Random, items: Sequence[int], cum_weights: Sequence[float]) -> int:
    """``rng.choices(items, cum_weights=...)[0]`` without building a list per call (hot path)."""
    return items[bisect_right(cum_weights, rng.random() * cum_weights[-1])]


def _stochastic_round(x: float, rng: random.Random) -> int:
    """Round ``x`` up with probability equal to its fraction: small branches still see events."""
    return int(x + rng.random())


def _sample(rng: random.Random, items: Sequence[Person], rate: float) -> list[Person]:
    k = min(len(items), _stochastic_round(rate * len(items), rng))
    return rng.sample(items, k) if k else []


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while creating many objects.

    Households and persons point at each other, so every few hundred new objects the
    collector would walk the whole (growing) population: about a fifth of the build time at
    a million members, for nothing, since none of it is garbage.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- the population --------------------------------------------------------------------
class Population:
    """Members of all 47 branches, simulated from ``start`` one month at a time.

    Build it, then call :meth:`simulate_month` once per month (or :meth:`simulate_until`).
    """

    def __init__(self, members: int = 20_000, seed: int = 20170718, start: str | dt.date = "2017-07"):
        if members < 1:
            raise ValueError("members must be at least 1")
        self.seed = seed
        self.start = parse_month(start)
        self.simulated_through: dt.date | None = None
        self.persons: list[Person] = []        # everyone ever enrolled, in creation order
        self.households: list[Household] = []
        self.events: list[Event] = []

        rng = random.Random(f"renkei-sandbox/{seed}/initial")
        self._names = sample_name_pools(seed)
        self._name_maker = NameMaker()
        self._postal = postal_rows_by_prefecture()
        self.branches = [
            Branch(p, insurer_number(LAW_CODE_KYOKAI, p.code, INSURER_SERIAL)) for p in PREFECTURES
        ]
        self._branch_cum = tuple(accumulate(p.population_k for p in PREFECTURES))
        # My Numbers: an affine map n -> (a*n + b) mod 10^11 is a bijection when a is coprime
        # to 10, so numbers never collide and no set of a million numbers has to be kept.
        self._mn_mul = rng.randrange(10**10, 10**11) | 1
        if self._mn_mul % 5 == 0:
            self._mn_mul += 2
        self._mn_add = rng.randrange(10**11)
        self._mn_serial = 0
        # Birthdays at 75 keyed by the month whose simulation ends the membership; at 70 by
        # the month of the birthday.
        self._turns75: dict[dt.date, list[Person]] = {}
        self._turns70: dict[dt.date, list[Person]] = {}
        self._dates: dict[int, dt.date] = {}   # one date object per day, shared
        # Tax facts and 基準収入額 applications draw from their own hashed streams (never
        # ``rng``), so they leave the extracts untouched; both are kept once given out.
        self._tax_facts: dict[tuple[str, int], TaxFacts | None] = {}
        self._applications: ApplicationBook | None = None
        with _gc_paused():
            self._build_initial(rng, members)

    # -- public queries -------------------------------------------------------------------
    @property
    def insurer_numbers(self) -> list[str]:
        return [b.insurer_number for b in self.branches]

    def members_in(self, month: str | dt.date) -> list[Person]:
        """Everyone enrolled on at least one day of ``month`` (unsorted)."""
        month = self._check_simulated(month)
        return [p for p in self.persons if p.overlaps(month)]

    def expected_counts(self, month: str | dt.date) -> dict[str, int]:
        """Members enrolled at the end of ``month``, per 保険者番号 (all 47, zeros included).

        Counted when acquired_date <= last day of the month and lost_date is None or after
        the last day. Computed from the simulation's own state, never from a file.
        """
        month = self._check_simulated(month)
        counts = dict.fromkeys(self.insurer_numbers, 0)
        for p in self.persons:
            if p.enrolled_at_end_of(month):
                counts[p.household.insurer_number] += 1
        return counts

    def events_in(self, month: str | dt.date, kind: str | None = None) -> list[Event]:
        month = parse_month(month)
        return [e for e in self.events if e.month == month and (kind is None or e.kind == kind)]

    # -- what the municipalities and the members know (tax, 基準収入額, tiers) ------------
    def tax_facts(self, person: Person, fiscal_year: int) -> TaxFacts | None:
        """The person's 住民税 facts for FY ``fiscal_year``; None when the municipality has no
        record. Refused while the income year (``fiscal_year - 1``) is not settled, i.e. not
        simulated to its December and not before the first month: facts never change once
        given out."""
        from renkei_sandbox.tax import derive_tax_facts

        december = dt.date(fiscal_year - 1, 12, 1)
        if december >= self.start and (self.simulated_through is None or self.simulated_through < december):
            raise ValueError(f"FY{fiscal_year} needs the income year {fiscal_year - 1} simulated to its end")
        cache_key = (person.key, fiscal_year)
        if cache_key not in self._tax_facts:
            self._tax_facts[cache_key] = derive_tax_facts(self.seed, person, fiscal_year)
        return self._tax_facts[cache_key]

    def delivered_tax_record(self, person: Person, fiscal_year: int,
                             through: str | dt.date) -> TaxFacts | None:
        """The person's row in ``TAX_FY<fiscal_year>.csv`` as delivered for the months from the
        first month to ``through``: there when they were enrolled in one of those months that
        uses the fiscal year (either rule) and the municipality has a record. A former member
        is found through the months they were still enrolled."""
        from renkei_sandbox.tax import fiscal_years_of

        through = self._check_simulated(through)
        if person.overlaps(through) and fiscal_year in fiscal_years_of(through):
            return self.tax_facts(person, fiscal_year)
        month = max(self.start, person.acquired_date.replace(day=1))
        while month <= through:
            if person.overlaps(month) and fiscal_year in fiscal_years_of(month):
                return self.tax_facts(person, fiscal_year)
            month = next_month(month)
        return None

    def income_threshold_applications(self, month: str | dt.date) -> list[tuple[Person, dt.date]]:
        """基準収入額 applications dated in ``month``: (insured person, applied_on), by key."""
        return self._application_book().made_in(month)

    def expected_tiers(self, month: str | dt.date) -> ExpectedTiers:
        """Age band, 高額療養費 tier, copay ratio and deciding rule of everyone in ``month``'s
        extract, from the tax records and applications delivered up to ``month``
        (:mod:`renkei_sandbox.tiers`)."""
        from renkei_sandbox import tiers

        month = self._check_simulated(month)
        return tiers.expected_tiers(month, self.members_in(month),
                                    lambda person, fy: self.delivered_tax_record(person, fy, month),
                                    self._application_book().dates_through(month))

    def _application_book(self) -> ApplicationBook:
        from renkei_sandbox.applications import ApplicationBook

        if self._applications is None:
            self._applications = ApplicationBook(self)
        return self._applications

    # -- simulation -----------------------------------------------------------------------
    def simulate_until(self, end: str | dt.date) -> None:
        end = parse_month(end)
        while self.simulated_through is None or self.simulated_through < end:
            self.simulate_month()

    def simulate_month(self) -> list[Event]:
        """Apply the next month's changes; returns that month's events."""
        month = self.start if self.simulated_through is None else next_month(self.simulated_through)
        rng = random.Random(f"renkei-sandbox/{self.seed}/{month:%Y%m}")
        first_event = len(self.events)
        with _gc_paused():
            active = [p for p in self.persons if p.lost_date is None]
            insured = [p for p in active if p.role == INSURED]
            # Losses first, on the members active when the month began; then acquisitions, so a
            # baby or a spouse is only added to a household whose insured person is still there.
            self._losses(rng, month, active, insured)
            still_insured = [p for p in insured if p.lost_date is None]
            self._hires(rng, month, len(insured))
            self._births_and_marriages(rng, month, still_insured)
            self._grade_changes(rng, month, still_insured)
            self._turning_70(month)
        self.simulated_through = month
        return self.events[first_event:]

    # -- internals: building people ---------------------------------------------------------
    def _check_simulated(self, month: str | dt.date) -> dt.date:
        month = parse_month(month)
        if month < self.start or self.simulated_through is None or month > self.simulated_through:
            through = "nothing" if self.simulated_through is None else f"{self.simulated_through:%Y-%m}"
            raise ValueError(f"month {month:%Y-%m} has not been simulated "
                             f"(start {self.start:%Y-%m}, simulated through {through})")
        return month

    def _date(self, ordinal: int) -> dt.date:
        d = self._dates.get(ordinal)
        if d is None:
            d = self._dates[ordinal] = dt.date.fromordinal(ordinal)
        return d

    def _birth_for_age(self, rng: random.Random, age: int, on: dt.date) -> dt.date:
        """A birth date giving exactly ``age`` completed years on ``on``, and before ``on``."""
        lo = add_years(on, -(age + 1)).toordinal() + 1
        hi = min(add_years(on, -age).toordinal(), on.toordinal() - 1)
        return self._date(rng.randint(lo, hi))

    def _next_my_number(self) -> str:
        body = (self._mn_mul * self._mn_serial + self._mn_add) % 10**11
        self._mn_serial += 1
        return my_number_with_check_digit(f"{body:011d}")

    def _pick_branch(self, rng: random.Random) -> Branch:
        return self.branches[bisect_right(self._branch_cum, rng.random() * self._branch_cum[-1])]

    def _new_employer(self, rng: random.Random, branch: Branch) -> Employer:
        # 記号 are random 8-digit codes, leading zeros included: they must survive as text.
        while True:
            symbol = f"{rng.randrange(10**8):08d}"
            if symbol not in branch.used_symbols:
                break
        branch.used_symbols.add(symbol)
        employer = Employer(symbol)
        branch.employers.append(employer)
        return employer

    def _initial_employer(self, rng: random.Random, branch: Branch) -> Employer:
        """Fill employers one by one; sizes are heavy-tailed (many small firms, a few large)."""
        if branch.open_employer is None or branch.open_slots <= 0:
            branch.open_employer = self._new_employer(rng, branch)
            branch.open_slots = min(3000, int(rng.paretovariate(1.0)))
        branch.open_slots -= 1
        return branch.open_employer

    def _new_household(self, rng: random.Random, branch: Branch, employer: Employer) -> Household:
        rows = self._postal[branch.prefecture.code]
        row = rows[rng.randrange(len(rows))]
        chome = rng.randint(1, 5) if row.chome else None
        address = row.base + house_number(chome, rng.randint(1, 30), rng.randint(1, 25))
        number = f"{employer.next_number:08d}"
        employer.next_number += 1
        family = self._names.family[rng.randrange(len(self._names.family))]
        household = Household(branch.insurer_number, employer.symbol, number, family,
                              row.postal_code, address)
        self.households.append(household)
        return household

    def _given_name(self, rng: random.Random, sex: str) -> tuple[str, str]:
        pool = self._names.male if sex == MALE else self._names.female
        return pool[rng.randrange(len(pool))]

    def _add_person(self, rng: random.Random, household: Household, role: str, sex: str,
                    birth: dt.date, acquired: dt.date, grade: int | None = None) -> Person:
        if household.next_branch > 99:
            raise OverflowError("枝番 exhausted")  # pragma: no cover - needs 100 dependents
        kanji, kana = self._name_maker.full_name(household.family, self._given_name(rng, sex))
        person = Person(household, f"{household.next_branch:02d}", role, kanji, kana, sex, birth,
                        acquired, self._next_my_number(), grade)
        household.next_branch += 1
        household.members.append(person)
        self.persons.append(person)
        b75 = anniversary(birth, 75)
        self._turns75.setdefault((b75 - dt.timedelta(days=1)).replace(day=1), []).append(person)
        self._turns70.setdefault(anniversary(birth, 70).replace(day=1), []).append(person)
        return person

    def _dependent_specs(self, rng: random.Random, age: int, sex: str,
                         max_age: int) -> list[tuple[str, str, int]]:
        """(role, sex, age) of the dependents of an insured person of ``age`` and ``sex``.

        Tuned so that about 40% of members are dependents: wives of male employees, their
        children up to 22 (students), now and then a retired parent.
        """
        specs: list[tuple[str, str, int]] = []
        if sex == MALE:
            p_spouse = 0.05 if age < 25 else 0.25 if age < 30 else 0.5 if age < 40 else 0.58
        else:
            p_spouse = 0.04
        has_spouse = rng.random() < p_spouse
        if has_spouse:
            spouse_age = min(max_age, max(18, age + round(rng.gauss(-2.0 if sex == MALE else 2.0, 3.0))))
            specs.append((SPOUSE, FEMALE if sex == MALE else MALE, spouse_age))
        p_children = 0.8 if has_spouse else (0.18 if sex == FEMALE else 0.06)
        if age >= 22 and rng.random() < p_children:
            child_age = age - rng.randint(24, 38)
            for _ in range(_weighted(rng, (1, 2, 3), _CHILDREN_CUM)):
                if child_age < 0:
                    break
                # older children are dependents while they study, not once they work
                if child_age <= 18 or (child_age <= 22 and rng.random() < 0.55):
                    specs.append((CHILD, rng.choice((MALE, FEMALE)), child_age))
                child_age -= rng.randint(1, 5)
        if 35 <= age <= 58 and rng.random() < 0.05:
            parent_age = age + rng.randint(24, 36)
            if 60 <= parent_age <= max_age:
                specs.append((PARENT, FEMALE if rng.random() < 0.7 else MALE, parent_age))
        return specs

    def _build_initial(self, rng: random.Random, members: int) -> None:
        """Households until ``members`` people exist; all acquired before the first month."""
        start = self.start
        day_before = self._date(start.toordinal() - 1)
        while len(self.persons) < members:
            branch = self._pick_branch(rng)
            employer = self._initial_employer(rng, branch)
            household = self._new_household(rng, branch, employer)
            age = _weighted(rng, INSURED_AGES, _INSURED_AGE_CUM)
            sex = MALE if rng.random() < MALE_SHARE_INSURED else FEMALE
            birth = self._birth_for_age(rng, age, start)
            # tenure: most employees joined in the last decade, nobody before age 18
            joined = start.toordinal() - 1 - int(rng.expovariate(1 / 3000))
            acquired = self._date(min(day_before.toordinal(),
                                      max(joined, add_years(birth, 18).toordinal())))
            insured = self._add_person(rng, household, INSURED, sex, birth, acquired,
                                       _draw_grade(rng, age, sex))
            room = members - len(self.persons)
            for role, dep_sex, dep_age in self._dependent_specs(rng, age, sex, max_age=74)[:room]:
                dep_birth = self._birth_for_age(rng, dep_age, start)
                # a dependent joins when the insured person did, or at birth / 18 for a spouse
                since = dep_birth if role == CHILD else add_years(dep_birth, 18)
                dep_acquired = self._date(max(insured.acquired_date.toordinal(), since.toordinal()))
                self._add_person(rng, household, role, dep_sex, dep_birth, dep_acquired)

    # -- internals: one month ----------------------------------------------------------------
    def _leave_date(self, rng: random.Random, month: dt.date) -> dt.date:
        """A 資格喪失日 recorded in ``month``: from the 2nd of the month to the 1st of the next."""
        days = calendar.monthrange(month.year, month.month)[1]
        offset = days if rng.random() < SHARE_LEAVING_AT_MONTH_END else rng.randint(1, days)
        return self._date(month.toordinal() + offset)

    def _day_in(self, rng: random.Random, month: dt.date) -> dt.date:
        return self._date(month.toordinal() + rng.randrange(calendar.monthrange(month.year, month.month)[1]))

    def _losses(self, rng: random.Random, month: dt.date, active: list[Person],
                insured: list[Person]) -> None:
        # Several reasons can hit one person in a month: the earliest date wins. A dict keeps
        # insertion order, so the result does not depend on object ids.
        losses: dict[Person, tuple[dt.date, str, str]] = {}

        def propose(person: Person, day: dt.date, kind: str, detail: str = "") -> None:
            current = losses.get(person)
            if current is None or day < current[0]:
                losses[person] = (day, kind, detail)

        for person in self._turns75.get(month, ()):
            if person.lost_date is None:
                propose(person, anniversary(person.birth_date, 75), LOSS_AGE75)
        for person in _sample(rng, insured, RATE_RETIRE):
            propose(person, self._leave_date(rng, month), LOSS_RETIREMENT)
        older_than = month.year - 60
        old = [p for p in active if p.birth_date.year <= older_than]
        young = [p for p in active if p.birth_date.year > older_than]
        for person in _sample(rng, old, RATE_DEATH_60_PLUS) + _sample(rng, young, RATE_DEATH_UNDER_60):
            propose(person, self._leave_date(rng, month), LOSS_DEATH)
        adult_child_born = month.year - 15
        can_leave = [p for p in active if p.role in (SPOUSE, PARENT)
                     or (p.role == CHILD and p.birth_date.year <= adult_child_born)]
        for person in _sample(rng, can_leave, RATE_DEPENDENT_LEAVES):
            if person.role == CHILD:
                reason = "employment" if rng.random() < 0.75 else "marriage"
            elif person.role == SPOUSE:
                reason = "employment" if rng.random() < 0.6 else "divorce"
            else:
                reason = "other"   # e.g. moved to a sibling's insurance
            propose(person, self._leave_date(rng, month), DEPENDENT_REMOVED, reason)
        # When an insured person leaves, their dependents leave the same day.
        for person, (day, _kind, _detail) in list(losses.items()):
            if person.role == INSURED:
                for dependent in person.household.members[1:]:
                    if dependent.lost_date is None:
                        propose(dependent, day, LOSS_WITH_INSURED)
        for person, (day, kind, detail) in losses.items():
            person.lost_date = day
            self.events.append(Event(month, day, kind, person, detail))

    def _hires(self, rng: random.Random, month: dt.date, insured_count: int) -> None:
        for _ in range(_stochastic_round(RATE_HIRE * insured_count, rng)):
            branch = self._pick_branch(rng)
            if branch.employers and rng.random() < 0.9:
                employer = branch.employers[rng.randrange(len(branch.employers))]
            else:
                employer = self._new_employer(rng, branch)
            household = self._new_household(rng, branch, employer)
            day = month if rng.random() < SHARE_HIRED_ON_FIRST else self._day_in(rng, month)
            age = _weighted(rng, HIRE_AGES, _HIRE_AGE_CUM)
            sex = MALE if rng.random() < MALE_SHARE_INSURED else FEMALE
            insured = self._add_person(rng, household, INSURED, sex, self._birth_for_age(rng, age, day), day,
                                       _draw_grade(rng, age, sex))
            self.events.append(Event(month, day, ACQUIRE_INSURED, insured))
            for role, dep_sex, dep_age in self._dependent_specs(rng, age, sex, max_age=73):
                dep_birth = self._birth_for_age(rng, dep_age, day)
                dep = self._add_person(rng, household, role, dep_sex, dep_birth, day)
                self.events.append(Event(month, day, ACQUIRE_DEPENDENT, dep, "with_insured"))

    def _births_and_marriages(self, rng: random.Random, month: dt.date, insured: list[Person]) -> None:
        young = [p for p in insured if 20 <= month.year - p.birth_date.year <= 49]
        for parent in _sample(rng, young, RATE_BIRTH):
            household = parent.household
            if household.next_branch > 99:
                continue  # pragma: no cover
            day = self._day_in(rng, month)
            child = self._add_person(rng, household, CHILD, rng.choice((MALE, FEMALE)), day, day)
            self.events.append(Event(month, day, BIRTH, child))
        marrying = [p for p in insured if 22 <= month.year - p.birth_date.year <= 45]
        for person in _sample(rng, marrying, RATE_MARRIAGE):
            household = person.household
            if household.next_branch > 99 or any(
                    m.role == SPOUSE and m.lost_date is None for m in household.members):
                continue
            day = self._day_in(rng, month)
            age = age_on(person.birth_date, day)
            spouse_age = min(73, max(18, age + round(rng.gauss(-2.0 if person.sex == MALE else 2.0, 3.0))))
            spouse = self._add_person(rng, household, SPOUSE, FEMALE if person.sex == MALE else MALE,
                                      self._birth_for_age(rng, spouse_age, day), day)
            self.events.append(Event(month, day, ACQUIRE_DEPENDENT, spouse, "marriage"))

    def _set_grade(self, person: Person, month: dt.date, grade: int, kind: str) -> None:
        if person.grade_history is None:
            person.grade_history = [(dt.date.min, person.grade)]
        person.grade_history.append((month, grade))
        person.grade = grade
        self.events.append(Event(month, month, kind, person, str(grade)))

    def _grade_changes(self, rng: random.Random, month: dt.date, insured: list[Person]) -> None:
        if month.month == 9:
            # 定時決定: everyone enrolled since before 1 June is re-graded from September on
            # the April-June pay; only actual changes become events.
            june_first = dt.date(month.year, 6, 1)
            for person in insured:
                if person.acquired_date < june_first:
                    delta = _weighted(rng, TEIJI_DELTAS, _TEIJI_CUM)
                    new = min(MAX_GRADE, max(MIN_GRADE, person.grade + delta))
                    if new != person.grade:
                        self._set_grade(person, month, new, GRADE_TEIJI)
            return
        # 随時改定: a large change of fixed pay (2+ grades) moves the grade mid-year.
        for person in _sample(rng, insured, RATE_ZUIJI):
            delta = rng.randint(2, 5) * (1 if rng.random() < 0.6 else -1)
            new = min(MAX_GRADE, max(MIN_GRADE, person.grade + delta))
            if new != person.grade:
                self._set_grade(person, month, new, GRADE_ZUIJI)

    def _turning_70(self, month: dt.date) -> None:
        for person in self._turns70.get(month, ()):
            day = anniversary(person.birth_date, 70)
            if person.acquired_date <= day and (person.lost_date is None or person.lost_date > day):
                self.events.append(Event(month, day, TURNS_70, person))


def simulate(start: str | dt.date = "2017-07", end: str | dt.date = "2018-03", members: int = 20_000,
             seed: int = 20170718) -> Population:
    """Build a population at ``start`` and simulate every month through ``end``."""
    population = Population(members=members, seed=seed, start=start)
    population.simulate_until(end)
    return population
