"""Registration of members in the intermediary server (中間サーバーへの加入者情報登録).

Each run compares what the warehouse knows of every member (the latest eligibility record
per member token, up to the run's month) and the number in the vault with what the
intermediary server holds as accepted (``renkei.linkage_state``), and prepares one change
per member that differs: a new registration (1), a change (2) or a loss of eligibility
(3). It writes them into registration files (``docs/interfaces/registration.md``), sends
them, waits for the result file of each, and records every line as accepted or rejected
with its reason.

Stable ids make it safe to re-run or retry anything:

* a change's id is a hash of the member token, kind, registered fields, number digest and
  the registration it changes, so the same difference gives the same id and is never
  prepared twice;
* a rejected change is not sent again with the same content (it would be rejected again):
  it goes again only when something that decides it changes: a corrected number in the
  vault or corrected eligibility (new content, new id), or the server's answer that it does
  not know the member, after which a new registration is prepared;
* a change the server left unanswered in a result file goes back to the queue.

The number is read from the vault (purpose ``registration``) only to write the file, which
exists beside the vault only while it is sent; the platform's state holds a keyed digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import sqlite3
from collections import Counter
from pathlib import Path

from renkei import linkage_files as lf
from renkei import linkage_state as st
from renkei.settings import paths
from renkei.tokens import Tokenizer
from renkei.transport import Transport

log = logging.getLogger(__name__)

NEW, CHANGE, LOSS = "1", "2", "3"
KIND_JA = {NEW: "新規", CHANGE: "変更", LOSS: "喪失"}
VAULT_PURPOSE = "registration"
# 送信元コード of the insurer at the intermediary server (fictitious in the sandbox).
SENDER_CODE = os.environ.get("RENKEI_INSURER_CODE", "99000002")
ENV_MAX_RECORDS = "RENKEI_REGISTRATION_MAX_RECORDS"
DEFAULT_MAX_RECORDS = 50_000
FIELDS = ("insured_token", "insurer_number", "branch_number", "relationship_code", "sex_code",
          "birth_date", "acquired_date", "lost_date")
ACCEPTED, REJECTED = "0", "1"
NOT_REGISTERED_CHANGE, ALREADY_REGISTERED = "14", "15"
REASONS_JA = {
    "11": "個人番号不一致（該当する住民なし、または生年月日・性別が異なる）: 個人番号を確認",
    "12": "個人番号重複（他の加入者に登録済）: 個人番号と加入者を確認",
    "13": "日付不正（取得日・喪失日・生年月日）: 資格情報を訂正",
    "14": "中間サーバー未登録者の異動: 新規登録として再送",
    "15": "登録済の加入者への新規登録: 変更として再送",
}


def number_digest(my_number: str, tokenizer: Tokenizer | None = None) -> str:
    """A keyed digest that tells whether the number changed, without keeping it."""
    return (tokenizer or Tokenizer(purpose=b"registered-my-number")).token(my_number.encode("ascii"))


def change_id(member_token: str, kind: str, fields: dict, digest: str, base: str) -> str:
    text = json.dumps([member_token, kind, fields, digest, base], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def desired_members(month: dt.date) -> dict[str, dict]:
    """The latest eligibility record of every member seen up to ``month`` (ISO date strings)."""
    from renkei import warehouse

    con = warehouse.reader()
    try:
        rows = con.execute(
            """
            select member_token, insured_token, insurer_number, branch_number, relationship_code,
                   sex_code, birth_date, acquired_date, lost_date
            from raw.eligibility_members
            where period <= ?
            qualify row_number() over (partition by member_token order by period desc) = 1
            """, [month]).fetchall()
    finally:
        con.close()
    return {r[0]: {k: (v.isoformat() if isinstance(v, dt.date) else v)
                   for k, v in zip(FIELDS, r[1:], strict=True)} for r in rows}


def eligibility_loaded(month: dt.date) -> bool:
    from renkei import warehouse
    from renkei.interfaces.eligibility import batch_id_for

    if not paths().warehouse.exists():
        return False
    con = warehouse.reader()
    try:
        found = con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                            "and table_name = 'load_batches'").fetchone()[0]
        return bool(found) and con.execute("select count(*) from raw.load_batches where batch_id = ?",
                                           [batch_id_for(month)]).fetchone()[0] > 0
    finally:
        con.close()


def _kind(reg: sqlite3.Row | None, fields: dict, digest: str) -> str | None:
    if reg is None:
        return NEW
    if reg["number_digest"] == digest and all(reg[k] == fields[k] for k in FIELDS):
        return None
    if reg["lost_date"] is None and fields["lost_date"] is not None and reg["number_digest"] != "":
        return LOSS
    return CHANGE


def prepare(month: dt.date, as_of: dt.date, run_id: str, max_records: int | None = None) -> dict:
    """Prepare the changes since the last accepted registration and group them into
    submissions. Idempotent: a re-run prepares nothing new. Returns counts."""
    from renkei.vault import Vault

    max_records = max_records or int(os.environ.get(ENV_MAX_RECORDS, DEFAULT_MAX_RECORDS))
    desired = desired_members(month)
    tokenizer = Tokenizer(purpose=b"registered-my-number")
    digests: dict[str, str] = {}
    with Vault() as vault:
        for token in desired:
            number = vault.get(token, VAULT_PURPOSE)
            if number is not None:
                digests[token] = number_digest(number, tokenizer)
    con = st.connect()
    try:
        with st.transaction(con):
            registered = {r["member_token"]: r for r in con.execute("select * from registrations")}
            in_flight = {r[0] for r in con.execute(
                "select member_token from changes where status in ('pending', 'sent')")}
            known = {r[0] for r in con.execute("select change_id from changes")}
            kinds: Counter[str] = Counter()
            for token, fields in desired.items():
                if token not in digests or token in in_flight:
                    continue
                reg = registered.get(token)
                kind = _kind(reg, fields, digests[token])
                if kind is None:
                    continue
                base = reg["change_id"] if reg is not None else ""
                cid = change_id(token, kind, fields, digests[token], base)
                if cid in known:
                    continue   # answered before: the same content again would be rejected again
                con.execute("insert into changes (change_id, member_token, kind, fields, number_digest, "
                            "base_change_id, prepared_on, status) values (?, ?, ?, ?, ?, ?, ?, 'pending')",
                            [cid, token, kind, json.dumps(fields, sort_keys=True), digests[token], base,
                             as_of.isoformat()])
                kinds[kind] += 1
            submissions = _assign(con, as_of, run_id, max_records)
    finally:
        con.close()
    out = {"month": f"{month:%Y-%m}", "members": len(desired), "without_number": len(desired) - len(digests),
           "new": kinds[NEW], "change": kinds[CHANGE], "loss": kinds[LOSS], "submissions": submissions}
    log.info("registration prepared: %s", out)
    return out


def _assign(con: sqlite3.Connection, as_of: dt.date, run_id: str, max_records: int) -> list[str]:
    pending = [r[0] for r in con.execute(
        "select change_id from changes where status = 'pending' and submission_id is null "
        "order by member_token, change_id")]
    created = []
    for sid, part in st.new_submissions(con, "R", lf.REGISTRATION, as_of, run_id, pending, max_records):
        con.executemany("update changes set submission_id = ? where change_id = ?", [(sid, c) for c in part])
        created.append(sid)
    return created


def _build(con: sqlite3.Connection):
    from renkei.vault import Vault

    def build(sub: sqlite3.Row, local: Path) -> int:
        sid = sub["submission_id"]
        tokenizer = Tokenizer(purpose=b"registered-my-number")
        changes = con.execute(
            "select * from changes where submission_id = ? and status in ('pending', 'sent') "
            "order by member_token, change_id", [sid]).fetchall()
        rows, stale = [], []
        with Vault() as vault:
            for c in changes:
                number = vault.get(c["member_token"], VAULT_PURPOSE)
                if number is None or number_digest(number, tokenizer) != c["number_digest"]:
                    stale.append(c["change_id"])   # the vault changed since: prepared again next run
                    continue
                f = json.loads(c["fields"])
                rows.append({
                    "change_id": c["change_id"], "change_kind": c["kind"], "member_id": c["member_token"],
                    "insured_member_id": f["insured_token"], "my_number": number,
                    "insurer_number": f["insurer_number"], "branch_number": f["branch_number"],
                    "relationship": f["relationship_code"], "sex": f["sex_code"],
                    "birth_date": dt.date.fromisoformat(f["birth_date"]),
                    "acquired_date": dt.date.fromisoformat(f["acquired_date"]),
                    "lost_date": dt.date.fromisoformat(f["lost_date"]) if f["lost_date"] else None,
                })
        with st.transaction(con):
            con.executemany("update changes set status = 'superseded' where change_id = ?",
                            [(c,) for c in stale])
            con.execute("update submissions set record_count = ? where submission_id = ?", [len(rows), sid])
            con.execute("update changes set status = 'sent' where submission_id = ? and status = 'pending'",
                        [sid])
        header = {"submission_id": sid, "created_date": dt.date.fromisoformat(sub["created_on"]),
                  "sender_code": SENDER_CODE}
        return lf.write_records(local, lf.REGISTRATION, header, rows)

    return build


def send(transport: Transport) -> dict:
    """Send every prepared registration file once (see ``linkage_state.send_pending``)."""
    con = st.connect()
    try:
        sent = st.send_pending(con, transport, lf.REGISTRATION, lf.REGISTRATION_RESULT, _build(con))
    finally:
        con.close()
    return {"sent": sent}


def _apply_result(con: sqlite3.Connection, sid: str, rows: list[dict], processed: dt.date) -> Counter:
    outcome: Counter[str] = Counter()
    with st.transaction(con):
        for r in rows:
            c = con.execute("select * from changes where change_id = ? and submission_id = ?",
                            [r["change_id"], sid]).fetchone()
            if c is None or c["status"] != "sent":
                continue   # not ours in this file, or already recorded (a result read twice)
            if r["result"] == ACCEPTED:
                f = json.loads(c["fields"])
                con.execute(
                    "insert or replace into registrations (member_token, insured_token, insurer_number, "
                    "branch_number, relationship_code, sex_code, birth_date, acquired_date, lost_date, "
                    "number_digest, change_id, accepted_on) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [c["member_token"], *(f[k] for k in FIELDS), c["number_digest"], c["change_id"],
                     processed.isoformat()])
                con.execute("update changes set status = 'accepted', reason_code = '00', answered_on = ? "
                            "where change_id = ?", [processed.isoformat(), c["change_id"]])
                outcome["accepted"] += 1
                continue
            con.execute("update changes set status = 'rejected', reason_code = ?, answered_on = ? "
                        "where change_id = ?", [r["reason_code"], processed.isoformat(), c["change_id"]])
            outcome[f"rejected_{r['reason_code']}"] += 1
            if r["reason_code"] == NOT_REGISTERED_CHANGE:
                # the server does not know the member: a new registration is prepared next
                con.execute("delete from registrations where member_token = ?", [c["member_token"]])
            elif r["reason_code"] == ALREADY_REGISTERED:
                # the server knows the member, we did not: a change with every field follows
                con.execute(
                    "insert or replace into registrations (member_token, insured_token, insurer_number, "
                    "branch_number, relationship_code, sex_code, birth_date, acquired_date, lost_date, "
                    "number_digest, change_id, accepted_on) values (?, '', '', '', '', '', '', '', null, '', "
                    "?, ?)", [c["member_token"], c["change_id"], processed.isoformat()])
        # lines the server did not answer go back to the queue
        requeued = con.execute("update changes set status = 'pending', submission_id = null "
                               "where submission_id = ? and status = 'sent'", [sid]).rowcount
        outcome["requeued"] += requeued
        con.execute("update submissions set status = ?, answered_at = ? where submission_id = ?",
                    [st.ANSWERED, st.now_text(), sid])
    return outcome


def collect(transport: Transport, wait_s: float) -> dict:
    """Wait for the result of every sent registration file and record it line by line.

    Results that arrived are recorded even when others are missing; then, if any is missing
    after ``wait_s``, raise ``CounterpartNotAnswering`` (the task retries with back-off)."""
    con = st.connect()
    try:
        waiting = st.unanswered(con, lf.REGISTRATION)

        def arrived() -> bool:
            return all(transport.exists(lf.remote_name(lf.REGISTRATION_RESULT, s["submission_id"]))
                       for s in waiting)

        st.poll(arrived, wait_s)
        totals: Counter[str] = Counter()
        missing = []
        for sub in waiting:
            sid = sub["submission_id"]
            name = lf.remote_name(lf.REGISTRATION_RESULT, sid)
            if not transport.exists(name):
                missing.append(sid)
                continue
            local = transport.fetch(name, paths().archive(lf.REGISTRATION_RESULT) / Path(name).name)
            header, rows = lf.read_records(local, lf.REGISTRATION_RESULT)
            totals.update(_apply_result(con, sid, rows, header["processed_date"]))
        if missing:
            raise st.not_answering("intermediary server (registration)", missing,
                                   min(s["sent_at"] for s in waiting if s["submission_id"] in missing))
        return {"answered": [s["submission_id"] for s in waiting], **totals}
    finally:
        con.close()


def registered_state() -> dict[str, dict]:
    """Member token -> the fields the intermediary server holds as accepted (no number)."""
    con = st.connect()
    try:
        return {r["member_token"]: {k: r[k] for k in FIELDS}
                for r in con.execute("select * from registrations where number_digest != ''")}
    finally:
        con.close()


def worklist_rows() -> list[tuple[str, str, str]]:
    """(member token, kind, reason) of every member whose latest change was rejected."""
    con = st.connect()
    try:
        rows = con.execute(
            """
            select member_token, kind, reason_code from changes c
            where status = 'rejected'
              and c.rowid = (select max(rowid) from changes d where d.member_token = c.member_token)
            order by member_token
            """).fetchall()
    finally:
        con.close()
    return [(r["member_token"], KIND_JA[r["kind"]], REASONS_JA.get(r["reason_code"], r["reason_code"]))
            for r in rows]


def write_worklist(run_id: str, as_of: dt.date) -> dict:
    """Staff work list of rejected registrations (insurer keys and reason); none when empty."""
    from renkei import member_keys
    from renkei.reports import worklist

    rows = worklist_rows()
    if not rows:
        return {"worklist": None, "rejected": 0}
    keys = member_keys.insurer_keys(t for t, _, _ in rows)
    table = [(keys.get(t, f"(token {t[:12]}…)"), kind, reason) for t, kind, reason in rows]
    path = worklist.write("registration", run_id, "中間サーバー登録エラー（要確認）",
                          ["加入者（保険者番号-記号-番号-枝番）", "異動区分", "理由と対応"], table,
                          dt.datetime.combine(as_of, dt.time()))
    return {"worklist": str(path), "rejected": len(rows)}


def summary(as_of: dt.date) -> dict:
    """What the run of business date ``as_of`` did: changes prepared by kind, and how the
    server answered them (for the main job's printout)."""
    con = st.connect()
    try:
        rows = con.execute("select kind, status, reason_code from changes where prepared_on = ?",
                           [as_of.isoformat()]).fetchall()
        files = con.execute("select count(*) from submissions where interface = ? and created_on = ?",
                            [lf.REGISTRATION, as_of.isoformat()]).fetchone()[0]
    finally:
        con.close()
    kinds = Counter(KIND_JA[r["kind"]] for r in rows)
    outcome = Counter(r["status"] if r["status"] != "rejected" else f"rejected {r['reason_code']}"
                      for r in rows)
    return {"files": files, "prepared": dict(kinds), "outcome": dict(sorted(outcome.items()))}
