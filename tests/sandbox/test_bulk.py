"""The bulk mode of the sandbox insurer: one month's extract for N members, fast and bounded.

The file must be what the platform expects (it goes through the production reader and gate
untouched), hold exactly what the generator drew, and be the same for the same seed."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from renkei.eradate import format_era_date, parse_era_date
from renkei.fixedwidth.reader import FixedWidthFile
from renkei.identifiers import is_valid_insurer_number
from renkei.layout import load_layout
from renkei_sandbox.bulk import EraDates, build_pools, iter_chunks, write_bulk_extract
from renkei_sandbox.reference import GRADES

JULY = dt.date(2017, 7, 1)
JULY_END = dt.date(2017, 7, 31)
LAYOUT = load_layout("eligibility_extract")


@pytest.fixture(scope="module")
def file_20k(tmp_path_factory) -> Path:
    return write_bulk_extract(tmp_path_factory.mktemp("bulk"), 20_000, "2017-07", seed=7)


@pytest.fixture(scope="module")
def drawn_20k() -> pa.Table:
    """What the generator drew for the same arguments, as values."""
    pools = build_pools(7)
    return pa.concat_tables(c.to_arrow(pools) for c in iter_chunks(20_000, JULY, seed=7, pools=pools))


@pytest.fixture(scope="module")
def read_20k(file_20k) -> dict[str, list]:
    """Every field of every data record, as the production reader parses it."""
    out: dict[str, list] = {}
    with FixedWidthFile(file_20k, LAYOUT) as f:
        header, trailer = f.header, f.trailer
        for chunk in f.chunks():
            for name, values in chunk.values.items():
                nulls = chunk.nulls[name].tolist()
                out.setdefault(name, []).extend(
                    None if null else v for v, null in zip(values.tolist(), nulls, strict=True))
    out["__header__"], out["__trailer__"] = [header], [trailer]
    return out


def test_a_20k_bulk_file_passes_the_reader_and_the_gate(workspace, file_20k):
    from renkei import gate
    from renkei.interfaces import eligibility
    from renkei.pipeline import month_bounds

    staged = eligibility.stage(file_20k, JULY)
    assert staged.data_record_count == staged.trailer_record_count == 20_000
    start, end = month_bounds(JULY)
    result = gate.run_gate("eligibility_extract", Path(staged.staged), staged.file_name,
                           variables={"period_start": start, "period_end": end},
                           extra_metrics={"trailer_record_count": staged.trailer_record_count})
    assert result.failures == []
    # Households are built so that not even a warning fires (insured on 枝番 00 with a grade,
    # dependents without one, nobody 75 or over).
    assert result.warnings == []


def test_header_and_trailer_are_the_sandbox_extracts(read_20k):
    from renkei_sandbox.extract import SENDER_CODE, created_date, interface_id

    header, trailer = read_20k["__header__"][0], read_20k["__trailer__"][0]
    assert header["interface_id"] == interface_id()
    assert header["period"] == "201707"
    assert header["created_date"] == created_date(JULY)
    assert header["sender_code"] == SENDER_CODE
    assert trailer["record_count"] == 20_000


@pytest.mark.parametrize("field", [
    "insurer_number", "symbol", "number", "branch_number", "relationship", "name_kanji", "name_kana",
    "sex", "birth_date", "acquired_date", "lost_date", "standard_monthly_remuneration", "grade",
    "postal_code", "address_kanji",
])
def test_every_field_reads_back_as_drawn(read_20k, drawn_20k, field):
    got = read_20k[field]
    assert len(got) == 20_000
    assert got == drawn_20k.column(field).to_pylist()


def test_member_keys_are_unique_and_households_start_with_the_insured(drawn_20k):
    t = drawn_20k.to_pydict()
    keys = list(zip(t["insurer_number"], t["symbol"], t["number"], t["branch_number"], strict=True))
    assert len(set(keys)) == len(keys)
    expected_branch: dict[tuple[str, str, str], int] = {}
    for ins, sym, num, br, rel in zip(t["insurer_number"], t["symbol"], t["number"], t["branch_number"],
                                      t["relationship"], strict=True):
        household = (ins, sym, num)
        nxt = expected_branch.get(household, 0)
        assert int(br) == nxt, "枝番 are consecutive from 00 within a household"
        assert rel == ("1" if br == "00" else "2")
        expected_branch[household] = nxt + 1
    dependents = sum(1 for r in t["relationship"] if r == "2")
    assert 0.30 < dependents / len(keys) < 0.50   # ~40% as in the simulation


def test_codes_and_amounts_are_valid(drawn_20k):
    t = drawn_20k.to_pydict()
    assert {n[2:4] for n in t["insurer_number"]} == {f"{p:02d}" for p in range(1, 48)}
    assert all(is_valid_insurer_number(n) for n in set(t["insurer_number"]))
    for rel, grade, pay in zip(t["relationship"], t["grade"], t["standard_monthly_remuneration"],
                               strict=True):
        if rel == "1":
            assert pay == GRADES[int(grade)].amount
        else:
            assert grade is None and pay is None
    # the grades either side of the tier boundaries (エ/ウ at 20/21, イ/ア at 39/40) all occur
    assert {g for g in t["grade"] if g} >= {"20", "21", "39", "40"}


def test_dates_fit_the_month(drawn_20k):
    t = drawn_20k.to_pydict()
    lost = [d for d in t["lost_date"] if d is not None]
    assert lost, "some members leave during the month"
    # a loss recorded in July falls from 2 July to 1 August (the day after the last day)
    assert min(lost) >= dt.date(2017, 7, 2) and max(lost) <= dt.date(2017, 8, 1)
    assert dt.date(2017, 8, 1) in lost   # leaving on the last day is common
    acquired_in_month = [d for d in t["acquired_date"] if d >= JULY]
    assert acquired_in_month and max(acquired_in_month) <= JULY_END
    for birth, acquired, gone in zip(t["birth_date"], t["acquired_date"], t["lost_date"], strict=True):
        assert birth <= acquired
        assert gone is None or gone > acquired
        # nobody has reached 75 on the first of the month (they would have left the plan)
        assert _add_years(birth, 75) > JULY
    assert min(t["birth_date"]) < dt.date(1943, 7, 1)   # the oldest are 74


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, month=3, day=1)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def digest(seed: int, folder: str) -> str:
        path = write_bulk_extract(tmp_path / folder, 3_000, "2017-07", seed=seed)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(5, "a") == digest(5, "b")
    assert digest(5, "a") != digest(6, "c")


@pytest.mark.parametrize("members", [1, 2, 999, 1_000, 1_001])
def test_exactly_n_members_across_chunk_boundaries(members):
    chunks = list(iter_chunks(members, JULY, seed=3, chunk_members=400))
    assert sum(len(c) for c in chunks) == members
    assert chunks[0].insured[0], "the first record is an insured person"


def test_chunks_stay_near_their_size_so_memory_is_bounded():
    sizes = [len(c) for c in iter_chunks(100_000, JULY, seed=3, chunk_members=10_000)]
    assert sum(sizes) == 100_000
    assert max(sizes) <= 15_000
    assert len(sizes) >= 9


def test_keys_stay_unique_when_employers_span_chunks():
    pools = build_pools(3)
    tables = [c.to_arrow(pools) for c in iter_chunks(30_000, JULY, seed=3, chunk_members=500, pools=pools)]
    t = pa.concat_tables(tables).to_pydict()
    keys = set(zip(t["insurer_number"], t["symbol"], t["number"], t["branch_number"], strict=True))
    assert len(keys) == 30_000


def test_members_zero_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        next(iter_chunks(0, JULY))


@pytest.mark.parametrize("day", [
    dt.date(1926, 12, 24), dt.date(1926, 12, 25),   # last day of 大正, first of 昭和
    dt.date(1989, 1, 7), dt.date(1989, 1, 8),       # 昭和64年1月7日, 平成元年1月8日
    dt.date(2019, 4, 30), dt.date(2019, 5, 1),      # 平成31年4月30日, 令和元年5月1日
])
def test_era_dates_at_the_era_boundaries(day):
    eras = EraDates(np.datetime64("1920-01-01"), np.datetime64("2020-12-31"))
    encoded = bytes(eras.encode(np.array([day], dtype="datetime64[D]"))[0]).decode("ascii")
    assert encoded == format_era_date(day)
    assert parse_era_date(encoded) == day
