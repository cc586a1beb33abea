"""PNG charts beside the workbooks, for people who read reports in a mail or a wiki.

Labels are in English with the Japanese term in the title only where the font allows: the
charts are drawn with matplotlib's bundled font, which has no kanji, so the figures never
depend on what fonts a machine has. The files depend only on the data: matplotlib's
software and date metadata are left out, so a re-run writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

_METADATA = {"Software": None}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def allocation_trend(path: Path, trend: list[tuple[dt.date, int, int]]) -> Path:
    """Members (bars) and yen (line) by month."""
    plt = _pyplot()
    labels = [f"{m:%Y-%m}" for m, _, _ in trend]
    fig, members_ax = plt.subplots(figsize=(8, 4), dpi=100)
    members_ax.bar(labels, [int(n) for _, n, _ in trend], color="#9dc3e6", label="members")
    members_ax.set_ylabel("members")
    yen_ax = members_ax.twinx()
    yen_ax.plot(labels, [int(y) for _, _, y in trend], color="#c00000", marker="o", label="yen")
    yen_ax.set_ylabel("yen")
    yen_ax.set_ylim(bottom=0)  # from zero: a truncated axis would exaggerate the changes
    members_ax.set_title("Intermediary server cost: members and yen by month")
    members_ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return _save(fig, plt, path)


def tier_counts(path: Path, months: list[dt.date], series: list[tuple[str, list[int]]]) -> Path:
    """Stacked bars: members per tier (series label, counts per month) for each month."""
    plt = _pyplot()
    labels = [f"{m:%Y-%m}" for m in months]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    bottom = [0] * len(months)
    for label, counts in series:
        ax.bar(labels, counts, bottom=bottom, label=label)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("members")
    ax.set_title("Members per high-cost medical expense tier by month")
    ax.legend(fontsize="small", ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig, plt, path: Path) -> Path:
    tmp = path.with_suffix(".png.tmp")
    fig.savefig(tmp, format="png", metadata=_METADATA)
    plt.close(fig)
    tmp.replace(path)
    return path
