"""Intake of the member-keyed CSV exchanges: every file waiting in an interface's inbox is
read, gated and loaded on its own.

A bad file is quarantined with its reason and nothing from it is loaded; the other files
still go in. The task fails afterwards (so the operator sees it) with one paragraph per
rejected file.
"""

from __future__ import annotations

import calendar
import datetime as dt
import fnmatch
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from renkei import exchange, gate, warehouse
from renkei.csvfile import load_csv_layout
from renkei.fixedwidth.reader import RecordError
from renkei.interfaces import income_threshold_applications, tax_information
from renkei.settings import paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CsvInterface:
    module: ModuleType
    table: str
    select_sql: str       # $1 batch id, $2 batch period, $3 staged Parquet path

    @property
    def name(self) -> str:
        return self.module.INTERFACE

    def gate_variables(self, file_name: str) -> dict[str, object]:
        if self.module is tax_information:
            return {"fiscal_year": tax_information.fiscal_year_of(file_name)}
        month = income_threshold_applications.month_of(file_name)
        last = calendar.monthrange(month.year, month.month)[1]
        return {"period_start": month, "period_end": month.replace(day=last)}


INTERFACES = {
    i.name: i for i in (
        CsvInterface(
            tax_information, "raw.tax_information",
            f"""
            select $1, record_no, member_token, fiscal_year, is_taxable, income_yen,
                   revenue_yen, public_pension_revenue_yen, pension_income_yen,
                   '{tax_information.SOURCE}', cast(received_on as timestamp)
            from read_parquet($3)
            where cast($2 as date) is not null
            """,
        ),
        CsvInterface(
            income_threshold_applications, "raw.income_threshold_applications",
            """
            select $1, record_no, member_token, applied_on
            from read_parquet($3)
            where cast($2 as date) is not null
            """,
        ),
    )
}


class FilesRejected(RuntimeError):
    """One or more files were quarantined; the message is for the operator."""


def pending(interface: str) -> list[Path]:
    """Files waiting in the inbox, oldest name first (fiscal years and months sort)."""
    layout = load_csv_layout(interface)
    inbox = paths().inbox(interface)
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.iterdir()
                  if p.is_file() and fnmatch.fnmatch(p.name, layout.file_pattern))


def _reject(source: Path, interface: str, reason: str) -> dict:
    target = exchange.quarantine(source, interface, reason)
    return {"file": source.name, "quarantined_to": str(target), "reason": reason}


def intake_file(interface: str, source: Path) -> dict:
    """Read, gate and load one file. Returns {'loaded': ...} or {'rejected': ...}."""
    spec = INTERFACES[interface]
    try:
        staged = spec.module.stage(source)
    except RecordError as exc:
        return {"rejected": _reject(source, interface, str(exc))}
    result = gate.run_gate(interface, Path(staged.staged), staged.file_name,
                           variables=spec.gate_variables(staged.file_name))
    if not result.passed:
        Path(staged.staged).unlink(missing_ok=True)
        return {"rejected": _reject(source, interface, result.summary())}
    batch = {**staged.to_xcom(), "period": dt.date.fromisoformat(staged.period)}
    with warehouse.writer() as con:
        n = warehouse.replace_batch(con, spec.table, batch, staged.staged, spec.select_sql)
    exchange.archive(source, interface, sha256=staged.file_sha256)
    Path(staged.staged).unlink(missing_ok=True)
    log.info("%s: loaded batch %s, %s rows", staged.file_name, staged.batch_id, f"{n:,}")
    return {"loaded": {"file": staged.file_name, "batch_id": staged.batch_id, "rows": n,
                       "warnings": [w.check for w in result.warnings]}}


def intake_files(interface: str) -> dict:
    """Take in every waiting file; a rejected one is quarantined and the others go on.

    Returns what was loaded and what was rejected (paths, counts, ids: XCom-safe)."""
    loaded, rejected = [], []
    for source in pending(interface):
        outcome = intake_file(interface, source)
        (loaded if "loaded" in outcome else rejected).append(next(iter(outcome.values())))
    return {"interface": interface, "loaded": loaded, "rejected": rejected}


def raise_for_rejections(outcomes: list[dict]) -> dict:
    """Fail with one operator paragraph per rejected file, after the good ones were loaded."""
    rejected = [(o["interface"], r) for o in outcomes for r in o.get("rejected", [])]
    loaded = sum(len(o.get("loaded", [])) for o in outcomes)
    if rejected:
        paragraphs = [
            f"[{interface}] {r['reason']}\nThe file was moved to {r['quarantined_to']}; nothing "
            "from it was loaded. Ask the sender for a corrected file, put it in the inbox and "
            "clear the intake task."
            for interface, r in rejected
        ]
        done = f" {loaded} other file(s) were loaded." if loaded else ""
        raise FilesRejected(f"{len(rejected)} file(s) rejected.{done}\n\n" + "\n\n".join(paragraphs))
    return {"loaded_files": loaded}
