"""Registration and tax linkage end to end, over 2017-06 .. 2017-09 (across the August switch),
with the sandbox intermediary server answering from a background thread as a real one
polls its drop folder.

Planted: a wrong My Number (rejected 11), a number of another member (12), a member whose
number arrives a month late, a registration the server loses before the member's loss is
sent (14, then registered anew), a failure in the middle of sending registration files
(retried without sending anything twice), an outage of the server during the yearly (July)
tax run (retries with back-off, then an operator message; the answers are collected by the
next run and nothing is asked twice), and the municipalities' late and not-found answers.

Then: the platform's registered state equals the server's; every member-month's tier equals
the sandbox oracle fed with exactly the answers the platform received; in August the tier
changes exactly for the members whose tax facts changed; the provision log verifies and
holds one inquiry and one answer entry per inquiry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest

from renkei import linkage_state, warehouse
from renkei.settings import paths

MONTHS = ("2017-06", "2017-09")
RUN = {"register": "register_members", "link": "link_tax_information", "tiers": "determine_benefit_tiers"}


def next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def nobodys_number(population) -> str:
    from renkei.identifiers import my_number_with_check_digit

    taken = {p.my_number for p in population.persons}
    return next(n for n in (my_number_with_check_digit(f"{b:011d}") for b in range(10**10, 10**10 + 99))
                if n not in taken)


def load_eligibility(path, month: dt.date) -> None:
    """The eligibility intake's own steps (the cost-allocation DAG runs them, and then builds
    the cost models, which have no unit cost before July 2017)."""
    from renkei import pipeline

    staged = pipeline.read_extract(path, month)
    pipeline.gate_extract(staged)     # raises when the gate fails
    pipeline.load_extract(staged)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, airflow_db):
    from renkei.tokens import Tokenizer
    from renkei.transport import LocalFolderTransport
    from renkei.vault import Vault
    from renkei_sandbox import Population, write_month_extract
    from renkei_sandbox.intermediary import IntermediaryServer
    from renkei_sandbox.population import LOSS_KINDS

    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("linkage")
    for name in ("var", "exchange", "reports"):
        mp.setenv(f"RENKEI_{name.upper()}", str(root / name))
    # short waits: two tries one or two seconds apart instead of hours
    mp.setenv("RENKEI_EXCHANGE_RETRIES", "1")
    mp.setenv("RENKEI_EXCHANGE_RETRY_DELAY_S", "1")
    mp.setenv("RENKEI_EXCHANGE_WAIT_S", "4")
    mp.setenv("RENKEI_REGISTRATION_MAX_RECORDS", "400")   # several files a month
    mp.delenv("RENKEI_INTERMEDIARY_CONN_ID", raising=False)

    p = paths()
    months = airflow_db.months(*MONTHS)
    population = Population(members=1_500, seed=20170601, start=months[0])
    server = IntermediaryServer(population, p.exchange)
    tokenizer = Tokenizer()
    token = {}

    def tok(person) -> str:
        if person.key not in token:
            token[person.key] = tokenizer.token(person.key.encode())
        return token[person.key]

    # transfers through the transport, and one planted failure in the middle of sending
    sends: list[str] = []
    original = LocalFolderTransport.send
    failure = {"armed": False, "fired": 0}

    def send(self, local, remote_name):
        original(self, local, remote_name)
        sends.append(remote_name)
        reg_sends = [s for s in sends if s.startswith("outbox/registration/")]
        if failure["armed"] and len(reg_sends) == 2:
            failure["armed"] = False
            failure["fired"] += 1
            # the file is with the server, the bookkeeping after it never happens
            raise ConnectionResetError("injected: connection lost after the transfer")

    mp.setattr(LocalFolderTransport, "send", send)

    clock = {"today": dt.date(2017, 7, 1)}
    planted: dict[str, object] = {}
    states: dict[str, str] = {}
    with server.serving(lambda: clock["today"]):
        for month in months:
            population.simulate_month()
            load_eligibility(write_month_extract(population, month, p.inbox("eligibility_extract")), month)

            members = sorted(population.members_in(month), key=lambda q: q.key)
            if month == months[0]:
                insured = [q for q in members if q.branch_number == "00"]
                planted.update(wrong=insured[3], taker=insured[5], late=insured[9])
            if month == months[1]:
                # the holder of the number the taker is given: registered in June, still enrolled
                planted["holder"] = next(q for q in members if q.branch_number == "00" and q.lost_date is None
                                         and q.acquired_date < months[0] and q not in planted.values())
            with Vault() as vault:
                for person in members:
                    if person in (planted["wrong"], planted["taker"], planted["late"]):
                        continue
                    vault.put(tok(person), person.my_number, "pension_service")
                vault.put(tok(planted["wrong"]), nobodys_number(population), "jlis")
                if month > months[0]:
                    vault.put(tok(planted["late"]), planted["late"].my_number, "jlis")
                    vault.put(tok(planted["taker"]), planted["holder"].my_number, "jlis")
            if month == months[1]:
                # a member registered in June leaves in July; the server lost their registration
                leaving = next(e.person for e in population.events_in(month) if e.kind in LOSS_KINDS
                               and e.person.acquired_date < months[0]
                               and e.person not in planted.values())
                planted["forgotten"] = leaving
                server.forget(tok(leaving))

            clock["today"] = next_month(month)
            server.process(clock["today"])   # what is due by the run's day is there before it
            failure["armed"] = month == months[0]
            states[f"register {month:%Y-%m}"] = airflow_db.run_month(RUN["register"], month)
            server.down = month == months[0]     # the yearly run (July) meets an outage
            states[f"link {month:%Y-%m}"] = airflow_db.run_month(RUN["link"], month)
            server.down = False
        states["tiers"] = airflow_db.run_once(RUN["tiers"], months[-1])
    yield {"population": population, "server": server, "months": months, "tok": tok, "sends": sends,
           "failure": failure, "planted": planted, "states": states, "root": root}
    mp.undo()


def test_runs_end_as_expected(scenario):
    states = scenario["states"]
    assert "failed" in states["link 2017-06"]            # the outage
    others = {k: v for k, v in states.items() if k != "link 2017-06"}
    assert all("success" in v for v in others.values()), others


def test_summaries_say_what_each_run_did(scenario):
    from renkei import registration, tax_linkage

    june = registration.summary(dt.date(2017, 7, 1))
    # everyone of June but the two without a number, in files of at most 400
    assert june["prepared"] == {"新規": june["outcome"]["accepted"] + june["outcome"]["rejected 11"]}
    assert june["outcome"]["rejected 11"] == 1 and june["files"] >= 4
    july = registration.summary(dt.date(2017, 8, 1))
    assert july["outcome"]["rejected 12"] == 1 and july["outcome"]["rejected 14"] == 1
    yearly = tax_linkage.summary(dt.date(2017, 7, 1))
    assert yearly["scope"] == "yearly" and set(yearly["asked"]) == {"2016", "2017"}
    assert tax_linkage.summary(dt.date(2017, 8, 1))["scope"] == "monthly"
    assert yearly["all_inquiries"]["answered"] > 2 * 1_000


def test_the_outage_retried_then_told_the_operator_what_to_do(scenario):
    alerts = [json.loads(line) for line in
              (paths().var / "alerts" / "alerts.jsonl").read_text("utf-8").splitlines()]
    outage = [a for a in alerts if a["dag_id"] == RUN["link"] and a["task_id"] == "wait_for_answers"]
    assert len(outage) == 1                                # the final failure, after the retry
    message = outage[0]["message"]
    assert "has not answered 1 file(s)" in message and "will NOT be sent again" in message
    assert "clear this task" in message


def test_nothing_was_sent_or_registered_twice(scenario):
    sends, server = scenario["sends"], scenario["server"]
    assert scenario["failure"]["fired"] == 1
    assert sends and len(sends) == len(set(sends)), Counter(sends).most_common(3)
    assert len(server.received) == len(set(server.received)) == len(sends)
    # the first month's registrations went in several files despite the failure between them
    assert len([s for s in sends if s.startswith("outbox/registration/REG_R20170701")]) >= 4
    changes = Counter(e.change_id for e in server.journal)
    assert max(changes.values()) == 1
    # registered once each; only the member the server lost was registered a second time
    new = Counter(e.member_id for e in server.journal if e.result == "0" and e.change_kind == "1")
    assert {m for m, n in new.items() if n > 1} == {scenario["tok"](scenario["planted"]["forgotten"])}
    # a member-year is asked again only after "not yet assessed" or a changed registration
    con = linkage_state.connect()
    try:
        rows = con.execute("select member_token, fiscal_year, status, registration_change_id, submission_id "
                           "from inquiries order by rowid").fetchall()
    finally:
        con.close()
    seen = {}
    for r in rows:
        key = (r["member_token"], r["fiscal_year"])
        if key in seen:
            earlier = seen[key]
            assert earlier["status"] == "not_assessed" or \
                earlier["registration_change_id"] != r["registration_change_id"], dict(r)
        seen[key] = r
    asked = Counter((m, fy) for _, m, fy in server.inquiries)
    assert sum(asked.values()) == len(rows)


def test_registered_state_equals_the_servers(scenario):
    from renkei.registration import registered_state
    from renkei.vault import Vault

    server, tok, planted = scenario["server"], scenario["tok"], scenario["planted"]
    ours = registered_state()
    theirs = server.registered()
    assert set(ours) == set(theirs)
    for member, f in theirs.items():
        assert ours[member] == {
            "insured_token": f["insured_member_id"], "insurer_number": f["insurer_number"],
            "branch_number": f["branch_number"], "relationship_code": f["relationship"],
            "sex_code": f["sex"], "birth_date": f["birth_date"].isoformat(),
            "acquired_date": f["acquired_date"].isoformat(),
            "lost_date": f["lost_date"].isoformat() if f["lost_date"] else None}
    with Vault() as vault:
        assert all(server.number_of(m) == vault.get(m, "registration") for m in list(theirs)[:200])
    # everyone in the warehouse is registered but the two planted rejections
    con = warehouse.reader()
    try:
        everyone = {r[0] for r in con.execute(
            "select distinct member_token from raw.eligibility_members").fetchall()}
    finally:
        con.close()
    assert everyone - set(ours) == {tok(planted["wrong"]), tok(planted["taker"])}
    # the late number was registered, the forgotten member registered anew with the loss
    assert tok(planted["late"]) in ours
    forgotten = ours[tok(planted["forgotten"])]
    assert forgotten["lost_date"] == planted["forgotten"].lost_date.isoformat()
    kinds = [(e.change_kind, e.reason_code) for e in server.journal
             if e.member_id == tok(planted["forgotten"])]
    assert kinds == [("1", "00"), ("3", "14"), ("1", "00")]


def test_rejections_are_on_the_registration_worklist(scenario):
    from openpyxl import load_workbook

    from renkei.registration import worklist_rows

    tok, planted = scenario["tok"], scenario["planted"]
    rows = {t: reason for t, _, reason in worklist_rows()}
    assert set(rows) == {tok(planted["wrong"]), tok(planted["taker"])}
    assert rows[tok(planted["wrong"])].startswith("個人番号不一致")
    assert rows[tok(planted["taker"])].startswith("個人番号重複")
    books = sorted((paths().reports / "registration").glob("worklist_*.xlsx"))
    cells = [c for r in load_workbook(books[-1]).active.iter_rows(values_only=True) for c in r if c]
    wrong = planted["wrong"]
    assert f"{wrong.insurer_number}-{wrong.household.symbol}-{wrong.household.number}-00" in cells
    assert not any(str(c).isdigit() and len(str(c)) == 12 for c in cells)


def _linked() -> dict[tuple[str, int], tuple]:
    con = warehouse.reader()
    try:
        rows = con.execute(
            "select member_token, fiscal_year, is_taxable, income_yen, revenue_yen, "
            "public_pension_revenue_yen, pension_income_yen, source from raw.tax_information").fetchall()
    finally:
        con.close()
    assert {r[7] for r in rows} == {"intermediary_server"}
    out = {}
    for r in rows:
        out.setdefault((r[0], r[1]), set()).add(tuple(r[2:7]))
    assert all(len(v) == 1 for v in out.values())          # answers of one year never disagree
    return {k: next(iter(v)) for k, v in out.items()}


def test_answers_in_the_warehouse_are_the_municipalities_facts(scenario):
    population, tok = scenario["population"], scenario["tok"]
    linked = _linked()
    by_token = {tok(p): p for p in population.persons}
    assert {fy for _, fy in linked} == {2016, 2017}
    for (member, fy), got in linked.items():
        f = population.tax_facts(by_token[member], fy)
        assert got == (f.taxable, f.income_yen, f.revenue_yen, f.public_pension_revenue_yen,
                       f.pension_income_yen)
    # late answers arrived in later answer files and were loaded too
    con = linkage_state.connect()
    try:
        later = con.execute("select count(*) from answer_files where seq > 1 and status = 'loaded' "
                            "and rows > 0").fetchone()[0]
        moved = con.execute("select count(*) from inquiries where status in ('moved', 'not_assessed')"
                            ).fetchone()[0]
    finally:
        con.close()
    assert later > 0 and moved > 0


def _tiers(month: dt.date) -> dict[str, str]:
    con = warehouse.reader()
    try:
        return dict(con.execute("select member_token, tier_code from marts.fct_member_month_tier "
                                "where month = ?", [month]).fetchall())
    finally:
        con.close()


def _expected(scenario, month: dt.date, linked, fiscal_year_shift: int = 0) -> dict[str, str]:
    from renkei_sandbox import tiers

    population, tok = scenario["population"], scenario["tok"]

    def record(person, fy):
        fy -= fiscal_year_shift if fy == 2017 else 0
        if (tok(person), fy) not in linked:
            return None
        return population.tax_facts(person, fy)

    expected = tiers.expected_tiers(month, population.members_in(month), record, {})
    return {tok_key: e.tier_code for tok_key, e in
            ((tok(p), expected[p.key]) for p in population.members_in(month))}


def test_every_member_month_tier_equals_the_oracle_on_the_linked_answers(scenario):
    linked = _linked()
    for month in scenario["months"]:
        actual, want = _tiers(month), _expected(scenario, month, linked)
        differ = {m: (actual.get(m), want.get(m)) for m in set(actual) | set(want)
                  if actual.get(m) != want.get(m)}
        assert not differ, f"{month:%Y-%m}: {len(differ)} differ, e.g. {list(differ.values())[:5]}"


def test_august_changes_exactly_where_tax_status_changed(scenario):
    linked = _linked()
    july, august = dt.date(2017, 7, 1), dt.date(2017, 8, 1)
    before, after = _tiers(july), _tiers(august)
    changed = {m for m in before.keys() & after.keys() if before[m] != after[m]}
    # August as it would be had the tax facts stayed those of FY2016: what differs from the
    # real August is due to tax; what differs from July is due to everything else
    same_tax = _expected(scenario, august, linked, fiscal_year_shift=1)
    real = _expected(scenario, august, linked)
    by_tax = {m for m in real if real[m] != same_tax.get(m)}
    by_other = {m for m in same_tax if m in before and same_tax[m] != before[m]}
    assert len(by_tax) >= 5
    assert {m for m in changed if m not in by_other} == by_tax - by_other
    assert by_tax - by_other <= changed


def test_every_inquiry_and_answer_is_in_the_provision_log(scenario):
    from click.testing import CliRunner

    from renkei.cli import main
    from renkei.provision_log import ProvisionLog

    con = linkage_state.connect()
    try:
        inquiries = con.execute("select count(*) from inquiries").fetchone()[0]
        answered = con.execute("select count(*) from inquiries where status != 'sent'").fetchone()[0]
    finally:
        con.close()
    with ProvisionLog() as plog:
        check = plog.verify()
        events = Counter(e["event"] for e in plog.entries())
    assert check.ok, check.problems
    assert events == {"inquiry": inquiries, "answer": answered}
    person = scenario["planted"]["late"]
    keys = f"{person.insurer_number}-{person.household.symbol}-{person.household.number}-00"
    out = CliRunner().invoke(main, ["disclosure", "--member", keys])
    assert out.exit_code == 0, out.output
    assert "inquiry" in out.output and "answer" in out.output and person.my_number not in out.output


def test_members_without_an_answer_are_on_the_tax_worklist(scenario):
    from openpyxl import load_workbook

    books = sorted((paths().reports / "tax_linkage").glob("worklist_*.xlsx"))
    assert books
    rows = list(load_workbook(books[-1]).active.iter_rows(values_only=True))[2:]
    reasons = Counter(r[2].split(":")[0] for r in rows)
    assert reasons["中間サーバー未登録（登録エラーまたは個人番号未収集）"] == 2
    assert any(r.startswith("該当なし") or r.startswith("未課税") for r in reasons)
    assert not any(len(str(c)) == 12 and str(c).isdigit() for r in rows for c in r)
