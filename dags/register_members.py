"""
### 中間サーバーへの加入者情報登録 / Register members in the intermediary server

**What it does.** For the month of the run's data interval, once its eligibility is in the
warehouse: compares every member's latest eligibility and the My Number in the vault with
what the intermediary server holds as accepted, prepares one change per member that
differs (新規 new, 変更 change, 喪失 loss), writes the registration files, sends them, waits
for each result file and records every line as accepted or rejected with its reason. A
re-run or a retry never prepares or sends a change twice; a rejected change goes again only
when what decided it changes (see `renkei.registration`).

**Reads.** `raw.eligibility_members`, the vault (purpose `registration`), the registration
state (`var/vault/linkage.sqlite`).

**Writes.** `outbox/registration/REG_<id>.dat` to the intermediary server (layout:
`docs/interfaces/registration.md`); takes `inbox/registration_result/REGRES_<id>.dat`
(`docs/interfaces/registration_result.md`); the work list of rejected registrations
`reports/registration/worklist_<run>.xlsx` (insurer keys and reason, never numbers).

**Schedule.** Monthly on the 7th business day at 09:00 JST, after the cost-allocation DAG
(6th) has loaded the month's eligibility; each run covers the previous calendar month.
Transport: the exchange folder, or SFTP when `RENKEI_INTERMEDIARY_CONN_ID` names an Airflow
connection.

**When it fails.**
- `send_registrations` / `wait_for_results` retry with exponential back-off (about 11 hours
  in all) while the intermediary server is unreachable or silent, then fail with a message
  saying which files wait. Files already sent are never sent again: when the server is back,
  clear the task or let the next run collect the results.
- `wait_for_eligibility` times out after 7 days: run the cost-allocation DAG for the month.
- Rejected lines do not fail the run: they are on the work list with what staff should do.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import PokeReturnValue, dag, task

from renkei.alerts import on_task_failure
from renkei.exchange_retry import retry_args
from renkei.timetables import NthBusinessDayTimetable

TZ = "Asia/Tokyo"


def _month(data_interval_start: pendulum.DateTime):
    return data_interval_start.in_timezone(TZ).date().replace(day=1)


def _as_of(dag_run) -> object:
    """The business date of the run (Tokyo): the date the files carry."""
    return pendulum.instance(dag_run.run_after).in_timezone(TZ).date()


@dag(
    dag_id="register_members",
    dag_display_name="中間サーバーへの加入者情報登録 / Register members in the intermediary server",
    description="Monthly: eligibility + vault -> registration changes -> intermediary server -> results",
    doc_md=__doc__,
    schedule=NthBusinessDayTimetable(7, hour=9, timezone=TZ),
    start_date=pendulum.datetime(2017, 7, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    tags=["renkei", "intermediary-server", "registration", "monthly"],
    default_args={"owner": "data-platform", "retries": 0,
                  # one operator paragraph in the log and in `renkei status`
                  "on_failure_callback": on_task_failure},
)
def register_members():
    @task.sensor(task_display_name="Wait for the month's eligibility", poke_interval=3600,
                 timeout=7 * 24 * 3600, mode="reschedule")
    def wait_for_eligibility(data_interval_start=None) -> PokeReturnValue:
        from renkei.registration import eligibility_loaded

        return PokeReturnValue(is_done=eligibility_loaded(_month(data_interval_start)))

    @task(task_display_name="Prepare registration changes")
    def prepare_changes(data_interval_start=None, dag_run=None, run_id=None) -> dict:
        from renkei.registration import prepare

        return prepare(_month(data_interval_start), _as_of(dag_run), run_id)

    @task(task_display_name="Send registration files", **retry_args())
    def send_registrations(prepared: dict) -> dict:
        from renkei import registration, transport

        return registration.send(transport.intermediary_server())

    @task(task_display_name="Wait for and record the results", **retry_args())
    def wait_for_results(sent: dict) -> dict:
        from renkei import registration, transport
        from renkei.exchange_retry import wait_seconds

        return registration.collect(transport.intermediary_server(), wait_seconds())

    @task(task_display_name="Work list of rejected registrations")
    def write_worklist(results: dict, dag_run=None, run_id=None) -> dict:
        from renkei.registration import write_worklist as write

        return {**results, **write(run_id, _as_of(dag_run))}

    ready = wait_for_eligibility()
    prepared = prepare_changes()
    ready >> prepared
    write_worklist(wait_for_results(send_registrations(prepared)))


register_members()
