"""The monthly eligibility extract (insurer system -> platform).

Reading tokenises at once: 記号・番号 (restricted since 2020-10) become keyed tokens and are
dropped together with names and addresses, so the staged Parquet file, the gate and the
warehouse never hold them. Layout: ``renkei/layouts/eligibility_extract.json``;
documented in ``docs/interfaces/eligibility_extract.md``.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from renkei.exchange import sha256_of
from renkei.fixedwidth.arrow import strings_from_matrix
from renkei.fixedwidth.reader import FixedWidthFile, RecordError
from renkei.layout import Layout, load_layout
from renkei.settings import paths
from renkei.tokens import Tokenizer

INTERFACE = "eligibility_extract"
INTERFACE_ID = "ELIGIBILITY"
KEY_FIELDS = ("insurer_number", "symbol", "number", "branch_number")
INSURED_BRANCH = "00"

# Fields read from the file; everything else (names, kana, address, postal code) is still
# validated by the reader but never materialised.
_READ = (*KEY_FIELDS, "relationship", "sex", "birth_date", "acquired_date", "lost_date",
         "standard_monthly_remuneration", "grade")

STAGED_SCHEMA = pa.schema([
    ("record_no", pa.int64()),
    ("member_token", pa.string()),
    ("insured_token", pa.string()),
    ("insurer_number", pa.string()),
    ("branch_number", pa.string()),
    ("relationship_code", pa.string()),
    ("sex_code", pa.string()),
    ("birth_date", pa.date32()),
    ("birth_date_invalid", pa.bool_()),
    ("acquired_date", pa.date32()),
    ("acquired_date_invalid", pa.bool_()),
    ("lost_date", pa.date32()),
    ("lost_date_invalid", pa.bool_()),
    ("standard_monthly_remuneration", pa.int64()),
    ("grade_code", pa.string()),
])


def file_name_for(period: dt.date) -> str:
    return f"ELIG_{period:%Y%m}.dat"


@dataclass(frozen=True)
class StagedExtract:
    """What a task hands the next one (through XCom): paths, counts and ids only."""

    source: str
    file_name: str
    file_sha256: str
    staged: str
    period: str             # ISO date of the month's first day
    batch_id: str
    data_record_count: int
    trailer_record_count: int

    def to_xcom(self) -> dict:
        return asdict(self)


def batch_id_for(period: dt.date) -> str:
    """One batch per interface and month: a re-run or re-delivery replaces it."""
    return f"{INTERFACE}/{period:%Y-%m}"


def _tokens(tok: Tokenizer, raw: dict[str, np.ndarray]) -> tuple[pa.Array, pa.Array]:
    """Member and insured-person tokens of a chunk, from the key fields' bytes.

    The insured person's token is the member token of 枝番 00 in the same household: for
    the insured themselves it is their own, and for a dependent it is taken from the
    insured person's record when that is in the same chunk (households are usually listed
    together). Only dependents without one there are hashed again, so a chunk costs about
    one HMAC per record instead of two.
    """
    keys = np.concatenate([raw[k] for k in KEY_FIELDS], axis=1)
    member = tok.token_matrix(keys)
    insured = member.copy()
    branch = raw["branch_number"]
    width = keys.shape[1] - branch.shape[1]  # 保険者番号 + 記号 + 番号: the household
    household = np.ascontiguousarray(keys[:, :width]).view(f"S{width}").ravel()
    is_dependent = (branch != np.frombuffer(INSURED_BRANCH.encode(), np.uint8)).any(axis=1)
    dependent, principal = np.flatnonzero(is_dependent), np.flatnonzero(~is_dependent)
    if dependent.size and principal.size:
        principal = principal[np.argsort(household[principal], kind="stable")]
        at = np.minimum(np.searchsorted(household[principal], household[dependent]), principal.size - 1)
        found = household[principal[at]] == household[dependent]
        insured[dependent[found]] = member[principal[at[found]]]
        dependent = dependent[~found]
    if dependent.size:
        own = keys[dependent]
        own[:, width:] = np.frombuffer(INSURED_BRANCH.encode(), np.uint8)
        insured[dependent] = tok.token_matrix(own)
    return strings_from_matrix(member), strings_from_matrix(insured)


def _arrow_dates(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[D]"), type=pa.date32(), from_pandas=True)


def stage(source: Path, period: dt.date, tokenizer: Tokenizer | None = None) -> StagedExtract:
    """Read ``source`` strictly and write its tokenised records to a staging Parquet file.

    Raises :class:`RecordError` for anything that makes the file unreadable, including a
    header for another month or another interface.
    """
    period = period.replace(day=1)  # a batch is a calendar month
    layout = load_layout(INTERFACE)
    tok = tokenizer or Tokenizer()
    out = paths().staging / INTERFACE / f"{period:%Y-%m}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".parquet.tmp")
    # Helper threads: the file's SHA-256 and the Parquet writes release the GIL, so they
    # run beside the tokens, which hold it (see _stage_into).
    with ThreadPoolExecutor(2, thread_name_prefix="renkei-stage") as pool:
        file_sha256 = pool.submit(sha256_of, source)
        try:
            trailer_count, data_count = _stage_into(source, period, layout, tok, tmp, pool)
        except BaseException:
            tmp.unlink(missing_ok=True)  # nothing half-written is left behind
            raise
        os.replace(tmp, out)
        digest = file_sha256.result()
    return StagedExtract(
        source=str(source), file_name=source.name, file_sha256=digest, staged=str(out),
        period=period.isoformat(), batch_id=batch_id_for(period), data_record_count=data_count,
        trailer_record_count=trailer_count,
    )


def _stage_into(source: Path, period: dt.date, layout: Layout, tok: Tokenizer, tmp: Path,
                pool: ThreadPoolExecutor) -> tuple[int, int]:
    """Where the time goes: the reader parses chunks ahead in its own threads, Parquet
    writes go to ``pool``, and this thread computes the tokens, HMAC calls that hold the
    GIL (about 1.5 us each; bench/README.md)."""
    with FixedWidthFile(source, layout, columns=_READ, strings="arrow") as f:
        if f.header.get("interface_id") != INTERFACE_ID:
            raise RecordError(source, 1, "interface_id",
                              f"not an eligibility extract (expected {INTERFACE_ID})")
        if f.header.get("period") != f"{period:%Y%m}":
            raise RecordError(source, 1, "period",
                              f"header is for {f.header.get('period')}, this run is for {period:%Y%m}")
        writer = pq.ParquetWriter(tmp, STAGED_SCHEMA)
        written: Future | None = None
        try:
            for chunk in f.chunks():
                v, n, bad = chunk.values, chunk.nulls, chunk.invalid
                member, insured = _tokens(tok, chunk.raw)
                table = pa.table({
                    "record_no": pa.array(chunk.record_no),
                    "member_token": member,
                    "insured_token": insured,
                    "insurer_number": v["insurer_number"],
                    "branch_number": v["branch_number"],
                    "relationship_code": v["relationship"],
                    "sex_code": v["sex"],
                    "birth_date": _arrow_dates(v["birth_date"]),
                    "birth_date_invalid": pa.array(bad["birth_date"]),
                    "acquired_date": _arrow_dates(v["acquired_date"]),
                    "acquired_date_invalid": pa.array(bad["acquired_date"]),
                    "lost_date": _arrow_dates(v["lost_date"]),
                    "lost_date_invalid": pa.array(bad["lost_date"]),
                    "standard_monthly_remuneration": pa.array(
                        v["standard_monthly_remuneration"], mask=n["standard_monthly_remuneration"]),
                    "grade_code": v["grade"],
                }, schema=STAGED_SCHEMA)
                if written is not None:
                    written.result()  # one write at a time, in order
                written = pool.submit(writer.write_table, table)
            if written is not None:
                written.result()
        finally:
            if written is not None:
                wait([written])
            writer.close()
        return int(f.trailer["record_count"]), f.data_record_count
