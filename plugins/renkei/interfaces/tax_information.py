"""Tax information (地方税関係情報): taxable status and income per member and fiscal year.

The staging contract the tier engine reads (``raw.tax_information`` ->
``stg_tax__information``): member token, fiscal year, taxable or not, 所得, 収入, public
pension revenue and income, source and received-at. Until tax linkage through the
intermediary server lands, the sandbox delivers it as ``TAX_FY<YYYY>.csv``
(layout ``renkei/layouts/csv/tax_information.json``); the tax-linkage DAG will write the same
table with another ``source`` and no change to the models.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa

from renkei.interfaces.member_csv import StagedCsv, stage_csv
from renkei.tokens import Tokenizer

INTERFACE = "tax_information"
SOURCE = "tax_information_csv"
FILE_NAME = re.compile(r"TAX_FY(?P<fy>[0-9]{4})\.csv")

STAGED_SCHEMA = pa.schema([
    ("record_no", pa.int64()),
    ("member_token", pa.string()),
    ("insurer_number", pa.string()),
    ("branch_number", pa.string()),
    ("fiscal_year", pa.int32()),
    ("is_taxable", pa.bool_()),
    ("income_yen", pa.int64()),
    ("revenue_yen", pa.int64()),
    ("public_pension_revenue_yen", pa.int64()),
    ("pension_income_yen", pa.int64()),
    ("received_on", pa.date32()),
])


def fiscal_year_of(file_name: str) -> int:
    m = FILE_NAME.fullmatch(file_name)
    if not m:
        raise ValueError(f"{file_name}: not a tax information file name (TAX_FY<YYYY>.csv)")
    return int(m["fy"])


def batch_id_for(file_name: str) -> str:
    """One batch per delivered fiscal-year file: a re-delivery replaces it."""
    return f"{INTERFACE}/FY{fiscal_year_of(file_name)}"


def _columns(v: dict[str, list], tokens: list[str]) -> dict[str, list]:
    return {
        "record_no": v["record_no"], "member_token": tokens,
        "insurer_number": v["insurer_number"], "branch_number": v["branch_number"],
        "fiscal_year": v["fiscal_year"], "is_taxable": v["taxable"],
        "income_yen": v["income_yen"], "revenue_yen": v["revenue_yen"],
        "public_pension_revenue_yen": v["public_pension_revenue_yen"],
        "pension_income_yen": v["pension_income_yen"], "received_on": v["received_on"],
    }


def stage(source: Path, tokenizer: Tokenizer | None = None) -> StagedCsv:
    fy = fiscal_year_of(source.name)
    return stage_csv(source, INTERFACE, STAGED_SCHEMA, batch_id_for(source.name),
                     dt.date(fy, 4, 1), _columns, tokenizer)
