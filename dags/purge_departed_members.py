"""
### 個人番号の廃棄 / Retention: delete My Numbers no longer needed

**What it does.** Once a month, deletes from the vault the My Numbers of members who left
the plan more than the retention period ago (`RENKEI_VAULT_RETENTION_MONTHS`, default 84
months, unverified [u]: confirm with the insurer's records policy), are not enrolled again,
and have nothing open with the intermediary server (no registration change or tax inquiry
waiting for an answer). Each deletion is written to the vault's append-only audit table.
The run's result holds counts only.

**Reads.** `raw.eligibility_members` (loss dates, latest month), the linkage state beside
the vault, the vault's tokens.

**Writes.** Deletions in `var/vault/vault.sqlite` and its audit table.

**Schedule.** Monthly on the 10th business day at 09:00 Asia/Tokyo, after the month's
eligibility, registration and tax linkage have run. The date the run judges by is the end
of its data interval, so re-running a month deletes nothing more.

**When it fails.** A vault key error means the key in the Airflow connection
`renkei_vault_keys` does not open the vault: fix the connection, clear the task. Nothing is
deleted unless every rule says so; a failed run deleted nothing after the failing member.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from renkei.alerts import on_task_failure
from renkei.timetables import NthBusinessDayTimetable

TZ = "Asia/Tokyo"


@dag(
    dag_id="purge_departed_members",
    dag_display_name="個人番号の廃棄 / Retention: delete My Numbers no longer needed",
    description="Monthly: delete vault entries of members who left beyond the retention period",
    doc_md=__doc__,
    schedule=NthBusinessDayTimetable(10, hour=9, timezone=TZ),
    start_date=pendulum.datetime(2017, 7, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    tags=["renkei", "my-number", "retention", "monthly"],
    default_args={"owner": "data-platform", "retries": 0,
                  "on_failure_callback": on_task_failure},
)
def purge_departed_members():
    @task(task_display_name="Delete numbers past the retention period")
    def purge(data_interval_end=None) -> dict:
        from renkei import retention

        as_of = data_interval_end.in_timezone(TZ).date()
        return retention.purge(as_of).to_xcom()

    purge()


purge_departed_members()
