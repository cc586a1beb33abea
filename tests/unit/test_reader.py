"""The layout-driven reader: byte offsets, strict CP932, trimming, and errors that name the
file, record and field (never the value)."""

import datetime as dt
import io

import numpy as np
import pytest

from renkei.fixedwidth.reader import FixedWidthFile, RecordError
from renkei.fixedwidth.writer import write_file
from renkei.layout import load_layout

LAYOUT = load_layout("eligibility_extract")
STRIDE = LAYOUT.stride
HEADER = {"interface_id": "ELIGIBILITY", "period": "201707", "created_date": dt.date(2017, 8, 4),
          "sender_code": "90000001"}


def person(**over):
    row = {
        "insurer_number": "01130012", "symbol": "00001234", "number": "00000007",
        "branch_number": "00", "relationship": "1",
        # 髙 and ① exist only in CP932; ｶﾅ are single bytes: byte offsets differ from
        # character offsets in both fields.
        "name_kanji": "髙橋\u3000①子", "name_kana": "ﾀｶﾊｼ ﾏﾙｺ", "sex": "2",
        "birth_date": dt.date(1989, 1, 7), "acquired_date": dt.date(2010, 4, 1), "lost_date": None,
        "standard_monthly_remuneration": 280000, "grade": "21", "postal_code": "1000001",
        "address_kanji": "東京都千代田区千代田１－１",
    }
    row.update(over)
    return row


def build(rows, header=HEADER) -> bytes:
    buf = io.BytesIO()
    write_file(buf, LAYOUT, header, rows)
    return buf.getvalue()


def read_all(path):
    with FixedWidthFile(path, LAYOUT) as f:
        chunks = list(f.chunks())
        return f, chunks


# Ways of reading a file: every field kept as Python objects in one thread; or only the
# fields staging keeps, as Arrow arrays, a record per chunk parsed ahead by two threads,
# so dropped kanji fields take the table check and errors must still come in file order.
STAGED = ("insurer_number", "symbol", "number", "branch_number", "relationship", "sex",
          "birth_date", "acquired_date", "lost_date", "standard_monthly_remuneration", "grade")
MODES = {
    "kept": {"threads": 1},
    "staged-threads": {"columns": STAGED, "strings": "arrow", "threads": 2, "chunk_records": 1},
}


@pytest.fixture(params=sorted(MODES))
def read(request):
    def read(path):
        with FixedWidthFile(path, LAYOUT, **MODES[request.param]) as f:
            return f, list(f.chunks())
    return read


def put(tmp_path, data: bytes, name="ELIG_201707.dat"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_kanji_and_half_width_kana_sliced_by_bytes(tmp_path):
    p = put(tmp_path, build([person(), person(number="00000008", name_kanji="齋藤\u3000一",
                                              name_kana="ｻｲﾄｳ ﾊｼﾞﾒ", sex="1")]))
    f, chunks = read_all(p)
    (c,) = chunks
    assert list(c.record_no) == [2, 3]  # the header is record 1
    assert list(c.values["name_kanji"]) == ["髙橋\u3000①子", "齋藤\u3000一"]  # inner U+3000 kept
    assert list(c.values["name_kana"]) == ["ﾀｶﾊｼ ﾏﾙｺ", "ｻｲﾄｳ ﾊｼﾞﾒ"]
    # Fields after the text fields land on the right bytes.
    assert list(c.values["sex"]) == ["2", "1"]
    assert c.values["birth_date"][0] == np.datetime64("1989-01-07")
    assert list(c.values["insurer_number"]) == ["01130012", "01130012"]
    assert list(c.values["number"]) == ["00000007", "00000008"]  # leading zeros kept
    assert list(c.values["standard_monthly_remuneration"]) == [280000, 280000]
    assert f.header["period"] == "201707"
    assert f.trailer["record_count"] == 2


def test_optional_fields_blank_become_null(tmp_path):
    p = put(tmp_path, build([person(relationship="2", branch_number="01", grade=None,
                                    standard_monthly_remuneration=None)]))
    _, (c,) = read_all(p)
    assert c.values["grade"][0] is None and c.nulls["grade"][0]
    assert c.nulls["standard_monthly_remuneration"][0]
    assert np.isnat(c.values["lost_date"][0]) and c.nulls["lost_date"][0]


def test_impossible_era_date_is_flagged_not_raised(tmp_path):
    data = bytearray(build([person()]))
    off = STRIDE + LAYOUT.data.field("birth_date").offset
    data[off:off + 7] = b"3640108"  # 昭和64年1月8日 does not exist
    _, (c,) = read_all(put(tmp_path, bytes(data)))
    assert c.invalid["birth_date"][0]
    assert np.isnat(c.values["birth_date"][0])


def test_chunks_cover_every_record(tmp_path):
    rows = [person(number=f"{i:08d}") for i in range(1, 26)]
    p = put(tmp_path, build(rows))
    with FixedWidthFile(p, LAYOUT, columns=["number"], chunk_records=7) as f:
        got = [n for c in f.chunks() for n in c.values["number"]]
    assert got == [f"{i:08d}" for i in range(1, 26)]


def _corrupt(tmp_path, mutate):
    data = bytearray(build([person(), person(number="00000008")]))
    data = mutate(data)
    return put(tmp_path, bytes(data))


def _field_offset(name):
    return STRIDE + LAYOUT.data.field(name).offset  # record 2


@pytest.mark.parametrize(("mutate", "record", "field", "words"), [
    (lambda d: b"\xef\xbb\xbf" + d, 1, None, "byte-order mark"),
    (lambda d: d[:-5], 4, None, "truncated"),
    (lambda d: d.replace(b"\r\n", b"\n"), 1, None, "CRLF"),
    (lambda d: d[:-STRIDE], 3, "record_type", "trailer"),
    (lambda d: d[:_field_offset("filler")] + b"\0" + d[_field_offset("filler") + 1:], 2, "filler", "NUL"),
    (lambda d: d[:_field_offset("number")] + "０".encode("cp932") + d[_field_offset("number") + 2:],
     2, "number", "non-ASCII"),
    (lambda d: d[:_field_offset("sex")] + b" " + d[_field_offset("sex") + 1:], 2, "sex", "blank"),
    (lambda d: d[:_field_offset("name_kanji")]
     + "髙橋".encode("cp932") + "\u3000".encode("cp932") * 17 + b" \x88"
     + d[_field_offset("name_kana"):], 2, "name_kanji", "cut by the field boundary"),
    (lambda d: d[:_field_offset("name_kanji")] + b"\x81\x7f" + d[_field_offset("name_kanji") + 2:],
     2, "name_kanji", "not valid CP932"),
    (lambda d: d[:_field_offset("name_kana")] + "タ".encode("cp932") + d[_field_offset("name_kana") + 2:],
     2, "name_kana", "half-width"),
])
def test_bad_input_names_file_record_and_field(read, tmp_path, mutate, record, field, words):
    p = _corrupt(tmp_path, mutate)
    with pytest.raises(RecordError) as exc:
        read(p)
    err = exc.value
    assert err.file == "ELIG_201707.dat"
    assert err.record_no == record
    assert err.field == field
    assert words in str(err)
    assert "髙橋" not in str(err) and "00000008" not in str(err)


def test_whole_file_in_utf8_is_rejected(read, tmp_path):
    data = build([person()]).decode("cp932").encode("utf-8")
    with pytest.raises(RecordError):
        read(put(tmp_path, data))


def test_utf8_text_of_the_right_length_is_rejected(read, tmp_path):
    # A UTF-8 writer that pads to the byte length: the framing is fine, the encoding is not.
    data = bytearray(build([person()]))
    off = _field_offset("name_kanji")
    data[off:off + 40] = "髙橋\u3000一子".encode("utf-8").ljust(40, b" ")
    with pytest.raises(RecordError, match="UTF-8") as exc:
        read(put(tmp_path, bytes(data)))
    assert exc.value.field == "name_kanji"


def test_empty_file(read, tmp_path):
    with pytest.raises(RecordError, match="empty"):
        read(put(tmp_path, b""))


def test_header_and_trailer_only_reads_no_records(tmp_path):
    f, chunks = read_all(put(tmp_path, build([])))
    assert chunks == [] and f.data_record_count == 0 and f.trailer["record_count"] == 0


def test_all_zero_date_is_invalid_not_blank(tmp_path):
    data = bytearray(build([person()]))
    for name in ("birth_date", "lost_date"):
        off = _field_offset(name)
        data[off:off + 7] = b"0000000"
    _, (c,) = read_all(put(tmp_path, bytes(data)))
    assert c.invalid["birth_date"][0] and c.invalid["lost_date"][0]


@pytest.mark.parametrize(("raw", "words"), [
    (b"\t", "control"), (b"\x80", "control or non-text"), (b"\xfd", "control or non-text"),
    ("\ue000".encode("cp932"), "外字"),
])
def test_non_text_bytes_in_kanji_field(read, tmp_path, raw, words):
    data = bytearray(build([person(), person(number="00000008")]))
    off = _field_offset("name_kanji") + STRIDE  # record 3
    data[off + 4:off + 4 + len(raw)] = raw
    with pytest.raises(RecordError, match=words) as exc:
        read(put(tmp_path, bytes(data)))
    assert (exc.value.record_no, exc.value.field) == (3, "name_kanji")


@pytest.mark.parametrize("name", ["name_kanji", "name_kana", "address_kanji"])
def test_required_text_field_blank(read, tmp_path, name):
    data = bytearray(build([person(), person(number="00000008")]))
    f = LAYOUT.data.field(name)
    data[STRIDE * 2 + f.offset:STRIDE * 2 + f.end] = b" " * f.length
    with pytest.raises(RecordError, match="required field is blank") as exc:
        read(put(tmp_path, bytes(data)))
    assert (exc.value.record_no, exc.value.field) == (3, name)


def test_short_record_in_the_middle_is_named(read, tmp_path):
    data = build([person(number=f"{i:08d}") for i in range(1, 6)])
    off = STRIDE * 2 + 200  # inside record 3
    with pytest.raises(RecordError, match="shorter or longer") as exc:
        read(put(tmp_path, data[:off] + data[off + 1:]))
    assert exc.value.record_no == 3


@pytest.mark.parametrize("tail", [b"\r\n", b"\x1a"])
def test_extra_bytes_after_the_trailer(read, tmp_path, tail):
    data = build([person()])
    with pytest.raises(RecordError, match="extra bytes"):
        read(put(tmp_path, data + tail))


def test_impossible_date_in_header_is_an_error(read, tmp_path):
    data = bytearray(build([person()]))
    off = LAYOUT.header.field("created_date").offset
    data[off:off + 7] = b"3640108"
    with pytest.raises(RecordError, match="does not exist") as exc:
        read(put(tmp_path, bytes(data)))
    assert (exc.value.record_no, exc.value.field) == (1, "created_date")


def _as_lists(chunks, name):
    out = []
    for c in chunks:
        v = c.values[name]
        out.extend(v.to_pylist() if hasattr(v, "to_pylist") else v.tolist())
    return out


def test_every_way_of_reading_gives_the_same_values(tmp_path):
    rows = [person(number=f"{i:08d}",
                   # half-width characters in a kanji field take the exact decoding path
                   name_kanji="ＡＢ商事\u3000太郎" if i % 3 else "Abe Taro",
                   lost_date=dt.date(2017, 7, 31) if i % 4 == 0 else None,
                   grade=None if i % 5 == 0 else f"{i % 50 + 1:02d}",
                   standard_monthly_remuneration=None if i % 5 == 0 else 98000 + i * 1000,
                   birth_date=dt.date(1989, 1, 7) + dt.timedelta(days=i * 37))
            for i in range(1, 30)]
    data = bytearray(build(rows))
    off = STRIDE * 4 + LAYOUT.data.field("acquired_date").offset  # record 5: no such day
    data[off:off + 7] = b"4310230"
    p = put(tmp_path, bytes(data))
    with FixedWidthFile(p, LAYOUT, threads=1) as f:
        reference = list(f.chunks())
    for kwargs in ({"strings": "arrow", "threads": 2, "chunk_records": 4, "columns": STAGED},
                   {"threads": 3, "chunk_records": 5}):
        with FixedWidthFile(p, LAYOUT, **kwargs) as f:
            chunks = list(f.chunks())
        for name in kwargs.get("columns", [f.name for f in LAYOUT.data.fields if f.type != "filler"]):
            assert _as_lists(chunks, name) == _as_lists(reference, name), name
        for name in ("birth_date", "acquired_date", "lost_date"):
            assert np.concatenate([c.invalid[name] for c in chunks]).tolist() == \
                np.concatenate([c.invalid[name] for c in reference]).tolist()
    assert np.concatenate([c.invalid["acquired_date"] for c in reference]).tolist() == \
        [i == 3 for i in range(29)]
    assert _as_lists(reference, "grade")[4] is None and _as_lists(reference, "grade")[0] == "02"


def test_arrow_code_fields_keep_their_bytes(tmp_path):
    p = put(tmp_path, build([person(grade=None), person(number="00000008")]))
    with FixedWidthFile(p, LAYOUT, columns=STAGED, strings="arrow") as f:
        (c,) = f.chunks()
    assert c.values["grade"].to_pylist() == [None, "21"]
    assert c.values["number"].to_pylist() == ["00000007", "00000008"]
    assert c.raw["number"].tobytes() == b"0000000700000008"


def test_first_bad_record_in_the_file_wins_across_threads(tmp_path):
    data = bytearray(build([person(number=f"{i:08d}") for i in range(1, 21)]))
    for record, name, value in ((15, "sex", b"x"), (6, "name_kanji", b"\x81\x7f")):
        off = STRIDE * (record - 1) + LAYOUT.data.field(name).offset
        data[off:off + len(value)] = value
    p = put(tmp_path, bytes(data))
    for threads in (1, 2, 4):
        with FixedWidthFile(p, LAYOUT, columns=STAGED, threads=threads, chunk_records=2) as f, \
                pytest.raises(RecordError) as exc:
            list(f.chunks())
        assert (exc.value.record_no, exc.value.field) == (6, "name_kanji"), threads


def test_kanji_field_of_ideographic_spaces_is_blank(read, tmp_path):
    data = bytearray(build([person(), person(number="00000008")]))
    f = LAYOUT.data.field("address_kanji")
    data[STRIDE * 2 + f.offset:STRIDE * 2 + f.end] = "\u3000".encode("cp932") * (f.length // 2)
    with pytest.raises(RecordError, match="required field is blank") as exc:
        read(put(tmp_path, bytes(data)))
    assert (exc.value.record_no, exc.value.field) == (3, "address_kanji")


def test_the_double_byte_table_knows_text_from_the_rest():
    from renkei.fixedwidth.reader import _text_pairs_allowed
    table = _text_pairs_allowed("cp932")
    allowed = {0x8140: "\u3000", 0x889F: "亜", 0xEAA4: "熙", 0x8740: "①", 0xFA40: "ⅰ", 0xFBFC: "髙"}
    for value, ch in allowed.items():
        assert value.to_bytes(2, "big").decode("cp932") == ch and table[value], ch
    # 外字 (user-defined area), an undefined trail byte, an unassigned row, a half-width
    # katakana pair: none may pass without the exact decoding path.
    for value in (0xF040, 0xF9FC, 0x817F, 0x85A0, 0xB1B2):
        assert not table[value], hex(value)


def test_stopping_early_leaves_no_reader_threads(tmp_path):
    import threading
    p = put(tmp_path, build([person(number=f"{i:08d}") for i in range(1, 41)]))
    with FixedWidthFile(p, LAYOUT, threads=2, chunk_records=3) as f:
        chunks = f.chunks()
        first = next(chunks)
        assert len(first) == 3
    # close() waited for the workers of the unfinished iteration before closing the file
    assert not [t for t in threading.enumerate() if t.name.startswith("renkei-reader") and t.is_alive()]
    chunks.close()


def test_half_width_kana_that_happen_to_be_valid_utf8_are_read(read, tmp_path):
    """ﾅｶ ﾐｷ is C5 B6 20 D0 B7 in CP932, which is also valid UTF-8 (Ŷ Э): still CP932 kana."""
    p = put(tmp_path, build([person(name_kana="ﾅｶ ﾐｷ")]))
    _, chunks = read(p)
    assert sum(len(c) for c in chunks) == 1
    if "name_kana" in chunks[0].values:
        assert list(chunks[0].values["name_kana"]) == ["ﾅｶ ﾐｷ"]


def test_utf8_katakana_in_a_kana_field_is_still_refused(read, tmp_path):
    data = bytearray(build([person()]))
    off = _field_offset("name_kana")
    data[off:off + 40] = "ﾀｶﾊｼ".encode().ljust(40, b" ")
    with pytest.raises(RecordError, match="half-width") as exc:
        read(put(tmp_path, bytes(data)))
    assert (exc.value.record_no, exc.value.field) == (2, "name_kana")


@pytest.mark.parametrize(("faults", "expected"), [
    # record 2: bad filler (last field); record 3: bad 性別 (an earlier field)
    (((2, "filler", b"x"), (3, "sex", b"x")), (2, "filler", "filler must be spaces")),
    # same field, different kinds: 外字 in record 2, bytes that are not CP932 in record 3
    (((2, "name_kanji", b"\xf0\x40"), (3, "name_kanji", b"\x81\x7f")), (2, "name_kanji", "外字")),
    # a NUL (found by the whole-block scan) after a bad field of an earlier record
    (((3, "symbol", b"A"), (4, "filler", b"\0")), (3, "symbol", "non-digit")),
    # one record, two bad fields: the first in layout order
    (((4, "grade", b"x"), (4, "relationship", b"x")), (4, "relationship", "non-digit")),
])
@pytest.mark.parametrize("chunk_records", [1, 2, 3, 200_000])
def test_the_first_bad_record_is_named_whatever_the_chunk_size(tmp_path, faults, expected, chunk_records):
    data = bytearray(build([person(number=f"{i:08d}") for i in range(1, 6)]))
    for record, name, value in faults:
        off = STRIDE * (record - 1) + LAYOUT.data.field(name).offset
        data[off:off + len(value)] = value
    p = put(tmp_path, bytes(data))
    for kwargs in ({"threads": 1}, {"columns": STAGED, "strings": "arrow", "threads": 2}):
        with FixedWidthFile(p, LAYOUT, chunk_records=chunk_records, **kwargs) as f, \
                pytest.raises(RecordError) as exc:
            list(f.chunks())
        assert (exc.value.record_no, exc.value.field) == expected[:2]
        assert expected[2] in exc.value.reason


@pytest.mark.parametrize("chunk_records", [1, 3, 200_000])
def test_one_utf8_name_among_cp932_names_is_refused(tmp_path, chunk_records):
    """A value pasted from a UTF-8 source is caught whatever shares its chunk, including one
    whose bytes are also valid CP932 (UTF-8 山田 reads as CP932 kanji and half-width kana)."""
    data = bytearray(build([person(number=f"{i:08d}") for i in range(1, 8)]))
    off = STRIDE * 4 + LAYOUT.data.field("name_kanji").offset  # record 5
    data[off:off + 40] = "山田".encode().ljust(40, b" ")
    p = put(tmp_path, bytes(data))
    for kwargs in ({"threads": 1}, {"columns": STAGED, "threads": 2}):
        with FixedWidthFile(p, LAYOUT, chunk_records=chunk_records, **kwargs) as f, \
                pytest.raises(RecordError, match="UTF-8") as exc:
            list(f.chunks())
        assert (exc.value.record_no, exc.value.field) == (5, "name_kanji")


@pytest.mark.parametrize("name", ["ﾅｶ ﾐｷ", "ﾄｱ", "痼院"])
def test_cp932_names_that_happen_to_be_valid_utf8_are_read(read, tmp_path, name):
    """Padded with spaces instead of U+3000, these CP932 values are valid UTF-8 too (ﾅｶ ﾐｷ is
    "Ŷ ķ", 痼院 Hangul): not Japanese in UTF-8, so genuine CP932, not a UTF-8 file."""
    data = bytearray(build([person(), person(number="00000008")]))
    raw = name.encode("cp932")
    assert raw.decode("utf-8")  # the premise: valid UTF-8
    off = STRIDE * 2 + LAYOUT.data.field("name_kanji").offset
    data[off:off + 40] = raw.ljust(40, b" ")
    _, chunks = read(put(tmp_path, bytes(data)))
    if "name_kanji" in chunks[0].values:
        assert list(chunks[0].values["name_kanji"])[1] == name


@pytest.mark.parametrize("byte", [0xB1, 0x7F, 0x1F, 0x80])
def test_non_ascii_in_an_ascii_field_is_refused(read, tmp_path, byte):
    data = bytearray(build([person()]))
    data[LAYOUT.header.field("interface_id").offset + 2] = byte
    with pytest.raises(RecordError, match="non-ASCII character in an ASCII field") as exc:
        read(put(tmp_path, bytes(data)))
    assert (exc.value.record_no, exc.value.field) == (1, "interface_id")
