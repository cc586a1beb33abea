"""Work lists for staff (reports/<area>/worklist_<run>.xlsx): one row per member who needs a
person to act, with the reason. Members appear by insurer keys (what staff look up), never
by My Number; ``renkei status`` lists the open work lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from renkei.reports.workbook import save_reproducibly
from renkei.settings import paths


def safe_run_name(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in run_id)


def write(area: str, run_id: str, title: str, headings: Sequence[str], rows: Sequence[Sequence[object]],
          stamp: dt.datetime) -> Path:
    """Write the work list; the same rows give the same bytes (the stamp is the run's date)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    out = paths().reports / area / f"worklist_{safe_run_name(run_id)}.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "worklist"
    ws.append([title])
    ws["A1"].font = Font(bold=True)
    ws.append(list(headings))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(list(row))
    for i, heading in enumerate(headings):
        width = max([len(str(heading)) * 2] + [len(str(r[i])) for r in rows[:200]])
        ws.column_dimensions[chr(ord("A") + i)].width = min(60, width + 2)
    save_reproducibly(wb, out, stamp)
    return out
