"""The dbt docs site: built from a small warehouse, opened in headless Chromium, lineage shown."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from renkei import docs_site, warehouse
from renkei.dbt_runner import dbt
from renkei.settings import paths

pytestmark = pytest.mark.browser

MART = "model.renkei.fct_intermediary_cost_allocation"
# Synthetic tokens that exist only in this test's warehouse: none may reach the docs.
TOKENS = [f"synthetic-member-token-{i:04d}" for i in range(1, 4)]
BATCH = "eligibility_extract/2017-07"


def _load_synthetic_month() -> None:
    """Three synthetic members of the Tokyo branch (01130012) in July 2017."""
    july = dt.date(2017, 7, 1)
    with warehouse.writer() as con:
        con.execute("insert into raw.load_batches values (?, 'eligibility_extract', ?, "
                    "'ELIG_201707.dat', ?, 3, now())", [BATCH, july, "0" * 64])
        for no, token in enumerate(TOKENS, start=1):
            con.execute(
                "insert into raw.eligibility_members values "
                "(?, ?, ?, ?, ?, '01130012', ?, ?, '1', date '1980-04-02', "
                "date '2010-04-01', null, null, null)",
                [BATCH, july, no, token, TOKENS[0], f"{no - 1:02d}", "1" if no == 1 else "2"])


def _ancestors(manifest: dict, unique_id: str) -> set[str]:
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        for parent in manifest["parent_map"].get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def _label(manifest: dict, unique_id: str) -> str:
    """The name dbt docs draws on a lineage node (sources as <source>.<table>)."""
    node = {**manifest["nodes"], **manifest["sources"], **manifest["exposures"]}[unique_id]
    if node["resource_type"] == "source":
        return f"{node['source_name']}.{node['name']}"
    return node.get("label") or node["name"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One warehouse and docs site for the module: building them takes most of its time."""
    root = tmp_path_factory.mktemp("docs")
    with pytest.MonkeyPatch.context() as env:
        for name in ("var", "exchange", "reports"):
            env.setenv(f"RENKEI_{name.upper()}", str(root / name))
        _load_synthetic_month()
        # Seeds and models only: the docs need the relations, and the data tests belong to
        # the tests of the rules (a few synthetic rows do not satisfy every one of them).
        dbt("seed")
        dbt("run")
        yield docs_site.build()


def test_docs_site_documents_models_and_exposures_and_holds_no_warehouse_values(site):
    target = paths().var / "dbt" / "target"
    assert site == target / "static_index.html"
    manifest = json.loads((target / "manifest.json").read_text("utf-8"))
    catalog = json.loads((target / "catalog.json").read_text("utf-8"))

    assert "doc.renkei.__overview__" in manifest["docs"]
    # The page loads dbt's usage tracker from outside only when this is true.
    assert manifest["metadata"]["send_anonymous_usage_stats"] is False

    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert exposures["intermediary_cost_allocation_report"]["depends_on"]["nodes"] == [MART]
    assert exposures["tier_summary_report"]["depends_on"]["nodes"] == [
        "model.renkei.fct_tier_counts_by_month"]
    for exposure in exposures.values():
        assert exposure["owner"]["name"] == "Benefits and finance staff"
        assert exposure["owner"]["email"].endswith("@example.invalid")
        assert exposure["url"] is None  # the reports are files here, not a page elsewhere
        assert exposure["description"].strip()

    undocumented = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed"):
            continue
        if not node["description"].strip():
            undocumented.append(uid)
        # Every column the warehouse really has, not only those the yml lists.
        for column in catalog["nodes"][uid]["columns"]:
            if not node["columns"].get(column, {}).get("description", "").strip():
                undocumented.append(f"{uid}.{column}")
    assert undocumented == []

    # The catalog reads the warehouse: it must carry names and types, never values.
    with warehouse.reader() as con:
        rows = con.execute("select member_token from raw.eligibility_members").fetchall()
    stored = {r[0] for r in rows}
    assert stored == set(TOKENS)
    for name in ("static_index.html", "catalog.json", "manifest.json"):
        text = (target / name).read_text("utf-8")
        assert not [t for t in TOKENS if t in text], name


def test_docs_site_renders_lineage_of_allocation_mart(browser, site, artifacts):
    manifest = json.loads((site.parent / "manifest.json").read_text("utf-8"))
    upstream = _ancestors(manifest, MART)
    # The lineage the allocation rests on, written out so the test does not only echo dbt.
    assert {"model.renkei.int_member_months", "model.renkei.int_unit_cost_months",
            "model.renkei.dim_branches", "model.renkei.stg_eligibility__members",
            "seed.renkei.intermediary_unit_costs",
            "source.renkei.eligibility.eligibility_members"} <= upstream

    page = browser.new_page()
    page.goto(f"{site.as_uri()}#!/model/{MART}")
    page.wait_for("document.body && document.body.innerText.includes('Depends On')",
                  what="the model page")
    text = page.text()
    assert "fct_intermediary_cost_allocation" in text
    depends_on = text.split("Depends On", 1)[1]
    for parent in manifest["parent_map"][MART]:
        assert _label(manifest, parent) in depends_on

    # Open the lineage graph as a person would: the graph button, then full size.
    page.evaluate("document.querySelector('a[title=\"View Lineage Graph\"]').click()")
    page.wait_for("!!document.querySelector('[ng-click=\"showExpanded()\"]')", what="graph panel")
    page.evaluate("document.querySelector('[ng-click=\"showExpanded()\"]').click()")
    # dbt docs draws the graph with cytoscape on a canvas; its nodes are read from the
    # cytoscape instance the page registered on the container.
    drawn_js = """(() => {
        const box = Array.from(document.querySelectorAll('*')).find(e => e._cyreg);
        return box ? box._cyreg.cy.nodes(':visible').map(n => n.id()) : [];
    })()"""
    wanted = upstream | {MART}
    page.wait_for(f"(({drawn_js}).length >= {len(wanted)})", what="the full lineage graph")
    drawn = set(page.evaluate(drawn_js))
    assert wanted <= drawn, sorted(wanted - drawn)
    assert "exposure.renkei.intermediary_cost_allocation_report" in drawn
    assert "+fct_intermediary_cost_allocation+" in page.evaluate(
        "Array.from(document.querySelectorAll('input')).map(e => e.value)")
    assert "g_v=1" in page.evaluate("location.href")

    # Let the layout and its zoom-to-fit animation finish, or the picture is a blur.
    view_js = """(() => {
        const cy = Array.from(document.querySelectorAll('*')).find(e => e._cyreg)._cyreg.cy;
        return JSON.stringify([cy.zoom(), cy.pan(), cy.nodes().map(n => n.position())]);
    })()"""
    page.wait_until_stable(view_js, what="the graph to settle")
    shot = page.screenshot(artifacts / "dbt_docs_lineage_fct_intermediary_cost_allocation.png")
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000  # a blank page compresses to far less

    # The site is one file: everything it asked for came from that file or inline data.
    outside = [u for u in page.requested_urls() if not u.startswith(("file:", "data:", "about:"))]
    assert outside == []
