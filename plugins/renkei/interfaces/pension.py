"""The Japan Pension Service's file of My Numbers (日本年金機構 -> platform).

``NENKIN_<YYYYMMDD>.dat``: CP932 fixed width (``renkei/layouts/pension_my_numbers.json``,
documented in ``docs/interfaces/pension_my_numbers.md``), one data record per insured person
under 70, keyed by 保険者番号・記号・番号 and birth date.

Reading tokenises the member key at once and keeps the numbers in memory only: the records
become an Arrow table that the gate checks inside an in-memory DuckDB and the vault stores.
Nothing with a number in it is written to staging, the warehouse or a log.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from renkei.exchange import sha256_of
from renkei.fixedwidth.arrow import strings_from_matrix
from renkei.fixedwidth.reader import FixedWidthFile, RecordError
from renkei.interfaces import ReadFile
from renkei.layout import load_layout
from renkei.tokens import Tokenizer

INTERFACE = "pension_my_numbers"
INTERFACE_ID = "NENKIN_MN"
FILE_PATTERN = "NENKIN_*.dat"
SOURCE = "pension_service"          # the vault's label for numbers from this file
INSURED_BRANCH = "00"               # the file lists insured persons only
_NAME = re.compile(r"NENKIN_(\d{8})\.dat")

_READ = ("insurer_number", "symbol", "number", "birth_date", "my_number")

SCHEMA = pa.schema([
    ("record_no", pa.int64()),
    ("member_token", pa.string()),
    ("insurer_number", pa.string()),
    ("birth_date", pa.date32()),
    ("birth_date_invalid", pa.bool_()),
    ("my_number", pa.string()),
])


@dataclass(frozen=True, repr=False)
class PensionFile(ReadFile):
    """A read file. ``records`` holds the numbers: keep it in memory, never in XCom or logs."""

    source: Path
    file_sha256: str
    created_date: dt.date
    data_record_count: int
    trailer_record_count: int
    records: pa.Table


def date_in_name(path: Path) -> dt.date | None:
    m = _NAME.fullmatch(path.name)
    if not m:
        return None
    try:
        return dt.datetime.strptime(m.group(1), "%Y%m%d").date()
    except ValueError:
        return None


def read(source: Path, tokenizer: Tokenizer | None = None) -> PensionFile:
    """Read ``source`` strictly; raise :class:`RecordError` naming file, record and field."""
    layout = load_layout(INTERFACE)
    tok = tokenizer or Tokenizer()
    named = date_in_name(source)
    if named is None:
        raise RecordError(source, None, None, "file name must be NENKIN_<YYYYMMDD>.dat")
    with FixedWidthFile(source, layout, columns=_READ, strings="arrow") as f:
        if f.header.get("interface_id") != INTERFACE_ID:
            raise RecordError(source, 1, "interface_id",
                              f"not a pension-service My Number file (expected {INTERFACE_ID})")
        if f.header.get("created_date") != named:
            raise RecordError(source, 1, "created_date", "header date differs from the date in the "
                                                         "file name")
        tables = []
        for chunk in f.chunks():
            v, raw = chunk.values, chunk.raw
            branch = np.broadcast_to(np.frombuffer(INSURED_BRANCH.encode(), np.uint8), (len(chunk), 2))
            keys = np.concatenate([raw["insurer_number"], raw["symbol"], raw["number"], branch], axis=1)
            tables.append(pa.table({
                "record_no": pa.array(chunk.record_no),
                "member_token": strings_from_matrix(tok.token_matrix(keys)),
                "insurer_number": v["insurer_number"],
                "birth_date": pa.array(v["birth_date"].astype("datetime64[D]"), pa.date32(),
                                       from_pandas=True),
                "birth_date_invalid": pa.array(chunk.invalid["birth_date"]),
                "my_number": v["my_number"],
            }, schema=SCHEMA))
        records = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
        return PensionFile(
            source=source, file_sha256=sha256_of(source), created_date=named,
            data_record_count=f.data_record_count, trailer_record_count=int(f.trailer["record_count"]),
            records=records,
        )
