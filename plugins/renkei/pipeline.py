"""Steps of the monthly eligibility intake, each small enough to be one Airflow task.

Every step takes and returns plain values (paths, counts, ids), which is all that may travel
through XCom. A failing step raises an exception whose message is written for the operator:
what failed, where the file went, what to do next.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from renkei import exchange, gate, warehouse
from renkei.fixedwidth.reader import RecordError
from renkei.interfaces import eligibility
from renkei.settings import paths

log = logging.getLogger(__name__)

_ELIGIBILITY_SELECT = """
    select
        $1 as batch_id, cast($2 as date) as period, record_no, member_token, insured_token,
        insurer_number, branch_number, relationship_code, sex_code, birth_date,
        acquired_date, lost_date, standard_monthly_remuneration, grade_code
    from read_parquet($3)
"""


class ExtractUnreadable(RuntimeError):
    """The reader rejected the file; the message is for the operator."""


def month_bounds(period: dt.date) -> tuple[dt.date, dt.date]:
    start = period.replace(day=1)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    return start, nxt - dt.timedelta(days=1)


def find_extract(period: dt.date) -> Path | None:
    """The month's extract: a new delivery in the inbox, else the archived one (re-runs)."""
    name = eligibility.file_name_for(period)
    p = paths()
    for folder in (p.inbox(eligibility.INTERFACE), p.archive(eligibility.INTERFACE)):
        if (folder / name).is_file():
            return folder / name
    return None


def read_extract(source: Path, period: dt.date) -> dict:
    """Read and tokenise the extract into staging; quarantine it if it cannot be read."""
    try:
        staged = eligibility.stage(source, period)
    except RecordError as exc:
        target = exchange.quarantine(source, eligibility.INTERFACE, str(exc))
        raise ExtractUnreadable(
            f"{exc}\nThe file was moved to {target}; nothing from it was loaded. Ask the "
            "insurer's eligibility system team to re-create the extract for "
            f"{period:%Y-%m} and deliver it again, then clear this task."
        ) from None
    log.info("staged %s: %s data records (trailer says %s)", staged.file_name,
             f"{staged.data_record_count:,}", f"{staged.trailer_record_count:,}")
    return staged.to_xcom()


def gate_extract(staged: dict) -> dict:
    """Run the eligibility gate; on a critical failure quarantine the file and stop."""
    start, end = month_bounds(dt.date.fromisoformat(staged["period"]))
    result = gate.run_gate(
        eligibility.INTERFACE, Path(staged["staged"]), staged["file_name"],
        variables={"period_start": start, "period_end": end},
        extra_metrics={"trailer_record_count": staged["trailer_record_count"]},
    )
    if not result.passed:
        Path(staged["staged"]).unlink(missing_ok=True)
        target = exchange.quarantine(Path(staged["source"]), eligibility.INTERFACE, result.summary())
        raise gate.GateFailed(result, quarantined_to=target)
    return {"passed": True, "warnings": [w.check for w in result.warnings],
            "data_docs": str(result.data_docs) if result.data_docs else None}


def load_extract(staged: dict) -> dict:
    """Replace the month's batch in the warehouse, then archive the delivered file."""
    batch = {**staged, "interface": eligibility.INTERFACE}
    with warehouse.writer() as con:
        n = warehouse.replace_batch(con, "raw.eligibility_members", batch, staged["staged"],
                                    _ELIGIBILITY_SELECT)
    source = Path(staged["source"])
    if source.parent == paths().inbox(eligibility.INTERFACE):
        exchange.archive(source, eligibility.INTERFACE, sha256=staged["file_sha256"])
    Path(staged["staged"]).unlink(missing_ok=True)
    log.info("loaded batch %s: %s rows", staged["batch_id"], f"{n:,}")
    return {"batch_id": staged["batch_id"], "rows": n}
