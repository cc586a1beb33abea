"""The My Number inquiry to J-LIS and its answer (platform <-> 地方公共団体情報システム機構).

* ``JLIS_Q_<run>.dat`` (``layouts/jlis_inquiry.json``): one record per member still without a
  number, carrying an inquiry id (never an insurer key) and the four basic facts normalised
  by :mod:`renkei.matching`. Written atomically into ``exchange/outbox/jlis/``.
* ``JLIS_A_<run>.dat`` (``layouts/jlis_answer.json``): one record per inquiry with the result
  (1 one match with the number, 2 several candidates, 3 no match), delivered into
  ``exchange/inbox/jlis_answer/``. Read strictly; the numbers stay in memory.

``<run>`` is the run id (Tokyo time of the run, ``YYYYMMDDTHHMM``) and is repeated in both
headers, so an answer can only be taken for the inquiry it answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from renkei.exchange import sha256_of
from renkei.fixedwidth.reader import FixedWidthFile, RecordError
from renkei.fixedwidth.writer import write_file_atomically
from renkei.interfaces import ReadFile
from renkei.layout import load_layout
from renkei.settings import paths

INQUIRY = "jlis_inquiry"
ANSWER = "jlis_answer"
INQUIRY_ID = "JLIS_INQUIRY"
ANSWER_ID = "JLIS_ANSWER"
SOURCE = "jlis"                     # the vault's label for numbers from J-LIS
# 送信元コード of the platform on the inquiry (fictitious, 8 digits).
PLATFORM_SENDER_CODE = "99000002"

RESULT_ONE_MATCH, RESULT_SEVERAL, RESULT_NO_MATCH = "1", "2", "3"
RESULTS = (RESULT_ONE_MATCH, RESULT_SEVERAL, RESULT_NO_MATCH)

ANSWER_SCHEMA = pa.schema([
    ("record_no", pa.int64()),
    ("inquiry_id", pa.string()),
    ("result", pa.string()),
    ("candidate_count", pa.int64()),
    ("my_number", pa.string()),
])


def outbox() -> Path:
    return paths().exchange / "outbox" / "jlis"


def inquiry_file_name(run_id: str) -> str:
    return f"JLIS_Q_{run_id}.dat"


def answer_file_name(run_id: str) -> str:
    return f"JLIS_A_{run_id}.dat"


def write_inquiry(path: Path, run_id: str, created: dt.date, rows: Iterable[Mapping[str, object]]) -> int:
    """Write the inquiry atomically (hidden ``.part`` file, then rename); return the count.

    A value the layout would have to cut is refused rather than cut: J-LIS would compare a
    shortened name or address and find nobody.
    """
    layout = load_layout(INQUIRY)
    header = {"interface_id": INQUIRY_ID, "run_id": run_id, "created_date": created,
              "sender_code": PLATFORM_SENDER_CODE}
    return write_file_atomically(path, layout, header, (_fits(layout, row) for row in rows))


class ValueTooLong(ValueError):
    """A normalised fact does not fit its field; the message names the field, not the value."""


def _fits(layout, row: Mapping[str, object]) -> Mapping[str, object]:
    for name in ("name_kanji", "name_kana", "address_kanji"):
        f = layout.data.field(name)
        if len(str(row[name]).encode(layout.encoding)) > f.length:
            raise ValueTooLong(f"inquiry {row['inquiry_id']}: field {name} needs more than "
                               f"{f.length} bytes")
    return row


@dataclass(frozen=True, repr=False)
class AnswerFile(ReadFile):
    """A read answer. ``records`` holds numbers: keep it in memory, never in XCom or logs."""

    source: Path
    file_sha256: str
    run_id: str
    data_record_count: int
    trailer_record_count: int
    records: pa.Table


def read_answer(source: Path, run_id: str) -> AnswerFile:
    """Read an answer strictly; raise :class:`RecordError` naming file, record and field."""
    layout = load_layout(ANSWER)
    with FixedWidthFile(source, layout) as f:
        if f.header.get("interface_id") != ANSWER_ID:
            raise RecordError(source, 1, "interface_id", f"not a J-LIS answer (expected {ANSWER_ID})")
        if f.header.get("run_id") != run_id:
            raise RecordError(source, 1, "run_id", "answers another run's inquiry")
        tables = []
        for chunk in f.chunks():
            v = chunk.values
            tables.append(pa.table({
                "record_no": pa.array(chunk.record_no),
                "inquiry_id": pa.array(v["inquiry_id"], pa.string()),
                "result": pa.array(v["result"], pa.string()),
                "candidate_count": pa.array(v["candidate_count"]),
                "my_number": pa.array(v["my_number"], pa.string()),
            }, schema=ANSWER_SCHEMA))
        records = pa.concat_tables(tables) if tables else ANSWER_SCHEMA.empty_table()
        return AnswerFile(source=source, file_sha256=sha256_of(source), run_id=run_id,
                          data_record_count=f.data_record_count,
                          trailer_record_count=int(f.trailer["record_count"]), records=records)
