"""
### 個人番号の収集 / Collect members' My Numbers

**What it does.** Obtains every member's individual number (個人番号) and keeps it in the
vault only. Insured persons under 70: from the Japan Pension Service's files, taken in as
they arrive. Everyone else (dependents, insured persons 70+, anyone the pension file missed):
by asking J-LIS with the four basic facts (name, birth date, sex, address), normalised first
(width, kana, spaces, variant kanji, house numbers). J-LIS gives a number only when exactly
one resident matches all four facts; several candidates or no match go on the work list.
Each run ends with a reconciliation (counts per outcome) and a work list for staff that names
members by insurer keys, never by My Number.

**Reads.** `exchange/inbox/pension_my_numbers/NENKIN_<YYYYMMDD>.dat`; the archived
eligibility extract of the latest loaded month (names and addresses are read in memory for
the inquiry, never stored); `exchange/inbox/jlis_answer/JLIS_A_<run>.dat`. Layouts:
`docs/interfaces/pension_my_numbers.md`, `jlis_inquiry.md`, `jlis_answer.md`.

**Writes.** The vault (numbers, encrypted); the warehouse schema `collection` (member
tokens, outcomes and inquiry ids only); `exchange/outbox/jlis/JLIS_Q_<run>.dat` (the inquiry,
sent); `reports/my_numbers/reconciliation_<run>.csv` and `worklist_<run>.xlsx`. A delivered
file is deleted once its numbers are in the vault; `exchange/archive/` keeps a receipt.
`<run>` is the run's time in Tokyo, `YYYYMMDDTHHMM`.

**Schedule.** Daily at 06:00 Asia/Tokyo. Members asked about once for an eligibility month
are not asked again until the next month's extract is loaded.

**When it fails.**
- `intake_pension_files` / `report_rejected_files`: a rejected pension file is in
  `exchange/quarantine/pension_my_numbers/` with a `.reason.txt` naming file, record and field
  (never a value); nothing from it was stored, the other files were. Ask the pension service
  for a corrected file, put it in the inbox and clear `intake_pension_files`.
- `build_jlis_inquiry`: usually the archived eligibility extract of the latest month is
  missing; restore it to `exchange/archive/eligibility_extract/` and clear the task.
- `wait_for_jlis_answer`: no answer after 7 days. The inquiry is still in
  `exchange/outbox/jlis/`; check the J-LIS line, then clear the sensor.
- `take_jlis_answers`: the answer is in `exchange/quarantine/jlis_answer/` with its reason;
  nothing from it was stored. Ask J-LIS to answer again, put the answer in the inbox and
  clear the task.
- `reconcile`: nothing is lost (outcomes are in the warehouse); clear it to write the reports.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import CronTriggerTimetable, PokeReturnValue, dag, task

from renkei import assets
from renkei.alerts import on_task_failure
from renkei.warehouse import POOL as WAREHOUSE_POOL

TZ = "Asia/Tokyo"


def _run_id(logical_date, dag_run) -> str:
    from renkei.collection import run_id_for

    # A run triggered in the UI may have no logical date: its run_after stands in.
    return run_id_for(logical_date or dag_run.run_after)


@dag(
    dag_id="collect_my_numbers",
    dag_display_name="個人番号の収集 / Collect members' My Numbers",
    description="Daily: pension-service files -> vault; J-LIS inquiry -> answers -> vault; reconciliation",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 6 * * *", timezone=TZ),
    start_date=pendulum.datetime(2017, 7, 1, tz=TZ),
    catchup=False,
    # One run at a time: a run waiting for J-LIS holds back the next day's intake.
    max_active_runs=1,
    tags=["renkei", "my-number", "daily"],
    default_args={"owner": "data-platform", "retries": 0,
                  # one operator paragraph in the log and in `renkei status`
                  "on_failure_callback": on_task_failure},
)
def collect_my_numbers():
    @task(task_display_name="Take in pension-service files", pool=WAREHOUSE_POOL,
          outlets=[assets.MY_NUMBERS])
    def intake_pension_files(logical_date=None, dag_run=None) -> dict:
        from renkei.collection import intake_pension_files as intake

        return intake(_run_id(logical_date, dag_run))

    @task(task_display_name="Build the J-LIS inquiry", pool=WAREHOUSE_POOL, retries=1,
          retry_delay=dt.timedelta(seconds=30))
    def build_jlis_inquiry(intake: dict) -> dict:
        from renkei.collection import build_jlis_inquiry as build

        return build(intake["run_id"])

    @task.sensor(task_display_name="Wait for the J-LIS answer", poke_interval=1800,
                 timeout=7 * 24 * 3600, mode="reschedule")
    def wait_for_jlis_answer(inquiry: dict) -> PokeReturnValue:
        from airflow.sdk.exceptions import AirflowSkipException

        from renkei.collection import find_jlis_answer

        if not inquiry["inquiries"]:
            raise AirflowSkipException("nobody to ask J-LIS about in this run")
        path = find_jlis_answer(inquiry["run_id"])
        return PokeReturnValue(is_done=path is not None, xcom_value=str(path) if path else None)

    @task(task_display_name="Take the J-LIS answers", pool=WAREHOUSE_POOL,
          outlets=[assets.MY_NUMBERS])
    def take_jlis_answers(inquiry: dict, answer: str) -> dict:
        from renkei.collection import take_jlis_answers as take

        return take(inquiry["run_id"])

    # none_failed: reconcile also when nobody had to be asked (the J-LIS steps skipped).
    @task(task_display_name="Reconcile and write the work list", pool=WAREHOUSE_POOL,
          trigger_rule="none_failed")
    def reconcile(intake: dict) -> dict:
        from renkei.collection import reconcile as run

        return run(intake["run_id"], intake).to_xcom()

    # all_done: report rejected pension files after everything else has run.
    @task(task_display_name="Report rejected files", trigger_rule="all_done")
    def report_rejected_files(intake: dict | None) -> dict:
        from renkei import intake as intake_lib

        return intake_lib.raise_for_rejections([intake] if intake else [])

    intake = intake_pension_files()
    inquiry = build_jlis_inquiry(intake)
    answers = take_jlis_answers(inquiry, wait_for_jlis_answer(inquiry))
    # Order without data: a skipped or failed step has no XCom to hand on.
    reconciled = reconcile(intake)
    answers >> reconciled
    reconciled >> report_rejected_files(intake)


collect_my_numbers()
