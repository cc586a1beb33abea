"""
### 課税情報・基準収入額申請の受付 / Receive tax information and income-threshold applications

**What it does.** Takes in every file waiting in two inboxes, each on its own: tax
information per member and fiscal year (`TAX_FY<YYYY>.csv`), and 基準収入額 applications of
70-74 insured persons (`KIJUN_<YYYYMM>.csv`). Each file is read strictly (CP932 CSV),
tokenised at once (記号・番号 never reach the warehouse), gated with Great Expectations and
loaded as one batch that a re-delivery replaces. Loading emits an Asset event that starts
`determine_benefit_tiers`.

**Reads.** `exchange/inbox/tax_information/`, `exchange/inbox/income_threshold_applications/`
(layouts: `docs/interfaces/tax_information_csv.md`,
`docs/interfaces/income_threshold_applications_csv.md`).
Until tax linkage through the intermediary server lands, the sandbox delivers the tax files.

**Writes.** `raw.tax_information`, `raw.income_threshold_applications`.

**Schedule.** Daily at 07:00 Asia/Tokyo; a day without files skips (no Asset event).

**Gate results.** Airflow UI → Browse → *Data quality (GX data docs)* shows every gate
run with its checks (counts and record numbers only, never values).

**When it fails.** `report_rejected_files` lists each rejected file with the record and
field at fault (never the value). The file is in `exchange/quarantine/<interface>/` with a
`.reason.txt`; the other files were loaded. Ask the sender for a corrected file, put it in
the inbox and clear the intake task.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from renkei import assets
from renkei.alerts import on_task_failure
from renkei.warehouse import POOL as WAREHOUSE_POOL

TZ = "Asia/Tokyo"


def _intake(interface: str) -> dict:
    from renkei import intake

    return intake.intake_files(interface)


@dag(
    dag_id="receive_tax_information",
    dag_display_name="課税情報・基準収入額申請の受付 / Receive tax information and applications",
    description="Daily: tax information and 基準収入額 applications -> gate -> warehouse",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 7 * * *", timezone=TZ),
    start_date=pendulum.datetime(2017, 7, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    tags=["renkei", "tax", "tiers", "daily"],
    default_args={"owner": "data-platform", "retries": 0,
                  # one operator paragraph in the log and in `renkei status`
                  "on_failure_callback": on_task_failure},
)
def receive_tax_information():
    # The intakes always return their outcome (files loaded, files rejected); the Asset event
    # that starts the tier engine is emitted only when something was loaded, by a small task
    # behind a short circuit, so a day without files starts nothing.
    @task(task_display_name="Take in tax information files", pool=WAREHOUSE_POOL, retries=1,
          retry_delay=dt.timedelta(seconds=30))
    def intake_tax_information() -> dict:
        return _intake("tax_information")

    @task(task_display_name="Take in 基準収入額 applications", pool=WAREHOUSE_POOL, retries=1,
          retry_delay=dt.timedelta(seconds=30))
    def intake_income_threshold_applications() -> dict:
        return _intake("income_threshold_applications")

    @task.short_circuit(task_display_name="Anything loaded?", ignore_downstream_trigger_rules=False)
    def anything_loaded(outcome: dict) -> bool:
        return bool(outcome["loaded"])

    @task(task_display_name="Tax information loaded", outlets=[assets.TAX_INFORMATION])
    def tax_information_loaded(outcome: dict) -> dict:
        return {"files": [f["file"] for f in outcome["loaded"]]}

    @task(task_display_name="Applications loaded",
          outlets=[assets.INCOME_THRESHOLD_APPLICATIONS])
    def applications_loaded(outcome: dict) -> dict:
        return {"files": [f["file"] for f in outcome["loaded"]]}

    # all_done: report rejections after the good files were loaded, even if an intake failed
    @task(task_display_name="Report rejected files", trigger_rule="all_done")
    def report_rejected_files(tax: dict | None, applications: dict | None) -> dict:
        from renkei import intake

        return intake.raise_for_rejections([o for o in (tax, applications) if o])

    tax = intake_tax_information()
    applications = intake_income_threshold_applications()
    anything_loaded.override(task_id="check_tax_information_loaded")(tax) >> tax_information_loaded(tax)
    anything_loaded.override(task_id="check_applications_loaded")(applications) \
        >> applications_loaded(applications)
    report_rejected_files(tax, applications)


receive_tax_information()
