"""The production profile at work: Airflow's metadata in PostgreSQL, a real scheduler with the
LocalExecutor, and two DAGs run at the same time against one DuckDB warehouse.

The monthly allocation (July 2017) and the tax intake are triggered together through the
API, as an operator would from the UI. Both must succeed with the sandbox's own figures; the
warehouse writers (pool ``duckdb_warehouse``) must never have run at the same time, and the
other tasks must have run beside them, or the executor would not be running anything in
parallel and the test would prove nothing about concurrency.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from airflow_api import log_tail, request

from renkei import profiles, runs, warehouse
from renkei.settings import REPO_ROOT, paths

from .conftest import LOOPBACK, Cluster, free_port

pytestmark = pytest.mark.production

VENV_BIN = Path(sys.executable).parent
ALLOCATION, TAX = "allocate_intermediary_server_costs", "receive_tax_information"
JULY = dt.date(2017, 7, 1)
# The allocation run for July is the one whose logical date is 1 August (its data interval
# is the previous month); the intake takes whatever is in its inboxes, whatever the date.
LOGICAL_DATES = {ALLOCATION: runs.month_run_date(JULY).isoformat(),
                 TAX: runs.month_run_date(JULY).isoformat()}
# What must write through the pool, and so never overlap.
WRITERS = {(ALLOCATION, "load_extract"), (ALLOCATION, "build_models"),
           (TAX, "intake_tax_information"), (TAX, "intake_income_threshold_applications")}
FINISHED = {"success", "failed"}
ARTIFACTS = REPO_ROOT / "test-artifacts"



@dataclass(frozen=True)
class TaskRun:
    dag_id: str
    task_id: str
    pool: str
    state: str | None
    start: dt.datetime | None
    end: dt.datetime | None

    def overlaps(self, other: TaskRun) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Outcome:
    run_states: dict[str, str]
    tasks: list[TaskRun]
    population: object
    tax_fiscal_years: list[int]
    applications: list[tuple[str, dt.date]]   # (member key, applied_on)


def _run(argv: list[str], env: dict, log: Path, timeout: int = 600) -> None:
    with open(log, "ab") as out:
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(argv[:3])} exited with {proc.returncode}:\n{log_tail(log)}")


@contextlib.contextmanager
def _components(env: dict, logs: Path):
    """The profile's long-running processes (renkei.profiles.COMMANDS), each in a process
    group of its own so that the executor's workers and the task processes stop with it."""
    started: dict[str, subprocess.Popen] = {}
    try:
        for name, argv in profiles.COMMANDS.items():
            with open(logs / f"{name}.log", "wb") as out:
                started[name] = subprocess.Popen(
                    list(argv), env=env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True)
        yield started
    finally:
        for proc in started.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in started.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            # whatever the group leader left behind (task processes) goes as well
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def _deliver():
    """The sandbox insurer's July files into the inboxes: eligibility extract, tax
    information and 基準収入額 applications."""
    from renkei_sandbox import (
        Population,
        write_income_threshold_applications,
        write_month_extract,
        write_tax_information,
    )
    from renkei_sandbox.tax import fiscal_years_for

    p = paths()
    population = Population(members=1_500, seed=11, start=JULY)
    population.simulate_month()
    write_month_extract(population, JULY, p.inbox("eligibility_extract"))
    fiscal_years = fiscal_years_for([JULY])
    for fiscal_year in fiscal_years:
        write_tax_information(population, fiscal_year, [JULY], p.inbox("tax_information"))
    applications = [(person.key, on) for person, on in population.income_threshold_applications(JULY)]
    # Without an application file one intake would skip: both writers of the intake must work.
    assert applications and write_income_threshold_applications(
        population, JULY, p.inbox("income_threshold_applications")) is not None
    return population, fiscal_years, applications


def _task_runs(cluster: Cluster, run_ids: dict[str, str]) -> list[TaskRun]:
    """Task instances of the two runs, read from the metadata database itself."""
    import psycopg2

    con = psycopg2.connect(host=cluster.host, port=cluster.port, user=cluster.user,
                           password=cluster.password, dbname=cluster.database)
    try:
        with con.cursor() as cur:
            cur.execute("select dag_id, run_id, task_id, pool, state, start_date, end_date "
                        "from task_instance where dag_id = any(%s)", (list(run_ids),))
            return [TaskRun(d, t, pool, state, start, end)
                    for d, r, t, pool, state, start, end in cur.fetchall() if run_ids[d] == r]
    finally:
        con.close()


def _failed_task_logs(home: Path, tasks: list[TaskRun]) -> str:
    out = []
    for t in tasks:
        if t.state not in ("success", "skipped"):
            for log in sorted(home.glob(f"logs/dag_id={t.dag_id}/*/task_id={t.task_id}/*.log")):
                out.append(log_tail(log, 25))
    return "\n".join(out)


@pytest.fixture(scope="module")
def outcome(postgres: Cluster, tmp_path_factory) -> Iterator[Outcome]:
    root = tmp_path_factory.mktemp("production")
    logs = root / "component-logs"
    logs.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("var", "exchange", "reports"):
            mp.setenv(f"RENKEI_{name.upper()}", str(root / name))
        api_port = free_port()
        env = {**os.environ,
               **profiles.production_env(postgres.url, home=root / "airflow", api_port=api_port)}
        env.update({
            # The log servers are not started (COMMANDS); should one start anyway, it must
            # not take 8793/8794 from the machine's own Airflow.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # Only the two triggered runs: with the clock on, unpausing the allocation DAG
            # would also start this month's run, which waits two weeks for its extract.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        })
        assert "sqlite" not in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]

        # What an operator does once: migrate the metadata database, create the pool.
        _run(["airflow", "db", "migrate"], env, logs / "db-migrate.log")
        _run([sys.executable, "-c", "from renkei import runs; runs.init_airflow()"], env,
             logs / "init.log")
        population, fiscal_years, applications = _deliver()

        base = f"http://{LOOPBACK}:{api_port}"
        with _components(env, logs) as procs:
            def wait_for(done, seconds: int, what: str, log: str) -> None:
                deadline = time.monotonic() + seconds
                while not done():
                    for name, proc in procs.items():
                        if proc.poll() is not None:
                            pytest.fail(f"{name} exited with {proc.returncode}:\n"
                                        f"{log_tail(logs / f'{name}.log')}")
                    if time.monotonic() > deadline:
                        pytest.fail(f"{what} not within {seconds} s\n{log_tail(logs / log)}")
                    time.sleep(2)

            wait_for(lambda: request(f"{base}/api/v2/monitor/health")[0] == 200, 240,
                     "API server answering", "api-server.log")
            passwords = json.loads(
                (root / "airflow" / "simple_auth_manager_passwords.json.generated").read_text("utf-8"))
            # The operator account, not admin: running DAGs is the operator's job.
            status, body = request(f"{base}/auth/token",
                                    {"username": "operator", "password": passwords["operator"]})
            assert status in (200, 201), body
            token = body["access_token"]
            # The DAG processor stores the DAGs; the API knows them once it has.
            wait_for(lambda: all(request(f"{base}/api/v2/dags/{d}", token=token)[0] == 200
                                 for d in LOGICAL_DATES), 240, "DAGs parsed", "dag-processor.log")

            # Both runs are queued before either DAG is unpaused, so the scheduler sees the
            # two at once.
            run_ids = {}
            for dag_id, logical_date in LOGICAL_DATES.items():
                status, body = request(f"{base}/api/v2/dags/{dag_id}/dagRuns",
                                        {"logical_date": logical_date}, token=token)
                assert status == 200, (dag_id, status, body)
                run_ids[dag_id] = body["dag_run_id"]
            for dag_id in LOGICAL_DATES:
                status, body = request(f"{base}/api/v2/dags/{dag_id}", {"is_paused": False},
                                        token=token, method="PATCH")
                assert status == 200 and body["is_paused"] is False, (dag_id, status, body)

            states: dict[str, str] = {}

            def finished() -> bool:
                for dag_id, run_id in run_ids.items():
                    status, body = request(f"{base}/api/v2/dags/{dag_id}/dagRuns/{run_id}",
                                            token=token)
                    if status == 200:
                        states[dag_id] = body["state"]
                return len(states) == len(run_ids) and set(states.values()) <= FINISHED

            wait_for(finished, 600, "both runs finished", "scheduler.log")
        tasks = _task_runs(postgres, run_ids)
        # Who ran when, for people to look at after CI (ignored by git, like the screenshots).
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "production_concurrent_dags.txt").write_text(
            f"runs: {states}\n{_timeline(tasks)}\n", "utf-8")
        if set(states.values()) != {"success"}:
            pytest.fail(f"runs: {states}\n{_failed_task_logs(root / 'airflow', tasks)}\n"
                        f"{log_tail(logs / 'scheduler.log')}")
        yield Outcome(states, tasks, population, fiscal_years, applications)


def test_both_runs_succeed_with_the_sandbox_figures(outcome):
    from renkei.tokens import Tokenizer

    assert outcome.run_states == {ALLOCATION: "success", TAX: "success"}
    token = Tokenizer().token
    population = outcome.population
    con = warehouse.reader()
    try:
        # Allocation: members per branch at the end of July, as the sandbox counts them.
        counts = dict(con.execute(
            "select insurer_number, member_count from marts.fct_intermediary_cost_allocation "
            "where month = ?", [JULY]).fetchall())
        # Tax information: every person the municipalities know, with their facts.
        tax = con.execute(
            "select member_token, fiscal_year, is_taxable, income_yen, revenue_yen "
            "from raw.tax_information").fetchall()
        applications = sorted(con.execute(
            "select member_token, applied_on from raw.income_threshold_applications").fetchall())
    finally:
        con.close()

    assert counts == {k: v for k, v in population.expected_counts(JULY).items() if v}
    expected_tax = set()
    for fiscal_year in outcome.tax_fiscal_years:
        for person in population.members_in(JULY):
            facts = population.tax_facts(person, fiscal_year)
            if facts is not None:
                expected_tax.add((token(person.key.encode()), fiscal_year, facts.taxable,
                                  facts.income_yen, facts.revenue_yen))
    assert len(expected_tax) > 1_000
    assert len(tax) == len(expected_tax) and set(tax) == expected_tax  # each person once
    assert applications == sorted((token(k.encode()), on) for k, on in outcome.applications)


def _timeline(tasks: list[TaskRun]) -> str:
    """The runs' tasks in start order (for failure messages)."""
    return "\n".join(f"{t.start:%H:%M:%S.%f} - {t.end:%H:%M:%S.%f}  {t.pool:<16}  {t.dag_id}.{t.task_id}"
                     for t in sorted(tasks, key=lambda t: t.start) if t.start and t.end)


def test_warehouse_writers_never_overlapped(outcome):
    writers = sorted((t for t in outcome.tasks if t.pool == warehouse.POOL), key=lambda t: t.start)
    assert {(t.dag_id, t.task_id) for t in writers} == WRITERS
    assert all(t.state == "success" and t.start and t.end for t in writers)
    for earlier, later in zip(writers, writers[1:], strict=False):
        assert later.start >= earlier.end, (f"{later.task_id} started while {earlier.task_id} ran:\n"
                                            f"{_timeline(outcome.tasks)}")


def test_the_two_dags_ran_tasks_at_the_same_time(outcome):
    """The executor ran tasks in parallel: some task of one DAG ran while a task of the other
    did (every overlap is across DAGs: within a run the only parallel branches are writers)."""
    tasks = [t for t in outcome.tasks if t.start and t.end]
    # six of the allocation; seven of the intake: two intakes, two checks, two Asset
    # emitters (one per interface that loaded something) and the report
    assert len(tasks) == 13
    overlapping = [(a, b) for a in tasks for b in tasks
                   if a.dag_id == ALLOCATION and b.dag_id == TAX and a.overlaps(b)]
    assert overlapping, f"no task of one DAG ran while one of the other did:\n{_timeline(tasks)}"
    # ... and a task outside the pool ran beside a writer: the executor ran tasks in parallel
    # while the pool held the warehouse.
    assert any((a.pool == warehouse.POOL) != (b.pool == warehouse.POOL) for a, b in overlapping), \
        _timeline(tasks)
