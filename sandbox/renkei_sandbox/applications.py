"""基準収入額適用申請: who applies when, and ``KIJUN_<YYYYMM>.csv``.

A 70-74 insured person on 標準報酬月額 280,000 or more pays 30% and is 現役並み unless their
gross income of the year is under the 基準収入額 limits and they apply (DOMAIN.md 3.6). The
sandbox plays the members: about 60% of those whose income would pass alone apply, all of
those who pass only together with a 70-74 or former dependent (rare, and the case the
platform most needs to see), and a fifth of those whose income would not pass apply all
the same (an insurer does receive those).

How it is decided, and why:

* A person becomes a *candidate* in the first simulated month in which they are in the
  month's extract, aged 70-74 and on 280,000 yen or more. They apply, if at all, in that
  month or a few months later (a drawn delay), judged by the income test of that month:
  most do so at once, which is also how long-standing members would show up in the first
  month the sandbox delivers.
* Every draw is a hash of (seed, member key) like the tax facts, so the extracts are the
  same as without applications. Months are decided in order from the population's first
  month and kept, so a month's applications never depend on how far the simulation ran.
* Applications are dated on a business day (weekends and national holidays excluded) while
  the person is enrolled: that is when an office receives paper.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import jpholiday

from renkei_sandbox import tiers
from renkei_sandbox.population import INSURED, month_end, next_month, parse_month
from renkei_sandbox.tax import HashDraws, write_atomically

if TYPE_CHECKING:
    from renkei_sandbox.population import Person, Population

FILE_PREFIX = "KIJUN_"
COLUMNS = ("insurer_number", "symbol", "number", "branch_number", "applied_on")

SHARE_APPLYING_WHEN_PASSING = 0.6
SHARE_APPLYING_WITH_PARTNER = 1.0
SHARE_APPLYING_WHEN_FAILING = 0.2
SHARE_APPLYING_AT_ONCE = 0.6       # the others wait 1-5 months
MAX_DELAY_MONTHS = 5


class ApplicationBook:
    """The applications of one population, decided month by month from its first month."""

    def __init__(self, population: Population):
        self._population = population
        self._made_in: dict[dt.date, list[tuple[Person, dt.date]]] = {}
        self._dates: dict[str, list[dt.date]] = {}
        self._candidate_since: dict[str, dt.date] = {}
        self._decided_through: dt.date | None = None

    def made_in(self, month: str | dt.date) -> list[tuple[Person, dt.date]]:
        """Applications dated in ``month``, as (insured person, applied_on), sorted by key."""
        month = parse_month(month)
        self._decide_through(month)
        return list(self._made_in.get(month, ()))

    def dates_through(self, month: str | dt.date) -> Mapping[str, Sequence[dt.date]]:
        """Insured person's key -> dates of the applications made up to the end of ``month``."""
        month = parse_month(month)
        self._decide_through(month)
        return {key: [d for d in dates if d <= month_end(month)] for key, dates in self._dates.items()
                if dates[0] <= month_end(month)}

    def _decide_through(self, month: dt.date) -> None:
        population = self._population
        population.members_in(month)   # refuses a month that has not been simulated
        current = population.start if self._decided_through is None else next_month(self._decided_through)
        while current <= month:
            self._made_in[current] = self._decide(current)
            self._decided_through = current
            current = next_month(current)

    def _decide(self, month: dt.date) -> list[tuple[Person, dt.date]]:
        population = self._population
        members = population.members_in(month)
        members.sort(key=lambda p: p.key)
        dependents: dict[int, list[Person]] = {}
        for person in members:
            if person.role != INSURED:
                dependents.setdefault(id(person.household), []).append(person)
        made = []
        for person in members:
            # cheap tests first: nobody younger than 70 by year of birth can be 70-74
            if (person.role != INSURED or month.year - person.birth_date.year < 70
                    or person.key in self._dates):
                continue
            remuneration = person.remuneration_as_of(month) or 0
            if (tiers.age_band(person.birth_date, month) != tiers.AGE_70_74
                    or remuneration < tiers.ACTIVE_INCOME_MIN_REMUNERATION):
                continue
            since = self._candidate_since.setdefault(person.key, month)
            draws = HashDraws(f"renkei-sandbox/{population.seed}/kijun/{person.key}")
            delay = 0 if draws() < SHARE_APPLYING_AT_ONCE else draws.between(1, MAX_DELAY_MONTHS)
            if month != tiers.add_months(since, delay):
                continue
            present = dependents.get(id(person.household), [])
            test = tiers.income_test(month, person, present,
                                     lambda p, fy, m=month: population.delivered_tax_record(p, fy, m))
            if not test.granted:
                share = SHARE_APPLYING_WHEN_FAILING
            elif test.basis == tiers.RELIEF_ALONE:
                share = SHARE_APPLYING_WHEN_PASSING
            else:
                # passing only together with a 70-74 or former dependent: the rare cases the
                # platform must get right, so all of them apply
                share = SHARE_APPLYING_WITH_PARTNER
            if draws() >= share:
                continue
            day = _application_day(person, month, draws())
            if day is not None:
                made.append((person, day))
                self._dates[person.key] = [day]
        return made


def _application_day(person: Person, month: dt.date, u: float) -> dt.date | None:
    """A business day of ``month`` on which ``person`` is enrolled, picked by ``u``."""
    lost = person.lost_date_known_at(month)
    days = []
    day = max(month, person.acquired_date)
    while day <= month_end(month) and (lost is None or day < lost):
        if day.weekday() < 5 and not jpholiday.is_holiday(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days[int(u * len(days))] if days else None


def applications_path(out_dir: str | os.PathLike[str], month: str | dt.date) -> Path:
    return Path(out_dir) / f"{FILE_PREFIX}{parse_month(month):%Y%m}.csv"


def write_income_threshold_applications(population: Population, month: str | dt.date,
                                        out_dir: str | os.PathLike[str]) -> Path | None:
    """Write ``KIJUN_<YYYYMM>.csv`` with the applications dated in ``month``; returns its path,
    or None (and writes nothing) when nobody applied that month."""
    month = parse_month(month)
    made = population.income_threshold_applications(month)
    if not made:
        return None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for person, applied_on in sorted(made, key=lambda pa: (pa[0].key, pa[1])):
        h = person.household
        writer.writerow((h.insurer_number, h.symbol, h.number, person.branch_number,
                         applied_on.isoformat()))
    return write_atomically(applications_path(out_dir, month), buffer.getvalue())
