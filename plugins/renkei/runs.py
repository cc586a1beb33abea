"""Run the platform's DAGs without a scheduler: for the main job, backfills and tests.

``dag.test()`` executes a real DAG run in this process against the metadata database (it
syncs the DAG there first), so what runs here is exactly what the scheduler would run.
"""

from __future__ import annotations

import datetime as dt
import logging

import pendulum

from renkei import airflow_home
from renkei.settings import TIMEZONE

log = logging.getLogger(__name__)

def init_airflow() -> None:
    """Create or migrate the metadata database and the pools the DAGs use. Idempotent."""
    airflow_home.apply()
    from airflow.models.pool import Pool
    from airflow.utils import db

    db.upgradedb()
    from renkei.warehouse import POOL

    Pool.create_or_update_pool(
        POOL, slots=1, include_deferred=False,
        description="DuckDB allows one writing process per file: warehouse writers queue here",
    )


def get_dag(dag_id: str):
    airflow_home.apply()
    from airflow.dag_processing.dagbag import DagBag

    from renkei.settings import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def month_run_date(month: dt.date) -> pendulum.DateTime:
    """The logical date whose inferred data interval is exactly ``month`` (Asia/Tokyo):
    the start of the following month, as the scheduler would run it."""
    nxt = (month.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return pendulum.datetime(nxt.year, nxt.month, 1, tz=TIMEZONE)


def run_month(dag_id: str, month: dt.date) -> str:
    """Run ``dag_id`` for ``month``; return the final DAG-run state."""
    dag = get_dag(dag_id)
    when = month_run_date(month)
    dr = dag.test(logical_date=when, run_after=when)
    return str(getattr(dr, "state", dr))


def run_once(dag_id: str, day: dt.date) -> str:
    """Run ``dag_id`` once as of 00:00 Asia/Tokyo on ``day`` (DAGs that are not monthly:
    the daily intake, the Asset-triggered tier engine); return the final DAG-run state."""
    dag = get_dag(dag_id)
    when = pendulum.datetime(day.year, day.month, day.day, tz=TIMEZONE)
    dr = dag.test(logical_date=when, run_after=when)
    return str(getattr(dr, "state", dr))


def months(start: str, end: str) -> list[dt.date]:
    """Inclusive list of first days of months from ``YYYY-MM`` to ``YYYY-MM``."""
    y, m = map(int, start.split("-"))
    ey, em = map(int, end.split("-"))
    out = []
    while (y, m) <= (ey, em):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
