"""Sandbox intermediary server (中間サーバー): registrations and tax inquiries, file by file.

It works on the folder the platform's local transport uses (``root``, the exchange folder):
it takes every finished file in ``outbox/registration/`` and ``outbox/tax_inquiry/`` it has not
processed yet, and writes one result file per registration file into
``inbox/registration_result/`` and numbered answer files per inquiry file into
``inbox/tax_answer/`` (layouts and names: :mod:`renkei.linkage_files`). A file is removed from
the outbox once its first answer is written (registration files carry My Numbers: they do
not linger in the exchange folder), and a file name it has processed is never processed
again.

Checks, as a real one would make them, in this order, each with its reason code:

* ``14`` a change or loss for a member never registered;
* ``15`` a new registration for a member already registered;
* ``13`` invalid dates: loss on or before acquisition, birth after acquisition, any date after
  the day the file was made, or a loss record without a loss date;
* ``12`` the number is registered to another member whose eligibility is not lost (its own
  register is checked before the residents');
* ``11`` unknown member: no resident holds the number, or birth date or sex differ from the
  resident's (the sandbox's 住基 is the population).

Tax inquiries for a registered member are relayed to the municipalities
(:mod:`renkei_sandbox.municipalities`); a member not registered is answered ``4``. Answers
the municipalities give late are held and written, in a new numbered file, by the first
processing call on or after their day. The first answer file of an inquiry file is always
written (possibly without data records): it tells the platform the file arrived.

Planted failures for tests: ``down = True`` (an outage: nothing is taken, nothing answered;
files wait in the outbox until it is back) and :meth:`forget` (the server lost a member's
registration, so the member's next change is rejected ``14``).

Processing is driven by :meth:`process` (``today`` is the sandbox's business date) or by
:meth:`serving`, a thread that processes every ``interval`` seconds, as a real counterpart
polls its drop folder. Every registration record ever processed is kept in ``journal``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from renkei import linkage_files as lf
from renkei.fixedwidth.reader import RecordError
from renkei_sandbox.municipalities import NOT_REGISTERED, Municipalities

if TYPE_CHECKING:
    from renkei_sandbox.population import Person, Population

ACCEPTED, REJECTED = "0", "1"
OK = "00"
UNKNOWN_MEMBER = "11"
NUMBER_TAKEN = "12"
INVALID_DATES = "13"
NOT_REGISTERED_CHANGE = "14"
ALREADY_REGISTERED = "15"
NEW, CHANGE, LOSS = "1", "2", "3"

# The fields a registration holds besides the number (what the platform's state mirrors).
REGISTERED_FIELDS = ("insured_member_id", "insurer_number", "branch_number", "relationship", "sex",
                     "birth_date", "acquired_date", "lost_date")


@dataclass
class JournalEntry:
    submission_id: str
    change_id: str
    member_id: str
    change_kind: str
    result: str
    reason_code: str


@dataclass
class HeldAnswer:
    due: dt.date
    submission_id: str
    row: dict


@dataclass(repr=False)   # its state holds My Numbers: never print it
class IntermediaryServer:
    population: Population
    root: Path
    municipalities: Municipalities | None = None
    down: bool = False
    registrations: dict[str, dict] = field(default_factory=dict)     # member id -> record
    numbers: dict[str, str] = field(default_factory=dict)            # my number -> member id
    journal: list[JournalEntry] = field(default_factory=list)
    received: list[str] = field(default_factory=list)                # file names, in order
    inquiries: list[tuple[str, str, int]] = field(default_factory=list)  # (submission, member, FY)
    held: list[HeldAnswer] = field(default_factory=list)
    _answer_seq: dict[str, int] = field(default_factory=dict)
    _by_number: dict[str, Person] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __repr__(self) -> str:
        return f"IntermediaryServer(root={str(self.root)!r}, registered={len(self.registrations)})"

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if self.municipalities is None:
            self.municipalities = Municipalities(self.population)

    # -- planted behaviour -------------------------------------------------------------------
    def forget(self, member_id: str) -> None:
        """Lose a member's registration, as after a faulty restore on the server's side."""
        with self._lock:
            record = self.registrations.pop(member_id)
            if self.numbers.get(record["my_number"]) == member_id:
                del self.numbers[record["my_number"]]

    # -- what tests compare ------------------------------------------------------------------
    def registered(self) -> dict[str, dict]:
        """Member id -> the registered fields (without the number)."""
        with self._lock:
            return {m: {k: r[k] for k in REGISTERED_FIELDS} for m, r in self.registrations.items()}

    def number_of(self, member_id: str) -> str | None:
        with self._lock:
            record = self.registrations.get(member_id)
            return None if record is None else record["my_number"]

    # -- processing --------------------------------------------------------------------------
    def process(self, today: dt.date) -> dict[str, int]:
        """Take every new file, answer it, release held answers that are due."""
        with self._lock:
            if self.down:
                return {"registration_files": 0, "inquiry_files": 0, "released": 0}
            # held answers first: once a new file's first answer is there, every answer due
            # by then is there too, so a platform that saw the one finds the others
            released = self._release(today)
            reg = self._take(lf.REGISTRATION, today, self._process_registration)
            inq = self._take(lf.TAX_INQUIRY, today, self._process_inquiries)
            return {"registration_files": reg, "inquiry_files": inq, "released": released}

    @contextlib.contextmanager
    def serving(self, clock: Callable[[], dt.date], interval: float = 0.05) -> Iterator[IntermediaryServer]:
        """Process in a background thread every ``interval`` seconds while the block runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.process(clock())
                stop.wait(interval)

        thread = threading.Thread(target=loop, name="sandbox-intermediary-server", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=30)

    def _take(self, interface: str, today: dt.date, handle: Callable[[Path, dt.date], None]) -> int:
        folder = self.root / "outbox" / interface
        if not folder.is_dir():
            return 0
        n = 0
        prefix = lf.remote_prefix(interface).rpartition("/")[2]
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or not path.name.startswith(prefix) or path.name in self.received:
                continue
            self.received.append(path.name)
            handle(path, today)
            path.unlink()
            n += 1
        return n

    def _person(self, my_number: str) -> Person | None:
        if len(self._by_number) != len(self.population.persons):
            self._by_number = {p.my_number: p for p in self.population.persons}
        return self._by_number.get(my_number)

    def _check(self, r: dict, made_on: dt.date) -> str:
        member = r["member_id"]
        if r["change_kind"] == NEW and member in self.registrations:
            return ALREADY_REGISTERED
        if r["change_kind"] != NEW and member not in self.registrations:
            return NOT_REGISTERED_CHANGE
        birth, acquired, lost = r["birth_date"], r["acquired_date"], r["lost_date"]
        if (birth > acquired or (lost is not None and lost <= acquired)
                or max(d for d in (birth, acquired, lost) if d is not None) > made_on
                or (r["change_kind"] == LOSS and lost is None)):
            return INVALID_DATES
        # its own register first (a uniqueness check), then the residents' (住基)
        holder = self.numbers.get(r["my_number"])
        if holder is not None and holder != member and self.registrations[holder]["lost_date"] is None:
            return NUMBER_TAKEN
        person = self._person(r["my_number"])
        if person is None or person.birth_date != birth or person.sex != r["sex"]:
            return UNKNOWN_MEMBER
        return OK

    def _apply(self, r: dict) -> None:
        member = r["member_id"]
        old = self.registrations.get(member)
        if old is not None and self.numbers.get(old["my_number"]) == member:
            del self.numbers[old["my_number"]]
        self.registrations[member] = {k: r[k] for k in (*REGISTERED_FIELDS, "my_number")}
        self.numbers[r["my_number"]] = member

    def _process_registration(self, path: Path, today: dt.date) -> None:
        sid = lf.submission_of(lf.REGISTRATION, path.name)[0]
        try:
            header, rows = lf.read_records(path, lf.REGISTRATION)
        except RecordError:
            return  # a real server would send an error notice; the platform then times out
        results = []
        for r in rows:
            reason = self._check(r, header["created_date"])
            if reason == OK:
                self._apply(r)
            result = ACCEPTED if reason == OK else REJECTED
            self.journal.append(JournalEntry(sid, r["change_id"], r["member_id"], r["change_kind"],
                                             result, reason))
            results.append({"change_id": r["change_id"], "member_id": r["member_id"],
                            "result": result, "reason_code": reason})
        out = self.root / lf.remote_name(lf.REGISTRATION_RESULT, sid)
        lf.write_records(out, lf.REGISTRATION_RESULT,
                         {"submission_id": sid, "processed_date": today}, results)

    def _process_inquiries(self, path: Path, today: dt.date) -> None:
        sid = lf.submission_of(lf.TAX_INQUIRY, path.name)[0]
        try:
            _header, rows = lf.read_records(path, lf.TAX_INQUIRY)
        except RecordError:
            return
        now = []
        for q in rows:
            self.inquiries.append((sid, q["member_id"], int(q["fiscal_year"])))
            row = {"inquiry_id": q["inquiry_id"], "member_id": q["member_id"],
                   "fiscal_year": q["fiscal_year"]}
            record = self.registrations.get(q["member_id"])
            person = None if record is None else self._person(record["my_number"])
            if person is None:
                now.append({**row, "result": NOT_REGISTERED})
                continue
            answer = self.municipalities.answer(person, int(q["fiscal_year"]), today)
            row["result"] = answer.result
            if answer.facts is not None:
                f = answer.facts
                row.update(taxable=f.taxable_code, income_yen=f.income_yen, revenue_yen=f.revenue_yen,
                           public_pension_revenue_yen=f.public_pension_revenue_yen,
                           pension_income_yen=f.pension_income_yen)
            due = self.municipalities.due_on(today, answer)
            if due > today:
                self.held.append(HeldAnswer(due, sid, row))
            else:
                now.append(row)
        self._write_answers(sid, today, now)

    def _write_answers(self, sid: str, today: dt.date, rows: list[dict]) -> None:
        seq = self._answer_seq.get(sid, 0) + 1
        self._answer_seq[sid] = seq
        out = self.root / lf.remote_name(lf.TAX_ANSWER, sid, seq)
        lf.write_records(out, lf.TAX_ANSWER,
                         {"submission_id": sid, "answer_seq": f"{seq:03d}", "processed_date": today}, rows)

    def _release(self, today: dt.date) -> int:
        due = [h for h in self.held if h.due <= today]
        if not due:
            return 0
        self.held = [h for h in self.held if h.due > today]
        by_submission: dict[str, list[dict]] = {}
        for h in due:
            by_submission.setdefault(h.submission_id, []).append(h.row)
        for sid, rows in by_submission.items():
            self._write_answers(sid, today, rows)
        return len(due)
