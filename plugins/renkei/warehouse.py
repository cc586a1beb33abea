"""The DuckDB warehouse: one writer at a time, loads keyed by batch id.

DuckDB allows a single writing process per database file, and Airflow's LocalExecutor
runs every task in a process of its own. Writers are therefore serialised twice: the DAGs
put every writing task in the Airflow pool ``duckdb_warehouse`` (one slot), so the scheduler
never starts two; and :func:`writer` takes an exclusive file lock, so that a manual run, a
test or the CLI cannot collide with a scheduled task either. DuckDB also refuses a
read-only open while another process writes (and a write while another reads), so readers
(reports, the CLI) take the same lock shared: they wait for a writer to finish, and a writer
waits for them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from renkei.settings import paths

log = logging.getLogger(__name__)

POOL = "duckdb_warehouse"
SCHEMA_SQL = Path(__file__).with_name("warehouse_schema.sql")


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse writer lock for too long."""


def _flock(lock, mode: int, path: Path, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(lock, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise WarehouseBusy(f"{path.name} is {what} by another process for more than "
                                    f"{timeout_s:.0f}s; check running tasks") from None
            time.sleep(0.2)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def locked(path: Path | None = None, timeout_s: float = 600.0) -> Iterator[Path]:
    """Hold the warehouse's exclusive writer lock (dbt, which opens its own connection,
    runs inside this)."""
    path = Path(path or paths().warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(_lock_path(path), "a+") as lock:
        _flock(lock, fcntl.LOCK_EX, path, timeout_s, "being used")
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def writer(path: Path | None = None, timeout_s: float = 600.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """An exclusive read-write connection, with the raw schema in place."""
    with locked(path, timeout_s) as p:
        con = duckdb.connect(str(p))
        try:
            con.execute(SCHEMA_SQL.read_text("utf-8"))
            yield con
        finally:
            con.close()


class ReadConnection:
    """A read-only DuckDB connection that holds the shared lock until it is closed."""

    def __init__(self, con: duckdb.DuckDBPyConnection, lock):
        self._con, self._lock = con, lock

    def __getattr__(self, name: str):
        return getattr(self._con, name)

    def close(self) -> None:
        if self._lock is None:
            return
        try:
            self._con.close()
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> ReadConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def reader(path: Path | None = None, timeout_s: float = 600.0) -> ReadConnection:
    """A read-only connection; close it (or use ``with``) to let writers in again."""
    path = Path(path or paths().warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(_lock_path(path), "a+")  # noqa: SIM115 - released by ReadConnection.close
    try:
        _flock(lock, fcntl.LOCK_SH, path, timeout_s, "being written")
        return ReadConnection(duckdb.connect(str(path), read_only=True), lock)
    except BaseException:
        lock.close()
        raise


def replace_batch(con: duckdb.DuckDBPyConnection, table: str, batch: dict, staged_parquet: str,
                  select_sql: str) -> int:
    """Replace one batch atomically: delete its rows, insert the staged ones, record it.

    A re-run, a retry after a failure or a corrected re-delivery for the same batch id
    therefore leaves exactly one copy; a failure inside the transaction leaves the previous
    state untouched.
    """
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {table} where batch_id = ?", [batch["batch_id"]])
        con.execute(f"insert into {table} {select_sql}",
                    [batch["batch_id"], batch["period"], staged_parquet])
        n = con.execute(f"select count(*) from {table} where batch_id = ?", [batch["batch_id"]]).fetchone()[0]
        con.execute("delete from raw.load_batches where batch_id = ?", [batch["batch_id"]])
        con.execute(
            "insert into raw.load_batches values (?, ?, ?, ?, ?, ?, now())",
            [batch["batch_id"], batch["interface"], batch["period"], batch["file_name"],
             batch["file_sha256"], n],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return int(n)
