"""Staging for the member-keyed CSV exchanges (tax information, 基準収入額 applications).

Like the eligibility extract, reading tokenises at once: 記号・番号・枝番 become the same
keyed member token the extract produces, and only the token leaves this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from renkei.csvfile import load_csv_layout, read_csv
from renkei.exchange import sha256_of
from renkei.settings import paths
from renkei.tokens import Tokenizer

KEY_COLUMNS = ("insurer_number", "symbol", "number", "branch_number")


@dataclass(frozen=True)
class StagedCsv:
    """What a task hands the next one (through XCom): paths, counts and ids only."""

    interface: str
    source: str
    file_name: str
    file_sha256: str
    staged: str
    period: str             # ISO date the batch is filed under in raw.load_batches
    batch_id: str
    data_record_count: int

    def to_xcom(self) -> dict:
        return asdict(self)


def member_tokens(values: dict[str, list], tokenizer: Tokenizer) -> list[str]:
    """The member token of each row: the same HMAC input as the eligibility extract's."""
    keys = zip(*(values[c] for c in KEY_COLUMNS), strict=True)
    return tokenizer.tokens("".join(k).encode() for k in keys)


def stage_csv(source: Path, interface: str, schema: pa.Schema, batch_id: str, period: dt.date,
              columns: Callable[[dict[str, list], list[str]], dict[str, list]],
              tokenizer: Tokenizer | None = None) -> StagedCsv:
    """Read ``source`` strictly, tokenise its keys and write the rows ``columns`` builds to
    ``var/staging/<interface>/<file>.parquet``. Raises RecordError before writing anything."""
    values = read_csv(source, load_csv_layout(interface))
    tokens = member_tokens(values, tokenizer or Tokenizer())
    table = pa.table(columns(values, tokens), schema=schema)
    out_dir = paths().var / "staging" / interface
    out_dir.mkdir(parents=True, exist_ok=True)
    staged = out_dir / f"{source.stem}.parquet"
    tmp = staged.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(staged)
    return StagedCsv(
        interface=interface, source=str(source), file_name=source.name,
        file_sha256=sha256_of(source), staged=str(staged), period=period.isoformat(),
        batch_id=batch_id, data_record_count=table.num_rows,
    )
