"""``collect_my_numbers`` end to end with dag.test(), against what the sandbox planted.

Two runs for July 2017: the pension service's regular file plus the J-LIS inquiry (answered
by the sandbox J-LIS from a background thread), then the pension service's supplementary file
of the people it missed. Each run's reconciliation must equal the sandbox's expected counts;
every stored number must be the person's own; and no My Number may be readable anywhere the
run left files: exchange (inbox, outbox, archive, quarantine), var (warehouse, staging, GX,
the vault itself holds ciphertext only), reports, and the Airflow metadata database and logs.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import openpyxl
import pytest

from renkei import collection, pipeline
from renkei.interfaces import jlis, pension
from renkei.settings import paths
from renkei.tokens import Tokenizer

JULY = dt.date(2017, 7, 1)
TOKYO = ZoneInfo("Asia/Tokyo")
FIRST_RUN = dt.datetime(2017, 8, 7, 6, 0, tzinfo=TOKYO)
SUPPLEMENT_RUN = dt.datetime(2017, 8, 8, 6, 0, tzinfo=TOKYO)
TWELVE_DIGITS = re.compile(rb"(?<![0-9])[0-9]{12}(?![0-9])")


@pytest.fixture
def scenario(workspace):
    """A small sandbox insurer whose July extract is loaded, and its pension service and J-LIS."""
    from renkei_sandbox import Population, write_month_extract
    from renkei_sandbox.jlis import MyNumberScenario

    population = Population(members=1_500, seed=11, start="2017-07")
    population.simulate_month()
    source = write_month_extract(population, JULY, paths().inbox("eligibility_extract"))
    staged = pipeline.read_extract(source, JULY)
    pipeline.gate_extract(staged)
    pipeline.load_extract(staged)
    return MyNumberScenario(population, JULY)


def reconciliation(run: dt.datetime) -> dict[str, int]:
    return collection.load_reconciliation(collection.run_id_for(run)).counts


def _blobs(path: Path):
    data = path.read_bytes()
    yield data
    if zipfile.is_zipfile(path):   # xlsx and the like: look inside
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                yield z.read(name)


def files_holding(numbers: set[str], roots: list[Path]) -> list[str]:
    hits = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            found = {m.group().decode() for data in _blobs(path) for m in TWELVE_DIGITS.finditer(data)}
            if found & numbers:
                hits.append(str(path))
    return hits


def warehouse_columns_holding(numbers: set[str]) -> list[str]:
    """Strings in DuckDB files may be compressed on disk: ask the database itself too."""
    con = duckdb.connect(str(paths().warehouse), read_only=True)
    try:
        hits = []
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        for schema, table in tables:
            for (column, *_rest) in con.execute(f'describe "{schema}"."{table}"').fetchall():
                values = con.execute(f'select distinct cast("{column}" as varchar) from "{schema}"."{table}"')
                if any(v in numbers for (v,) in values.fetchall()):
                    hits.append(f"{schema}.{table}.{column}")
        return hits
    finally:
        con.close()


def test_reconciliation_equals_what_the_sandbox_planted_and_numbers_rest_only_in_the_vault(
        airflow_db, scenario, workspace, session_dir):
    from renkei.vault import Vault
    from renkei_sandbox.jlis import JlisCounterpart
    from renkei_sandbox.pension import write_pension_file

    pension_inbox = paths().inbox(pension.INTERFACE)
    scenario.pension.deliver(pension_inbox, FIRST_RUN.date())
    with JlisCounterpart(scenario.register, jlis.outbox(), paths().inbox(jlis.ANSWER)) as counterpart:
        state = collection.run_dag(FIRST_RUN, poke_seconds=1.0)
    assert counterpart.errors == []
    assert "success" in state
    first = reconciliation(FIRST_RUN)
    expected_first = scenario.expected_reconciliation("first")
    assert {k: first[k] for k in expected_first} == expected_first
    assert first["pension_files_loaded"] == 1 and first["pension_files_rejected"] == 0
    # the sandbox planted every kind of outcome the first run can have
    for code in ("from_pension_file", "matched_by_jlis", "several_candidates", "no_match", "invalid"):
        assert first[code] > 0, code

    # A day later the pension service sends the people it missed: one of them agrees with
    # J-LIS, one disagrees (never stored over), one J-LIS could not find. Beside it comes an
    # empty file (header and trailer only): rejected, while the supplement is still taken in,
    # and the run fails at the end so that an operator sees it.
    scenario.pension.deliver_supplement(pension_inbox, SUPPLEMENT_RUN.date())
    empty = write_pension_file(pension_inbox / "NENKIN_20170809.dat", dt.date(2017, 8, 9), [])
    assert "failed" in collection.run_dag(SUPPLEMENT_RUN, poke_seconds=1.0)
    second = reconciliation(SUPPLEMENT_RUN)
    expected_second = scenario.expected_reconciliation("supplement")
    assert {k: second[k] for k in expected_second} == expected_second
    assert expected_second["conflicting_sources"] == 1 and expected_second["already_held"] == 1
    assert (second["pension_files_loaded"], second["pension_files_rejected"]) == (1, 1)
    assert (paths().quarantine(pension.INTERFACE) / f"{empty.name}.reason.txt").exists()

    # Every stored number is the member's own; the conflicting member keeps J-LIS's number.
    tok = Tokenizer()
    by_token = {tok.token(p.key.encode()): p for p in scenario.members}
    with Vault() as vault:
        stored = list(vault.tokens())
        assert len(stored) == (first["from_pension_file"] + first["matched_by_jlis"]
                               + second["from_pension_file"])
        for token in stored:
            assert vault.get(token, "test_verification") == by_token[token].my_number
        conflicting = tok.token(scenario.pension.conflicting.key.encode())
        assert vault.get(conflicting, "test_verification") == scenario.pension.conflicting.my_number

    # The work lists name members by insurer keys; names only where staff contact someone.
    _, worklist = collection.report_paths(collection.run_id_for(FIRST_RUN))
    rows = list(openpyxl.load_workbook(worklist).active.iter_rows(min_row=4, values_only=True))
    assert len(rows) == first["worklist_members"] == (first["several_candidates"] + first["no_match"]
                                                      + first["invalid"])
    plants = scenario.plants
    follow = set(plants.no_match) | set(plants.duplicate) | set(plants.damaged_answer)
    assert {"".join(r[:4]) for r in rows} == follow
    for row in rows:
        needs_names = row[5] in ("J-LIS照会で該当なし", "J-LIS照会で複数候補")
        assert (row[10] is not None) == needs_names
    assert all(len(r[0]) == 8 and len(r[1]) == 8 for r in rows)   # codes keep leading zeros

    # Nothing but the vault holds a number, and the vault only as ciphertext: the delivered
    # files were deleted after their numbers went in (receipts stay in the archive).
    assert not any(pension_inbox.iterdir())   # taken in, or quarantined
    assert (paths().archive(pension.INTERFACE) / "NENKIN_20170807.dat.receipt.json").exists()
    numbers = scenario.numbers()
    assert len(numbers) > len(scenario.population.persons)
    assert files_holding(numbers, [workspace, session_dir / "airflow"]) == []
    assert warehouse_columns_holding(numbers) == []


def test_dag_runs_daily_in_tokyo_and_queues_its_warehouse_writers():
    from renkei import assets
    from renkei.runs import get_dag
    from renkei.warehouse import POOL

    dag = get_dag(collection.DAG_ID)
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.timetable.expression == "0 6 * * *" and str(dag.timetable.timezone) == "Asia/Tokyo"
    assert {t.task_id for t in dag.tasks if t.pool == POOL} == {
        "intake_pension_files", "build_jlis_inquiry", "take_jlis_answers", "reconcile"}
    sensor = dag.get_task(collection.SENSOR_TASK)
    assert sensor.mode == "reschedule" and sensor.poke_interval == 1800
    assert dag.get_task("reconcile").trigger_rule == "none_failed"
    assert dag.get_task("report_rejected_files").trigger_rule == "all_done"
    assert {o.uri for o in dag.get_task("intake_pension_files").outlets} == {assets.MY_NUMBERS.uri}
