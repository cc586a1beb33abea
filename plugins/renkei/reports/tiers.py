"""The tier summary (所得区分別加入者数): members per 高額療養費 tier per month.

For benefit staff: one row per age band and tier, one column per treatment month, a totals
row that equals the members enrolled in each month. Written as CSV (long form, for tools)
and Excel (pivoted, for people). Counts only: no member appears in it. Re-running writes
byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from renkei import warehouse
from renkei.reports import charts
from renkei.reports.workbook import save_reproducibly
from renkei.settings import paths

AGE_BAND_JA = {"under70": "70歳未満", "70-74": "70〜74歳", "75+": "75歳以上（対象外）"}
CSV_HEADINGS = ["対象年月", "年齢区分", "所得区分", "所得区分（英語）", "加入者数", "被保険者数",
                "被扶養者数"]


@dataclass(frozen=True)
class TierSummary:
    csv: str
    xlsx: str
    months: list[str]
    member_months: int
    tiers: int


def fetch() -> list[dict]:
    con = warehouse.reader()
    try:
        cur = con.execute(
            """
            select month, age_band, tier_code, coalesce(tier_name_ja, tier_code) as tier_name_ja,
                   coalesce(tier_name_en, '') as tier_name_en, coalesce(sort_order, 99) as sort_order,
                   member_count, insured_count, dependent_count
            from marts.fct_tier_counts_by_month
            order by month, case age_band when 'under70' then 1 when '70-74' then 2 else 3 end,
                     sort_order, tier_code
            """)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def write(out_dir: Path | None = None) -> TierSummary:
    rows = fetch()
    if not rows:
        raise LookupError("no tier rows: build the tier models after loading eligibility")
    out = Path(out_dir or paths().reports / "tiers")
    out.mkdir(parents=True, exist_ok=True)
    months = sorted({r["month"] for r in rows})
    csv_path, xlsx_path = out / "tier_summary.csv", out / "tier_summary.xlsx"
    _write_csv(csv_path, rows)
    _write_xlsx(xlsx_path, rows, months)
    _write_png(out / "tier_summary.png", rows, months)
    return TierSummary(csv=str(csv_path), xlsx=str(xlsx_path), months=[f"{m:%Y-%m}" for m in months],
                       member_months=sum(int(r["member_count"]) for r in rows),
                       tiers=len({(r["age_band"], r["tier_code"]) for r in rows}))


def _write_csv(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel on Windows
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(CSV_HEADINGS)
        for r in rows:
            w.writerow([f"{r['month']:%Y-%m}", AGE_BAND_JA.get(r["age_band"], r["age_band"]),
                        r["tier_name_ja"], r["tier_name_en"], r["member_count"], r["insured_count"],
                        r["dependent_count"]])
    tmp.replace(path)


def _write_xlsx(path: Path, rows: list[dict], months: list[dt.date]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "所得区分別加入者数"
    ws["A1"] = f"高額療養費 所得区分別加入者数（{months[0]:%Y年%m月}〜{months[-1]:%Y年%m月}）"
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = ("Members per 高額療養費 tier and treatment month. 判定: 標準報酬月額・住民税課税状況"
                "（8月切替）・基準収入額（9月切替）。Rules: dbt docs, overview page.")
    header_row = 4
    fill = PatternFill("solid", fgColor="DDEBF7")
    headings = ["年齢区分", "所得区分", "Tier", *(f"{m:%Y-%m}" for m in months)]
    for j, heading in enumerate(headings, start=1):
        c = ws.cell(row=header_row, column=j, value=heading)
        c.font, c.fill = Font(bold=True), fill
        c.alignment = Alignment(horizontal="center")
    keys: list[tuple] = []
    counts: dict[tuple, dict[dt.date, int]] = {}
    for r in rows:
        key = (r["age_band"], r["sort_order"], r["tier_code"], r["tier_name_ja"], r["tier_name_en"])
        if key not in counts:
            keys.append(key)
            counts[key] = {}
        counts[key][r["month"]] = int(r["member_count"])
    band_order = {"under70": 1, "70-74": 2}
    keys.sort(key=lambda k: (band_order.get(k[0], 3), k[1], k[2]))
    for i, key in enumerate(keys, start=header_row + 1):
        ws.cell(row=i, column=1, value=AGE_BAND_JA.get(key[0], key[0]))
        ws.cell(row=i, column=2, value=key[3])
        ws.cell(row=i, column=3, value=key[4])
        for j, m in enumerate(months, start=4):
            c = ws.cell(row=i, column=j, value=counts[key].get(m, 0))
            c.number_format = "#,##0"
    total_row = header_row + len(keys) + 1
    ws.cell(row=total_row, column=1, value="合計").font = Font(bold=True)
    top = Border(top=Side(style="thin"))
    for j in range(1, len(headings) + 1):
        ws.cell(row=total_row, column=j).border = top
    for j, m in enumerate(months, start=4):
        c = ws.cell(row=total_row, column=j, value=sum(counts[k].get(m, 0) for k in keys))
        c.number_format, c.font = "#,##0", Font(bold=True)
    for j, width in enumerate([16, 14, 22] + [10] * len(months), start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = ws.cell(row=header_row + 1, column=4)
    _add_chart(ws, header_row, len(keys), len(months))
    wb.properties.creator = "renkei"
    tmp = path.with_suffix(".xlsx.tmp")
    last = months[-1]
    save_reproducibly(wb, tmp, dt.datetime(last.year, last.month, 1))
    tmp.replace(path)


def _add_chart(ws, header_row: int, tiers: int, months: int) -> None:
    """Stacked bars: members per tier (one series per row) for each month."""
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
    chart.title = "所得区分別加入者数 (members per tier by month)"
    chart.y_axis.title = "加入者数"
    data = Reference(ws, min_col=3, max_col=3 + months, min_row=header_row + 1,
                     max_row=header_row + tiers)
    chart.add_data(data, from_rows=True, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=4, max_col=3 + months, min_row=header_row))
    chart.width, chart.height = 24, 12
    ws.add_chart(chart, ws.cell(row=header_row + tiers + 3, column=1).coordinate)


# Tier codes in ASCII for the PNG (its font has no kanji); the workbook keeps the Japanese.
TIER_EN = {"ア": "A", "イ": "I", "ウ": "U", "エ": "E", "オ": "O", "現役並み": "Active-income",
           "現役並みⅢ": "Active-income III", "現役並みⅡ": "Active-income II",
           "現役並みⅠ": "Active-income I", "一般": "General", "低所得Ⅱ": "Low income II",
           "低所得Ⅰ": "Low income I", "-": "not covered"}


def _write_png(path: Path, rows: list[dict], months: list[dt.date]) -> None:
    order = {"under70": 1, "70-74": 2}
    keys = sorted({(r["age_band"], r["sort_order"], r["tier_code"]) for r in rows},
                  key=lambda k: (order.get(k[0], 3), k[1], k[2]))
    counts = {(r["age_band"], r["tier_code"], r["month"]): int(r["member_count"]) for r in rows}
    series = [(f"{band} {TIER_EN.get(tier, tier)}",
               [counts.get((band, tier, m), 0) for m in months]) for band, _, tier in keys]
    charts.tier_counts(path, months, series)
