"""DuckDB allows one writing process per file: writers from separate processes queue on the
warehouse lock instead of failing."""

import multiprocessing as mp
import time

import duckdb
import pytest

from renkei import warehouse
from renkei.settings import paths


def _write(tag: str, hold_s: float, out):
    with warehouse.writer() as con:
        start = time.monotonic()
        con.execute("create table if not exists t (tag varchar, started double)")
        con.execute("insert into t values (?, ?)", [tag, start])
        time.sleep(hold_s)
        out.put((tag, start, time.monotonic()))


def test_two_writer_processes_are_serialised(workspace):
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_write, args=(tag, 1.0, out)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    spans = sorted(out.get() for _ in procs)
    (_, a_start, a_end), (_, b_start, b_end) = sorted(spans, key=lambda s: s[1])
    assert b_start >= a_end  # the second writer started only after the first let go
    con = duckdb.connect(str(paths().warehouse), read_only=True)
    assert sorted(r[0] for r in con.execute("select tag from t").fetchall()) == ["a", "b"]
    con.close()


def test_a_writer_that_waits_too_long_gets_a_clear_error(workspace):
    with warehouse.locked():
        ctx = mp.get_context("fork")
        q = ctx.Queue()

        def try_write(q):
            try:
                with warehouse.writer(timeout_s=0.5):
                    q.put("wrote")
            except warehouse.WarehouseBusy as exc:
                q.put(str(exc))

        p = ctx.Process(target=try_write, args=(q,))
        p.start()
        p.join(30)
        msg = q.get(timeout=5)
    assert "being used by another process" in msg


def test_replace_batch_is_atomic_on_failure(workspace, tmp_path):
    with warehouse.writer() as con:
        con.execute("create table raw.demo (batch_id varchar, period date, v integer)")
        con.execute("insert into raw.demo values ('b/2017-07', date '2017-07-01', 1)")
        with pytest.raises(duckdb.Error):
            warehouse.replace_batch(
                con, "raw.demo",
                {"batch_id": "b/2017-07", "period": "2017-07-01", "interface": "b",
                 "file_name": "x", "file_sha256": "0"},
                str(tmp_path / "missing.parquet"),
                "select $1, cast($2 as date), v from read_parquet($3)")
        assert con.execute("select v from raw.demo").fetchall() == [(1,)]
        assert con.execute("select count(*) from raw.load_batches").fetchone() == (0,)


def _read_then_report(go, hold_s: float, out):
    go.wait(10)
    con = warehouse.reader()
    try:
        out.put(("reader", time.monotonic(), con.execute("select count(*) from t").fetchone()[0]))
        time.sleep(hold_s)
    finally:
        out.put(("reader_done", time.monotonic(), None))
        con.close()


def test_readers_and_writers_wait_for_each_other(workspace):
    """DuckDB refuses a read-only open while another process writes and a write while
    another process reads: the shared lock makes each side wait instead of failing.
    (Processes are forked before any connection is open: DuckDB's state does not survive a
    fork.)"""
    with warehouse.writer() as con:
        con.execute("create table t (v integer)")
    ctx = mp.get_context("fork")
    out, go = ctx.Queue(), ctx.Event()
    reader = ctx.Process(target=_read_then_report, args=(go, 0.0, out))
    reader.start()
    with warehouse.writer() as con:          # a writer holds the file ...
        con.execute("insert into t values (1)")
        go.set()
        time.sleep(0.8)
        assert out.empty()                   # ... so the reader waits
        writer_released = time.monotonic()
    reader.join(30)
    assert reader.exitcode == 0
    tag, started, count = out.get(timeout=5)
    out.get(timeout=5)
    assert tag == "reader" and started >= writer_released and count == 1

    # and a writer waits for an open reader
    go = ctx.Event()
    reader = ctx.Process(target=_read_then_report, args=(go, 1.0, out))
    reader.start()
    go.set()
    out.get(timeout=10)                      # the reader has the file open
    with warehouse.writer() as con:
        writer_started = time.monotonic()
        con.execute("insert into t values (2)")
    reader.join(30)
    _, reader_done, _ = out.get(timeout=5)
    assert writer_started >= reader_done


def test_a_reader_closes_by_context_manager(workspace):
    with warehouse.writer() as con:
        con.execute("create table t (v integer)")
    with warehouse.reader() as con:
        assert con.execute("select count(*) from t").fetchone() == (0,)
    with warehouse.writer(timeout_s=1) as con:  # not blocked: the reader let go
        con.execute("insert into t values (1)")
