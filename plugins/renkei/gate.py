"""The data-quality gate: Great Expectations suites over checks computed inside DuckDB.

Why this shape: Great Expectations' SQL datasource cannot run on DuckDB here (through
duckdb-engine every expectation fails with MetricResolutionError, because GX closes the
connection before fetching results for dialects it does not keep a persisted connection
for), and its pandas datasource would pull every record of a multi-gigabyte extract into
memory. So the heavy, row-level work — check digits, duplicate keys, date plausibility —
runs as one DuckDB query over the staged Parquet file (``expectations/<suite>.sql``), and
GX evaluates the suite (``expectations/<suite>.json``) over the resulting counts: one row
per file. GX still owns the suite, the severities, the validation results and the data
docs; and since it only ever sees counts, its results and docs cannot hold a personal value.

Severities (GX's own): ``critical`` fails the gate — the file is quarantined and nothing
from it is loaded; ``warning`` is reported and the file is loaded.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from renkei.settings import REPO_ROOT, paths

log = logging.getLogger(__name__)

EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SAMPLE_RECORDS = 5


@dataclass(frozen=True)
class CheckOutcome:
    check: str
    severity: str          # "critical" or "warning"
    field: str | None
    reason: str
    failed_count: int
    sample_records: tuple[int, ...] = ()

    def describe(self) -> str:
        records = ", ".join(str(r) for r in self.sample_records)
        more = " ..." if self.failed_count > len(self.sample_records) else ""
        parts = [f"field {self.field}"] if self.field else []
        if records:
            parts.append(f"records {records}{more}")
        detail = f" ({'; '.join(parts)})" if parts else ""
        n = f"{self.failed_count:,} records: " if self.sample_records else ""
        return f"{n}{self.reason}{detail}"


@dataclass
class GateResult:
    suite: str
    file_name: str
    metrics: dict[str, int]
    failures: list[CheckOutcome] = field(default_factory=list)
    warnings: list[CheckOutcome] = field(default_factory=list)
    data_docs: Path | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        lines = [f"{self.file_name}: gate {self.suite} "
                 f"{'passed' if self.passed else 'FAILED'} "
                 f"({self.metrics.get('data_record_count', 0):,} data records)"]
        lines += [f"  critical: {f.describe()}" for f in self.failures]
        lines += [f"  warning:  {w.describe()}" for w in self.warnings]
        return "\n".join(lines)


class GateFailed(RuntimeError):
    """A critical expectation failed. The message is written for an operator."""

    def __init__(self, result: GateResult, quarantined_to: Path | None = None):
        self.result = result
        self.quarantined_to = quarantined_to
        where = (f" The file was moved to {quarantined_to}." if quarantined_to else "")
        super().__init__(
            f"{result.summary()}\nNothing from this file was loaded.{where} "
            "Have the sender correct the records named above and deliver the file again; "
            "then clear this task."
        )


def load_suite_definition(suite: str) -> dict:
    return json.loads((EXPECTATIONS_DIR / f"{suite}.json").read_text("utf-8"))


Samples = dict[str, list[int]]


def compute_checks(staged_parquet: Path, suite: str, variables: dict[str, object],
                   extra_metrics: dict[str, int] | None = None) -> tuple[dict[str, int], Samples]:
    """Run ``expectations/<suite>.sql`` over the staged file; return counts and samples."""
    con = duckdb.connect()  # in-memory: the gate never touches the warehouse
    try:
        # Views cannot take prepared parameters: quote the path as a SQL literal.
        literal = "'" + str(staged_parquet).replace("'", "''") + "'"
        con.execute(f"create view staged as select * from read_parquet({literal})")
        for name, value in variables.items():
            con.execute(f"set variable {name} = ?", [value])
        con.execute((EXPECTATIONS_DIR / "_common.sql").read_text("utf-8"))
        con.execute((EXPECTATIONS_DIR / f"{suite}.sql").read_text("utf-8"))
        checks = [row[0] for row in con.execute("describe gate_flags").fetchall()
                  if row[0] != "record_no"]
        selects = ["count(*) as data_record_count"]
        for c in checks:
            selects.append(f'count(*) filter (where "{c}") as "{c}"')
            selects.append(f'(list(record_no order by record_no) filter (where "{c}"))'
                           f'[1:{SAMPLE_RECORDS}] as "{c}__records"')
        row = con.execute(f"select {', '.join(selects)} from gate_flags").fetchone()
        names = [d[0] for d in con.description]
    finally:
        con.close()
    values = dict(zip(names, row, strict=True))
    metrics = {k: int(v) for k, v in values.items() if not k.endswith("__records")}
    samples = {k.removesuffix("__records"): list(v or []) for k, v in values.items()
               if k.endswith("__records")}
    metrics.update(extra_metrics or {})
    return metrics, samples


def _gx_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network here, and no telemetry
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # config dumps at INFO
    import great_expectations as gx  # heavy: imported only when a gate runs

    root = paths().var / "gx"
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    ctx.variables.progress_bars = {"globally": False}
    return gx, ctx


def validate(suite: str, file_name: str, metrics: dict[str, int],
             samples: dict[str, list[int]]) -> GateResult:
    """Evaluate the suite over the metrics row with Great Expectations and build data docs."""
    import pandas as pd

    gx, ctx = _gx_context()
    definition = load_suite_definition(suite)
    gx_suite = ctx.suites.add_or_update(gx.ExpectationSuite(**definition))
    source = ctx.data_sources.add_or_update_pandas("renkei_gate")
    try:
        asset = source.get_asset(suite)
    except LookupError:
        asset = source.add_dataframe_asset(suite)
    try:
        batch_def = asset.get_batch_definition("check_counts")
    except (KeyError, LookupError):
        batch_def = asset.add_batch_definition_whole_dataframe("check_counts")
    vd = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite, data=batch_def, suite=gx_suite))
    checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
        name=suite, validation_definitions=[vd],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
        # BOOLEAN_ONLY: the results keep no observed values at all, only pass/fail.
        result_format={"result_format": "BOOLEAN_ONLY"},
    ))
    frame = pd.DataFrame([metrics])
    run = checkpoint.run(batch_parameters={"dataframe": frame},
                         run_id=gx.RunIdentifier(run_name=file_name))

    result = GateResult(suite=suite, file_name=file_name, metrics=metrics)
    for vr in run.run_results.values():
        for r in vr.results:
            if r.success:
                continue
            cfg = r.expectation_config
            check = cfg.meta.get("check") or cfg.kwargs.get("column")
            reason = cfg.meta.get("reason_en", cfg.type)
            if check == "record_count_matches_trailer":
                reason = (f"{reason}: {metrics['data_record_count']:,} data records, trailer says "
                          f"{metrics['trailer_record_count']:,}")
            outcome = CheckOutcome(
                check=check, severity=str(getattr(cfg.severity, "value", cfg.severity)),
                field=cfg.meta.get("field"), reason=reason, failed_count=int(metrics.get(check, 0)),
                sample_records=tuple(samples.get(check, ())),
            )
            (result.failures if outcome.severity == "critical" else result.warnings).append(outcome)
    docs = paths().var / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    result.data_docs = docs if docs.exists() else None
    return result


def run_gate(suite: str, staged_parquet: Path, file_name: str, variables: dict[str, object],
             extra_metrics: dict[str, int] | None = None) -> GateResult:
    metrics, samples = compute_checks(staged_parquet, suite, variables, extra_metrics)
    result = validate(suite, file_name, metrics, samples)
    log.info("%s", result.summary())
    return result
