"""The insurer system's monthly eligibility extract (``ELIG_<YYYYMM>.dat``).

The file is written with the production writer and layout (``renkei.fixedwidth.writer``,
``layouts/eligibility_extract.json``) so that the sandbox and the platform can never
disagree about the format: if the layout changes, the sandbox follows.

Content of the file for month M: every member enrolled on at least one day of M, sorted
by member key, as the insurer's system knew them when it closed M (loss dates and grades
recorded later do not leak into an earlier month's file). The 個人番号 is not in the layout
and is never written.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import jpholiday

from renkei.fixedwidth.writer import write_file_atomically
from renkei.layout import load_layout
from renkei_sandbox.population import Person, Population, next_month, parse_month

LAYOUT_NAME = "eligibility_extract"
# ファイル識別 as the platform's reader checks it. Should a layout ever give the field fewer
# bytes, the name is cut to the field, as legacy systems do, rather than failing to write.
INTERFACE_NAME = "ELIGIBILITY"
# 送信元コード: the code of the insurer's own eligibility system (8 digits, fictitious).
SENDER_CODE = "99000001"
CREATED_DAY = 5            # extracts are produced on the 5th of the following month
FILE_PREFIX = "ELIG_"


def interface_id() -> str:
    """INTERFACE_NAME as it fits the layout's interface_id field."""
    length = load_layout(LAYOUT_NAME).header.field("interface_id").length
    return INTERFACE_NAME[:length]


def created_date(month: str | dt.date) -> dt.date:
    """The 5th of the following month, moved to the next business day when it is a weekend
    or a national holiday: nobody runs the batch then."""
    day = next_month(parse_month(month)).replace(day=CREATED_DAY)
    while day.weekday() >= 5 or jpholiday.is_holiday(day):
        day += dt.timedelta(days=1)
    return day


def extract_path(out_dir: str | os.PathLike[str], month: str | dt.date) -> Path:
    return Path(out_dir) / f"{FILE_PREFIX}{parse_month(month):%Y%m}.dat"


def record_values(person: Person, month: dt.date) -> dict[str, object]:
    """The data record of ``person`` in the extract for ``month`` (field name -> value)."""
    household = person.household
    grade = person.grade_as_of(month)
    return {
        "insurer_number": household.insurer_number,
        "symbol": household.symbol,
        "number": household.number,
        "branch_number": person.branch_number,
        "relationship": person.relationship,
        "name_kanji": person.name_kanji,
        "name_kana": person.name_kana,
        "sex": person.sex,
        "birth_date": person.birth_date,
        "acquired_date": person.acquired_date,
        "lost_date": person.lost_date_known_at(month),
        "standard_monthly_remuneration": None if grade is None else person.remuneration_as_of(month),
        "grade": None if grade is None else f"{grade:02d}",
        "postal_code": household.postal_code,
        "address_kanji": household.address,
    }


def write_month_extract(population: Population, month: str | dt.date,
                        out_dir: str | os.PathLike[str]) -> Path:
    """Write ``ELIG_<YYYYMM>.dat`` for ``month`` into ``out_dir``; returns its path.

    Atomic: the records go to a hidden ``.part`` file in the same folder, which is then
    renamed over the final name, so a folder watcher sees either no file or the whole
    file, never half of one (rename is atomic within one file system).
    """
    month = parse_month(month)
    layout = load_layout(LAYOUT_NAME)
    members = population.members_in(month)   # raises if the month was not simulated
    members.sort(key=lambda p: p.key)
    header = {
        "interface_id": interface_id(),
        "period": f"{month:%Y%m}",
        "created_date": created_date(month),
        "sender_code": SENDER_CODE,
    }
    final = extract_path(out_dir, month)
    # Written under a hidden name not ending in .dat (a watcher globbing ELIG_*.dat ignores
    # it), then renamed.
    write_file_atomically(final, layout, header, (record_values(p, month) for p in members),
                          buffering=1 << 20)
    return final
