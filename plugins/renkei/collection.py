"""Collecting every member's My Number: pension-service files, J-LIS inquiries, reconciliation.

The steps of the DAG ``collect_my_numbers``, each small enough to be one task and each taking
and returning only run ids, paths and counts (all that may travel through XCom):

1. :func:`intake_pension_files` — every ``NENKIN_<YYYYMMDD>.dat`` waiting in the inbox is read
   strictly, gated in an in-memory DuckDB (``expectations/pension_my_numbers.*``) and its
   numbers put into the vault under the member token (source ``pension_service``). A bad file
   is quarantined with its reason and nothing from it is stored; the other files go on.
2. :func:`build_jlis_inquiry` — every member of the latest loaded eligibility month who is
   enrolled at its end, has no number in the vault and was not yet asked about for that
   month is asked about: the four basic facts come from the archived eligibility extract
   itself (the warehouse holds no names), are normalised by :mod:`renkei.matching` and are
   written to ``exchange/outbox/jlis/JLIS_Q_<run>.dat``. Inquiry ids, not insurer keys, go out.
3. :func:`take_jlis_answers` — ``exchange/inbox/jlis_answer/JLIS_A_<run>.dat`` is read,
   gated (``expectations/jlis_answer.*``) and each one-match answer with a valid number is
   put into the vault (source ``jlis``).
4. :func:`reconcile` — counts per outcome for the run and a work list for staff
   (``reports/my_numbers/``), naming members by insurer keys, never by My Number.

Where numbers rest: only in the vault. A delivered file is read in memory; once its numbers
are in the vault, the file is deleted and the archive keeps a receipt (name, SHA-256, counts),
which also recognises the same file delivered twice. A quarantined file keeps its numbers
until the sender replaces it. The warehouse schema ``collection`` holds member tokens,
outcomes and inquiry ids only.

Never stored over: a number that differs from the one the vault already holds for the member
(the pension service and J-LIS disagree) is listed as ``conflicting_sources`` for staff.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa

from renkei import exchange, gate, matching, warehouse
from renkei.fixedwidth.reader import FixedWidthFile, RecordError
from renkei.gate import EXPECTATIONS_DIR, SAMPLE_RECORDS, GateResult
from renkei.identifiers import is_valid_my_number
from renkei.intake import FilesRejected
from renkei.interfaces import eligibility, jlis, pension
from renkei.layout import load_layout
from renkei.settings import TIMEZONE, paths
from renkei.tokens import Tokenizer

log = logging.getLogger(__name__)

DAG_ID = "collect_my_numbers"
ANSWER_INBOX = jlis.ANSWER                       # exchange/inbox/jlis_answer/
INQUIRY_ARCHIVE = jlis.INQUIRY                   # exchange/archive/jlis_inquiry/
# Vault read purpose when an incoming number is compared with the one already held.
PURPOSE_COMPARE = "collection_source_comparison"


@dataclass(frozen=True)
class Outcome:
    code: str
    label_ja: str
    follow_up: str | None        # what staff do; None = nothing to do
    names_needed: bool = False   # staff contact the member or the register: names shown


# The reconciliation's rows, in the order they are printed.
OUTCOMES = (
    Outcome("from_pension_file", "年金機構ファイルから取得", None),
    Outcome("matched_by_jlis", "J-LIS照会で一致（取得）", None),
    Outcome("several_candidates", "J-LIS照会で複数候補",
            "本人に住民票の記載事項を確認し、基本4情報を訂正して再照会", names_needed=True),
    Outcome("no_match", "J-LIS照会で該当なし",
            "本人に氏名・生年月日・住所（転居）を確認し、訂正して再照会", names_needed=True),
    Outcome("invalid", "個人番号の検査用数字誤り", "J-LISへ再照会（番号は保存していない）"),
    Outcome("conflicting_sources", "年金機構とJ-LISで個人番号が不一致",
            "年金機構・J-LISに確認（保管済みの番号は上書きしていない）"),
    Outcome("already_held", "保管済みの個人番号と一致", None),
    Outcome("pension_not_matched", "年金機構の記録に一致する加入者なし",
            "年金機構に記号・番号・生年月日を確認"),
    Outcome("duplicate_members", "基本4情報が同じ加入者が複数（照会していない）",
            "二重加入・入力誤りを確認して資格情報を訂正（訂正後の月に照会）", names_needed=True),
)
OUTCOME_BY_CODE = {o.code: o for o in OUTCOMES}
FOLLOW_UP = tuple(o.code for o in OUTCOMES if o.follow_up)

_LEDGER_SQL = """
create schema if not exists collection;
-- Files whose numbers went into the vault (recognises a second delivery).
create table if not exists collection.files (
    interface varchar not null,
    file_name varchar not null,
    file_sha256 varchar not null,
    data_record_count integer not null,
    run_id varchar not null,
    loaded_at timestamptz not null,
    primary key (interface, file_sha256)
);
-- What happened to each member in each run. Tokens and codes only.
create table if not exists collection.outcomes (
    run_id varchar not null,
    member_token varchar not null,
    outcome varchar not null,
    source varchar not null,
    file_name varchar not null,
    record_no integer not null,
    recorded_at timestamptz not null
);
-- Inquiries sent to J-LIS: the inquiry id is all that leaves with the facts.
create table if not exists collection.inquiries (
    run_id varchar not null,
    inquiry_id varchar not null,
    member_token varchar not null,
    eligibility_batch_id varchar not null,
    answered boolean not null,
    primary key (run_id, inquiry_id)
);
"""


# -- small helpers ---------------------------------------------------------------------------
def open_vault():
    """The vault (one place, so tests and tools agree on which vault is used)."""
    from renkei.vault import Vault  # imported when needed: the DAG file stays light

    return Vault()


RUN_ID_FORMAT = "%Y%m%dT%H%M"


def run_id_for(when: dt.datetime) -> str:
    """``YYYYMMDDTHHMM`` in Tokyo time: names the run's inquiry, answer and reports.

    The ``T`` matters: twelve digits in a row would look like a My Number to the log mask.
    """
    return when.astimezone(ZoneInfo(TIMEZONE)).strftime(RUN_ID_FORMAT)


def run_date(run_id: str) -> dt.date:
    return dt.datetime.strptime(run_id[:8], "%Y%m%d").date()


def _one(cursor) -> tuple | None:
    """The only row of a query, fetched to the end (DuckDB 2 refuses new work on a
    connection whose last result was not read completely)."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def _now() -> dt.datetime:
    return dt.datetime.now(ZoneInfo(TIMEZONE))


@contextlib.contextmanager
def _ledger() -> Iterator[duckdb.DuckDBPyConnection]:
    with warehouse.writer() as con:
        con.execute(_LEDGER_SQL)
        yield con


def _receipt(source: Path, interface: str, run_id: str, counts: dict[str, int], sha256: str) -> Path:
    """Delete a delivered file whose numbers are in the vault; leave a receipt in the archive.

    The receipt holds the file's name, size, SHA-256 and counts, never a value: the vault is
    the only place a number rests once it has been taken in.
    """
    folder = paths().archive(interface)
    folder.mkdir(parents=True, exist_ok=True)
    receipt = folder / f"{source.name}.receipt.json"
    if receipt.exists():
        receipt = folder / f"{source.name}.{_now():%Y%m%dT%H%M%S%f}.receipt.json"
    body = {"file": source.name, "bytes": source.stat().st_size, "sha256": sha256, "run_id": run_id,
            "taken_at": _now().isoformat(timespec="seconds"), "counts": counts,
            "note": "the file was deleted after its numbers were put into the vault"}
    receipt.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    source.unlink()
    return receipt


def _has_receipt(interface: str, source: Path, sha256: str) -> bool:
    for receipt in paths().archive(interface).glob(f"{source.name}*.receipt.json"):
        if json.loads(receipt.read_text("utf-8")).get("sha256") == sha256:
            return True
    return False


def _reject(source: Path, interface: str, reason: str) -> dict:
    target = exchange.quarantine(source, interface, reason)
    log.warning("%s rejected, moved to %s", source.name, target)
    return {"file": source.name, "quarantined_to": str(target), "reason": reason}


def gate_in_memory(suite: str, records: pa.Table, file_name: str, variables: dict[str, object],
                   relations: dict[str, pa.Table], extra_metrics: dict[str, int]) -> GateResult:
    """:func:`renkei.gate.run_gate` over records held in memory.

    The eligibility gate reads a staged Parquet file; records with My Numbers are never
    written to disk, so here they are registered with an in-memory DuckDB (spilling to disk
    turned off) and the suite's SQL runs over them. Great Expectations then sees the counts
    only, exactly as for the other gates.
    """
    con = duckdb.connect()
    try:
        con.execute("set temp_directory = ''")
        con.register("staged", records)
        for name, table in relations.items():
            con.register(name, table)
        for name, value in variables.items():
            con.execute(f"set variable {name} = ?", [value])
        con.execute((EXPECTATIONS_DIR / "_common.sql").read_text("utf-8"))
        con.execute((EXPECTATIONS_DIR / f"{suite}.sql").read_text("utf-8"))
        checks = [r[0] for r in con.execute("describe gate_flags").fetchall() if r[0] != "record_no"]
        selects = ["count(*) as data_record_count"]
        for c in checks:
            selects.append(f'count(*) filter (where "{c}") as "{c}"')
            selects.append(f'(list(record_no order by record_no) filter (where "{c}"))'
                           f'[1:{SAMPLE_RECORDS}] as "{c}__records"')
        cur = con.execute(f"select {', '.join(selects)} from gate_flags")
        names = [d[0] for d in cur.description]
        row = _one(cur)
        totals: dict[str, int] = {}
        if _one(con.execute("select count(*) from duckdb_views() where view_name = 'gate_totals'"))[0]:
            cur = con.execute("select * from gate_totals")
            names_totals = [d[0] for d in cur.description]
            totals = dict(zip(names_totals, _one(cur), strict=True))
    finally:
        con.close()
    values = dict(zip(names, row, strict=True))
    metrics = {k: int(v) for k, v in values.items() if not k.endswith("__records")}
    metrics.update({k: int(v) for k, v in totals.items()})
    metrics.update(extra_metrics)
    samples = {k.removesuffix("__records"): list(v or []) for k, v in values.items()
               if k.endswith("__records")}
    result = gate.validate(suite, file_name, metrics, samples)
    log.info("%s", result.summary())
    return result


# -- the latest eligibility month ------------------------------------------------------------
@dataclass(frozen=True)
class EligibilityBatch:
    batch_id: str
    period: dt.date
    file_name: str
    file_sha256: str

    @property
    def month_end(self) -> dt.date:
        nxt = (self.period + dt.timedelta(days=32)).replace(day=1)
        return nxt - dt.timedelta(days=1)


def latest_eligibility_batch(con: duckdb.DuckDBPyConnection) -> EligibilityBatch | None:
    row = _one(con.execute(
        "select batch_id, period, file_name, file_sha256 from raw.load_batches "
        "where interface = ? order by period desc limit 1", [eligibility.INTERFACE]))
    return EligibilityBatch(*row) if row else None


def _members_of(con: duckdb.DuckDBPyConnection, batch: EligibilityBatch) -> pa.Table:
    """(member_token, birth_date) of everyone enrolled at the end of the batch's month."""
    rows = con.execute(
        "select member_token, birth_date from raw.eligibility_members "
        "where batch_id = ? and (lost_date is null or lost_date > ?)",
        [batch.batch_id, batch.month_end]).fetchall()
    return pa.table({"member_token": pa.array([r[0] for r in rows], pa.string()),
                     "birth_date": pa.array([r[1] for r in rows], pa.date32())})


def eligibility_file(batch: EligibilityBatch) -> Path:
    """The extract that was loaded as ``batch``: in the archive (or still in the inbox),
    recognised by its SHA-256, so a later corrected delivery is never mistaken for it."""
    stem = Path(batch.file_name).stem
    for folder in (paths().archive(eligibility.INTERFACE), paths().inbox(eligibility.INTERFACE)):
        if not folder.is_dir():
            continue
        for candidate in sorted(folder.glob(f"{stem}*.dat")):
            if exchange.sha256_of(candidate) == batch.file_sha256:
                return candidate
    raise LookupError(
        f"the eligibility extract loaded as {batch.batch_id} ({batch.file_name}) is not in "
        f"{paths().archive(eligibility.INTERFACE)}: J-LIS inquiries are built from its names and "
        "addresses. Restore the archived file, then clear this task.")


_MEMBER_FIELDS = ("insurer_number", "symbol", "number", "branch_number", "relationship",
                  "name_kanji", "name_kana", "sex", "birth_date", "lost_date", "address_kanji")


@dataclass(frozen=True, repr=False)
class MemberFacts:
    """One member as the extract holds them: insurer keys, the four facts. Memory only."""

    member_token: str
    record_no: int
    insurer_number: str
    symbol: str
    number: str
    branch_number: str
    relationship: str
    name_kanji: str
    name_kana: str
    sex: str
    birth_date: dt.date
    address: str

    def __repr__(self) -> str:  # never print a name or key by accident
        return f"MemberFacts({self.member_token})"


def read_member_facts(path: Path, batch: EligibilityBatch, wanted: set[str] | None = None,
                      tokenizer: Tokenizer | None = None) -> Iterator[MemberFacts]:
    """Members enrolled at the end of the batch's month, read from the extract itself
    (names and addresses stay in this process's memory); only ``wanted`` tokens if given."""
    tok = tokenizer or Tokenizer()
    end = np.datetime64(batch.month_end, "D")
    with FixedWidthFile(path, load_layout(eligibility.INTERFACE), columns=_MEMBER_FIELDS) as f:
        for chunk in f.chunks():
            v = chunk.values
            keys = zip(v["insurer_number"], v["symbol"], v["number"], v["branch_number"], strict=True)
            tokens = tok.tokens(f"{a}{b}{c}{d}".encode() for a, b, c, d in keys)
            lost = v["lost_date"].astype("datetime64[D]")
            enrolled = np.isnat(lost) | (lost > end)
            births = v["birth_date"].astype("datetime64[D]").astype(object)
            for i, token in enumerate(tokens):
                if not enrolled[i] or (wanted is not None and token not in wanted):
                    continue
                yield MemberFacts(
                    member_token=token, record_no=int(chunk.record_no[i]),
                    insurer_number=v["insurer_number"][i], symbol=v["symbol"][i],
                    number=v["number"][i], branch_number=v["branch_number"][i],
                    relationship=v["relationship"][i], name_kanji=v["name_kanji"][i],
                    name_kana=v["name_kana"][i], sex=v["sex"][i], birth_date=births[i],
                    address=v["address_kanji"][i])


# -- 1. pension-service files ----------------------------------------------------------------
def pending_pension_files() -> list[Path]:
    inbox = paths().inbox(pension.INTERFACE)
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.glob(pension.FILE_PATTERN) if p.is_file())


def _already_taken(con: duckdb.DuckDBPyConnection, interface: str, sha256: str) -> tuple | None:
    return _one(con.execute("select file_name, run_id, loaded_at from collection.files "
                            "where interface = ? and file_sha256 = ?", [interface, sha256]))


def _classify_incoming(vault, tokens: list[str], numbers: list[str]) -> list[str]:
    """Compare incoming numbers with what the vault holds; never store over a different one.

    Returns per record: ``store`` (the vault has none), ``same`` or ``different``. ``same``
    for a pension record whose number J-LIS gave earlier is a confirmation; ``same`` with no
    earlier outcome from another source is this very file taken in by an interrupted run.
    """
    held = set(vault.tokens())
    out = []
    for token, number in zip(tokens, numbers, strict=True):
        if token not in held:
            out.append("store")
        elif vault.get(token, PURPOSE_COMPARE) == number:
            out.append("same")
        else:
            out.append("different")
    return out


def _earlier_sources(con: duckdb.DuckDBPyConnection, tokens: list[str], source: str) -> set[str]:
    """Members for whom another source already gave a number (a confirmation, not a reload)."""
    if not tokens:
        return set()
    rel = pa.table({"member_token": pa.array(tokens, pa.string())})
    con.register("incoming_tokens", rel)
    try:
        rows = con.execute(
            "select distinct o.member_token from collection.outcomes o "
            "join incoming_tokens i using (member_token) "
            "where o.source <> ? and o.outcome in ('from_pension_file', 'matched_by_jlis')",
            [source]).fetchall()
    finally:
        con.unregister("incoming_tokens")
    return {r[0] for r in rows}


def intake_pension_file(source: Path, run_id: str, vault) -> dict:
    """Read, gate and store one pension-service file. Returns {'loaded': ...} or {'rejected': ...}."""
    sha = exchange.sha256_of(source)
    with _ledger() as con:
        taken = _already_taken(con, pension.INTERFACE, sha)
        # Members whose number the pension service already gave and the vault holds. A record
        # that matched nobody or disagreed may come again, corrected.
        earlier = pa.table({"member_token": pa.array([r[0] for r in con.execute(
            "select distinct member_token from collection.outcomes where source = ? "
            "and outcome in ('from_pension_file', 'already_held')", [pension.SOURCE]).fetchall()],
            pa.string())})
        batch = latest_eligibility_batch(con)
        if batch is None:
            raise LookupError("no eligibility month is loaded: pension-service records cannot be "
                              "matched to members yet")
        members = _members_of(con, batch)
    if taken:
        resumed = taken[0] == source.name and taken[1] == run_id
        if resumed and not _has_receipt(pension.INTERFACE, source, sha):
            # This run stored the file and stopped before its receipt: finish the job.
            _receipt(source, pension.INTERFACE, run_id, {}, sha)
            return {"loaded": {"file": source.name, "resumed": True}}
        return {"rejected": _reject(source, pension.INTERFACE, (
            f"{source.name}: the same file (identical bytes) was already taken in as {taken[0]} by run "
            f"{taken[1]}; nothing was stored again. If the pension service meant to send new "
            "records, ask for a new file."))}
    try:
        delivered = pension.read(source)
    except RecordError as exc:
        return {"rejected": _reject(source, pension.INTERFACE, str(exc))}
    records = delivered.records
    result = gate_in_memory(
        "pension_my_numbers", records, delivered.file_name,
        variables={"file_date": delivered.created_date},
        relations={"earlier_files": earlier, "members": members},
        extra_metrics={"trailer_record_count": delivered.trailer_record_count},
    )
    if not result.passed:
        return {"rejected": _reject(source, pension.INTERFACE, result.summary())}

    known = {(t, d) for t, d in zip(members.column("member_token").to_pylist(),
                                    members.column("birth_date").to_pylist(), strict=True)}
    tokens = records.column("member_token").to_pylist()
    numbers = records.column("my_number").to_pylist()
    births = records.column("birth_date").to_pylist()
    record_nos = records.column("record_no").to_pylist()
    is_member = [(t, b) in known for t, b in zip(tokens, births, strict=True)]
    with _ledger() as con:
        confirmed_before = _earlier_sources(con, tokens, pension.SOURCE)
    state = _classify_incoming(vault, [t for t, m in zip(tokens, is_member, strict=True) if m],
                               [n for n, m in zip(numbers, is_member, strict=True) if m])
    states = iter(state)
    outcomes, to_store = [], []
    for token, number, member, rec in zip(tokens, numbers, is_member, record_nos, strict=True):
        if not member:
            outcome = "pension_not_matched"
        else:
            s = next(states)
            if s == "store":
                outcome = "from_pension_file"
                to_store.append((token, number, pension.SOURCE))
            elif s == "same":
                outcome = "already_held" if token in confirmed_before else "from_pension_file"
            else:
                outcome = "conflicting_sources"
        outcomes.append((token, outcome, rec))
    vault.put_many(to_store)
    counts = dict(Counter(o for _, o, _ in outcomes))
    now = _now()
    with _ledger() as con:
        con.execute("begin transaction")
        try:
            con.execute("delete from collection.outcomes where run_id = ? and source = ? and file_name = ?",
                        [run_id, pension.SOURCE, source.name])
            con.executemany(
                "insert into collection.outcomes values (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, t, o, pension.SOURCE, source.name, r, now) for t, o, r in outcomes])
            con.execute("insert or replace into collection.files values (?, ?, ?, ?, ?, ?)",
                        [pension.INTERFACE, source.name, sha, delivered.data_record_count, run_id, now])
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    receipt = _receipt(source, pension.INTERFACE, run_id, counts, sha)
    log.info("%s: %s records, outcomes %s; receipt %s", source.name, delivered.data_record_count,
             counts, receipt.name)
    return {"loaded": {"file": source.name, "records": delivered.data_record_count, "outcomes": counts,
                       "warnings": [w.check for w in result.warnings]}}


def intake_pension_files(run_id: str) -> dict:
    """Take in every waiting pension-service file; a rejected one does not stop the others.

    Until an eligibility month is loaded, files wait in the inbox: a record is stored only
    for a member whose key and birth date the insurer's own records confirm.
    """
    loaded, rejected = [], []
    files = pending_pension_files()
    if files:
        with _ledger() as con:
            ready = latest_eligibility_batch(con) is not None
        if not ready:
            log.warning("%d pension-service file(s) wait in the inbox: no eligibility month is loaded "
                        "yet to match them against", len(files))
            files = []
    if files:
        with open_vault() as vault:
            for source in files:
                outcome = intake_pension_file(source, run_id, vault)
                (loaded if "loaded" in outcome else rejected).append(next(iter(outcome.values())))
    return {"interface": pension.INTERFACE, "run_id": run_id, "loaded": loaded, "rejected": rejected}


# -- 2. the J-LIS inquiry --------------------------------------------------------------------
def build_jlis_inquiry(run_id: str) -> dict:
    """Write the inquiry for every member still without a number; return its path and count.

    Members already asked about for the same eligibility month are not asked again: J-LIS
    would answer the same facts the same way. The next month's extract (with corrected facts)
    asks again.
    """
    with _ledger() as con:
        batch = latest_eligibility_batch(con)
        if batch is None:
            log.warning("no eligibility month loaded yet: nobody to ask J-LIS about")
            return {"run_id": run_id, "inquiry_file": None, "inquiries": 0, "eligibility_batch": None}
        asked = {r[0] for r in con.execute(
            "select member_token from collection.inquiries where eligibility_batch_id = ? "
            "and run_id <> ?", [batch.batch_id, run_id]).fetchall()}
    path = eligibility_file(batch)
    with open_vault() as vault:
        held = set(vault.tokens())
    by_facts: dict[tuple, list[tuple[MemberFacts, matching.Facts]]] = {}
    for m in read_member_facts(path, batch):
        if m.member_token in held or m.member_token in asked:
            continue
        facts = matching.normalise(m.name_kanji, m.name_kana, m.sex, m.birth_date, m.address)
        key = (facts.name_kanji, facts.name_kana, facts.sex, facts.birth_date, facts.address)
        by_facts.setdefault(key, []).append((m, facts))
    rows, links, duplicates = [], [], []
    for group in by_facts.values():
        if len(group) > 1:
            # Two members with the same four facts are one person enrolled twice or a typing
            # error: J-LIS would give both the same number. Staff sort it out first.
            duplicates += [(run_id, m.member_token, "duplicate_members", "eligibility", batch.file_name,
                            m.record_no) for m, _ in group]
            continue
        m, facts = group[0]
        inquiry_id = f"{len(rows) + 1:010d}"
        rows.append({"inquiry_id": inquiry_id, "name_kanji": facts.name_kanji,
                     "name_kana": facts.name_kana, "sex": facts.sex, "birth_date": facts.birth_date,
                     "address_kanji": facts.address})
        links.append((run_id, inquiry_id, m.member_token, batch.batch_id, False))
    if duplicates:
        log.warning("%d members share their four basic facts with another member: not asked about",
                    len(duplicates))
    with _ledger() as con:
        con.execute("begin transaction")
        try:
            con.execute("delete from collection.outcomes where run_id = ? and source = 'eligibility'",
                        [run_id])
            if duplicates:
                now = _now()
                con.executemany("insert into collection.outcomes values (?, ?, ?, ?, ?, ?, ?)",
                                [(*d, now) for d in duplicates])
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    if not rows:
        log.info("every member of %s has a number or was asked about already", batch.batch_id)
        return {"run_id": run_id, "inquiry_file": None, "inquiries": 0, "eligibility_batch": batch.batch_id}
    with _ledger() as con:
        con.execute("begin transaction")
        try:
            con.execute("delete from collection.inquiries where run_id = ?", [run_id])
            con.executemany("insert into collection.inquiries values (?, ?, ?, ?, ?)", links)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    target = jlis.outbox() / jlis.inquiry_file_name(run_id)
    n = jlis.write_inquiry(target, run_id, run_date(run_id), rows)
    log.info("J-LIS inquiry %s: %s members of %s", target.name, f"{n:,}", batch.batch_id)
    return {"run_id": run_id, "inquiry_file": str(target), "inquiries": n,
            "eligibility_batch": batch.batch_id}


# -- 3. the J-LIS answer ---------------------------------------------------------------------
def find_jlis_answer(run_id: str) -> Path | None:
    path = paths().inbox(ANSWER_INBOX) / jlis.answer_file_name(run_id)
    return path if path.is_file() else None


def _answer_rejected(source: Path, reason: str) -> NoReturn:
    target = exchange.quarantine(source, jlis.ANSWER, reason)
    raise FilesRejected(
        f"1 file(s) rejected.\n\n[{jlis.ANSWER}] {reason}\nThe answer was moved to {target}; nothing "
        "from it was stored. Ask J-LIS to answer the inquiry again (the inquiry is still in "
        f"{jlis.outbox()}), put the answer in the inbox and clear this task.")


def take_jlis_answers(run_id: str) -> dict:
    """Gate the run's answer and store each single match; quarantine the answer if it fails."""
    source = find_jlis_answer(run_id)
    if source is None:
        raise FileNotFoundError(f"no J-LIS answer {jlis.answer_file_name(run_id)} in "
                                f"{paths().inbox(ANSWER_INBOX)}")
    sha = exchange.sha256_of(source)
    with _ledger() as con:
        taken = _already_taken(con, jlis.ANSWER, sha)
        rows = con.execute("select inquiry_id, member_token from collection.inquiries "
                           "where run_id = ? order by inquiry_id", [run_id]).fetchall()
        sent = pa.table({"inquiry_id": pa.array([r[0] for r in rows], pa.string()),
                         "member_token": pa.array([r[1] for r in rows], pa.string())})
    if taken:
        _answer_rejected(source, f"{source.name}: the same answer (identical bytes) was already taken "
                                 f"in by run {taken[1]}; nothing was stored again.")
    try:
        answer = jlis.read_answer(source, run_id)
    except RecordError as exc:
        _answer_rejected(source, str(exc))
    result = gate_in_memory(
        "jlis_answer", answer.records, answer.file_name, variables={},
        relations={"sent": sent.select(["inquiry_id"])},
        extra_metrics={"trailer_record_count": answer.trailer_record_count},
    )
    if not result.passed:
        _answer_rejected(source, result.summary())

    member_of = dict(zip(sent.column("inquiry_id").to_pylist(), sent.column("member_token").to_pylist(),
                         strict=True))
    recs = answer.records
    rows = list(zip(recs.column("inquiry_id").to_pylist(), recs.column("result").to_pylist(),
                    recs.column("my_number").to_pylist(), recs.column("record_no").to_pylist(),
                    strict=True))
    single = [(member_of[i], n) for i, r, n, _ in rows
              if r == jlis.RESULT_ONE_MATCH and is_valid_my_number(n)]
    outcomes, to_store = [], []
    with open_vault() as vault:
        state = dict(zip((t for t, _ in single),
                         _classify_incoming(vault, [t for t, _ in single], [n for _, n in single]),
                         strict=True))
        for inquiry_id, res, number, rec in rows:
            token = member_of[inquiry_id]
            if res == jlis.RESULT_SEVERAL:
                outcome = "several_candidates"
            elif res == jlis.RESULT_NO_MATCH:
                outcome = "no_match"
            elif not is_valid_my_number(number):
                outcome = "invalid"
            elif state[token] == "different":
                outcome = "conflicting_sources"
            else:
                outcome = "matched_by_jlis"
                if state[token] == "store":
                    to_store.append((token, number, jlis.SOURCE))
            outcomes.append((token, outcome, rec))
        vault.put_many(to_store)
    counts = dict(Counter(o for _, o, _ in outcomes))
    now = _now()
    with _ledger() as con:
        con.execute("begin transaction")
        try:
            con.execute("delete from collection.outcomes where run_id = ? and source = ?",
                        [run_id, jlis.SOURCE])
            con.executemany("insert into collection.outcomes values (?, ?, ?, ?, ?, ?, ?)",
                            [(run_id, t, o, jlis.SOURCE, source.name, r, now) for t, o, r in outcomes])
            con.execute("update collection.inquiries set answered = true where run_id = ?", [run_id])
            con.execute("insert or replace into collection.files values (?, ?, ?, ?, ?, ?)",
                        [jlis.ANSWER, source.name, sha, answer.data_record_count, run_id, now])
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    _receipt(source, jlis.ANSWER, run_id, counts, sha)
    sent_file = jlis.outbox() / jlis.inquiry_file_name(run_id)
    if sent_file.exists():
        exchange.archive(sent_file, INQUIRY_ARCHIVE)
    log.info("%s: outcomes %s", source.name, counts)
    return {"run_id": run_id, "file": source.name, "answers": answer.data_record_count, "outcomes": counts,
            "warnings": [w.check for w in result.warnings]}


# -- 4. reconciliation and the work list ------------------------------------------------------
# Rows after the outcomes: what the run did and where the month stands.
EXTRA_ROWS = (
    ("inquiries_sent", "J-LIS照会件数", "J-LIS inquiries sent (照会件数)"),
    ("pension_files_loaded", "年金機構ファイル受領数", "pension files taken in (受領)"),
    ("pension_files_rejected", "年金機構ファイル差戻し数（隔離）", "pension files rejected (隔離)"),
    ("members_at_month_end", "最新資格月末の加入者数", "members at the end of the month (加入者)"),
    ("still_without_number", "個人番号未取得の加入者数", "still without a number (未取得)"),
    ("worklist_members", "要対応リスト件数", "on the work list (要対応)"),
)


@dataclass(frozen=True)
class Reconciliation:
    run_id: str
    counts: dict[str, int]          # every outcome code and every EXTRA_ROWS code
    eligibility_batch: str | None
    csv: str
    worklist: str

    def to_xcom(self) -> dict:
        return {"run_id": self.run_id, "counts": self.counts, "eligibility_batch": self.eligibility_batch,
                "csv": self.csv, "worklist": self.worklist}


def report_paths(run_id: str) -> tuple[Path, Path]:
    out_dir = paths().reports / "my_numbers"
    return out_dir / f"reconciliation_{run_id}.csv", out_dir / f"worklist_{run_id}.xlsx"


def reconcile(run_id: str, pension_intake: dict | None = None) -> Reconciliation:
    """Count the run's outcomes and write the reconciliation and the staff work list."""
    with _ledger() as con:
        counts = dict.fromkeys((o.code for o in OUTCOMES), 0)
        for code, n in con.execute("select outcome, count(*) from collection.outcomes where run_id = ? "
                                   "group by outcome", [run_id]).fetchall():
            counts[code] = int(n)
        sent = _one(con.execute("select count(*) from collection.inquiries where run_id = ?",
                                [run_id]))[0]
        follow = con.execute(
            "select member_token, outcome, source, file_name, record_no from collection.outcomes "
            f"where run_id = ? and outcome in ({', '.join('?' * len(FOLLOW_UP))}) "
            f"order by list_position(?, outcome), file_name, record_no",
            [run_id, *FOLLOW_UP, list(FOLLOW_UP)]).fetchall()
        batch = latest_eligibility_batch(con)
        if batch is None:
            raise LookupError("no eligibility month is loaded: pension-service records cannot be "
                              "matched to members yet")
        members = _members_of(con, batch).column("member_token").to_pylist() if batch else []
    with open_vault() as vault:
        held = set(vault.tokens())
    facts: dict[str, MemberFacts] = {}
    if follow and batch is not None:
        path = eligibility_file(batch)
        facts = {m.member_token: m for m in read_member_facts(path, batch, {r[0] for r in follow})}
    files = pension_intake or {}
    counts.update(
        inquiries_sent=int(sent), pension_files_loaded=len(files.get("loaded", [])),
        pension_files_rejected=len(files.get("rejected", [])), members_at_month_end=len(members),
        still_without_number=sum(1 for t in members if t not in held), worklist_members=len(follow),
    )
    csv_path, xlsx_path = report_paths(run_id)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    _write_reconciliation_csv(csv_path, run_id, counts)
    _write_worklist(xlsx_path, run_id, follow, facts)
    rec = Reconciliation(run_id=run_id, counts=counts, eligibility_batch=batch.batch_id if batch else None,
                         csv=str(csv_path), worklist=str(xlsx_path))
    log.info("\n%s", format_reconciliation(rec))
    return rec


def _write_reconciliation_csv(path: Path, run_id: str, counts: dict[str, int]) -> None:
    rows = [(o.code, o.label_ja) for o in OUTCOMES] + [(code, ja) for code, ja, _ in EXTRA_ROWS]
    tmp = path.with_name(f".{path.name}.part")
    # UTF-8 with BOM: Excel opens it with the Japanese labels intact.
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["run_id", "outcome", "区分", "件数"])
        for code, label in rows:
            w.writerow([run_id, code, label, counts[code]])
    os.replace(tmp, path)


def load_reconciliation(run_id: str) -> Reconciliation:
    """A run's reconciliation as written (for the demo's print and for checks)."""
    csv_path, xlsx_path = report_paths(run_id)
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        counts = {row["outcome"]: int(row["件数"]) for row in csv.DictReader(fh)}
    return Reconciliation(run_id=run_id, counts=counts, eligibility_batch=None, csv=str(csv_path),
                          worklist=str(xlsx_path))


WORKLIST_NOTE = ("個人番号は記載していません。氏名・生年月日・住所は、本人または住民票での確認が必要な行"
                 "（J-LIS照会で複数候補・該当なし、基本4情報が同じ加入者）にのみ記載しています。"
                 "取扱いは事務取扱担当者に限り、対応後は削除してください。")
_SOURCE_JA = {pension.SOURCE: "年金機構", jlis.SOURCE: "J-LIS", "eligibility": "資格情報"}
_WORKLIST_COLUMNS = ("保険者番号", "記号", "番号", "枝番", "本人家族区分", "結果", "対応", "情報源",
                     "ファイル", "レコード番号", "氏名（漢字）", "氏名（カナ）", "性別", "生年月日", "住所")


def _write_worklist(path: Path, run_id: str, follow: list[tuple], facts: dict[str, MemberFacts]) -> None:
    """The staff work list: insurer keys for every row, names only where the follow-up needs
    them (see WORKLIST_NOTE). Saved with a pinned timestamp so a re-run writes the same bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from renkei.reports.workbook import save_reproducibly

    wb = Workbook()
    ws = wb.active
    ws.title = "要対応"
    ws.append([f"個人番号収集 要対応リスト（実行 {run_id}）"])
    ws["A1"].font = Font(bold=True)
    ws.append([WORKLIST_NOTE])
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(_WORKLIST_COLUMNS))
    ws.row_dimensions[2].height = 45
    ws.append(list(_WORKLIST_COLUMNS))
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for token, code, source, file_name, record_no in follow:
        outcome = OUTCOME_BY_CODE[code]
        m = facts.get(token)
        keys = [m.insurer_number, m.symbol, m.number, m.branch_number,
                "被保険者" if m.relationship == "1" else "被扶養者"] if m else ["", "", "", "", ""]
        names = ["", "", "", "", ""]
        if m and outcome.names_needed:
            names = [m.name_kanji, m.name_kana, "男" if m.sex == "1" else "女",
                     m.birth_date.isoformat(), m.address]
        ws.append([*keys, outcome.label_ja, outcome.follow_up, _SOURCE_JA.get(source, source), file_name,
                   record_no, *names])
        for col in range(1, 5):  # codes keep their leading zeros
            ws.cell(row=ws.max_row, column=col).number_format = "@"
    for letter, width in zip("ABCDEFGHIJKLMNO", (11, 11, 11, 6, 11, 28, 48, 9, 26, 11, 18, 22, 6, 12, 44),
                             strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A4"
    stamp = dt.datetime.strptime(run_id, RUN_ID_FORMAT)
    tmp = path.with_name(f".{path.name}.part")
    save_reproducibly(wb, tmp, stamp)
    os.chmod(tmp, 0o600)   # names of members: readable by the platform account only
    os.replace(tmp, path)


_PRINT_LABELS = {
    "from_pension_file": "from the pension file (年金機構)",
    "matched_by_jlis": "matched by J-LIS (一致)",
    "several_candidates": "several candidates (複数候補)",
    "no_match": "no match (該当なし)",
    "invalid": "invalid check digit (検査用数字誤り)",
    "conflicting_sources": "conflicting sources (不一致)",
    "already_held": "confirms a held number (保管済みと一致)",
    "pension_not_matched": "pension record, no such member (加入者なし)",
    "duplicate_members": "same four facts, not asked (基本4情報重複)",
    **{code: en for code, _, en in EXTRA_ROWS},
}


def _pad(text: str, width: int) -> str:
    shown = sum(2 if ord(c) > 0x2E80 else 1 for c in text)   # wide characters take two columns
    return text + " " * max(0, width - shown)


def format_reconciliation(rec: Reconciliation) -> str:
    """The reconciliation as the demo prints it: counts only, no member is named."""
    lines = [f"My Number collection, run {rec.run_id} (個人番号の収集 照合結果)",
             f"{_pad('outcome', 46)} {'members':>9}"]
    for code in [o.code for o in OUTCOMES] + [code for code, _, _ in EXTRA_ROWS]:
        if code == EXTRA_ROWS[0][0]:
            lines.append("-" * 56)
        lines.append(f"{_pad(_PRINT_LABELS[code], 46)} {rec.counts.get(code, 0):>9,}")
    lines.append(f"Reconciliation: {rec.csv}")
    lines.append(f"Work list for staff (insurer keys, no My Numbers): {rec.worklist}")
    return "\n".join(lines)


# -- running it: the demo and tests ------------------------------------------------------------
SENSOR_TASK = "wait_for_jlis_answer"


def run_dag(when: dt.datetime, poke_seconds: float | None = None) -> str:
    """Run ``collect_my_numbers`` once as of ``when`` with ``dag.test()``; return the run state.

    ``poke_seconds`` shortens the sensor's wait between looks at the inbox: in the demo and
    the tests J-LIS answers within seconds, where the scheduled DAG looks every half hour.
    """
    from renkei import runs

    dag = runs.get_dag(DAG_ID)
    if poke_seconds is not None:
        dag.get_task(SENSOR_TASK).poke_interval = poke_seconds
    dr = dag.test(logical_date=when, run_after=when)
    return str(getattr(dr, "state", dr))


def demo_collect(members: int = 20_000, start: str = "2017-07", end: str = "2018-03",
                 seed: int = 20170718) -> list[tuple[str, Reconciliation | None]]:
    """The sandbox insurer's My Number collection, after the monthly cycle loaded ``end``.

    Plays the outside bodies: the pension service delivers its file for ``end`` and, a day
    later, a supplementary file of the people it missed; J-LIS answers each inquiry from a
    background thread. Runs the DAG once per delivery and returns (state, reconciliation)
    per run (the reconciliation is None when the run failed before writing it).
    """
    from renkei_sandbox import simulate  # the stand-ins for the outside bodies
    from renkei_sandbox.jlis import JlisCounterpart, MyNumberScenario
    from renkei_sandbox.population import next_month

    population = simulate(start, end, members=members, seed=seed)
    scenario = MyNumberScenario(population, end)
    first = next_month(scenario.month).replace(day=6)   # after the month's extract was loaded
    results = []
    for day, deliver in ((first, scenario.pension.deliver),
                         (first + dt.timedelta(days=1), scenario.pension.deliver_supplement)):
        deliver(paths().inbox(pension.INTERFACE), day)
        when = dt.datetime(day.year, day.month, day.day, 6, 0, tzinfo=ZoneInfo(TIMEZONE))
        with JlisCounterpart(scenario.register, jlis.outbox(), paths().inbox(ANSWER_INBOX)):
            state = run_dag(when, poke_seconds=1.0)
        csv_path, _ = report_paths(run_id_for(when))
        results.append((state, load_reconciliation(run_id_for(when)) if csv_path.exists() else None))
    return results
