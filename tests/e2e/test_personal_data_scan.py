"""Personal data stays where it belongs, shown on a full run of the main job.

After the sandbox insurer's cycle (allocation, My Number collection, registration, tax
linkage, applications, tiers) across the August switch, and again after a run with planted
bad files that make readers and gates fail, every artifact is scanned for every My Number
and every full name the sandbox generated: task logs and the console, Airflow's metadata
database (XCom, rendered fields, logs table, everything), the warehouse (every text value
and the raw file), the dbt target folder, Great Expectations' stores and data docs, reports,
quarantine reasons, alerts, staging. Zero hits.

Where personal data legitimately rests, and is therefore not scanned for it (see
docs/data-protection.md): the vault and the files beside it (``var/vault/``), files as
delivered or in transit to a counterpart (``exchange/inbox``, ``archive``, ``outbox`` and a
quarantined file itself), and the staff work lists, which show names (never numbers) where
staff must contact the member.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sqlite3
import sys
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from renkei import warehouse
from renkei.settings import paths

NUMBER = re.compile(rb"(?<![0-9])[0-9]{12}(?![0-9])")


class Needles:
    def __init__(self, population):
        self.numbers = {p.my_number.encode() for p in population.persons}
        names = {p.name_kanji for p in population.persons} | {p.name_kana for p in population.persons}
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        self.names = re.compile(alternatives)

    def numbers_in(self, data: bytes) -> set[bytes]:
        return {m for m in NUMBER.findall(data) if m in self.numbers}

    def names_in(self, data: bytes) -> set[str]:
        found: set[str] = set()
        for encoding in ("utf-8", "cp932"):
            found |= set(self.names.findall(data.decode(encoding, errors="ignore")))
        return found


def _xlsx_text(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return b"\n".join(z.read(n) for n in z.namelist() if n.endswith(".xml"))


def _sqlite_text(path: Path) -> bytes:
    """Every value of every table, as text (plus the raw file, which catches free pages)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        parts = []
        for (table,) in con.execute("select name from sqlite_master where type = 'table'"):
            for row in con.execute(f'select * from "{table}"'):
                parts.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
    finally:
        con.close()
    return b"\n".join(parts) + path.read_bytes()


def _warehouse_text() -> bytes:
    con = warehouse.reader()
    try:
        parts = []
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'").fetchall()
        for schema, table, column in columns:
            for (v,) in con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall():
                if v is not None:
                    parts.append(v.encode())
    finally:
        con.close()
    return b"\n".join(parts) + paths().warehouse.read_bytes()


def artifacts() -> dict[str, tuple[bytes, bool]]:
    """name -> (content, names allowed). Everything that is not a legitimate resting place."""
    p = paths()
    out: dict[str, tuple[bytes, bool]] = {}
    airflow_home = Path(os.environ["AIRFLOW_HOME"])
    for f in (airflow_home / "logs").rglob("*"):
        if f.is_file():
            out[str(f)] = (f.read_bytes(), False)
    out["airflow metadata db"] = (_sqlite_text(airflow_home / "airflow.db"), False)
    out["warehouse"] = (_warehouse_text(), False)
    skip = {p.vault.parent}
    for root in (p.var, p.reports):
        for f in root.rglob("*"):
            if not f.is_file() or any(parent in skip for parent in f.parents):
                continue
            if f.suffix in (".duckdb", ".lock") or f.name.endswith(".wal"):
                continue  # the warehouse is scanned through its values above
            if f.parent.name == "secrets":
                continue  # keys, not data
            data = _xlsx_text(f) if f.suffix == ".xlsx" else f.read_bytes()
            out[str(f)] = (data, f.name.startswith("worklist_"))
    quarantine = p.exchange / "quarantine"
    if quarantine.exists():
        for f in quarantine.rglob("*.reason.txt"):
            out[str(f)] = (f.read_bytes() + f.name.encode(), False)
        out["quarantine listing"] = ("\n".join(str(f) for f in quarantine.rglob("*")).encode(), False)
    return out


def scan(needles: Needles, console: str) -> list[str]:
    hits = []
    items = artifacts()
    items["console"] = (console.encode(), False)
    for name, (data, names_allowed) in items.items():
        if needles.numbers_in(data):
            hits.append(f"{name}: {len(needles.numbers_in(data))} My Number(s)")
        if not names_allowed and needles.names_in(data):
            hits.append(f"{name}: {len(needles.names_in(data))} name(s)")
    assert len(items) > 30  # the scan really saw the run's artifacts
    return hits


@contextlib.contextmanager
def console_to(path: Path):
    """Send this process's stdout and stderr (file descriptors 1 and 2, which is where the
    task runner's console logging goes under dag.test()) to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@pytest.fixture(scope="module")
def main_job_run(tmp_path_factory, airflow_db):
    from renkei import main_job

    root = tmp_path_factory.mktemp("scan")
    console = root / "console.txt"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("var", "exchange", "reports"):
            mp.setenv(f"RENKEI_{name.upper()}", str(root / name))
        with console_to(console):
            result = main_job.run(members=1_200, start="2017-07", end="2017-08", seed=20170718,
                                  report=print)
        yield result, console


def test_no_number_or_name_after_the_main_job(main_job_run):
    result, console = main_job_run
    assert not result.failed, result.failed
    needles = Needles(result.population)
    assert len(needles.numbers) > 1_000
    hits = scan(needles, console.read_text("utf-8", errors="replace"))
    assert hits == []


def test_no_number_or_name_after_bad_files_fail_readers_and_gates(main_job_run):
    from renkei import runs
    from renkei_sandbox import write_month_extract
    from renkei_sandbox.jlis import MyNumberScenario

    result, console = main_job_run
    population = result.population
    p = paths()
    september = runs.months("2017-09", "2017-09")[0]
    population.simulate_month()
    # an extract whose 5th record has an impossible birth date (the gate fails)
    extract = write_month_extract(population, september, p.inbox("eligibility_extract"))
    data = bytearray(extract.read_bytes())
    stride = 262
    start = 4 * stride + 1 + 8 + 8 + 8 + 2 + 1 + 40 + 40 + 1
    data[start:start + 7] = b"4990231"
    extract.write_bytes(bytes(data))
    with console_to(console):
        assert "failed" in runs.run_month("allocate_intermediary_server_costs", september)
    # a pension-service file re-encoded with a BOM (the reader refuses it), numbers inside
    scenario = MyNumberScenario(population, september)
    good = scenario.pension.deliver_new(p.inbox("pension_my_numbers"), september.replace(day=20), set())
    good.write_bytes(b"\xef\xbb\xbf" + good.read_bytes().decode("cp932").encode("utf-8"))
    from renkei import collection

    when = dt.datetime(2017, 9, 20, 6, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    with console_to(console):
        assert "failed" in collection.run_dag(when, poke_seconds=1.0)
    assert list((p.exchange / "quarantine").rglob("*.reason.txt")), "nothing was quarantined"

    needles = Needles(population)
    hits = scan(needles, console.read_text("utf-8", errors="replace"))
    assert hits == []


def test_the_scan_finds_a_planted_leak(main_job_run):
    """The scan itself can fail: one number and one name written where they must not be."""
    result, console = main_job_run
    person = next(p for p in result.population.persons if p.my_number)
    leak = paths().var / "alerts" / "leak.txt"
    leak.parent.mkdir(parents=True, exist_ok=True)
    leak.write_text(f"oops {person.my_number} {person.name_kanji}", "utf-8")
    try:
        hits = scan(Needles(result.population), "")
    finally:
        leak.unlink()
    assert any("leak.txt" in h and "My Number" in h for h in hits)
    assert any("leak.txt" in h and "name" in h for h in hits)
