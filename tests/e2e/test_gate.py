"""A bad extract stops at the gate: readable reason, quarantined, warehouse unchanged."""

import datetime as dt

import duckdb
import pytest

from renkei.layout import load_layout
from renkei.settings import paths

DAG_ID = "allocate_intermediary_server_costs"
JULY, AUGUST = dt.date(2017, 7, 1), dt.date(2017, 8, 1)
STRIDE = load_layout("eligibility_extract").stride


def snapshot():
    con = duckdb.connect(str(paths().warehouse), read_only=True)
    try:
        return (con.execute("select * from raw.eligibility_members order by batch_id, record_no").fetchall(),
                con.execute("select batch_id, file_sha256, record_count from raw.load_batches").fetchall(),
                con.execute("select * from marts.fct_intermediary_cost_allocation order by all").fetchall())
    finally:
        con.close()


def wrong_trailer_count(data: bytearray) -> None:
    data[-STRIDE + 1:-STRIDE + 10] = b"%09d" % (len(data) // STRIDE - 2 + 1)


def invalid_insurer_number(data: bytearray) -> None:
    for rec in (3, 9):  # records 3 and 9 (the header is record 1)
        off = (rec - 1) * STRIDE + 8  # last digit of 保険者番号
        data[off] = ord(str((int(chr(data[off])) + 1) % 10))


def impossible_birth_date(data: bytearray) -> None:
    off = (5 - 1) * STRIDE + 109  # record 5, birth_date
    data[off:off + 7] = b"3640108"  # 昭和64年1月8日


@pytest.mark.parametrize(("corrupt", "expect"), [
    (wrong_trailer_count, ["differs from the trailer"]),
    (invalid_insurer_number, ["保険者番号 check digit", "field insurer_number", "records 3, 9"]),
    (impossible_birth_date, ["does not exist", "field birth_date", "records 5"]),
])
def test_bad_extract_fails_at_the_gate(airflow_db, sandbox, corrupt, expect):
    sandbox.deliver(JULY)
    assert "success" in airflow_db.run_month(DAG_ID, JULY)
    before = snapshot()

    path = sandbox.deliver(AUGUST)
    data = bytearray(path.read_bytes())
    corrupt(data)
    path.write_bytes(bytes(data))

    assert "failed" in airflow_db.run_month(DAG_ID, AUGUST)
    assert snapshot() == before  # nothing half-loaded
    assert not path.exists()
    quarantined = paths().quarantine("eligibility_extract") / path.name
    assert quarantined.exists()
    reason = (quarantined.parent / (path.name + ".reason.txt")).read_text("utf-8")
    assert "FAILED" in reason
    for words in expect:
        assert words in reason
    assert not list((paths().var / "staging").rglob("*.parquet"))
    # the failure callback told the operator, in one paragraph, what failed and what to do
    from renkei import alerts

    told = [a for a in alerts.recent() if a["task_id"] == "gate_extract"]
    assert told, "no operator alert recorded"
    assert expect[0] in told[-1]["message"] and "deliver the file again" in told[-1]["message"]
