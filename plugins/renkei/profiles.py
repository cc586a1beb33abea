"""The production profile: Airflow's metadata in PostgreSQL, tasks run in parallel by the
LocalExecutor, everything on one host and on loopback.

The embedded default (``renkei.airflow_home``: SQLite, ``dag.test()`` or ``airflow
standalone``) runs one task at a time, which is what SQLite allows. An insurer that runs the
platform on its own scheduler moves to this profile: the same ``AIRFLOW__*`` variables with
the metadata database, the executor and the concurrency limits changed. Nothing here changes
what a task does; the DuckDB warehouse keeps one writer at a time through the pool
``duckdb_warehouse`` and the writer lock (``renkei.warehouse``), whatever the executor.

The components of this profile, each a long-running process on the same host (systemd units
or the like); :data:`COMMANDS` lists them and the production test starts exactly these.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from renkei import airflow_home

# Each Airflow task runs in two processes of its own (supervisor and task), and the work in
# renkei's tasks is CPU-bound (CP932 parsing, DuckDB, dbt). On the 2-core machine the
# platform is sized for, 4 running tasks keep both cores busy while short tasks (sensors,
# reports) spend most of their life starting up or waiting on the API server, without
# oversubscribing memory. The warehouse pool lets only one of the four write.
PARALLELISM = 4
# Every renkei DAG is a chain, or branches whose tasks all write (and so queue in the pool
# anyway): two at a time per run is all a DAG can use, and leaves the other two slots to
# another DAG, which is where the parallelism comes from (two DAGs at once).
MAX_ACTIVE_TASKS_PER_DAG = 2
# Five DAG files: one parsing process keeps the second core for tasks.
PARSING_PROCESSES = 1
# The API server also serves the execution API that every running task reports to; two
# workers so that one slow UI request (a long log) never delays task heartbeats.
API_WORKERS = 2

SCHEMES = ("postgresql+psycopg2://", "postgresql://")


def production_env(pg_url: str, *, home: str | os.PathLike[str] | None = None,
                   api_port: int | str = airflow_home.API_PORT) -> dict[str, str]:
    """The ``AIRFLOW__*`` values of the production profile.

    ``pg_url`` is the metadata database, ``postgresql+psycopg2://user@127.0.0.1:5432/airflow``
    (``postgresql://`` is taken to mean psycopg2; Airflow derives ``postgresql+asyncpg`` from
    it for its async engine: both drivers come with ``pip install renkei[production]``).
    Leave the password out of the URL: libpq and asyncpg read it from ``~/.pgpass`` of the
    account that runs Airflow, so it appears in no environment, process list or history.
    ``home`` is ``AIRFLOW_HOME`` (default: the one the embedded profile uses); ``api_port``
    the API server's port on 127.0.0.1.
    """
    for scheme in SCHEMES:
        if pg_url.startswith(scheme):
            url = "postgresql+psycopg2://" + pg_url[len(scheme):]
            break
    else:
        # Only the scheme is echoed: the URL may carry a password.
        raise ValueError(f"the production profile needs a PostgreSQL URL (postgresql+psycopg2://...), "
                         f"not {pg_url.split('://', 1)[0]!r}")
    env = airflow_home.airflow_env()
    if home is not None:
        env["AIRFLOW_HOME"] = str(Path(home))
    api = f"http://{airflow_home.API_HOST}:{api_port}"
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
        # Connections are checked before use: a PostgreSQL restart (minor-version update,
        # backup window) costs a reconnect, not a failed scheduler loop.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_PRE_PING": "True",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(MAX_ACTIVE_TASKS_PER_DAG),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": str(PARSING_PROCESSES),
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": str(API_WORKERS),
        # Task processes report to the API server; spelt out with 127.0.0.1 because the
        # default names localhost, which may resolve to ::1 where nothing listens.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        # The scheduler's health check, when an operator turns it on, stays on loopback.
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": airflow_home.API_HOST,
    })
    return env


def _airflow(*args: str) -> tuple[str, ...]:
    return ("airflow", *args)


# The long-running processes of the profile. The scheduler's and triggerer's log servers
# listen on every interface (8793, 8794) and cannot be bound to loopback; on one host the
# API server reads task logs from $AIRFLOW_HOME/logs directly, so they are not started.
# No triggerer: no renkei task defers (the sensors reschedule instead).
COMMANDS: dict[str, tuple[str, ...]] = {
    "api-server": _airflow("api-server", "--host", airflow_home.API_HOST),
    "scheduler": _airflow("scheduler", "--skip-serve-logs"),
    "dag-processor": _airflow("dag-processor"),
}


def shell_exports(env: dict[str, str]) -> str:
    """``export`` lines for ``eval`` in a shell (quoted for the shell, one per variable)."""
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
