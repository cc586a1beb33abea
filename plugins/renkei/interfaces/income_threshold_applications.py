"""基準収入額適用申請: applications of 70-74 insured persons for the income threshold test.

An application takes effect from the month after it is made (DOMAIN.md 3.6); whether it
succeeds is decided each month by the tier engine from the tax information. Delivered as
``KIJUN_<YYYYMM>.csv`` (layout ``renkei/layouts/csv/income_threshold_applications.json``),
one file per month of applications.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa

from renkei.interfaces.member_csv import StagedCsv, stage_csv
from renkei.tokens import Tokenizer

INTERFACE = "income_threshold_applications"
FILE_NAME = re.compile(r"KIJUN_(?P<y>[0-9]{4})(?P<m>[0-9]{2})\.csv")

STAGED_SCHEMA = pa.schema([
    ("record_no", pa.int64()),
    ("member_token", pa.string()),
    ("insurer_number", pa.string()),
    ("branch_number", pa.string()),
    ("applied_on", pa.date32()),
])


def month_of(file_name: str) -> dt.date:
    m = FILE_NAME.fullmatch(file_name)
    if not m or not 1 <= int(m["m"]) <= 12:
        raise ValueError(f"{file_name}: not an application file name (KIJUN_<YYYYMM>.csv)")
    return dt.date(int(m["y"]), int(m["m"]), 1)


def batch_id_for(file_name: str) -> str:
    return f"{INTERFACE}/{month_of(file_name):%Y-%m}"


def _columns(v: dict[str, list], tokens: list[str]) -> dict[str, list]:
    return {
        "record_no": v["record_no"], "member_token": tokens,
        "insurer_number": v["insurer_number"], "branch_number": v["branch_number"],
        "applied_on": v["applied_on"],
    }


def stage(source: Path, tokenizer: Tokenizer | None = None) -> StagedCsv:
    return stage_csv(source, INTERFACE, STAGED_SCHEMA, batch_id_for(source.name),
                     month_of(source.name), _columns, tokenizer)
