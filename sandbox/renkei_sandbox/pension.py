"""The Japan Pension Service (日本年金機構) as the platform meets it: ``NENKIN_<YYYYMMDD>.dat``.

The pension service already holds the individual number of everyone insured under 厚生年金,
which ends at 70, so it delivers the numbers of the insurer's insured persons under 70. The
file is written with the production writer and layout (``layouts/pension_my_numbers.json``):
CP932 fixed width, a header, one record per person keyed by 保険者番号・記号・番号 and birth
date (with the name as the pension service holds it), and a trailer with the count.

What the sandbox plants, and remembers (:class:`PensionService`):

* **A few people missed.** The first delivery leaves out a planted few insured persons, whom
  the platform must then ask J-LIS about; a supplementary delivery brings them later.
* **One disagreeing number.** In the supplementary delivery, one of the missed people comes
  with a valid number that is not theirs (the pension service's record was linked to the
  wrong number), so the platform meets a number that differs from the one J-LIS gave.

Choices are hashes of (seed, member key), never the population's random streams, so asking
for pension files changes no eligibility extract.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from renkei.fixedwidth.writer import write_file_atomically
from renkei.identifiers import my_number_with_check_digit
from renkei.layout import load_layout
from renkei_sandbox.population import INSURED, Person, Population, age_on, month_end, parse_month

LAYOUT_NAME = "pension_my_numbers"
INTERFACE_ID = "NENKIN_MN"
SENDER_CODE = "99100001"          # 送信元コード of the pension service (fictitious)
FILE_PREFIX = "NENKIN_"
AGE_LIMIT = 70                    # 厚生年金 covers employees under 70
MISSED = 3                        # left out of the first delivery


def rank(seed: int, tag: str, key: str) -> bytes:
    """A stable pseudo-random sort key for a person: planting never touches ``random``."""
    return hashlib.blake2b(f"{seed}/{tag}/{key}".encode(), digest_size=8).digest()


def file_path(out_dir: str | os.PathLike[str], created: dt.date) -> Path:
    return Path(out_dir) / f"{FILE_PREFIX}{created:%Y%m%d}.dat"


def covered_persons(population: Population, month: str | dt.date) -> list[Person]:
    """Insured persons enrolled at the end of ``month`` and under 70 on its last day."""
    month = parse_month(month)
    end = month_end(month)
    return sorted((p for p in population.members_in(month) if p.role == INSURED
                   and p.enrolled_at_end_of(month) and age_on(p.birth_date, end) < AGE_LIMIT),
                  key=lambda p: p.key)


def write_pension_file(path: Path, created: dt.date, records: Iterable[tuple[Person, str]]) -> Path:
    """Write ``(person, number)`` records atomically (hidden ``.part`` file, then rename)."""
    layout = load_layout(LAYOUT_NAME)
    header = {"interface_id": INTERFACE_ID, "created_date": created, "sender_code": SENDER_CODE}
    rows = ({"insurer_number": p.household.insurer_number, "symbol": p.household.symbol,
             "number": p.household.number, "name_kanji": p.name_kanji, "birth_date": p.birth_date,
             "my_number": number} for p, number in records)
    write_file_atomically(path, layout, header, rows)
    return path


class PensionService:
    """The pension service's view of the insurer's insured persons under 70 in ``month``."""

    def __init__(self, population: Population, month: str | dt.date, missed: int = MISSED):
        self.population = population
        self.month = parse_month(month)
        self.covered = covered_persons(population, self.month)
        ranked = sorted(self.covered, key=lambda p: rank(population.seed, "pension-missed", p.key))
        self.missed: list[Person] = ranked[:missed]
        missed_keys = {p.key for p in self.missed}
        self.delivered: list[Person] = [p for p in self.covered if p.key not in missed_keys]
        # The second missed person comes back later with a number that is not theirs.
        self.conflicting: Person | None = self.missed[1] if len(self.missed) > 1 else None
        self.wrong_number: str | None = None
        if self.conflicting is not None:
            taken = {p.my_number for p in population.persons}
            salt = 0
            while self.wrong_number is None or self.wrong_number in taken:
                digest = rank(population.seed, f"pension-wrong-number/{salt}", self.conflicting.key)
                self.wrong_number = my_number_with_check_digit(f"{int.from_bytes(digest) % 10**11:011d}")
                salt += 1

    def number_held_for(self, person: Person) -> str:
        return self.wrong_number if person is self.conflicting else person.my_number

    def deliver(self, out_dir: str | os.PathLike[str], created: dt.date) -> Path:
        """The regular file: every covered person except the missed ones, by member key."""
        return write_pension_file(file_path(out_dir, created), created,
                                  ((p, p.my_number) for p in self.delivered))

    def deliver_new(self, out_dir: str | os.PathLike[str], created: dt.date,
                    already_sent: set[str]) -> Path | None:
        """A month's difference file: covered persons not in an earlier file (new insured
        persons under 70), as the pension service sends after the first full file. Adds the
        keys to ``already_sent``; writes nothing and returns None when nobody is new."""
        people = [p for p in self.delivered if p.key not in already_sent]
        if not people:
            return None
        already_sent.update(p.key for p in people)
        return write_pension_file(file_path(out_dir, created), created,
                                  ((p, p.my_number) for p in people))

    def deliver_supplement(self, out_dir: str | os.PathLike[str], created: dt.date) -> Path:
        """The people the regular file missed, one of them with a number that is not theirs."""
        late = sorted(self.missed, key=lambda p: p.key)
        return write_pension_file(file_path(out_dir, created), created,
                                  ((p, self.number_held_for(p)) for p in late))

    def numbers(self) -> set[str]:
        """Every number this counterpart can put in a file (for scans of the platform's files)."""
        out = {p.my_number for p in self.covered}
        if self.wrong_number:
            out.add(self.wrong_number)
        return out
