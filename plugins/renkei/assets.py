"""The Airflow Assets that link renkei's DAGs: a producer's task names one in ``outlets``,
a consumer names it in ``schedule``, and the UI draws which data starts which run.

Defined once here so producer and consumer cannot disagree on a URI.
"""

from __future__ import annotations

from airflow.sdk import Asset

GROUP = "renkei"

ELIGIBILITY = Asset("renkei://warehouse/raw/eligibility_members", group=GROUP)
TAX_INFORMATION = Asset("renkei://warehouse/raw/tax_information", group=GROUP)
INCOME_THRESHOLD_APPLICATIONS = Asset("renkei://warehouse/raw/income_threshold_applications",
                                      group=GROUP)
ALLOCATION = Asset("renkei://warehouse/marts/fct_intermediary_cost_allocation", group=GROUP)
TIERS = Asset("renkei://warehouse/marts/fct_member_month_tier", group=GROUP)
# The vault's My Numbers (renkei.vault): updated by collect_my_numbers, read by the
# intermediary-server registration.
MY_NUMBERS = Asset("renkei://vault/my_numbers", group=GROUP)
