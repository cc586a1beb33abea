"""The strict CSV reader: CP932, CRLF, the layout's header, typed fields, and errors that name
file, record (header = 1) and field, never the value."""

import datetime as dt

import pytest

from renkei.csvfile import load_csv_layout, read_csv
from renkei.fixedwidth.reader import RecordError

LAYOUT = load_csv_layout("tax_information")
HEADER = ",".join(LAYOUT.header)
GOOD = "01130012,00001234,00000007,00,2017,0,0,790000,790000,0,2017-07-10"


def write(tmp_path, lines, *, encoding="cp932", eol="\r\n", name="TAX_FY2017.csv", tail=True):
    text = eol.join(lines) + (eol if tail else "")
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_reads_typed_columns_and_keeps_leading_zeros(tmp_path):
    path = write(tmp_path, [HEADER, GOOD, "01130012,00001234,00000007,01,2017,1,120000,"
                            "1500000,,,2017-07-10"])
    v = read_csv(path, LAYOUT)
    assert v["record_no"] == [2, 3]
    assert v["symbol"] == ["00001234", "00001234"]
    assert v["branch_number"] == ["00", "01"]
    assert v["taxable"] == [False, True]
    assert v["revenue_yen"] == [790000, 1500000]
    assert v["public_pension_revenue_yen"] == [790000, None]
    assert v["received_on"] == [dt.date(2017, 7, 10)] * 2


@pytest.mark.parametrize(
    ("lines", "kwargs", "record", "field", "reason"),
    [
        ([HEADER, GOOD], {"encoding": "utf-8-sig"}, 1, None, "byte order mark"),
        ([HEADER, GOOD], {"eol": "\n"}, 1, None, "not CRLF"),
        ([HEADER, GOOD], {"tail": False}, 2, None, "truncated"),
        (["insurer_number,symbol", GOOD], {}, 1, None, "header row differs"),
        ([HEADER, GOOD + ",1"], {}, 2, None, "12 fields"),
        ([HEADER, GOOD.replace("2017,0,0", "2017,0,\uff10")], {}, 2, "income_yen", "non-ASCII"),
        ([HEADER, GOOD.replace(",790000,790000", ",,790000")], {}, 2, "revenue_yen", "blank"),
        ([HEADER, GOOD.replace("2017-07-10", "2017-02-30")], {}, 2, "received_on", "does not exist"),
        ([HEADER, GOOD.replace("2017,0,", "2017,2,")], {}, 2, "taxable", "1 or 0"),
        ([HEADER, GOOD.replace("01130012,", "0113001,")], {}, 2, "insurer_number", "8 digits"),
        ([HEADER, GOOD.replace(",790000,0,", ",-790000,0,")], {}, 2, "public_pension_revenue_yen",
         "not ASCII digits"),
    ],
)
def test_rejects_with_file_record_and_field_but_no_value(tmp_path, lines, kwargs, record, field, reason):
    path = write(tmp_path, lines, **kwargs)
    with pytest.raises(RecordError) as exc:
        read_csv(path, LAYOUT)
    err = exc.value
    assert err.file == "TAX_FY2017.csv"
    assert err.record_no == record
    assert (err.field or "").split(" ")[0] == (field or "")
    assert reason in str(err)
    for secret in ("00001234", "00000007", "790000"):
        assert secret not in str(err)


def test_rejects_utf8_where_cp932_is_expected(tmp_path):
    path = write(tmp_path, [HEADER, GOOD + "髙"], encoding="utf-8")
    with pytest.raises(RecordError, match="record 2: not valid CP932"):
        read_csv(path, LAYOUT)


def test_rejects_nul_padding(tmp_path):
    path = tmp_path / "TAX_FY2017.csv"
    path.write_bytes((HEADER + "\r\n" + GOOD + "\r\n").encode() + b"\x00" * 8 + b"\r\n")
    with pytest.raises(RecordError, match="record 3: NUL"):
        read_csv(path, LAYOUT)


def test_rejects_an_empty_file(tmp_path):
    path = tmp_path / "TAX_FY2017.csv"
    path.write_bytes(b"")
    with pytest.raises(RecordError, match="empty"):
        read_csv(path, LAYOUT)
