"""
### 中間サーバー運営費用の按分 / Intermediary server cost allocation

**What it does.** For the month just ended (the run's data interval, Asia/Tokyo), waits for
the insurer system's eligibility extract, reads it (CP932 fixed width, strict), gates it
with Great Expectations, loads it into the warehouse, builds the dbt models up to
`fct_intermediary_cost_allocation`, and writes the allocation report.

**Reads.** `exchange/inbox/eligibility_extract/ELIG_<YYYYMM>.dat`
(layout: `docs/interfaces/eligibility_extract.md`).

**Writes.** `raw.eligibility_members` (one batch per month, replaced on re-run), the dbt
marts, and `reports/allocation/<YYYY-MM>/intermediary_cost_allocation_<YYYYMM>.csv|.xlsx`.

**Schedule.** Monthly, on the 6th business day at 09:00 JST (Japanese holidays and the
29 Dec - 3 Jan closure skipped); each run covers the previous calendar month.
`catchup` is off: earlier months are run on purpose (`renkei demo`, or a backfill).

**Gate results.** Airflow UI → Browse → *Data quality (GX data docs)* shows every gate
run with its checks (counts and record numbers only, never values).

**When it fails.**
- `read_extract` / `gate_extract`: the file is in `exchange/quarantine/eligibility_extract/`
  with a `.reason.txt` naming the records and fields at fault (never their values).
  Ask the sender for a corrected file, put it in the inbox, clear the task.
- `load_extract` / `build_models`: the warehouse is unchanged (one transaction per batch);
  clearing the task re-runs it without duplicates.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import PokeReturnValue, dag, task

from renkei import assets
from renkei.alerts import on_task_failure
from renkei.timetables import NthBusinessDayTimetable

# One slot (created by `renkei init`): DuckDB allows one writing process per file.
from renkei.warehouse import POOL as WAREHOUSE_POOL

TZ = "Asia/Tokyo"


def _period(data_interval_start: pendulum.DateTime) -> dt.date:
    return data_interval_start.in_timezone(TZ).date().replace(day=1)


@dag(
    dag_id="allocate_intermediary_server_costs",
    dag_display_name="中間サーバー運営費用の按分 / Intermediary server cost allocation",
    description="Monthly: eligibility extract -> gate -> warehouse -> dbt -> allocation report",
    doc_md=__doc__,
    # Due on the 6th business day at 09:00 (weekends, holidays and 29 Dec - 3 Jan skipped):
    # the day after the insurer's system writes the extract (the 5th, or the next business
    # day). Data interval = the previous calendar month in Asia/Tokyo.
    schedule=NthBusinessDayTimetable(6, hour=9, timezone=TZ),
    start_date=pendulum.datetime(2017, 7, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    tags=["renkei", "cost-allocation", "monthly"],
    default_args={"owner": "data-platform", "retries": 0,
                  # one operator paragraph in the log and in `renkei status`
                  "on_failure_callback": on_task_failure},
)
def allocate_intermediary_server_costs():
    @task.sensor(task_display_name="Wait for the eligibility extract", poke_interval=3600,
                 timeout=14 * 24 * 3600, mode="reschedule")
    def wait_for_extract(data_interval_start=None) -> PokeReturnValue:
        from renkei.pipeline import find_extract

        path = find_extract(_period(data_interval_start))
        return PokeReturnValue(is_done=path is not None, xcom_value=str(path) if path else None)

    @task(task_display_name="Read and tokenise the extract")
    def read_extract(source: str, data_interval_start=None) -> dict:
        from pathlib import Path

        from renkei.pipeline import read_extract as read

        return read(Path(source), _period(data_interval_start))

    @task(task_display_name="Quality gate (Great Expectations)")
    def gate_extract(staged: dict) -> dict:
        from renkei.pipeline import gate_extract as run_gate

        return run_gate(staged)

    # One retry for the writers: the usual transient cause is the warehouse lock being held
    # by a manual run; a data problem fails the same way twice.
    @task(task_display_name="Load into the warehouse", pool=WAREHOUSE_POOL, retries=1,
          retry_delay=dt.timedelta(seconds=30), outlets=[assets.ELIGIBILITY])
    def load_extract(staged: dict, gate_result: dict) -> dict:
        from renkei.pipeline import load_extract as load

        return load(staged)

    @task(task_display_name="Build dbt models", pool=WAREHOUSE_POOL, retries=1,
          retry_delay=dt.timedelta(seconds=30), outlets=[assets.ALLOCATION])
    def build_models(loaded: dict) -> dict:
        from renkei.dbt_runner import dbt

        # cautious: only tests whose every parent is selected (a relationships test to a
        # model outside this selection would otherwise run against a missing table).
        dbt("build", "--select", "+fct_intermediary_cost_allocation", "--indirect-selection", "cautious")
        return {"built": "fct_intermediary_cost_allocation", "batch_id": loaded["batch_id"]}

    @task(task_display_name="Write the allocation report")
    def write_report(built: dict, data_interval_start=None) -> dict:
        from dataclasses import asdict

        from renkei.reports.allocation import write

        return asdict(write(_period(data_interval_start)))

    source = wait_for_extract()
    staged = read_extract(source)
    checked = gate_extract(staged)
    loaded = load_extract(staged, checked)
    write_report(build_models(loaded))


allocate_intermediary_server_costs()
