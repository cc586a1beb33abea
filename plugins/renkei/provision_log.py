"""情報提供等記録: the record of every inquiry the insurer made through the intermediary server
and every answer it got (when, which member token, which fiscal year, which legal purpose,
what came back). Members can ask to see theirs (マイナポータル shows the national side); the
``renkei disclosure`` command prints one member's.

Append-only, and tampering shows:

* SQLite (``var/provision_log/provision_log.sqlite``) with triggers that refuse UPDATE and
  DELETE, so no code path of the platform can change an entry;
* a hash chain: each entry stores the SHA-256 of the previous entry and its own SHA-256 over
  its canonical JSON, so an edited, deleted or reordered entry breaks the chain at that
  point even if someone rewrites the file without the triggers;
* a head file beside it (``provision_log.head``: last sequence number and hash), so that
  cutting entries off the end shows too.

:func:`ProvisionLog.verify` walks the chain and names the first entry at fault (by sequence
number). Entries hold tokens, codes and dates only. Each entry has a key (``inquiry:<id>``,
``answer:<id>``) and a key is written once: a retried task appends nothing twice.
Retention: about 7 years [DOMAIN.md 1.6, unverified]; nothing here deletes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from renkei.settings import paths

GENESIS = "0" * 64
INQUIRY, ANSWER = "inquiry", "answer"
# 事務 on whose basis the platform asks (番号法 別表第二; the item number is not pinned here
# [u]: a site sets the code its 中間サーバー registration uses).
PURPOSES = {
    "0101": "健康保険法による保険給付の支給に関する事務（所得区分の判定）",
}
OUTCOMES = {
    "sent": "照会済（回答待ち）",
    "answered": "情報提供あり",
    "moved": "該当なし（賦課期日前の転出）",
    "not_assessed": "未課税・未申告",
    "not_registered": "中間サーバー未登録",
}
_FIELDS = ("seq", "entry_key", "at", "event", "member_token", "fiscal_year", "purpose_code", "outcome",
           "reference", "prev_sha256")

_SCHEMA = """
create table if not exists entries (
    seq integer primary key,
    entry_key text not null unique,
    at text not null,                    -- Asia/Tokyo, ISO 8601
    event text not null,                 -- inquiry | answer
    member_token text not null,
    fiscal_year integer not null,
    purpose_code text not null,
    outcome text not null,
    reference text not null,             -- inquiry id and file, for the operator
    prev_sha256 text not null,
    sha256 text not null
);
create index if not exists entries_member on entries (member_token);
create trigger if not exists entries_no_update before update on entries
begin select raise(abort, 'the provision log is append-only'); end;
create trigger if not exists entries_no_delete before delete on entries
begin select raise(abort, 'the provision log is append-only'); end;
"""


@dataclass
class Verification:
    entries: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def entry_sha256(entry: Mapping[str, object]) -> str:
    canonical = json.dumps({k: entry[k] for k in _FIELDS}, ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ProvisionLog:
    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path or paths().var / "provision_log" / "provision_log.sqlite")
        self.head_path = self.path.with_suffix(".head")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._con.row_factory = sqlite3.Row
        self._con.execute("pragma synchronous=full")
        self._con.executescript(_SCHEMA)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> ProvisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append_many(self, entries: Iterable[Mapping[str, object]]) -> int:
        """Append entries (dicts with entry_key, at, event, member_token, fiscal_year,
        purpose_code, outcome, reference) in order; keys already present are skipped."""
        con = self._con
        con.execute("begin immediate")
        try:
            last = con.execute("select seq, sha256 from entries order by seq desc limit 1").fetchone()
            seq, prev = (last["seq"], last["sha256"]) if last else (0, GENESIS)
            added = 0
            for e in entries:
                if con.execute("select 1 from entries where entry_key = ?", [e["entry_key"]]).fetchone():
                    continue
                seq += 1
                row = {"seq": seq, "entry_key": e["entry_key"], "at": e["at"], "event": e["event"],
                       "member_token": e["member_token"], "fiscal_year": int(e["fiscal_year"]),
                       "purpose_code": e["purpose_code"], "outcome": e["outcome"],
                       "reference": e["reference"], "prev_sha256": prev}
                row["sha256"] = prev = entry_sha256(row)
                con.execute(f"insert into entries ({', '.join((*_FIELDS, 'sha256'))}) values "
                            f"({', '.join('?' * (len(_FIELDS) + 1))})",
                            [row[k] for k in (*_FIELDS, "sha256")])
                added += 1
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        if added:
            self._write_head(seq, prev)
        return added

    def _write_head(self, seq: int, sha256: str) -> None:
        tmp = self.head_path.with_name(f".{self.head_path.name}.part")
        tmp.write_text(f"{seq} {sha256}\n", encoding="ascii")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.head_path)

    def entries(self, member_token: str | None = None) -> Iterator[dict]:
        sql = "select * from entries" + (" where member_token = ?" if member_token else "") + " order by seq"
        for row in self._con.execute(sql, [member_token] if member_token else []):
            yield dict(row)

    def verify(self) -> Verification:
        """Walk the chain; name each entry whose sequence, link or hash is wrong."""
        problems: list[str] = []
        expected_seq, prev, n = 1, GENESIS, 0
        for row in self.entries():
            n += 1
            if row["seq"] != expected_seq:
                problems.append(f"entry {expected_seq}: missing (next entry is {row['seq']})")
            if row["prev_sha256"] != prev:
                problems.append(f"entry {row['seq']}: does not follow the entry before it "
                                "(an entry was edited, removed or moved)")
            if entry_sha256(row) != row["sha256"]:
                problems.append(f"entry {row['seq']}: its content does not match its hash (edited)")
            expected_seq, prev = row["seq"] + 1, row["sha256"]
        head = self.head_path.read_text("ascii").split() if self.head_path.exists() else None
        if head is None and n:
            problems.append("the head file is missing")
        elif head is not None and (int(head[0]), head[1]) != (expected_seq - 1, prev):
            problems.append(f"the log ends at entry {expected_seq - 1} but the head says {head[0]} "
                            "(entries were cut off the end or the head was changed)")
        return Verification(entries=n, problems=problems)


@contextlib.contextmanager
def opened(path: str | os.PathLike[str] | None = None) -> Iterator[ProvisionLog]:
    log = ProvisionLog(path)
    try:
        yield log
    finally:
        log.close()
