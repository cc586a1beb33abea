"""Matching the four basic facts: the platform's normalisation (renkei.matching) and the
sandbox J-LIS that matches on all four after its own normalisation.

For every kind of difference between the insurer's records and the resident register: what
must still match (width, kana, spaces, variant kanji, house-number spelling) and what must
not (a moved address, a birth-date typo, an absent resident, a different character or sex,
three facts of four). Everyone here is synthetic.
"""

from __future__ import annotations

import datetime as dt

import pytest

from renkei import matching
from renkei.identifiers import is_valid_my_number, my_number_with_check_digit
from renkei.interfaces import jlis as jlis_files
from renkei_sandbox.jlis import (
    NO_MATCH,
    ONE_MATCH,
    SEVERAL,
    Resident,
    ResidentRegister,
    canonical_facts,
    rewrite_house_number,
    variant_table,
)

BIRTH = dt.date(1975, 4, 12)
# The insurer's record, as the eligibility extract holds it.
INSURER = {"name_kanji": "髙橋\u3000一郎", "name_kana": "ﾀｶﾊｼ ｲﾁﾛｳ", "sex": "1", "birth_date": BIRTH,
           "address": "東京都千代田区千代田１丁目２番３号"}
NUMBER = my_number_with_check_digit("12345678901")


def resident(**over) -> Resident:
    """The same person as the register holds them (full-width kana, as J-LIS writes it)."""
    values = {"name_kanji": "高橋\u3000一郎", "name_kana": "タカハシ\u3000イチロウ", "sex": "1",
              "birth_date": BIRTH, "address": "東京都千代田区千代田１丁目２番３号", "my_number": NUMBER}
    values.update(over)
    return Resident(**values)


def ask(register: ResidentRegister, **over) -> dict:
    """What J-LIS answers when the platform sends this member's normalised facts."""
    facts = {**INSURER, **over}
    sent = matching.normalise(facts["name_kanji"], facts["name_kana"], facts["sex"], facts["birth_date"],
                              facts["address"])
    found = register.lookup(sent.name_kanji, sent.name_kana, sent.sex, sent.birth_date, sent.address)
    return register.answer_record("0000000001", found)


# -- the platform's normalisation -------------------------------------------------------------
@pytest.mark.parametrize(("kind", "a", "b"), [
    ("half-width katakana", "ﾀｶﾊｼ ｲﾁﾛｳ", "タカハシ　イチロウ"),
    ("voiced marks as separate half-width characters", "ﾜﾀﾅﾍﾞ ﾀﾞｲｽｹ", "ワタナベ　ダイスケ"),
    ("hiragana for katakana", "たかはし いちろう", "タカハシイチロウ"),
    ("legacy hyphen for the long vowel", "ｺ-ﾉ ﾕｳｺ", "コーノ　ユウコ"),
    ("middle dot in a foreign name", "ｼﾞｮﾝ･ｽﾐｽ", "ジョン　スミス"),
])
def test_kana_differences_that_must_match(kind, a, b):
    assert matching.normalise_name_kana(a) == matching.normalise_name_kana(b), kind


@pytest.mark.parametrize(("kind", "a", "b"), [
    ("full-width space", "佐藤\u3000花子", "佐藤花子"),
    ("half-width space", "佐藤\u3000花子", "佐藤 花子"),
    ("several spaces", "佐藤\u3000\u3000花子\u3000", " 佐藤  花子"),
    ("髙 for 高", "髙橋\u3000一郎", "高橋\u3000一郎"),
    ("﨑 for 崎", "山﨑\u3000花子", "山崎\u3000花子"),
    ("嵜 for 崎", "山嵜\u3000花子", "山崎\u3000花子"),
    ("齋 for 斎", "齋藤\u3000一", "斎藤\u3000一"),
    ("邊 and 邉 for 辺", "渡邊\u3000二郎", "渡邉\u3000二郎"),
    ("濵 and 濱 for 浜", "濵田\u3000三郎", "濱田\u3000三郎"),
    ("德 for 徳", "德永\u3000五郎", "徳永\u3000五郎"),
    ("full-width Latin letters", "ＳＭＩＴＨ\u3000ＪＯＨＮ", "SMITH JOHN"),
])
def test_name_differences_that_must_match(kind, a, b):
    assert matching.normalise_name_kanji(a) == matching.normalise_name_kanji(b), kind


@pytest.mark.parametrize(("kind", "a", "b"), [
    ("斉 and 斎 are different characters", "斉藤\u3000一", "斎藤\u3000一"),
    ("嶋 and 島 are both everyday characters", "嶋田\u3000四郎", "島田\u3000四郎"),
    # The MJ tables link 書 with 昼 (a look-alike of its old form 晝); a JIS level-1
    # character is never replaced, so two people stay two people.
    ("a level-1 character the tables link to another", "書上\u3000太郎", "昼上\u3000太郎"),
    ("another given name", "高橋\u3000一郎", "高橋\u3000二郎"),
])
def test_name_differences_that_must_not_match(kind, a, b):
    assert matching.normalise_name_kanji(a) != matching.normalise_name_kanji(b), kind


def test_kana_that_differs_in_sound_does_not_match():
    assert matching.normalise_name_kana("ｻｲﾄｳ") != matching.normalise_name_kana("ｻｲﾄﾞｳ")


@pytest.mark.parametrize("other", [
    "東京都千代田区千代田1-2-3",
    "東京都千代田区千代田１－２－３",
    "東京都千代田区千代田一丁目二番三号",
    "東京都千代田区千代田1丁目2-3",
    "東京都千代田区千代田１ー２ー３",      # chōon typed for the hyphen
    "東京都　千代田区千代田１丁目２番３号",  # a space inside
])
def test_house_number_spellings_that_must_match(other):
    assert (matching.normalise_address(other)
            == matching.normalise_address("東京都千代田区千代田１丁目２番３号")
            == "東京都千代田区千代田1-2-3")


@pytest.mark.parametrize(("a", "b"), [
    ("東京都三鷹市下連雀２番地３", "東京都三鷹市下連雀2-3"),
    ("東京都三鷹市下連雀二番地三", "東京都三鷹市下連雀2-3"),
    ("大阪府大阪市北区梅田二十三番地の五", "大阪府大阪市北区梅田23-5"),
    ("東京都千代田区霞ヶ関３丁目１番１号", "東京都千代田区霞ケ関3-1-1"),
])
def test_other_address_spellings_that_must_match(a, b):
    assert matching.normalise_address(a) == matching.normalise_address(b)


@pytest.mark.parametrize(("a", "b"), [
    ("東京都千代田区千代田１丁目２番３号", "東京都千代田区千代田１丁目２番４号"),
    ("東京都三鷹市下連雀１２番地３", "東京都三鷹市下連雀１番地２３"),     # digits never run together
    ("東京都千代田区千代田１丁目２番３号", "東京都千代田区神田１丁目２番３号"),
])
def test_address_differences_that_must_not_match(a, b):
    assert matching.normalise_address(a) != matching.normalise_address(b)


def test_place_names_keep_their_kanji_numerals():
    assert matching.normalise_address("東京都千代田区三番町１番地２") == "東京都千代田区三番町1-2"
    assert matching.normalise_address("千葉県長生郡一宮町一宮") == "千葉県長生郡一宮町一宮"


def test_raw_values_are_kept_beside_the_normalised_ones():
    facts = matching.normalise(**INSURER)
    assert (facts.raw_name_kanji, facts.raw_name_kana, facts.raw_address) == (
        INSURER["name_kanji"], INSURER["name_kana"], INSURER["address"])
    assert (facts.name_kanji, facts.name_kana, facts.address) == ("高橋一郎", "タカハシイチロウ",
                                                                   "東京都千代田区千代田1-2-3")


def test_platform_and_jlis_fold_the_same_variants():
    """The sandbox J-LIS builds its table on its own; on every variant it knows, the
    platform's folding must agree, or a planted variant would not match."""
    table = variant_table()
    assert {"髙": "高", "﨑": "崎", "齋": "斎"}.items() <= table.items()
    assert {v: matching.fold_variant(v) for v in table} == table


# -- J-LIS: all four facts, after its own normalisation -------------------------------------
@pytest.mark.parametrize(("kind", "in_register"), [
    ("identical apart from the kana width", {}),
    ("no space in the register", {"name_kanji": "高橋一郎"}),
    ("half-width space in the register", {"name_kanji": "高橋 一郎", "name_kana": "タカハシ イチロウ"}),
    ("variant kanji in the register", {"name_kanji": "髙橋\u3000一郎"}),
    ("house number with hyphens", {"address": "東京都千代田区千代田1-2-3"}),
    ("house number with full-width hyphens", {"address": "東京都千代田区千代田１－２－３"}),
    ("house number in kanji numerals", {"address": "東京都千代田区千代田一丁目二番三号"}),
    ("several differences at once", {"name_kanji": "髙橋一郎", "address": "東京都千代田区千代田1-2-3"}),
])
def test_jlis_gives_the_number_when_only_the_writing_differs(kind, in_register):
    register = ResidentRegister([resident(**in_register)])
    answer = ask(register)
    assert (answer["result"], answer["candidate_count"], answer["my_number"]) == (ONE_MATCH, 1, NUMBER), kind


@pytest.mark.parametrize(("kind", "in_register"), [
    ("recent move: the register has the new address", {"address": "東京都港区芝公園４丁目２番８号"}),
    ("birth-date typo: a day off", {"birth_date": BIRTH + dt.timedelta(days=1)}),
    ("birth-date typo: another year", {"birth_date": BIRTH.replace(year=1976)}),
    ("different sex (name, birth date and address agree)", {"sex": "2"}),
    ("different kana reading (kanji, birth date, sex and address agree)",
     {"name_kana": "タカバシ\u3000イチロウ"}),
    ("different given name", {"name_kanji": "高橋\u3000一朗"}),
    ("another house in the same street", {"address": "東京都千代田区千代田１丁目２番４号"}),
])
def test_jlis_never_accepts_a_partial_match(kind, in_register):
    answer = ask(ResidentRegister([resident(**in_register)]))
    assert (answer["result"], answer["candidate_count"], answer["my_number"]) == (NO_MATCH, 0, None), kind


def test_a_member_who_cannot_be_found():
    other = resident(name_kanji="佐藤\u3000花子", name_kana="サトウ\u3000ハナコ", sex="2")
    answer = ask(ResidentRegister([other]))
    assert (answer["result"], answer["my_number"]) == (NO_MATCH, None)


def test_two_residents_with_the_same_four_facts_are_several_candidates_without_a_number():
    twin = resident(name_kanji="髙橋一郎", my_number=my_number_with_check_digit("98765432109"))
    answer = ask(ResidentRegister([resident(), twin]))
    assert (answer["result"], answer["candidate_count"], answer["my_number"]) == (SEVERAL, 2, None)


def test_a_damaged_answer_carries_a_number_that_fails_its_check_digit():
    register = ResidentRegister([resident(person_key="k1")], damaged_keys=["k1"])
    answer = ask(register)
    assert answer["result"] == ONE_MATCH
    assert answer["my_number"] != NUMBER and answer["my_number"][:11] == NUMBER[:11]
    assert not is_valid_my_number(answer["my_number"])


@pytest.mark.parametrize(("address", "style", "expected"), [
    ("東京都千代田区千代田１丁目２番３号", 0, "東京都千代田区千代田1-2-3"),
    ("東京都千代田区千代田１丁目２番３号", 1, "東京都千代田区千代田１－２－３"),
    ("東京都千代田区千代田１２丁目２０番３号", 2, "東京都千代田区千代田十二丁目二十番三号"),
    ("東京都三鷹市下連雀２番地３", 2, "東京都三鷹市下連雀二番地三"),
])
def test_sandbox_rewrites_house_numbers_the_ways_people_write_them(address, style, expected):
    rewritten = rewrite_house_number(address, style)
    assert rewritten == expected
    assert canonical_facts("", "", "1", BIRTH, rewritten) == canonical_facts("", "", "1", BIRTH, address)


def test_inquiry_and_answer_files_round_trip(tmp_path):
    """The platform's inquiry file, answered by the sandbox J-LIS, read back by the platform."""
    facts = matching.normalise(**INSURER)
    moved = matching.normalise(**{**INSURER, "address": "東京都港区芝公園４丁目２番８号"})
    rows = [{"inquiry_id": f"{i:010d}", "name_kanji": f.name_kanji, "name_kana": f.name_kana, "sex": f.sex,
             "birth_date": f.birth_date, "address_kanji": f.address} for i, f in enumerate((facts, moved), 1)]
    inquiry = tmp_path / "outbox" / jlis_files.inquiry_file_name("20170807T0600")
    assert jlis_files.write_inquiry(inquiry, "20170807T0600", dt.date(2017, 8, 7), rows) == 2
    register = ResidentRegister([resident(name_kanji="髙橋一郎", address="東京都千代田区千代田1-2-3")])
    answer_path = register.answer(inquiry, tmp_path / "inbox")
    assert answer_path.name == "JLIS_A_20170807T0600.dat"
    answer = jlis_files.read_answer(answer_path, "20170807T0600")
    assert [tuple(r.values()) for r in answer.records.to_pylist()] == [
        (2, "0000000001", "1", 1, NUMBER),
        (3, "0000000002", "3", 0, None),
    ]
    assert NUMBER not in repr(answer)


def test_a_fact_too_long_for_its_field_is_refused_not_cut(tmp_path):
    row = {"inquiry_id": "0000000001", "name_kanji": "長" * 31, "name_kana": "ナ", "sex": "1",
           "birth_date": BIRTH, "address_kanji": "東京都"}
    with pytest.raises(jlis_files.ValueTooLong, match="name_kanji"):
        jlis_files.write_inquiry(tmp_path / "q.dat", "20170807T0600", dt.date(2017, 8, 7), [row])
    assert not (tmp_path / "q.dat").exists()


def test_every_planted_difference_gets_its_planted_answer():
    """A sandbox insurer: every member the platform asks about, normalised by the platform,
    gets from the sandbox J-LIS exactly the outcome that was planted for them."""
    from renkei_sandbox import Population
    from renkei_sandbox.jlis import MyNumberScenario

    population = Population(members=1_500, seed=11, start="2017-07")
    population.simulate_month()
    scenario = MyNumberScenario(population, "2017-07")
    plants = scenario.plants
    expected = {**{k: SEVERAL for k in plants.duplicate}, **{k: NO_MATCH for k in plants.no_match}}
    for kind in ("spaces", "house_number", "variant_kanji", "duplicate", "moved", "birth_date_typo",
                 "unfindable", "damaged_answer"):
        assert getattr(plants, kind), f"nothing planted for {kind}"
    got = {}
    for person in scenario.asked:
        sent = matching.normalise(person.name_kanji, person.name_kana, person.sex, person.birth_date,
                                  person.household.address)
        found = scenario.register.lookup(sent.name_kanji, sent.name_kana, sent.sex, sent.birth_date,
                                         sent.address)
        got[person.key] = ONE_MATCH if len(found) == 1 else SEVERAL if found else NO_MATCH
        if got[person.key] == ONE_MATCH:
            assert found[0].my_number == person.my_number
    assert got == {p.key: expected.get(p.key, ONE_MATCH) for p in scenario.asked}
