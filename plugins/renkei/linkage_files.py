"""The intermediary server's four files, as records: names, folders, write and read.

Layouts are data (``renkei/layouts/registration.json``, ``registration_result.json``,
``tax_inquiry.json``, ``tax_answer.json``; rendered in ``docs/interfaces/``); this module only
knows where each file goes and turns records into dicts of plain Python values and back.
Both the platform and the sandbox counterparts use it, so the two sides cannot disagree
about a format.

Folders, relative to the transport's root (for the local transport, the exchange folder):
the platform puts files into ``outbox/<interface>/`` and takes answers from
``inbox/<interface>/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from renkei.fixedwidth.reader import FixedWidthFile, RecordError
from renkei.fixedwidth.writer import write_file_atomically
from renkei.layout import load_layout

REGISTRATION = "registration"
REGISTRATION_RESULT = "registration_result"
TAX_INQUIRY = "tax_inquiry"
TAX_ANSWER = "tax_answer"

INTERFACE_IDS = {REGISTRATION: "REGISTRATION", REGISTRATION_RESULT: "REGRESULT",
                 TAX_INQUIRY: "TAXINQUIRY", TAX_ANSWER: "TAXANSWER"}
_PREFIX = {REGISTRATION: "REG_", REGISTRATION_RESULT: "REGRES_", TAX_INQUIRY: "TAXQ_",
           TAX_ANSWER: "TAXA_"}
_FOLDER = {REGISTRATION: "outbox", TAX_INQUIRY: "outbox", REGISTRATION_RESULT: "inbox",
           TAX_ANSWER: "inbox"}


def remote_prefix(interface: str) -> str:
    """``outbox/registration/REG_``: what ``Transport.list`` takes."""
    return f"{_FOLDER[interface]}/{interface}/{_PREFIX[interface]}"


def remote_name(interface: str, submission_id: str, seq: int | None = None) -> str:
    """Remote name of a file; answers to one inquiry file are numbered (late ones come later)."""
    tail = submission_id if seq is None else f"{submission_id}_{seq:03d}"
    return f"{remote_prefix(interface)}{tail}.dat"


def submission_of(interface: str, name: str) -> tuple[str, int | None]:
    """(submission id, answer number or None) from a file name of ``interface``."""
    stem = Path(name).name.removeprefix(_PREFIX[interface]).removesuffix(".dat")
    if interface == TAX_ANSWER:
        sid, _, seq = stem.rpartition("_")
        return sid, int(seq)
    return stem, None


def write_records(path: Path, interface: str, header: Mapping[str, object],
                  rows: Iterable[Mapping[str, object]]) -> int:
    """Write a file atomically (hidden temporary name, then rename); returns the data count."""
    layout = load_layout(interface)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_file_atomically(path, layout, {"interface_id": INTERFACE_IDS[interface], **header},
                                 rows)


def _plain(arr: np.ndarray, nulls: np.ndarray | None, i: int) -> object:
    if nulls is not None and nulls[i]:
        return None
    value = arr[i]
    if arr.dtype.kind == "M":
        return None if np.isnat(value) else value.astype("datetime64[D]").item()
    return value.item() if hasattr(value, "item") else value


def read_records(path: Path, interface: str) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Header and data records of a (small) file, strictly; ``RecordError`` names record and
    field, never a value. The trailer's count must equal the data records."""
    layout = load_layout(interface)
    with FixedWidthFile(path, layout) as f:
        if f.header.get("interface_id") != INTERFACE_IDS[interface]:
            raise RecordError(path, 1, "interface_id", f"not a {interface} file "
                                                       f"(expected {INTERFACE_IDS[interface]})")
        if f.trailer["record_count"] != f.data_record_count:
            raise RecordError(path, f.n_records, "record_count",
                              f"trailer says {f.trailer['record_count']} records, file has "
                              f"{f.data_record_count}")
        rows: list[dict[str, object]] = []
        for chunk in f.chunks():
            for name, bad in chunk.invalid.items():
                if bad.any():
                    raise RecordError(path, int(chunk.record_no[bad.argmax()]), name,
                                      "date does not exist in its era")
            for i in range(len(chunk)):
                rows.append({name: _plain(arr, chunk.nulls.get(name), i)
                             for name, arr in chunk.values.items() if name not in ("record_type", "filler")})
        header = {k: v for k, v in f.header.items() if k not in ("record_type", "filler")}
    return header, rows


def business_date(value: dt.date | dt.datetime) -> dt.date:
    """The calendar day in Tokyo of a run time (a date is taken as it is)."""
    if isinstance(value, dt.datetime):
        from zoneinfo import ZoneInfo

        from renkei.settings import TIMEZONE

        return value.astimezone(ZoneInfo(TIMEZONE)).date()
    return value
