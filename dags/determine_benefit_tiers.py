"""
### 所得区分の判定 / Benefit tiers, caps and charges

**What it does.** Builds the tier engine's dbt models: for every member and treatment month
the 高額療養費 tier (所得区分) with the rule that decided it, the copay ratio, the cap
parameters, the standard meal charge and the annual 高額介護合算 cap; then writes the tier
summary (members per tier per month) for benefit staff.

**Starts when** new eligibility (`allocate_intermediary_server_costs`), tax information or
基準収入額 applications (`receive_tax_information`) have landed: Airflow Assets, not a clock.

**Reads.** `raw.eligibility_members`, `raw.tax_information`,
`raw.income_threshold_applications`, the rule seeds (`dbt_project/seeds/`).

**Writes.** `marts.fct_member_month_tier`, `fct_high_cost_cap`, `fct_meal_charge`,
`fct_care_combined_cap`, `fct_tier_counts_by_month`, and
`reports/tiers/tier_summary.csv|.xlsx`.

**Rules and lineage.** Airflow UI → Browse → *dbt docs* (the overview page explains the
tiers).

**When it fails.** `build_tier_models` names the dbt models or tests that failed (see the
task log and `var/dbt/target/run_results.json`). A failing seed test means a rule table was
edited wrongly: fix the seed (periods must not overlap or leave gaps) and clear the task.
The warehouse keeps the previous tables until a model builds.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import dag, task

from renkei import assets
from renkei.alerts import on_task_failure
from renkei.warehouse import POOL as WAREHOUSE_POOL

TZ = "Asia/Tokyo"
TIER_MARTS = ("fct_member_month_tier", "fct_high_cost_cap", "fct_meal_charge",
              "fct_care_combined_cap", "fct_tier_counts_by_month", "fct_high_cost_cap_examples")


@dag(
    dag_id="determine_benefit_tiers",
    dag_display_name="所得区分の判定 / Benefit tiers, caps and charges",
    description="On new eligibility or tax data: dbt tier engine -> tier summary report",
    doc_md=__doc__,
    schedule=(assets.ELIGIBILITY | assets.TAX_INFORMATION | assets.INCOME_THRESHOLD_APPLICATIONS),
    start_date=pendulum.datetime(2017, 7, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    tags=["renkei", "tiers", "benefits"],
    default_args={"owner": "data-platform", "retries": 0,
                  # one operator paragraph in the log and in `renkei status`
                  "on_failure_callback": on_task_failure},
)
def determine_benefit_tiers():
    @task(task_display_name="Build the tier models (dbt)", pool=WAREHOUSE_POOL, retries=1,
          retry_delay=dt.timedelta(seconds=30), outlets=[assets.TIERS])
    def build_tier_models() -> dict:
        from renkei.dbt_runner import dbt

        selection = [f"+{name}" for name in TIER_MARTS]
        dbt("build", "--select", *selection, "--indirect-selection", "cautious")
        return {"built": list(TIER_MARTS)}

    @task(task_display_name="Write the tier summary")
    def write_tier_summary(built: dict) -> dict:
        from dataclasses import asdict

        from renkei.reports.tiers import write

        return asdict(write())

    write_tier_summary(build_tier_models())


determine_benefit_tiers()
