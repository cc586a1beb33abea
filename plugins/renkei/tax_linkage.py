"""Tax information linkage (地方税関係情報の情報照会) through the intermediary server.

Who is asked for what. The tier engine needs, for every member and treatment month, the
住民税 facts of two fiscal years (DOMAIN.md 3.7): FY N for 高額療養費 in Aug..Dec of year N
(FY N-1 in Jan..Jul), and FY N for the 70-74 copay ratio and 基準収入額 in Sep..Dec (FY N-1
in Jan..Aug). A run for month M looks at M and the two months after it, so that the answers
are in before those months are computed; it asks every member registered in the
intermediary server and enrolled in one of those months, for each fiscal year they need
whose 住民税 is fixed (FY N from 1 July N), unless an answer, or an inquiry still waiting
for one, exists for the member's current registration:

* the **monthly run** therefore asks new members and members whose registration changed
  (a corrected number or other change makes earlier answers someone else's, possibly);
* the run in **July** (for June) is the **yearly run**: its months include August, so it
  asks everyone for the fiscal year just fixed in June, in time for the August switch;
* "not yet assessed" is asked again the next month; "moved before 1 January" is final and
  goes to staff, who ask the member for a certificate.

Answers arrive in numbered answer files; late ones come in later files and are taken by
whichever run finds them. Answered facts go to ``raw.tax_information`` with
``source = 'intermediary_server'``, one batch per answer file (``tax_linkage/<file>``,
replaced if loaded again). Every inquiry and answer is written to the 情報提供等記録
(``renkei.provision_log``). Members with no answer go on a work list with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sqlite3
from collections import Counter
from pathlib import Path

from renkei import linkage_files as lf
from renkei import linkage_state as st
from renkei.settings import paths
from renkei.transport import Transport

log = logging.getLogger(__name__)

INTERFACE = "tax_linkage"
SOURCE = "intermediary_server"
PURPOSE = "0101"            # 事務コード, see renkei.provision_log.PURPOSES
FIXED_MONTH = 7             # FY N is fixed in June of year N: ask from 1 July
HORIZON_MONTHS = 3          # the run's month and the two after it
ENV_MAX_RECORDS = "RENKEI_TAX_INQUIRY_MAX_RECORDS"
DEFAULT_MAX_RECORDS = 50_000
RESULT_STATUS = {"1": "answered", "2": "moved", "3": "not_assessed", "4": "not_registered"}
REASONS_JA = {
    "sent": "回答待ち（{asked_on} 照会）: 回答が届けば自動で取り込み",
    "moved": "該当なし（1月1日時点の住所地が異なる）: 課税（非課税）証明書の提出を依頼",
    "not_assessed": "未課税・未申告: 翌月に再照会（申告の案内を検討）",
    "not_registered": "中間サーバーで未登録と回答: 登録状況を確認",
    "unregistered": "中間サーバー未登録（登録エラーまたは個人番号未収集）: 登録作業リストを確認",
}

_SELECT = """
    select $1 as batch_id, record_no, member_token, fiscal_year, is_taxable, income_yen, revenue_yen,
           public_pension_revenue_yen, pension_income_yen, '{source}', received_at
    from read_parquet($3)
    where cast($2 as date) is not null
"""


def add_months(month: dt.date, n: int) -> dt.date:
    i = month.year * 12 + month.month - 1 + n
    return dt.date(i // 12, i % 12 + 1, 1)


def fiscal_years_of(month: dt.date) -> set[int]:
    """Both fiscal years a treatment month uses (DOMAIN.md 3.7)."""
    high_cost = month.year if month.month >= 8 else month.year - 1
    copay = month.year if month.month >= 9 else month.year - 1
    return {high_cost, copay}


def fixed(fiscal_year: int, as_of: dt.date) -> bool:
    return as_of >= dt.date(fiscal_year, FIXED_MONTH, 1)


def horizon(month: dt.date) -> list[dt.date]:
    return [add_months(month.replace(day=1), i) for i in range(HORIZON_MONTHS)]


def _enrolled(acquired: str, lost: str | None, month: dt.date) -> bool:
    end = add_months(month, 1) - dt.timedelta(days=1)
    return dt.date.fromisoformat(acquired) <= end and (lost is None or dt.date.fromisoformat(lost) > month)


def scope_of(as_of: dt.date) -> str:
    return "yearly" if as_of.month == FIXED_MONTH else "monthly"


def needed(con: sqlite3.Connection, month: dt.date, as_of: dt.date) -> dict[tuple[str, int], str]:
    """(member token, fiscal year) -> registration change id, for every member-year that needs
    an answer and has none (nor an inquiry waiting) under the current registration."""
    months = horizon(month)
    latest = {(r["member_token"], r["fiscal_year"]): r for r in con.execute(
        """select * from inquiries i where rowid = (
               select max(rowid) from inquiries j
               where j.member_token = i.member_token and j.fiscal_year = i.fiscal_year)""")}
    month_start = as_of.replace(day=1).isoformat()
    out: dict[tuple[str, int], str] = {}
    for reg in con.execute("select * from registrations where number_digest != ''"):
        years: set[int] = set()
        for m in months:
            if _enrolled(reg["acquired_date"], reg["lost_date"], m):
                years |= fiscal_years_of(m)
        for fy in sorted(y for y in years if fixed(y, as_of)):
            last = latest.get((reg["member_token"], fy))
            if last is not None and last["registration_change_id"] == reg["change_id"]:
                if last["status"] != "not_assessed" or last["asked_on"] >= month_start:
                    continue
            out[(reg["member_token"], fy)] = reg["change_id"]
    return out


def prepare(month: dt.date, as_of: dt.date, run_id: str, max_records: int | None = None) -> dict:
    """Prepare the inquiries this run needs and group them into submissions (idempotent)."""
    import os

    max_records = max_records or int(os.environ.get(ENV_MAX_RECORDS, DEFAULT_MAX_RECORDS))
    con = st.connect()
    try:
        with st.transaction(con):
            needs = needed(con, month, as_of)
            rows = []
            for (token, fy), reg_change in sorted(needs.items()):
                attempt = con.execute("select count(*) from inquiries where member_token = ? and "
                                      "fiscal_year = ? and registration_change_id = ?",
                                      [token, fy, reg_change]).fetchone()[0]
                key = f"{token}|{fy}|{PURPOSE}|{reg_change}|{attempt}"
                iid = hashlib.sha256(key.encode()).hexdigest()[:20]
                rows.append((iid, token, fy, reg_change))
            created = []
            for sid, part in st.new_submissions(con, "T", lf.TAX_INQUIRY, as_of, run_id, rows, max_records):
                con.executemany(
                    "insert into inquiries (inquiry_id, member_token, fiscal_year, purpose_code, "
                    "registration_change_id, submission_id, status, asked_on) values (?, ?, ?, ?, ?, ?, "
                    "'sent', ?)",
                    [(iid, t, fy, PURPOSE, rc, sid, as_of.isoformat()) for iid, t, fy, rc in part])
                created.append(sid)
    finally:
        con.close()
    years = Counter(fy for _, _, fy, _ in rows)
    out = {"month": f"{month:%Y-%m}", "scope": scope_of(as_of), "inquiries": len(rows),
           "by_fiscal_year": {str(k): v for k, v in sorted(years.items())}, "submissions": created}
    log.info("tax inquiries prepared: %s", out)
    return out


def _build(con: sqlite3.Connection):
    def build(sub: sqlite3.Row, local: Path) -> int:
        rows = [{"inquiry_id": r["inquiry_id"], "member_id": r["member_token"],
                 "fiscal_year": f"{r['fiscal_year']:04d}", "purpose_code": r["purpose_code"]}
                for r in con.execute("select * from inquiries where submission_id = ? order by inquiry_id",
                                     [sub["submission_id"]])]
        header = {"submission_id": sub["submission_id"],
                  "created_date": dt.date.fromisoformat(sub["created_on"]), "sender_code": _sender()}
        return lf.write_records(local, lf.TAX_INQUIRY, header, rows)

    return build


def _sender() -> str:
    from renkei.registration import SENDER_CODE

    return SENDER_CODE


def send(transport: Transport) -> dict:
    """Send every prepared inquiry file once, then record the inquiries in the 情報提供等記録."""
    con = st.connect()
    try:
        sent = st.send_pending(con, transport, lf.TAX_INQUIRY, lf.TAX_ANSWER, _build(con))
        logged = _log_provisions(con)
    finally:
        con.close()
    return {"sent": sent, "logged": logged}


def _log_provisions(con: sqlite3.Connection) -> int:
    """Write inquiries of sent files and their answers to the provision log, once each."""
    from renkei.provision_log import ANSWER, INQUIRY, ProvisionLog

    asked = con.execute(
        "select i.* from inquiries i join submissions s using (submission_id) "
        "where s.status in ('sent', 'answered') and i.logged_inquiry = 0 order by i.rowid").fetchall()
    answered = con.execute("select * from inquiries where status != 'sent' and logged_answer = 0 "
                           "order by answered_on, rowid").fetchall()
    if not asked and not answered:
        return 0
    with ProvisionLog() as plog:
        n = plog.append_many(
            [{"entry_key": f"inquiry:{r['inquiry_id']}", "at": f"{r['asked_on']}T00:00:00+09:00",
              "event": INQUIRY, "member_token": r["member_token"], "fiscal_year": r["fiscal_year"],
              "purpose_code": r["purpose_code"], "outcome": "sent",
              "reference": f"{r['inquiry_id']} in {r['submission_id']}"} for r in asked]
            + [{"entry_key": f"answer:{r['inquiry_id']}", "at": f"{r['answered_on']}T00:00:00+09:00",
                "event": ANSWER, "member_token": r["member_token"], "fiscal_year": r["fiscal_year"],
                "purpose_code": r["purpose_code"], "outcome": r["status"],
                "reference": f"{r['inquiry_id']} in {r['answer_file']}"} for r in answered])
    with st.transaction(con):
        con.executemany("update inquiries set logged_inquiry = 1 where inquiry_id = ?",
                        [(r["inquiry_id"],) for r in asked])
        con.executemany("update inquiries set logged_answer = 1 where inquiry_id = ?",
                        [(r["inquiry_id"],) for r in answered])
    return n


def collect(transport: Transport, wait_s: float) -> dict:
    """Take every answer file not taken yet (late ones too) into the archive.

    Waits up to ``wait_s`` for each sent inquiry file's first answer file (the server's
    acknowledgement); files that arrived are taken even when others are missing; then a
    missing first answer raises ``CounterpartNotAnswering`` (the task retries with back-off).
    Late answers are not waited for: they are taken by whichever run finds them."""
    con = st.connect()
    try:
        waiting = st.unanswered(con, lf.TAX_INQUIRY)

        def acknowledged() -> bool:
            return all(transport.exists(lf.remote_name(lf.TAX_ANSWER, s["submission_id"], 1))
                       for s in waiting)

        st.poll(acknowledged, wait_s)
        open_subs = {r[0] for r in con.execute(
            "select distinct submission_id from inquiries where status = 'sent'")} | {
            s["submission_id"] for s in waiting}
        taken = {r[0] for r in con.execute("select name from answer_files")}
        fetched = []
        for name in transport.list(lf.remote_prefix(lf.TAX_ANSWER)):
            file_name = Path(name).name
            sid, seq = lf.submission_of(lf.TAX_ANSWER, file_name)
            if file_name in taken or sid not in open_subs:
                continue
            local = transport.fetch(name, paths().archive(lf.TAX_ANSWER) / file_name)
            with st.transaction(con):
                con.execute("insert into answer_files (name, submission_id, seq, local_path, status, "
                            "taken_at) values (?, ?, ?, ?, 'fetched', ?)",
                            [file_name, sid, seq, str(local), st.now_text()])
                if seq == 1:
                    con.execute("update submissions set status = ?, answered_at = ? "
                                "where submission_id = ?", [st.ANSWERED, st.now_text(), sid])
            fetched.append(file_name)
        missing = [s["submission_id"] for s in st.unanswered(con, lf.TAX_INQUIRY)]
        if missing:
            raise st.not_answering("intermediary server (tax inquiries)", missing,
                                   min(s["sent_at"] for s in waiting if s["submission_id"] in missing))
        return {"fetched": fetched}
    finally:
        con.close()


def _stage(rows: list[dict], header: dict, out: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    answered = [(i, r) for i, r in enumerate(rows) if r["result"] == "1"]
    received = dt.datetime.combine(header["processed_date"], dt.time())
    table = pa.table({
        # the header is record 1 in the file
        "record_no": pa.array([i + 2 for i, _ in answered], pa.int32()),
        "member_token": pa.array([r["member_id"] for _, r in answered], pa.string()),
        "fiscal_year": pa.array([int(r["fiscal_year"]) for _, r in answered], pa.int32()),
        "is_taxable": pa.array([r["taxable"] == "1" for _, r in answered], pa.bool_()),
        "income_yen": pa.array([r["income_yen"] for _, r in answered], pa.int64()),
        "revenue_yen": pa.array([r["revenue_yen"] for _, r in answered], pa.int64()),
        "public_pension_revenue_yen": pa.array([r["public_pension_revenue_yen"] for _, r in answered],
                                               pa.int64()),
        "pension_income_yen": pa.array([r["pension_income_yen"] for _, r in answered], pa.int64()),
        "received_at": pa.array([received] * len(answered), pa.timestamp("s")),
    })
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    return len(answered)


def load(as_of: dt.date) -> dict:
    """Load every fetched answer file into ``raw.tax_information`` (one batch per file,
    replaced if loaded again), record each inquiry's outcome, and log the answers."""
    from renkei import warehouse
    from renkei.exchange import sha256_of

    con = st.connect()
    try:
        files = con.execute("select * from answer_files where status = 'fetched' order by name").fetchall()
        totals: Counter[str] = Counter()
        for f in files:
            local = Path(f["local_path"])
            header, rows = lf.read_records(local, lf.TAX_ANSWER)
            sid = f["submission_id"]
            batch_id = f"{INTERFACE}/{local.stem}"
            staged = paths().staging / INTERFACE / f"{local.stem}.parquet"
            n = _stage(rows, header, staged)
            batch = {"batch_id": batch_id, "interface": INTERFACE,
                     "period": header["processed_date"].replace(day=1), "file_name": local.name,
                     "file_sha256": sha256_of(local)}
            with warehouse.writer() as wh:
                warehouse.replace_batch(wh, "raw.tax_information", batch, str(staged),
                                        _SELECT.format(source=SOURCE))
            staged.unlink(missing_ok=True)
            with st.transaction(con):
                for r in rows:
                    status = RESULT_STATUS[r["result"]]
                    updated = con.execute(
                        "update inquiries set status = ?, answered_on = ?, answer_file = ? "
                        "where inquiry_id = ? and submission_id = ? and status = 'sent'",
                        [status, header["processed_date"].isoformat(), local.name, r["inquiry_id"],
                         sid]).rowcount
                    totals[status] += updated
                con.execute("update answer_files set status = 'loaded', rows = ?, batch_id = ? "
                            "where name = ?", [n, batch_id, f["name"]])
        logged = _log_provisions(con)
        outstanding = con.execute("select count(*) from inquiries where status = 'sent'").fetchone()[0]
    finally:
        con.close()
    return {"files": [f["name"] for f in files], "outstanding": outstanding, "logged": logged, **totals}


def worklist_rows(month: dt.date, as_of: dt.date) -> list[tuple[str, int | str, str]]:
    """(member token, fiscal year, reason) for every member of the run's months without an
    answer for a fiscal year the tier engine needs."""
    from renkei.registration import desired_members

    con = st.connect()
    try:
        registered = {r["member_token"]: r for r in con.execute(
            "select * from registrations where number_digest != ''")}
        latest = {(r["member_token"], r["fiscal_year"]): r for r in con.execute(
            """select * from inquiries i where rowid = (
                   select max(rowid) from inquiries j
                   where j.member_token = i.member_token and j.fiscal_year = i.fiscal_year)""")}
    finally:
        con.close()
    months = horizon(month)
    out = []
    for token, f in sorted(desired_members(month).items()):
        years = sorted(y for m in months if _enrolled(f["acquired_date"], f["lost_date"], m)
                       for y in fiscal_years_of(m) if fixed(y, as_of))
        if not years:
            continue
        if token not in registered:
            out.append((token, "全年度", REASONS_JA["unregistered"]))
            continue
        for fy in sorted(set(years)):
            last = latest.get((token, fy))
            if last is None or last["status"] == "answered":
                continue
            out.append((token, fy, REASONS_JA[last["status"]].format(asked_on=last["asked_on"])))
    return out


def write_worklist(month: dt.date, as_of: dt.date, run_id: str) -> dict:
    from renkei import member_keys
    from renkei.reports import worklist

    rows = worklist_rows(month, as_of)
    if not rows:
        return {"worklist": None, "members": 0}
    keys = member_keys.insurer_keys({t for t, _, _ in rows})
    table = [(keys.get(t, f"(token {t[:12]}…)"), fy, reason) for t, fy, reason in rows]
    path = worklist.write("tax_linkage", run_id, f"課税情報の照会結果なし（{month:%Y-%m} 分）",
                          ["加入者（保険者番号-記号-番号-枝番）", "課税年度", "理由と対応"], table,
                          dt.datetime.combine(as_of, dt.time()))
    return {"worklist": str(path), "members": len({t for t, _, _ in rows}), "rows": len(rows)}


def summary(as_of: dt.date) -> dict:
    """What the run of business date ``as_of`` asked (by fiscal year), and where every inquiry
    made so far stands (for the main job's printout)."""
    con = st.connect()
    try:
        asked = Counter(r[0] for r in con.execute("select fiscal_year from inquiries where asked_on = ?",
                                                  [as_of.isoformat()]))
        status = Counter(r[0] for r in con.execute("select status from inquiries"))
    finally:
        con.close()
    return {"scope": scope_of(as_of), "asked": {str(k): v for k, v in sorted(asked.items())},
            "all_inquiries": dict(sorted(status.items()))}
