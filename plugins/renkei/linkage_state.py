"""What the platform knows about its exchanges with the intermediary server: a small SQLite
file beside the vault (``var/vault/linkage.sqlite``), tokens and digests only.

Why SQLite and not the DuckDB warehouse: sending is a protocol of small, durable steps
(a submission is *prepared*, then *sending*, then *sent*, then *answered*) written between
network calls, by tasks that must not hold the warehouse's single writer slot while a
counterpart is slow; SQLite commits each step on its own, lets readers in while a writer
works (WAL), and lives with the vault, whose folder is already private. The warehouse gets
the outcome that analysts need: the tax answers, in ``raw.tax_information``.

Idempotency: every registration change and every tax inquiry has a stable id derived from
its content, and every file a stable submission id; a re-run or a retry finds them here and
neither prepares nor sends anything twice. A submission left in *sending* by a crash is
checked on the counterpart's side before it is sent again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from renkei import linkage_files as lf
from renkei.settings import paths
from renkei.transport import Transport

log = logging.getLogger(__name__)
T = TypeVar("T")

PREPARED, SENDING, SENT, ANSWERED = "prepared", "sending", "sent", "answered"

_SCHEMA = """
create table if not exists submissions (
    submission_id text primary key,
    interface text not null,            -- registration | tax_inquiry
    run_id text not null,
    created_on text not null,           -- business date (Tokyo) in the file header
    record_count integer not null,
    status text not null,               -- prepared | sending | sent | answered
    sent_at text,
    answered_at text
);
-- What the intermediary server holds, as accepted (the platform's mirror of it).
create table if not exists registrations (
    member_token text primary key,
    insured_token text not null,
    insurer_number text not null,
    branch_number text not null,
    relationship_code text not null,
    sex_code text not null,
    birth_date text not null,
    acquired_date text not null,
    lost_date text,
    number_digest text not null,        -- keyed digest of the number, never the number
    change_id text not null,            -- the accepted change this state came from
    accepted_on text not null
);
create table if not exists changes (
    change_id text primary key,
    member_token text not null,
    kind text not null,                 -- 1 new | 2 change | 3 loss
    fields text not null,               -- JSON of the registered fields (no number)
    number_digest text not null,
    base_change_id text not null,       -- the registration it changes ('' for new)
    prepared_on text not null,
    submission_id text,
    status text not null,               -- pending | sent | accepted | rejected | superseded
    reason_code text,
    answered_on text
);
create index if not exists changes_member on changes (member_token);
create index if not exists changes_submission on changes (submission_id);
create table if not exists inquiries (
    inquiry_id text primary key,
    member_token text not null,
    fiscal_year integer not null,
    purpose_code text not null,
    registration_change_id text not null,
    submission_id text not null,
    status text not null,               -- sent | answered | moved | not_assessed | not_registered
    asked_on text not null,
    answered_on text,
    answer_file text,
    logged_inquiry integer not null default 0,   -- in the provision log (情報提供等記録)
    logged_answer integer not null default 0
);
create index if not exists inquiries_member on inquiries (member_token, fiscal_year);
create index if not exists inquiries_submission on inquiries (submission_id);
create table if not exists answer_files (
    name text primary key,
    submission_id text not null,
    seq integer not null,
    local_path text not null,
    status text not null,               -- fetched | loaded
    rows integer,
    batch_id text,
    taken_at text not null
);
"""


class CounterpartNotAnswering(RuntimeError):
    """Sent files have no answer yet; the message is for the operator."""


def state_path() -> Path:
    return paths().vault.parent / "linkage.sqlite"


def private_dir(name: str) -> Path:
    """A folder beside the vault for files that may hold numbers while they are sent."""
    folder = paths().vault.parent / name
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def connect(path: Path | None = None) -> sqlite3.Connection:
    path = Path(path or state_path())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=full")   # a step recorded as done survives a power cut
    con.executescript(_SCHEMA)
    return con


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    con.execute("begin immediate")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def now_text() -> str:
    from zoneinfo import ZoneInfo

    from renkei.settings import TIMEZONE

    return dt.datetime.now(ZoneInfo(TIMEZONE)).isoformat(timespec="seconds")


def new_submission_id(con: sqlite3.Connection, letter: str, as_of: dt.date) -> str:
    """``R2017080401``: kind letter, business date, a number for the day (sorts in order)."""
    prefix = f"{letter}{as_of:%Y%m%d}"
    n = con.execute("select count(*) from submissions where submission_id like ?",
                    [prefix + "%"]).fetchone()[0]
    return f"{prefix}{n + 1:02d}"


def new_submissions(con: sqlite3.Connection, letter: str, interface: str, as_of: dt.date, run_id: str,
                    items: list[T], max_records: int) -> list[tuple[str, list[T]]]:
    """Split ``items`` into submissions of at most ``max_records``, record each as prepared and
    return ``(submission_id, part)`` pairs for the caller to attach its rows to."""
    out = []
    for i in range(0, len(items), max_records):
        part = items[i:i + max_records]
        sid = new_submission_id(con, letter, as_of)
        con.execute("insert into submissions (submission_id, interface, run_id, created_on, record_count, "
                    "status) values (?, ?, ?, ?, ?, ?)",
                    [sid, interface, run_id, as_of.isoformat(), len(part), PREPARED])
        out.append((sid, part))
    return out


def unsent(con: sqlite3.Connection, interface: str) -> list[sqlite3.Row]:
    return con.execute(
        "select * from submissions where interface = ? and status in (?, ?) order by submission_id",
        [interface, PREPARED, SENDING]).fetchall()


def unanswered(con: sqlite3.Connection, interface: str) -> list[sqlite3.Row]:
    return con.execute("select * from submissions where interface = ? and status = ? "
                       "order by submission_id", [interface, SENT]).fetchall()


def send_pending(con: sqlite3.Connection, transport: Transport, interface: str,
                 answer_interface: str, build: Callable[[sqlite3.Row, Path], int]) -> list[str]:
    """Send every prepared submission of ``interface``, oldest first, once.

    Each is marked *sending* before the transfer and *sent* after it. A submission found in
    *sending* (a crash or a failure between transfer and bookkeeping) is sent again only
    when the counterpart has neither the file nor an answer to it. ``build`` writes the file
    into the given local path; the local copy is removed once sent (it may hold numbers).
    """
    sent: list[str] = []
    outgoing = private_dir("outgoing")
    for sub in unsent(con, interface):
        sid = sub["submission_id"]
        name = lf.remote_name(interface, sid)
        answer = lf.remote_name(answer_interface, sid, 1 if answer_interface == lf.TAX_ANSWER else None)
        if sub["status"] == SENDING and (transport.exists(name) or transport.exists(answer)):
            log.info("%s: already with the counterpart; not sent again", sid)
        else:
            local = outgoing / Path(name).name
            try:
                build(sub, local)
                with transaction(con):
                    con.execute("update submissions set status = ? where submission_id = ?", [SENDING, sid])
                transport.send(local, name)
            finally:
                local.unlink(missing_ok=True)
        with transaction(con):
            con.execute("update submissions set status = ?, sent_at = ? where submission_id = ?",
                        [SENT, now_text(), sid])
        sent.append(sid)
        log.info("sent %s (%s records)", sid, sub["record_count"])
    return sent


def poll(check: Callable[[], bool], wait_s: float, every_s: float = 2.0) -> bool:
    """Call ``check`` until it is true or ``wait_s`` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(every_s, max(0.0, deadline - time.monotonic())))


def not_answering(counterpart: str, waiting: list[str], since: str | None) -> CounterpartNotAnswering:
    shown = ", ".join(waiting[:5]) + (f" and {len(waiting) - 5} more" if len(waiting) > 5 else "")
    return CounterpartNotAnswering(
        f"The {counterpart} has not answered {len(waiting)} file(s) sent by the platform "
        f"({shown}; sent {since or 'earlier'}). The files were delivered and are recorded as "
        "sent: they will NOT be sent again. If the counterpart announced an outage, wait for "
        "it to end; otherwise ask its help desk whether the files arrived. Then clear this task "
        "(or let the next scheduled run collect the answers).")
