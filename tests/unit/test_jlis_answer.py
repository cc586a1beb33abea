"""Taking J-LIS's answer: a number is stored only for exactly one match with a valid check
digit; an answer that gives a number for anything else, skips an inquiry, answers another
run or names an inquiry never sent is quarantined whole; a number that differs from the one
the vault holds is never stored over. Everyone here is synthetic."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from renkei import collection, pipeline
from renkei.fixedwidth.reader import FixedWidthFile
from renkei.fixedwidth.writer import write_file
from renkei.identifiers import my_number_with_check_digit
from renkei.intake import FilesRejected
from renkei.interfaces import jlis
from renkei.layout import load_layout
from renkei.settings import paths
from renkei.tokens import Tokenizer

INSURER, SYMBOL = "01130012", "00005678"
RUN = "20170807T0600"
MEMBERS = 4


def number_of(i: int) -> str:
    return my_number_with_check_digit(f"{20_000_000_000 + 104_729 * i:011d}")


def token(i: int) -> str:
    return Tokenizer().token(f"{INSURER}{SYMBOL}{i:08d}01".encode())


def dependent(i: int, **over) -> dict:
    row = {"insurer_number": INSURER, "symbol": SYMBOL, "number": f"{i:08d}", "branch_number": "01",
           "relationship": "2", "name_kanji": f"山﨑\u3000{'一二三四五六'[i]}子", "name_kana": "ﾔﾏｻﾞｷ ｺ",
           "sex": "2", "birth_date": dt.date(1980, 5, 1 + i), "acquired_date": dt.date(2010, 4, 1),
           "lost_date": None, "standard_monthly_remuneration": None, "grade": None,
           "postal_code": "1000001", "address_kanji": "東京都千代田区千代田１丁目２番３号"}
    row.update(over)
    return row


def load_july(rows: list[dict]) -> None:
    header = {"interface_id": "ELIGIBILITY", "period": "201707", "created_date": dt.date(2017, 8, 4),
              "sender_code": "90000001"}
    source = paths().inbox("eligibility_extract") / "ELIG_201707.dat"
    source.parent.mkdir(parents=True)
    with open(source, "wb") as out:
        write_file(out, load_layout("eligibility_extract"), header, rows)
    staged = pipeline.read_extract(source, dt.date(2017, 7, 1))
    pipeline.gate_extract(staged)
    pipeline.load_extract(staged)


@pytest.fixture
def inquiry(workspace):
    """July 2017 loaded with four dependents (nobody from the pension file), and the run's
    inquiry about them built: inquiry ids 0000000001.. follow the member numbers."""
    load_july([dependent(i) for i in range(MEMBERS)])
    built = collection.build_jlis_inquiry(RUN)
    assert built["inquiries"] == MEMBERS
    with FixedWidthFile(built["inquiry_file"], load_layout(jlis.INQUIRY)) as f:
        (chunk,) = f.chunks()
        # what left the platform: normalised facts under inquiry ids, never insurer keys
        assert list(chunk.values["name_kanji"]) == [f"山崎{'一二三四'[i]}子" for i in range(MEMBERS)]
        assert set(chunk.values["address_kanji"]) == {"東京都千代田区千代田1-2-3"}
    return built


def answer(records: list[dict], run_id: str = RUN) -> None:
    buf = io.BytesIO()
    header = {"interface_id": "JLIS_ANSWER", "run_id": run_id, "created_date": dt.date(2017, 8, 8),
              "sender_code": "99200001"}
    write_file(buf, load_layout(jlis.ANSWER), header, records)
    inbox = paths().inbox(jlis.ANSWER)
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / jlis.answer_file_name(RUN)).write_bytes(buf.getvalue())


def one(i: int, number: str | None = None) -> dict:
    return {"inquiry_id": f"{i + 1:010d}", "result": "1", "candidate_count": 1,
            "my_number": number or number_of(i)}


def several(i: int) -> dict:
    return {"inquiry_id": f"{i + 1:010d}", "result": "2", "candidate_count": 2, "my_number": None}


def none(i: int) -> dict:
    return {"inquiry_id": f"{i + 1:010d}", "result": "3", "candidate_count": 0, "my_number": None}


def stored() -> dict[int, str | None]:
    with collection.open_vault() as vault:
        return {i: vault.get(token(i), "test_verification") for i in range(MEMBERS)}


def test_only_single_matches_with_valid_numbers_are_stored(inquiry):
    damaged = number_of(3)[:11] + str((int(number_of(3)[11]) + 1) % 10)
    answer([one(0), several(1), none(2), one(3, damaged)])
    out = collection.take_jlis_answers(RUN)
    assert out["outcomes"] == {"matched_by_jlis": 1, "several_candidates": 1, "no_match": 1, "invalid": 1}
    assert out["warnings"] == ["invalid_my_number"]
    assert stored() == {0: number_of(0), 1: None, 2: None, 3: None}
    # the answer is gone (its numbers are in the vault), a receipt stays, the inquiry is archived
    assert not (paths().inbox(jlis.ANSWER) / jlis.answer_file_name(RUN)).exists()
    assert (paths().archive(jlis.ANSWER) / f"{jlis.answer_file_name(RUN)}.receipt.json").exists()
    assert (paths().archive(jlis.INQUIRY) / jlis.inquiry_file_name(RUN)).exists()


def test_a_number_that_differs_from_the_held_one_is_never_stored_over(inquiry):
    with collection.open_vault() as vault:   # the pension file gave member 0 a number meanwhile
        vault.put(token(0), number_of(0), "pension_service")
    answer([one(0, number_of(9)), one(1), one(2), one(3)])
    out = collection.take_jlis_answers(RUN)
    assert out["outcomes"] == {"conflicting_sources": 1, "matched_by_jlis": 3}
    assert stored() == {i: number_of(i) for i in range(MEMBERS)}


@pytest.mark.parametrize(("records", "run_id", "words"), [
    ([one(0), {**several(1), "my_number": number_of(1)}, none(2), none(3)], RUN,
     "a partial or multiple match must never give a number"),
    ([one(0), one(1), none(2)], RUN, "inquiries of this run have no answer"),
    ([one(0), one(1), none(2), none(3), {**none(3), "inquiry_id": "0000000099"}], RUN,
     "names an inquiry this run did not send"),
    ([one(0), one(0), none(2), none(3)], RUN, "answered more than once"),
    ([one(0), one(1, number_of(0)), none(2), none(3)], RUN, "more than one inquiry"),
    ([{**one(0), "candidate_count": 2}, none(1), none(2), none(3)], RUN, "candidate count disagrees"),
    ([one(0), one(1), none(2), none(3)], "20170801T0600", "answers another run's inquiry"),
], ids=["number-for-several", "unanswered", "unknown-inquiry", "duplicate-inquiry", "duplicate-number",
        "candidate-count", "other-run"])
def test_an_answer_that_cannot_be_trusted_is_quarantined_whole(inquiry, records, run_id, words):
    answer(records, run_id)
    with pytest.raises(FilesRejected) as exc:
        collection.take_jlis_answers(RUN)
    message = str(exc.value)
    assert words in message and jlis.answer_file_name(RUN) in message
    assert not any(number_of(i) in message for i in range(10))
    assert stored() == dict.fromkeys(range(MEMBERS))
    quarantined = paths().quarantine(jlis.ANSWER) / jlis.answer_file_name(RUN)
    assert quarantined.exists()
    assert (quarantined.parent / f"{quarantined.name}.reason.txt").exists()


def test_the_same_answer_delivered_twice_is_not_taken_again(inquiry):
    answer([one(0), one(1), one(2), one(3)])
    data = (paths().inbox(jlis.ANSWER) / jlis.answer_file_name(RUN)).read_bytes()
    collection.take_jlis_answers(RUN)
    (paths().inbox(jlis.ANSWER) / jlis.answer_file_name(RUN)).write_bytes(data)
    with pytest.raises(FilesRejected, match="identical bytes"):
        collection.take_jlis_answers(RUN)
    assert stored() == {i: number_of(i) for i in range(MEMBERS)}


def test_members_with_the_same_four_facts_are_listed_not_asked(workspace):
    """One person enrolled twice (or a typing error) would get one number for two members:
    both are left out of the inquiry and put on the work list, with their names."""
    import openpyxl

    twin = dependent(1, symbol="00009999", number="00000042", branch_number="02",
                     name_kanji="山崎 二子", name_kana="ﾔﾏｻﾞｷ ｺ")   # differs only in writing
    load_july([dependent(0), dependent(1), twin])
    built = collection.build_jlis_inquiry(RUN)
    assert built["inquiries"] == 1
    rec = collection.reconcile(RUN)
    assert rec.counts["duplicate_members"] == 2 and rec.counts["inquiries_sent"] == 1
    rows = list(openpyxl.load_workbook(rec.worklist).active.iter_rows(min_row=4, values_only=True))
    assert sorted((r[1], r[2], r[3], r[5]) for r in rows) == [
        (SYMBOL, "00000001", "01", "基本4情報が同じ加入者が複数（照会していない）"),
        ("00009999", "00000042", "02", "基本4情報が同じ加入者が複数（照会していない）")]
    assert all(r[10] for r in rows)   # names shown: staff must tell the two apart
