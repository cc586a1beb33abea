"""The pension service's file: one test per kind of bad input, and the check digit.

Every bad file must be rejected with a message naming the file, the record and the field
(never a value), be moved to quarantine with a ``.reason.txt``, leave nothing of itself in
the vault, and not stop a good file delivered beside it. The check-digit rule runs in DuckDB
(``expectations/_common.sql``) and is tested against python-stdnum.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.jp import in_ as stdnum_my_number

from renkei import collection, pipeline
from renkei.fixedwidth.writer import write_file
from renkei.gate import EXPECTATIONS_DIR
from renkei.identifiers import my_number_with_check_digit
from renkei.interfaces import pension
from renkei.layout import load_layout
from renkei.settings import paths
from renkei.tokens import Tokenizer

LAYOUT = load_layout("pension_my_numbers")
STRIDE = LAYOUT.stride
INSURER, SYMBOL = "01130012", "00001234"
FILE_DAY = dt.date(2017, 8, 7)
RUN = "20170807T0600"
MEMBERS = 200
_next_block = itertools.count()


def birth(i: int) -> dt.date:
    return dt.date(1960, 1, 1) + dt.timedelta(days=37 * i)


def number_of(i: int) -> str:
    return my_number_with_check_digit(f"{10**10 + 7919 * i:011d}")


def eligibility_extract() -> bytes:
    """An eligibility extract for July 2017: MEMBERS insured persons 00000000 .. (synthetic)."""
    layout = load_layout("eligibility_extract")
    header = {"interface_id": "ELIGIBILITY", "period": "201707", "created_date": dt.date(2017, 8, 4),
              "sender_code": "90000001"}
    rows = [{"insurer_number": INSURER, "symbol": SYMBOL, "number": f"{i:08d}", "branch_number": "00",
             "relationship": "1", "name_kanji": "高橋\u3000一郎", "name_kana": "ﾀｶﾊｼ ｲﾁﾛｳ", "sex": "1",
             "birth_date": birth(i), "acquired_date": dt.date(2010, 4, 1), "lost_date": None,
             "standard_monthly_remuneration": 300000, "grade": "22", "postal_code": "1000001",
             "address_kanji": "東京都千代田区千代田１丁目２番３号"} for i in range(MEMBERS)]
    buf = io.BytesIO()
    write_file(buf, layout, header, rows)
    return buf.getvalue()


@pytest.fixture(scope="module")
def warehouse_with_july(tmp_path_factory):
    """One eligibility month loaded for the whole module; each test takes fresh members."""
    root = tmp_path_factory.mktemp("pension")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("var", "exchange", "reports"):
            mp.setenv(f"RENKEI_{name.upper()}", str(root / name))
        source = paths().inbox("eligibility_extract") / "ELIG_201707.dat"
        source.parent.mkdir(parents=True)
        source.write_bytes(eligibility_extract())
        staged = pipeline.read_extract(source, dt.date(2017, 7, 1))
        pipeline.gate_extract(staged)
        pipeline.load_extract(staged)
        yield root


@pytest.fixture
def members(warehouse_with_july):
    """Six members nobody else in this module uses (numbers must not repeat across files)."""
    block = next(_next_block)
    assert (block + 1) * 6 <= MEMBERS
    return list(range(block * 6, block * 6 + 6))


def record(i: int, **over) -> dict:
    row = {"insurer_number": INSURER, "symbol": SYMBOL, "number": f"{i:08d}", "name_kanji": "高橋\u3000一郎",
           "birth_date": birth(i), "my_number": number_of(i)}
    row.update(over)
    return row


def pension_file(rows, day: dt.date = FILE_DAY) -> bytes:
    buf = io.BytesIO()
    write_file(buf, LAYOUT, {"interface_id": "NENKIN_MN", "created_date": day, "sender_code": "99100001"},
               rows)
    return buf.getvalue()


def offset(name: str, kind: str = "data") -> int:
    return LAYOUT.records[kind].field(name).offset


def patch(data: bytes, record_no: int, field: str, value: bytes, kind: str = "data") -> bytes:
    """Replace a field's bytes in record ``record_no`` (the header is record 1)."""
    start = (record_no - 1) * STRIDE + offset(field, kind)
    return data[:start] + value + data[start + len(value):]


def deliver(name: str, data: bytes):
    inbox = paths().inbox(pension.INTERFACE)
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(data)
    return inbox / name


def token(i: int) -> str:
    return Tokenizer().token(f"{INSURER}{SYMBOL}{i:08d}00".encode())


def in_vault(i: int) -> bool:
    with collection.open_vault() as vault:
        return vault.contains(token(i))


def take_in_with_a_good_file(bad_name: str, bad: bytes, good_members: list[int]) -> dict:
    """Deliver the bad file and a good one beside it; take both in."""
    day = dt.date(2017, 8, 6) if bad_name > "NENKIN_20170806.dat" else dt.date(2017, 8, 8)
    deliver(f"NENKIN_{day:%Y%m%d}.dat", pension_file([record(i) for i in good_members], day))
    deliver(bad_name, bad)
    return collection.intake_pension_files(RUN)


def assert_rejected(out: dict, name: str, *, record: int | None, field: str | None, words: str,
                    bad_members: list[int], good_members: list[int]) -> str:
    (rejected,) = out["rejected"]
    reason = rejected["reason"]
    assert rejected["file"] == name and name in reason
    if record is not None:
        assert f"record {record}" in reason or f"records {record}" in reason, reason
    if field is not None:
        assert f"field {field}" in reason, reason
    assert words in reason, reason
    quarantined = Path(rejected["quarantined_to"])
    assert quarantined.parent == paths().quarantine(pension.INTERFACE) and quarantined.exists()
    reason_file = quarantined.parent / f"{quarantined.name}.reason.txt"
    assert reason_file.read_text("utf-8").strip() == reason.strip()
    assert not any(number_of(i) in reason for i in range(MEMBERS)), "a number leaked into the reason"
    assert not any(in_vault(i) for i in bad_members), "something of the bad file was stored"
    assert [f["file"] for f in out["loaded"]] != [] and all(in_vault(i) for i in good_members)
    return reason


# -- encoding and framing (the reader) --------------------------------------------------------
def test_utf8_where_cp932_is_expected(members):
    good, bad = members[:2], members[2:4]
    data = pension_file([record(i) for i in bad])
    data = patch(data, 3, "name_kanji", "髙橋\u3000一郎".encode("utf-8").ljust(40, b" "))
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=3, field="name_kanji", words="UTF-8",
                    bad_members=bad, good_members=good)


def test_byte_order_mark(members):
    good, bad = members[:2], members[2:4]
    data = b"\xef\xbb\xbf" + pension_file([record(i) for i in bad])
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=1, field=None, words="byte-order mark",
                    bad_members=bad, good_members=good)


def test_kanji_cut_by_a_field_boundary(members):
    good, bad = members[:2], members[2:4]
    data = pension_file([record(i) for i in bad])
    lead, trail = "橋".encode("cp932")
    # A legacy writer put 39 bytes and the lead byte of 橋 in the name; its trail byte spilled
    # into the birth date that follows.
    data = patch(data, 2, "name_kanji", "高高高".encode("cp932").ljust(39, b" ") + bytes([lead]))
    data = patch(data, 2, "birth_date", bytes([trail]))
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=2, field="name_kanji",
                    words="cut by the field boundary", bad_members=bad, good_members=good)


def test_truncated_last_record(members):
    good, bad = members[:2], members[2:4]
    data = pension_file([record(i) for i in bad])[:-50]
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=4, field=None, words="truncated",
                    bad_members=bad, good_members=good)


def test_nul_padding(members):
    good, bad = members[:2], members[2:4]
    data = patch(pension_file([record(i) for i in bad]), 3, "filler", b"\0" * 36)
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=3, field="filler", words="NUL",
                    bad_members=bad, good_members=good)


@pytest.mark.parametrize("digits", ["１２３４５６", "①②③④⑤⑥"], ids=["full-width", "circled"])
def test_non_ascii_digits_in_a_number_field(members, digits):
    good, bad = members[:2], members[2:4]
    data = patch(pension_file([record(i) for i in bad]), 2, "my_number", digits.encode("cp932"))
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=2, field="my_number", words="non-ASCII",
                    bad_members=bad, good_members=good)


# -- content (the gate, in DuckDB) -------------------------------------------------------------
def test_record_count_differs_from_the_trailer(members):
    good, bad = members[:2], members[2:4]
    data = pension_file([record(i) for i in bad])
    data = patch(data, 4, "record_count", b"000000003", kind="trailer")
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=None, field=None,
                    words="2 data records, trailer says 3", bad_members=bad, good_members=good)


def test_empty_file_with_only_header_and_trailer(members):
    good = members[:2]
    out = take_in_with_a_good_file("NENKIN_20170807.dat", pension_file([]), good)
    assert_rejected(out, "NENKIN_20170807.dat", record=None, field=None, words="no data records",
                    bad_members=[], good_members=good)


def test_invalid_check_digit_loads_nothing_of_the_file(members):
    good, bad = members[:2], members[2:5]
    wrong = number_of(bad[2])[:11] + str((int(number_of(bad[2])[11]) + 1) % 10)
    data = pension_file([record(bad[0]), record(bad[1]), record(bad[2], my_number=wrong)])
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    reason = assert_rejected(out, "NENKIN_20170807.dat", record=4, field="my_number", words="check digit",
                             bad_members=bad, good_members=good)
    assert wrong not in reason


@pytest.mark.parametrize("era_date", [b"4310501", b"3640108", b"4000101", b"4310230"],
                         ids=["平成31年5月1日", "昭和64年1月8日", "平成0年", "2月30日"])
def test_impossible_era_dates(members, era_date):
    good, bad = members[:2], members[2:4]
    data = patch(pension_file([record(i) for i in bad]), 3, "birth_date", era_date)
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=3, field="birth_date", words="does not exist",
                    bad_members=bad, good_members=good)


def test_same_member_twice_within_a_file(members):
    good, bad = members[:2], members[2:4]
    data = pension_file([record(bad[0]), record(bad[1]), record(bad[0])])
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=2, field="symbol+number", words="more than once",
                    bad_members=bad, good_members=good)


def test_same_number_for_two_members_within_a_file(members):
    good, bad = members[:2], members[2:4]
    data = pension_file([record(bad[0]), record(bad[1], my_number=number_of(bad[0]))])
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    assert_rejected(out, "NENKIN_20170807.dat", record=2, field="my_number", words="more than one record",
                    bad_members=bad, good_members=good)


def test_member_already_delivered_in_an_earlier_file(members):
    first, later = members[:2], members[2:4]
    deliver("NENKIN_20170801.dat", pension_file([record(i) for i in first], dt.date(2017, 8, 1)))
    assert collection.intake_pension_files(RUN)["rejected"] == []
    data = pension_file([record(later[0]), record(first[1])])
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, [later[1]])
    assert_rejected(out, "NENKIN_20170807.dat", record=3, field="symbol+number", words="earlier",
                    bad_members=[later[0]], good_members=[later[1]])


def test_same_file_delivered_twice(members):
    good, again = members[:2], members[2:4]
    data = pension_file([record(i) for i in again])
    deliver("NENKIN_20170807.dat", data)
    assert collection.intake_pension_files(RUN)["loaded"][0]["file"] == "NENKIN_20170807.dat"
    with collection.open_vault() as vault:
        before = vault.count()
    out = take_in_with_a_good_file("NENKIN_20170807.dat", data, good)
    reason = assert_rejected(out, "NENKIN_20170807.dat", record=None, field=None, words="identical bytes",
                             bad_members=[], good_members=good)
    assert "already taken in" in reason
    with collection.open_vault() as vault:
        assert vault.count() == before + len(good)


def test_a_good_file_is_stored_and_deleted_with_a_receipt_left(members):
    data = pension_file([record(i) for i in members])
    deliver("NENKIN_20170807.dat", data)
    out = collection.intake_pension_files(RUN)
    assert out["rejected"] == []
    assert out["loaded"][0]["outcomes"] == {"from_pension_file": len(members)}
    with collection.open_vault() as vault:
        assert [vault.get(token(i), "test_verification") for i in members] == [number_of(i) for i in members]
    assert not (paths().inbox(pension.INTERFACE) / "NENKIN_20170807.dat").exists()
    receipt = paths().archive(pension.INTERFACE) / "NENKIN_20170807.dat.receipt.json"
    assert receipt.exists() and not any(number_of(i) in receipt.read_text("utf-8") for i in members)


def test_a_record_for_nobody_in_the_eligibility_month_is_not_stored_until_corrected(members):
    known, stranger = members[0], members[1]
    data = pension_file([record(known), record(stranger, birth_date=birth(stranger) + dt.timedelta(days=1))])
    deliver("NENKIN_20170807.dat", data)
    out = collection.intake_pension_files(RUN)
    assert out["loaded"][0]["outcomes"] == {"from_pension_file": 1, "pension_not_matched": 1}
    assert out["loaded"][0]["warnings"] == ["not_a_current_member"]
    assert in_vault(known) and not in_vault(stranger)
    # the pension service corrects the birth date: the record is not a duplicate of the first
    deliver("NENKIN_20170808.dat", pension_file([record(stranger)], dt.date(2017, 8, 8)))
    out = collection.intake_pension_files(RUN)
    assert out["rejected"] == [] and out["loaded"][0]["outcomes"] == {"from_pension_file": 1}
    assert in_vault(stranger)


def test_files_wait_in_the_inbox_until_an_eligibility_month_is_loaded(workspace):
    path = deliver("NENKIN_20170807.dat", pension_file([record(0)]))
    assert collection.intake_pension_files(RUN) == {"interface": pension.INTERFACE, "run_id": RUN,
                                                     "loaded": [], "rejected": []}
    assert path.exists()


# -- the check digit, in DuckDB, against python-stdnum -------------------------------------------
@pytest.fixture(scope="module")
def duck():
    con = duckdb.connect()
    con.execute((EXPECTATIONS_DIR / "_common.sql").read_text("utf-8"))
    yield con
    con.close()


def macro_says(con, values: list[str]) -> list[bool]:
    return [r[0] for r in con.execute(
        "select my_number_ok(v) from unnest(?) with ordinality as t(v, i) order by i", [values]).fetchall()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("0123456789", min_size=11, max_size=11), min_size=1, max_size=40))
def test_check_digit_macro_accepts_what_stdnum_computes_and_no_other_digit(duck, bodies):
    valid = [b + stdnum_my_number.calc_check_digit(b) for b in bodies]
    others = [b + d for b in bodies for d in "0123456789" if d != stdnum_my_number.calc_check_digit(b)]
    assert macro_says(duck, valid) == [True] * len(valid)
    assert macro_says(duck, others) == [False] * len(others)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("0123456789", min_size=12, max_size=12) | st.text(min_size=0, max_size=14),
                min_size=1, max_size=40))
def test_check_digit_macro_agrees_with_stdnum_on_any_text(duck, values):
    # the platform's rule: exactly 12 ASCII digits (stdnum would also strip separators)
    expected = [len(v) == 12 and v.isascii() and v.isdigit() and stdnum_my_number.is_valid(v) for v in values]
    assert macro_says(duck, values) == expected


@pytest.mark.parametrize(("value", "ok"), [
    ("123456789018", True), ("983205673214", True),   # DOMAIN.md section 2
    ("123456789017", False), ("12345678901", False), ("1234567890180", False),
    ("１２３４５６７８９０１８", False),
])
def test_check_digit_macro_on_the_documented_examples(duck, value, ok):
    assert macro_says(duck, [value]) == [ok]


def test_a_read_file_prints_no_numbers(members, tmp_path):
    """What pension.read returns may reach a log line by accident: its repr names the file
    and the count, never a number."""
    path = tmp_path / f"NENKIN_{FILE_DAY:%Y%m%d}.dat"
    path.write_bytes(pension_file([record(i) for i in members[:2]]))
    read = pension.read(path)
    assert repr(read) == f"PensionFile('{path.name}', 2 records)"
    assert read.file_name == path.name
    assert not any(number_of(i) in repr(read) or number_of(i) in str(read) for i in members)
