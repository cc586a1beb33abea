"""Sandbox municipalities: answer tax inquiries relayed by the intermediary server.

They answer from the same synthetic facts as ``TAX_FY<YYYY>.csv`` (:meth:`Population.tax_facts`),
so a tier computed from linked answers is the tier the sandbox's oracle expects.

Planted behaviour, deterministic (hashes of seed, member key and fiscal year, never a
``random`` stream, so asking changes no extract):

* **not yet fixed**: 住民税 of fiscal year N is fixed in June of year N; an inquiry made before
  :func:`answerable_from` is answered "not yet assessed".
* **not found**: a person-year without a record (:meth:`Population.tax_facts` is None) is
  answered "moved before 1 January" (another municipality assesses) or "not yet assessed"
  (no return filed), about half each.
* **late**: a share of answers (``LATE_SHARE``) is given only ``LATE_DAYS`` days after the
  inquiry arrived; the intermediary server holds them until then.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NamedTuple

from renkei_sandbox.tax import HashDraws, TaxFacts

if TYPE_CHECKING:
    from renkei_sandbox.population import Person, Population

ANSWERED = "1"
NOT_FOUND_MOVED = "2"
NOT_YET_ASSESSED = "3"
NOT_REGISTERED = "4"        # given by the intermediary server, not by a municipality

FIXED_MONTH = 7             # answers for FY N from 1 July N (fixed in June)
LATE_SHARE = 0.06
LATE_DAYS = 20


class Answer(NamedTuple):
    result: str
    facts: TaxFacts | None
    late: bool


def answerable_from(fiscal_year: int) -> dt.date:
    return dt.date(fiscal_year, FIXED_MONTH, 1)


class Municipalities:
    """All municipalities of the sandbox, answering for the persons of ``population``."""

    def __init__(self, population: Population, late_share: float = LATE_SHARE,
                 late_days: int = LATE_DAYS):
        self.population = population
        self.late_share = late_share
        self.late_days = late_days

    def _draws(self, person: Person, fiscal_year: int) -> HashDraws:
        return HashDraws(f"renkei-sandbox/{self.population.seed}/municipality/{person.key}/{fiscal_year}")

    def answer(self, person: Person, fiscal_year: int, asked_on: dt.date) -> Answer:
        draws = self._draws(person, fiscal_year)
        late = draws() < self.late_share
        if asked_on < answerable_from(fiscal_year):
            return Answer(NOT_YET_ASSESSED, None, late=False)
        facts = self.population.tax_facts(person, fiscal_year)
        if facts is None:
            reason = NOT_FOUND_MOVED if draws() < 0.5 else NOT_YET_ASSESSED
            return Answer(reason, None, late)
        return Answer(ANSWERED, facts, late)

    def due_on(self, asked_on: dt.date, answer: Answer) -> dt.date:
        return asked_on + dt.timedelta(days=self.late_days) if answer.late else asked_on
