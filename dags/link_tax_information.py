"""
### 地方税関係情報の照会 / Tax information linkage through the intermediary server

**What it does.** Asks the municipalities, through the intermediary server, for the 住民税
facts (taxable or not, 所得, 収入, public pension) that decide members' low-income tiers, and
loads the answers into the tax information the tier engine reads. Each run covers its month
and the two after it: every registered member enrolled then is asked for each fiscal year
those months use whose tax is fixed, unless an answer or a waiting inquiry exists.
In practice the **monthly** run asks new and changed members, and the **July** run (for
June) is the **yearly** run: it asks everyone for the fiscal year fixed in June, so that the
August switch (DOMAIN.md 3.7) has its data. Late answers are taken by whichever run finds
them. Every inquiry and answer is written to the 情報提供等記録 (`renkei disclosure`).

**Reads.** The registration state (`var/vault/linkage.sqlite`, written by
`register_members`), `inbox/tax_answer/TAXA_<id>_<n>.dat` (`docs/interfaces/tax_answer.md`).

**Writes.** `outbox/tax_inquiry/TAXQ_<id>.dat` (`docs/interfaces/tax_inquiry.md`);
`raw.tax_information` with `source = 'intermediary_server'`, one batch per answer file
(`tax_linkage/<file>`), which starts `determine_benefit_tiers`; the provision log
(`var/provision_log/`); the work list `reports/tax_linkage/worklist_<run>.xlsx` of members
without an answer and why (insurer keys, never numbers).

**Schedule.** Monthly on the 8th business day at 09:00 JST, after `register_members` (7th).

**When it fails.**
- `send_inquiries` / `wait_for_answers` retry with exponential back-off (about 11 hours in
  all) while the intermediary server is unreachable or silent, then fail with a message
  naming the files that wait. Sent files are never sent again; clear the task when the
  server is back, or let the next run collect the answers.
- `load_answers` replaces each answer file's batch in one transaction: clearing it re-runs
  it without duplicates.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import dag, task

from renkei import assets
from renkei.alerts import on_task_failure
from renkei.exchange_retry import retry_args
from renkei.timetables import NthBusinessDayTimetable
from renkei.warehouse import POOL as WAREHOUSE_POOL

TZ = "Asia/Tokyo"


def _month(data_interval_start: pendulum.DateTime) -> dt.date:
    return data_interval_start.in_timezone(TZ).date().replace(day=1)


def _as_of(dag_run) -> dt.date:
    """The business date of the run (Tokyo): when the inquiries are made."""
    return pendulum.instance(dag_run.run_after).in_timezone(TZ).date()


@dag(
    dag_id="link_tax_information",
    dag_display_name="地方税関係情報の照会 / Tax information linkage",
    description="Monthly (yearly in July): tax inquiries -> intermediary server -> answers -> warehouse",
    doc_md=__doc__,
    schedule=NthBusinessDayTimetable(8, hour=9, timezone=TZ),
    start_date=pendulum.datetime(2017, 7, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    tags=["renkei", "intermediary-server", "tax", "tiers", "monthly"],
    default_args={"owner": "data-platform", "retries": 0,
                  # one operator paragraph in the log and in `renkei status`
                  "on_failure_callback": on_task_failure},
)
def link_tax_information():
    @task(task_display_name="Select members and prepare inquiries")
    def prepare_inquiries(data_interval_start=None, dag_run=None, run_id=None) -> dict:
        from renkei.tax_linkage import prepare

        return prepare(_month(data_interval_start), _as_of(dag_run), run_id)

    @task(task_display_name="Send inquiry files", **retry_args())
    def send_inquiries(prepared: dict) -> dict:
        from renkei import tax_linkage, transport

        return tax_linkage.send(transport.intermediary_server())

    @task(task_display_name="Wait for and take answers", **retry_args())
    def wait_for_answers(sent: dict) -> dict:
        from renkei import tax_linkage, transport
        from renkei.exchange_retry import wait_seconds

        return tax_linkage.collect(transport.intermediary_server(), wait_seconds())

    @task(task_display_name="Load answers into the warehouse", pool=WAREHOUSE_POOL, retries=1,
          retry_delay=dt.timedelta(seconds=30), outlets=[assets.TAX_INFORMATION])
    def load_answers(taken: dict, dag_run=None) -> dict:
        from renkei.tax_linkage import load

        return load(_as_of(dag_run))

    @task(task_display_name="Work list of members without an answer")
    def write_worklist(loaded: dict, data_interval_start=None, dag_run=None, run_id=None) -> dict:
        from renkei.tax_linkage import write_worklist as write

        return {**loaded, **write(_month(data_interval_start), _as_of(dag_run), run_id)}

    write_worklist(load_answers(wait_for_answers(send_inquiries(prepare_inquiries()))))


link_tax_information()
