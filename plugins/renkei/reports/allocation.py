"""The monthly intermediary-server cost allocation report (CSV and Excel).

Japanese headings, one row per branch, a totals row. Output is a pure function of the
mart: re-running a month rewrites byte-identical files (the workbook's timestamps are pinned
to the month), so an operator can tell a real change from a re-run.
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

# (column in fct_intermediary_cost_allocation, heading in the report, Excel number format)
COLUMNS = [
    ("month", "対象年月", "yyyy-mm"),
    ("insurer_number", "保険者番号", "@"),
    ("branch_name_ja", "支部", "@"),
    ("member_count", "加入者数", "#,##0"),
    ("insured_count", "被保険者数", "#,##0"),
    ("dependent_count", "被扶養者数", "#,##0"),
    ("yen_per_member_month", "単価（円／人月）", "#,##0.00"),
    ("amount_yen", "負担額（円）", "#,##0"),
]
_SUMMED = ("member_count", "insured_count", "dependent_count", "amount_yen")


@dataclass(frozen=True)
class AllocationReport:
    month: str
    csv: str
    xlsx: str
    branches: int
    member_count: int
    amount_yen: int


def fetch(month: dt.date) -> list[dict]:
    cols = ", ".join(c for c, _, _ in COLUMNS)
    con = warehouse.reader()
    try:
        cur = con.execute(
            f"select {cols} from marts.fct_intermediary_cost_allocation "
            "where month = ? order by insurer_number", [month])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def fetch_trend(month: dt.date) -> list[tuple[dt.date, int, int]]:
    """(month, members, yen) for every loaded month up to ``month``: the trend sheet."""
    con = warehouse.reader()
    try:
        return con.execute(
            "select month, sum(member_count), sum(amount_yen) "
            "from marts.fct_intermediary_cost_allocation where month <= ? "
            "group by month order by month", [month]).fetchall()
    finally:
        con.close()


def _add_trend_sheet(wb, trend: list[tuple[dt.date, int, int]]) -> None:
    """Sheet 月別推移: members (bars) and yen (line, right axis) by month, with a chart."""
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Font

    ws = wb.create_sheet("月別推移")
    ws.append(["対象年月", "加入者数", "負担額（円）"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for m, members, yen in trend:
        ws.append([f"{m:%Y-%m}", int(members), int(yen)])
        ws.cell(row=ws.max_row, column=2).number_format = "#,##0"
        ws.cell(row=ws.max_row, column=3).number_format = "#,##0"
    n = len(trend)
    months = Reference(ws, min_col=1, min_row=2, max_row=n + 1)
    bars = BarChart()
    bars.title = "加入者数と負担額の推移 (members and yen by month)"
    bars.y_axis.title = "加入者数"
    bars.add_data(Reference(ws, min_col=2, min_row=1, max_row=n + 1), titles_from_data=True)
    bars.set_categories(months)
    line = LineChart()
    line.add_data(Reference(ws, min_col=3, min_row=1, max_row=n + 1), titles_from_data=True)
    line.y_axis.axId = 200
    line.y_axis.title = "負担額（円）"
    line.y_axis.crosses = "max"
    bars += line
    bars.width, bars.height = 22, 11
    ws.add_chart(bars, "E2")
    ws.column_dimensions["A"].width = 10
    ws.column_dimensions["B"].width = 12
    ws.column_dimensions["C"].width = 14


def _totals(rows: list[dict]) -> dict:
    return {c: sum(int(r[c]) for r in rows) for c in _SUMMED}


def write(month: dt.date, out_dir: Path | None = None) -> AllocationReport:
    rows = fetch(month)
    if not rows:
        raise LookupError(f"no allocation rows for {month:%Y-%m}: was the month's extract loaded?")
    out = Path(out_dir or paths().reports / "allocation" / f"{month:%Y-%m}")
    out.mkdir(parents=True, exist_ok=True)
    stem = f"intermediary_cost_allocation_{month:%Y%m}"
    totals = _totals(rows)
    csv_path = out / f"{stem}.csv"
    _write_csv(csv_path, rows, totals)
    xlsx_path = out / f"{stem}.xlsx"
    _write_xlsx(xlsx_path, month, rows, totals)
    charts.allocation_trend(out / f"intermediary_cost_trend_{month:%Y%m}.png", fetch_trend(month))
    return AllocationReport(month=f"{month:%Y-%m}", csv=str(csv_path), xlsx=str(xlsx_path),
                            branches=len(rows), member_count=totals["member_count"],
                            amount_yen=totals["amount_yen"])


def _cell(col: str, value: object) -> object:
    if col == "yen_per_member_month":
        return f"{value:.2f}"
    if col == "month":
        return f"{value:%Y-%m}"
    return value


def _write_csv(path: Path, rows: list[dict], totals: dict) -> None:
    # UTF-8 with BOM: Excel on Japanese Windows opens it with the right encoding.
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow([h for _, h, _ in COLUMNS])
        for r in rows:
            w.writerow([_cell(c, r[c]) for c, _, _ in COLUMNS])
        w.writerow(["合計", "", "", *(totals[c] for c in _SUMMED[:3]), "", totals["amount_yen"]])
    tmp.replace(path)


def _write_xlsx(path: Path, month: dt.date, rows: list[dict], totals: dict) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = f"{month:%Y-%m}"
    ws["A1"] = f"中間サーバー運営費用 支部別按分（{month:%Y年%m月}分）"
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = "Intermediary server running cost, allocated per branch. 加入者数 = 月末時点の加入者。" \
               "負担額 = 加入者数 × 単価（1円未満切り捨て）。"
    header_row = 4
    fill = PatternFill("solid", fgColor="DDEBF7")
    for j, (_, heading, _) in enumerate(COLUMNS, start=1):
        c = ws.cell(row=header_row, column=j, value=heading)
        c.font, c.fill = Font(bold=True), fill
        c.alignment = Alignment(horizontal="center")
    for i, r in enumerate(rows, start=header_row + 1):
        for j, (col, _, fmt) in enumerate(COLUMNS, start=1):
            v = r[col]
            if col == "yen_per_member_month":
                v = float(v)  # shown with 2 decimals; the exact value is in the CSV
            c = ws.cell(row=i, column=j, value=v)
            c.number_format = fmt
    total_row = header_row + len(rows) + 1
    ws.cell(row=total_row, column=1, value="合計").font = Font(bold=True)
    top = Border(top=Side(style="thin"))
    for j, (col, _, fmt) in enumerate(COLUMNS, start=1):
        c = ws.cell(row=total_row, column=j)
        c.border = top
        if col in _SUMMED:
            c.value = totals[col]
            c.number_format = fmt
            c.font = Font(bold=True)
    for j, width in enumerate((10, 12, 14, 12, 12, 12, 16, 16), start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    wb.properties.creator = "renkei"
    tmp = path.with_suffix(".xlsx.tmp")
    _add_trend_sheet(wb, fetch_trend(month))
    save_reproducibly(wb, tmp, dt.datetime(month.year, month.month, 1))
    tmp.replace(path)
