"""The tier engine end to end: sandbox files -> intake DAG -> allocation DAG per month -> tier
DAG, and every member-month's tier, age band, copay ratio and deciding rule equal what the
sandbox's own oracle (written separately from the spec, in Python) expects. The months cross
the August switch (低所得, オ) and the September switch (copay ratio, 基準収入額)."""

import datetime as dt

import pytest

from renkei import warehouse
from renkei.settings import paths

MONTHS = ("2017-07", "2017-10")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory, airflow_db):
    """One sandbox run shared by the tests of this module (it takes minutes)."""
    root = tmp_path_factory.mktemp("tiers")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("var", "exchange", "reports"):
            mp.setenv(f"RENKEI_{name.upper()}", str(root / name))
        yield _deliver(airflow_db)


def _deliver(airflow_db):
    from renkei_sandbox import (
        Population,
        write_income_threshold_applications,
        write_month_extract,
        write_tax_information,
    )
    from renkei_sandbox.tax import fiscal_years_for

    p = paths()
    months = airflow_db.months(*MONTHS)
    population = Population(members=2_500, seed=20170718, start=months[0])
    for month in months:
        population.simulate_month()
        write_month_extract(population, month, p.inbox("eligibility_extract"))
        write_income_threshold_applications(population, month, p.inbox("income_threshold_applications"))
    for fiscal_year in fiscal_years_for(months):
        write_tax_information(population, fiscal_year, months, p.inbox("tax_information"))

    assert "success" in airflow_db.run_once("receive_tax_information", months[0])
    for month in months:
        assert "success" in airflow_db.run_month("allocate_intermediary_server_costs", month)
    assert "success" in airflow_db.run_once("determine_benefit_tiers", months[-1])
    return population, months


def _actual(month: dt.date) -> dict[str, tuple]:
    con = warehouse.reader()
    try:
        rows = con.execute(
            "select member_token, age_band, tier_code, copay_ratio, tier_rule "
            "from marts.fct_member_month_tier where month = ?", [month]).fetchall()
    finally:
        con.close()
    return {t: (band, tier, None if ratio is None else f"{float(ratio):.1f}", rule)
            for t, band, tier, ratio, rule in rows}


def test_every_member_month_matches_the_oracle(delivered):
    from renkei.tokens import Tokenizer

    population, months = delivered
    tokenizer = Tokenizer()
    changed_in_august = 0
    previous = None
    for month in months:
        expected = population.expected_tiers(month)
        by_token = {tokenizer.token(key.encode()): key for key in expected}
        actual = {by_token.get(t, t): v for t, v in _actual(month).items()}
        want = {key: (e.age_band, e.tier_code, e.copay_ratio, e.rule) for key, e in expected.items()}
        assert len(want) > 2_000 and {"オ", "ウ", "一般"} <= {v[1] for v in want.values()}
        mismatched = {k: (actual.get(k), want.get(k)) for k in set(actual) | set(want)
                      if actual.get(k) != want.get(k)}
        assert not mismatched, f"{month:%Y-%m}: {len(mismatched)} differ, e.g. " \
                               f"{list(mismatched.values())[:5]}"
        if month.month == 8 and previous is not None:
            changed_in_august = sum(1 for k, v in want.items()
                                    if k in previous and previous[k][1] != v[1]
                                    and "non_taxable" in (previous[k][3], v[3]))
        previous = want
    # the data really crosses the August switch: someone's オ status changed with the tax year
    assert changed_in_august > 0


def test_tier_summary_workbook_totals_equal_the_warehouse(delivered):
    from openpyxl import load_workbook

    _, months = delivered
    book = load_workbook(paths().reports / "tiers" / "tier_summary.xlsx", read_only=True)
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    header = next(r for r in rows if r and r[0] == "年齢区分")
    totals = next(r for r in rows if r and r[0] == "合計")
    con = warehouse.reader()
    try:
        counts = dict(con.execute(
            "select strftime(month, '%Y-%m'), count(*) from marts.fct_member_month_tier "
            "group by 1").fetchall())
    finally:
        con.close()
    assert [h for h in header[3:]] == [f"{m:%Y-%m}" for m in months]
    assert list(totals[3:]) == [counts[f"{m:%Y-%m}"] for m in months]
    png = paths().reports / "tiers" / "tier_summary.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_model_and_column_is_documented(delivered):
    """dbt docs describe every built column in English with the Japanese term."""
    import json
    import re

    manifest = json.loads((paths().var / "dbt" / "target" / "manifest.json").read_text("utf-8"))
    con = warehouse.reader()
    try:
        built = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema in ('staging', 'intermediate', 'marts')").fetchall()
    finally:
        con.close()
    nodes = {(n["schema"], n["name"]): n for n in manifest["nodes"].values()
             if n["resource_type"] == "model"}
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    missing = []
    for schema, table, column in built:
        node = nodes.get((schema, table))
        if node is None:
            continue  # a table left by a model that no longer exists
        if not node["description"]:
            missing.append(f"{table}: model description")
        doc = node["columns"].get(column, {}).get("description", "")
        if not doc:
            missing.append(f"{table}.{column}")
        elif not japanese.search(doc) and column not in ("batch_id", "record_no"):
            missing.append(f"{table}.{column}: no Japanese term")
    assert not missing, missing
