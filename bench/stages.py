"""One measured stage per child process: ``python -m bench.stages STAGE PARAMS_JSON RESULT_JSON``.

Why a child per stage: peak memory of numpy, DuckDB and dbt lives outside Python's
allocator (tracemalloc cannot see it), so the parent reads each child's maximum resident
set size from the kernel when it reaps it (``os.wait4``). A fresh process also means one
stage's caches and heap do not flatter or burden the next.

Each stage is a ``prepare(params)`` function that does the imports and opens nothing
heavy, and returns the callable that is timed; the callable returns the number of records
it handled and any facts worth keeping (counts the parent cross-checks).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

Timed = Callable[[], tuple[int, dict]]

# As in dags/determine_benefit_tiers.py (tests/bench checks the two agree): importing the
# DAG file here would pull Airflow into every timed child.
TIER_MARTS = ("fct_member_month_tier", "fct_high_cost_cap", "fct_meal_charge",
              "fct_care_combined_cap", "fct_tier_counts_by_month", "fct_high_cost_cap_examples")
ALLOCATION_SELECT = ("build", "--select", "+fct_intermediary_cost_allocation",
                     "--indirect-selection", "cautious")
TIER_SELECT = ("build", "--select", *(f"+{m}" for m in TIER_MARTS), "--indirect-selection", "cautious")

# The extract's 15 data fields as a UTF-8 CSV would carry them (ISO dates, codes as text).
CSV_TYPES = {
    "insurer_number": "varchar", "symbol": "varchar", "number": "varchar", "branch_number": "varchar",
    "relationship": "varchar", "name_kanji": "varchar", "name_kana": "varchar", "sex": "varchar",
    "birth_date": "date", "acquired_date": "date", "lost_date": "date",
    "standard_monthly_remuneration": "bigint", "grade": "varchar", "postal_code": "varchar",
    "address_kanji": "varchar",
}
# What eligibility.stage keeps (renkei.interfaces.eligibility._READ): the DuckDB baseline
# writes the same columns to Parquet.
STAGED_FIELDS = ("insurer_number", "symbol", "number", "branch_number", "relationship", "sex",
                 "birth_date", "acquired_date", "lost_date", "standard_monthly_remuneration", "grade")


def _period(params: dict) -> dt.date:
    return dt.date.fromisoformat(params["period"])


# -- data ---------------------------------------------------------------------------------
def prepare_generate(params: dict) -> Timed:
    from renkei_sandbox.bulk import write_bulk_extract

    def run() -> tuple[int, dict]:
        path = write_bulk_extract(params["out"], params["members"], _period(params), params["seed"])
        return params["members"], {"path": str(path), "bytes": path.stat().st_size}
    return run


def prepare_csv(params: dict) -> Timed:
    """The same records as a UTF-8 CSV: the input of the DuckDB baseline (not a subject)."""
    import pyarrow.csv as pacsv

    from renkei_sandbox.bulk import build_pools, iter_chunks

    def run() -> tuple[int, dict]:
        pools = build_pools(params["seed"])
        n = 0
        tmp = Path(params["csv"] + ".part")
        writer = None
        for chunk in iter_chunks(params["members"], _period(params), params["seed"], pools=pools):
            table = chunk.to_arrow(pools)
            if writer is None:
                writer = pacsv.CSVWriter(str(tmp), table.schema)
            writer.write_table(table)
            n += len(chunk)
        writer.close()
        os.replace(tmp, params["csv"])
        return n, {}
    return run


# -- reading ------------------------------------------------------------------------------
def prepare_read_fixedwidth(params: dict) -> Timed:
    """The reader alone: every field validated, the staged fields materialised as staging
    asks for them (Arrow arrays, the reader's default two threads)."""
    from renkei.fixedwidth.reader import FixedWidthFile
    from renkei.interfaces.eligibility import _READ, INTERFACE
    from renkei.layout import load_layout

    def run() -> tuple[int, dict]:
        n = 0
        with FixedWidthFile(params["path"], load_layout(INTERFACE), columns=_READ, strings="arrow") as f:
            for chunk in f.chunks():
                n += len(chunk)
        return n, {}
    return run


def prepare_stage(params: dict) -> Timed:
    """What the DAG's read_extract does: read, tokenise, write the staged Parquet file."""
    from renkei.interfaces import eligibility

    def run() -> tuple[int, dict]:
        staged = eligibility.stage(Path(params["path"]), _period(params))
        return staged.data_record_count, {"staged": staged.to_xcom()}
    return run


def _duckdb_csv(params: dict) -> str:
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in CSV_TYPES.items()) + "}"
    path = params["csv"].replace("'", "''")
    return f"read_csv('{path}', header = true, columns = {columns})"


def prepare_duckdb_csv_scan(params: dict) -> Timed:
    """Baseline: DuckDB parses every column of the CSV (max() over each forces the parse)."""
    import duckdb

    def run() -> tuple[int, dict]:
        con = duckdb.connect()
        cols = ", ".join(f"max({c})" for c in CSV_TYPES)
        row = con.execute(f"select count(*), {cols} from {_duckdb_csv(params)}").fetchone()
        con.close()
        return int(row[0]), {}
    return run


def prepare_duckdb_csv_parquet(params: dict) -> Timed:
    """Baseline: DuckDB reads the CSV and writes the staged fields to Parquet."""
    import duckdb

    def run() -> tuple[int, dict]:
        con = duckdb.connect()
        out = params["out"].replace("'", "''")
        con.execute(f"copy (select {', '.join(STAGED_FIELDS)} from {_duckdb_csv(params)}) "
                    f"to '{out}' (format parquet)")
        n = con.execute(f"select count(*) from read_parquet('{out}')").fetchone()[0]
        con.close()
        return int(n), {}
    return run


def prepare_duckdb_csv_parquet_tokens(params: dict) -> Timed:
    """Baseline: the same as duckdb_csv_parquet plus the staging step's two tokens, HMAC-SHA256
    built from DuckDB's sha256() (RFC 2104: H(K^opad || H(K^ipad || m))) with the same key,
    the insured token hashed only for dependents (枝番 other than 00), as staging does. DuckDB
    doing the same work as eligibility.stage: the like-for-like baseline for staging."""
    import duckdb

    from renkei.tokens import TOKEN_HEX_CHARS, Tokenizer

    block = Tokenizer().hmac_key.ljust(64, b"\0")
    ipad, opad = (bytes(b ^ pad for b in block).hex() for pad in (0x36, 0x5C))

    def hmac(expr: str) -> str:
        return (f"left(sha256(unhex('{opad}') || unhex(sha256(unhex('{ipad}') || encode({expr})))), "
                f"{TOKEN_HEX_CHARS})")

    household = "insurer_number || symbol || number"
    member = hmac(f"{household} || branch_number")
    insured_hmac = hmac(f"{household} || '00'")
    insured = f"case when branch_number = '00' then member_token else {insured_hmac} end"
    kept = ", ".join(f for f in STAGED_FIELDS if f not in ("symbol", "number"))

    def run() -> tuple[int, dict]:
        con = duckdb.connect()
        out = params["out"].replace("'", "''")
        con.execute(f"copy (select member_token, {insured} as insured_token, {kept} "
                    f"from (select {member} as member_token, * from {_duckdb_csv(params)})) "
                    f"to '{out}' (format parquet)")
        n, first = con.execute(f"select count(*), first(member_token order by member_token) "
                               f"from read_parquet('{out}')").fetchone()
        con.close()
        return int(n), {"first_member_token": first}
    return run


def pandas_colspecs() -> tuple[list[tuple[int, int]], list[str]]:
    """Character positions of the data record's fields once the file is decoded from CP932.

    read_fwf slices characters, the layout counts bytes: a 全角 field of 40 bytes holds 20
    characters (the writer pads kanji fields with U+3000, so every character in them is
    double-byte), every other field one byte per character (ASCII, half-width kana). This
    is how a typical user adapts a byte layout to read_fwf; it silently misreads any record
    with a half-width character in a kanji field, which the bulk files never have.
    """
    from renkei.layout import load_layout

    specs, names, pos = [], [], 0
    for f in load_layout("eligibility_extract").data.fields:
        width = f.length // 2 if f.type == "kanji" else f.length
        specs.append((pos, pos + width))
        names.append(f.name)
        pos += width
    return specs, names


def prepare_pandas_read_fwf(params: dict) -> Timed:
    """Baseline: pandas read_fwf with encoding="cp932", every field as text (dtype=str keeps
    leading zeros), in chunks so memory stays bounded, header and trailer dropped by record
    type. No date or number conversion: a lower bound on what pandas would need."""
    import pandas as pd

    specs, names = pandas_colspecs()

    def run() -> tuple[int, dict]:
        n, first = 0, None
        reader = pd.read_fwf(params["path"], colspecs=specs, names=names, encoding="cp932", dtype=str,
                             header=None, chunksize=200_000)
        for chunk in reader:
            data = chunk[chunk["record_type"] == "2"]
            if first is None and len(data):
                first = str(data["postal_code"].iloc[0])
            n += len(data)
        return n, {"first_postal_code": first}
    return run


# -- gate ---------------------------------------------------------------------------------
def prepare_gate(params: dict) -> Timed:
    """The gate as the DAG runs it: checks in DuckDB, then Great Expectations and data docs."""
    from renkei import gate
    from renkei.pipeline import month_bounds

    start, end = month_bounds(_period(params))

    def run() -> tuple[int, dict]:
        result = gate.run_gate("eligibility_extract", Path(params["staged"]), params["file_name"],
                               variables={"period_start": start, "period_end": end},
                               extra_metrics={"trailer_record_count": params["trailer_record_count"]})
        return result.metrics["data_record_count"], {
            "passed": result.passed, "metrics": result.metrics,
            "critical": [f.check for f in result.failures]}
    return run


# The gate's checks (expectations/eligibility_extract.sql) written as one plain query: the
# counts only, no per-check view, no sample record numbers, no Great Expectations.
PLAIN_GATE_SQL = """
with
staged as (select * from read_parquet($path)),
duplicates as (
    select coalesce(sum(n), 0) as duplicate_member_key
    from (select count(*) as n from staged group by member_token having count(*) > 1)
),
digits as (
    select
        *,
        -- the 保険者番号's digits, for its Luhn check digit (DOMAIN.md section 2)
        [cast(substr(insurer_number, i, 1) as integer) for i in range(1, 9)] as d
    from staged
),
counts as (
    select
        count(*) as data_record_count,
        count(*) filter (where not (regexp_full_match(insurer_number, '[0-9]{8}') and
            (10 - (list_sum([case when x * 2 > 9 then x * 2 - 9 else x * 2 end
                             for x in [d[7], d[5], d[3], d[1]]])
                   + d[6] + d[4] + d[2]) % 10) % 10 = d[8])) as invalid_insurer_number,
        count(*) filter (where substr(insurer_number, 1, 2) = '00'
            or substr(insurer_number, 3, 2) not between '01' and '47') as unknown_insurer_prefecture,
        count(*) filter (where birth_date_invalid) as invalid_birth_date,
        count(*) filter (where acquired_date_invalid) as invalid_acquired_date,
        count(*) filter (where lost_date_invalid) as invalid_lost_date,
        count(*) filter (where birth_date > $end) as born_after_period,
        count(*) filter (where birth_date < $end - interval 120 year) as born_over_120_years_ago,
        count(*) filter (where acquired_date < birth_date) as acquired_before_birth,
        count(*) filter (where lost_date <= acquired_date) as lost_not_after_acquired,
        count(*) filter (where acquired_date > $end) as acquired_after_period,
        count(*) filter (where lost_date <= $start) as lost_before_period,
        count(*) filter (where sex_code not in ('1', '2')) as unknown_sex_code,
        count(*) filter (where relationship_code not in ('1', '2')) as unknown_relationship_code,
        count(*) filter (where grade_code is not null and grade_code not between '01' and '50')
            as unknown_grade_code,
        count(*) filter (where (relationship_code = '1') <> (branch_number = '00'))
            as unusual_branch_number,
        count(*) filter (where relationship_code = '1' and standard_monthly_remuneration is null)
            as insured_without_remuneration,
        count(*) filter (where relationship_code = '2' and standard_monthly_remuneration is not null)
            as dependent_with_remuneration,
        count(*) filter (where birth_date + interval 75 year <= $start) as aged_75_or_over
    from digits
)
select * from counts, duplicates
"""


def prepare_gate_duckdb_plain(params: dict) -> Timed:
    import duckdb

    from renkei.pipeline import month_bounds

    start, end = month_bounds(_period(params))

    def run() -> tuple[int, dict]:
        con = duckdb.connect()
        cur = con.execute(PLAIN_GATE_SQL, {"path": params["staged"], "start": start, "end": end})
        row = cur.fetchone()
        counts = {d[0]: int(v) for d, v in zip(cur.description, row, strict=True)}
        con.close()
        return counts["data_record_count"], {"metrics": counts}
    return run


# -- warehouse and dbt --------------------------------------------------------------------
def prepare_load(params: dict) -> Timed:
    from renkei.pipeline import load_extract

    def run() -> tuple[int, dict]:
        loaded = load_extract(params["staged"])
        return loaded["rows"], {}
    return run


def _dbt(args: tuple[str, ...], records: int) -> Timed:
    from renkei.dbt_runner import dbt

    def run() -> tuple[int, dict]:
        dbt(*args)
        return records, {}
    return run


def prepare_dbt_allocation(params: dict) -> Timed:
    return _dbt(ALLOCATION_SELECT, params["members"])


def prepare_dbt_tiers(params: dict) -> Timed:
    """The tier marts, with raw.tax_information empty: the bulk mode writes no tax file,
    so every member's tier is decided without tax facts (the models still run in full)."""
    return _dbt(TIER_SELECT, params["members"])


# -- the whole cycle ----------------------------------------------------------------------
def prepare_cycle(params: dict) -> Timed:
    """The month as the two DAGs run it, in one process, from an empty warehouse: find the
    extract in the inbox, read, gate, load, build allocation marts, write the allocation
    report, build tier marts, write the tier summary. Airflow's own scheduling overhead
    (seconds per task) is not included."""
    from renkei import pipeline
    from renkei.dbt_runner import dbt
    from renkei.reports import allocation, tiers

    period = _period(params)

    def run() -> tuple[int, dict]:
        steps: dict[str, float] = {}
        t = time.perf_counter()

        def step(name: str) -> None:
            nonlocal t
            now = time.perf_counter()
            steps[name] = round(now - t, 3)
            t = now

        source = pipeline.find_extract(period)
        if source is None:
            raise FileNotFoundError(f"no extract for {period:%Y-%m} in the bench inbox")
        staged = pipeline.read_extract(source, period)
        step("read_extract")
        pipeline.gate_extract(staged)
        step("gate_extract")
        pipeline.load_extract(staged)
        step("load_extract")
        dbt(*ALLOCATION_SELECT)
        step("dbt_allocation")
        allocation.write(period)
        step("allocation_report")
        dbt(*TIER_SELECT)
        step("dbt_tiers")
        tiers.write()
        step("tier_report")
        return staged["data_record_count"], {"steps": steps}
    return run


STAGES: dict[str, Callable[[dict], Timed]] = {
    name.removeprefix("prepare_"): fn for name, fn in dict(globals()).items()
    if name.startswith("prepare_") and callable(fn)
}


def main(argv: list[str]) -> int:
    stage, params_json, result_path = argv
    params = json.loads(params_json)
    timed = STAGES[stage](params)
    t0 = time.perf_counter()
    records, facts = timed()
    seconds = time.perf_counter() - t0
    Path(result_path).write_text(json.dumps({"stage": stage, "seconds": seconds, "records": records,
                                             "facts": facts}, default=str), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
