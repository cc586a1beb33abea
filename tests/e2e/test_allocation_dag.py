"""The allocation DAG end to end with dag.test(), against the sandbox's own truth."""

import csv
import datetime as dt
import hashlib
from decimal import ROUND_FLOOR, Decimal

import duckdb
import openpyxl

from renkei.settings import paths

DAG_ID = "allocate_intermediary_server_costs"
JULY, AUGUST = dt.date(2017, 7, 1), dt.date(2017, 8, 1)
# DOMAIN.md section 1 item 5, restated here rather than read from the seed.
UNIT_COST = {JULY: Decimal("4.25"), AUGUST: Decimal("6.64")}


def mart_rows(month):
    con = duckdb.connect(str(paths().warehouse), read_only=True)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "select insurer_number, member_count, yen_per_member_month, amount_yen "
            "from marts.fct_intermediary_cost_allocation where month = ?", [month]).fetchall()}
    finally:
        con.close()


def raw_counts():
    con = duckdb.connect(str(paths().warehouse), read_only=True)
    try:
        return con.execute("select batch_id, count(*) from raw.eligibility_members "
                           "group by 1 order by 1").fetchall()
    finally:
        con.close()


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_allocation_equals_independent_count_and_reruns_identically(airflow_db, sandbox):
    for month in (JULY, AUGUST):
        sandbox.deliver(month)
        assert "success" in airflow_db.run_month(DAG_ID, month)

    for month in (JULY, AUGUST):
        expected = {k: v for k, v in sandbox.population.expected_counts(month).items() if v}
        rows = mart_rows(month)
        assert {k: r[0] for k, r in rows.items()} == expected
        for insurer, (count, unit, amount) in rows.items():
            assert unit == UNIT_COST[month]
            # Fractions under one yen are truncated per branch-month.
            assert amount == int((count * UNIT_COST[month]).to_integral_value(ROUND_FLOOR)), insurer

    # Hand-checkable: the July total is the sum of per-branch truncations.
    july = mart_rows(JULY)
    assert sum(r[2] for r in july.values()) == sum(
        int((c * Decimal("4.25")).to_integral_value(ROUND_FLOOR)) for c, _, _ in july.values())

    report_dir = paths().reports / "allocation" / "2017-07"
    csv_path = report_dir / "intermediary_cost_allocation_201707.csv"
    xlsx_path = report_dir / "intermediary_cost_allocation_201707.xlsx"
    with open(csv_path, encoding="utf-8-sig") as fh:
        lines = list(csv.reader(fh))
    assert lines[0][:4] == ["対象年月", "保険者番号", "支部", "加入者数"]
    assert lines[-1][0] == "合計"
    assert int(lines[-1][3]) == sum(r[0] for r in july.values())
    assert int(lines[-1][7]) == sum(r[2] for r in july.values())
    assert all(len(line[1]) == 8 for line in lines[1:-1])  # 保険者番号 keeps its leading zero
    ws = openpyxl.load_workbook(xlsx_path).active
    total_row = [row for row in ws.iter_rows(values_only=True) if row[0] == "合計"][0]
    assert total_row[3] == sum(r[0] for r in july.values())
    assert total_row[7] == sum(r[2] for r in july.values())
    trend = openpyxl.load_workbook(xlsx_path)["月別推移"]
    assert list(trend.iter_rows(min_row=2, values_only=True)) == [
        ("2017-07", sum(r[0] for r in july.values()), sum(r[2] for r in july.values()))]
    assert len(trend._charts) == 1
    png = report_dir / "intermediary_cost_trend_201707.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    before = (raw_counts(), mart_rows(JULY), digest(csv_path), digest(xlsx_path), digest(png))
    # Re-run July: the file is now in the archive; nothing may be duplicated or changed.
    assert "success" in airflow_db.run_month(DAG_ID, JULY)
    after = (raw_counts(), mart_rows(JULY), digest(csv_path), digest(xlsx_path), digest(png))
    assert after == before
    assert [b for b, _ in before[0]] == ["eligibility_extract/2017-07", "eligibility_extract/2017-08"]
    assert (paths().archive("eligibility_extract") / "ELIG_201707.dat").exists()
