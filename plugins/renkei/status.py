"""What an operator wants to see first: the last runs of each DAG, files waiting in
quarantine with their reasons, open work lists for staff, and recent alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from renkei import alerts
from renkei.settings import TIMEZONE, paths


@dataclass
class Status:
    runs: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    worklists: list[str] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)


def last_runs(per_dag: int = 3) -> list[dict]:
    """The newest runs of every DAG in the metadata database (empty before the first run)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError

    out: list[dict] = []
    tokyo = ZoneInfo(TIMEZONE)
    with create_session() as session:
        try:
            dag_ids = session.scalars(select(DagRun.dag_id).distinct()).all()
        except OperationalError:  # no metadata database yet: nothing has run
            return []
        for dag_id in sorted(dag_ids):
            runs = session.scalars(
                select(DagRun).where(DagRun.dag_id == dag_id)
                .order_by(DagRun.run_after.desc()).limit(per_dag)).all()
            for r in runs:
                interval = ""
                if r.data_interval_start and r.data_interval_end:  # stored in UTC
                    start = r.data_interval_start.astimezone(tokyo)
                    end = r.data_interval_end.astimezone(tokyo)
                    interval = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
                out.append({"dag_id": dag_id, "run_id": r.run_id, "state": str(r.state),
                            "interval": interval,
                            "ended": f"{r.end_date.astimezone(tokyo):%Y-%m-%d %H:%M}"
                            if r.end_date else ""})
    return out


def quarantined() -> list[dict]:
    root = paths().exchange / "quarantine"
    if not root.is_dir():
        return []
    out = []
    for reason in sorted(root.glob("*/*.reason.txt")):
        text = reason.read_text("utf-8").strip().splitlines()
        out.append({"interface": reason.parent.name,
                    "file": reason.name.removesuffix(".reason.txt"),
                    "reason": text[0] if text else ""})
    return out


def worklists() -> list[str]:
    root = paths().reports
    return sorted(str(p) for p in root.glob("*/worklist_*.xlsx")) if root.is_dir() else []


def collect(include_runs: bool = True) -> Status:
    return Status(runs=last_runs() if include_runs else [], quarantined=quarantined(),
                  worklists=worklists(), alerts=alerts.recent())


