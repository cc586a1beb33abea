"""Rules of registration and tax linkage at their boundaries, without Airflow: which fiscal
years a month needs, when a year may be asked, which change a difference makes, stable ids,
file names, strict reading, and the send protocol's crash window."""

from __future__ import annotations

import datetime as dt

import pytest

from renkei import linkage_files as lf
from renkei import linkage_state as st
from renkei import registration, tax_linkage
from renkei.fixedwidth.reader import RecordError
from renkei.fixedwidth.writer import write_file
from renkei.layout import load_layout


@pytest.mark.parametrize(("month", "years"), [
    (dt.date(2017, 7, 1), {2016}),          # July: both rules still on FY N-1
    (dt.date(2017, 8, 1), {2017, 2016}),    # August: 高額療養費 switches, copay not yet
    (dt.date(2017, 9, 1), {2017}),          # September: both on FY N
    (dt.date(2018, 1, 1), {2017}),          # January: FY N-1 of the new year by both rules
])
def test_fiscal_years_a_month_needs(month, years):
    assert tax_linkage.fiscal_years_of(month) == years


def test_a_fiscal_year_is_asked_from_1_july_and_july_is_the_yearly_run():
    assert not tax_linkage.fixed(2017, dt.date(2017, 6, 30))
    assert tax_linkage.fixed(2017, dt.date(2017, 7, 1))
    assert tax_linkage.horizon(dt.date(2017, 6, 1)) == [dt.date(2017, 6, 1), dt.date(2017, 7, 1),
                                                        dt.date(2017, 8, 1)]
    assert tax_linkage.horizon(dt.date(2017, 12, 1))[-1] == dt.date(2018, 2, 1)
    assert (tax_linkage.scope_of(dt.date(2017, 7, 11)), tax_linkage.scope_of(dt.date(2017, 8, 9))) == (
        "yearly", "monthly")


def test_enrolment_in_a_month_counts_a_loss_on_the_first_as_not_enrolled():
    assert tax_linkage._enrolled("2017-01-10", "2017-08-02", dt.date(2017, 8, 1))
    assert not tax_linkage._enrolled("2017-01-10", "2017-08-01", dt.date(2017, 8, 1))
    assert tax_linkage._enrolled("2017-08-31", None, dt.date(2017, 8, 1))
    assert not tax_linkage._enrolled("2017-09-01", None, dt.date(2017, 8, 1))


FIELDS = {"insured_token": "i" * 32, "insurer_number": "01130012", "branch_number": "00",
          "relationship_code": "1", "sex_code": "1", "birth_date": "1970-01-02",
          "acquired_date": "2010-04-01", "lost_date": None}


def reg_row(**over) -> dict:
    return {**FIELDS, "number_digest": "d1", "change_id": "c0", **over}


def test_which_change_a_difference_makes():
    kind = registration._kind
    assert kind(None, FIELDS, "d1") == registration.NEW
    assert kind(reg_row(), FIELDS, "d1") is None
    assert kind(reg_row(), FIELDS, "d2") == registration.CHANGE              # corrected number
    assert kind(reg_row(), {**FIELDS, "branch_number": "01"}, "d1") == registration.CHANGE
    assert kind(reg_row(), {**FIELDS, "lost_date": "2017-08-01"}, "d1") == registration.LOSS
    # a loss already registered, then corrected: a change, not a second loss
    lost = reg_row(lost_date="2017-08-01")
    assert kind(lost, {**FIELDS, "lost_date": "2017-09-01"}, "d1") == registration.CHANGE
    # the server had the member and we did not (reason 15): every field goes as a change
    placeholder = {k: "" for k in FIELDS} | {"lost_date": None, "number_digest": "", "change_id": "c1"}
    assert kind(placeholder, {**FIELDS, "lost_date": "2017-08-01"}, "d1") == registration.CHANGE


def test_change_ids_are_stable_and_depend_on_what_decides_them():
    a = registration.change_id("t" * 32, "1", FIELDS, "d1", "")
    assert a == registration.change_id("t" * 32, "1", dict(reversed(FIELDS.items())), "d1", "")
    assert len(a) == 20
    assert a != registration.change_id("t" * 32, "1", FIELDS, "d2", "")
    assert a != registration.change_id("t" * 32, "1", FIELDS, "d1", "c0")


def test_the_number_digest_is_keyed_and_not_the_number():
    digest = registration.number_digest("123456789018")
    assert digest == registration.number_digest("123456789018") != registration.number_digest("983205673214")
    assert "123456789018" not in digest


def test_file_names_round_trip():
    assert lf.remote_name(lf.REGISTRATION, "R2017070301") == "outbox/registration/REG_R2017070301.dat"
    assert lf.remote_name(lf.TAX_ANSWER, "T2017070101", 2) == "inbox/tax_answer/TAXA_T2017070101_002.dat"
    assert lf.submission_of(lf.TAX_ANSWER, "TAXA_T2017070101_002.dat") == ("T2017070101", 2)
    assert lf.submission_of(lf.REGISTRATION_RESULT, "REGRES_R1.dat") == ("R1", None)


def test_reading_is_strict_about_the_kind_of_file_and_the_count(tmp_path):
    path = tmp_path / "a.dat"
    header = {"submission_id": "R1", "processed_date": dt.date(2017, 7, 3)}
    row = {"change_id": "c" * 20, "member_id": "m" * 32, "result": "0", "reason_code": "00"}
    lf.write_records(path, lf.REGISTRATION_RESULT, header, [row])
    got, rows = lf.read_records(path, lf.REGISTRATION_RESULT)
    assert got["submission_id"] == "R1" and rows[0]["reason_code"] == "00"
    with pytest.raises(RecordError, match="layout needs 122"):
        lf.read_records(path, lf.TAX_ANSWER)
    other = tmp_path / "b.dat"
    with open(other, "wb") as out:   # right layout, another file's identification
        write_file(out, load_layout(lf.REGISTRATION_RESULT), {**header, "interface_id": "TAXANSWER"}, [row])
    with pytest.raises(RecordError, match="not a registration_result file"):
        lf.read_records(other, lf.REGISTRATION_RESULT)
    data = path.read_bytes()
    stride = len(data) // 3
    path.write_bytes(data[:stride] + data[2 * stride:])    # the data record removed, trailer says 1
    with pytest.raises(RecordError, match="trailer says 1 records, file has 0"):
        lf.read_records(path, lf.REGISTRATION_RESULT)


class FakeTransport:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.transfers: list[str] = []

    def send(self, local, remote_name):
        self.transfers.append(remote_name)
        self.files[remote_name] = local.read_bytes()

    def exists(self, remote_name):
        return remote_name in self.files


def test_a_submission_left_in_sending_is_not_sent_again_when_it_landed(workspace):
    con = st.connect()
    for sid in ("R1", "R2"):
        con.execute("insert into submissions values "
                    "(?, 'registration', 'run', '2017-07-03', 1, ?, null, null)", [sid, st.SENDING])
    transport = FakeTransport()
    transport.files[lf.remote_name(lf.REGISTRATION, "R1")] = b"landed before the crash"

    def build(sub, local):
        local.write_bytes(sub["submission_id"].encode())
        return 1

    sent = st.send_pending(con, transport, lf.REGISTRATION, lf.REGISTRATION_RESULT, build)
    assert sent == ["R1", "R2"]
    assert transport.transfers == [lf.remote_name(lf.REGISTRATION, "R2")]    # R1 was not sent again
    assert [r["status"] for r in con.execute("select status from submissions order by 1")] == ["sent", "sent"]
    assert list(st.private_dir("outgoing").iterdir()) == []                  # no local copy left
    assert st.send_pending(con, transport, lf.REGISTRATION, lf.REGISTRATION_RESULT, build) == []
    con.close()


def test_staff_keys_become_the_member_token():
    from renkei.member_keys import token_for
    from renkei.tokens import Tokenizer

    want = Tokenizer().token(b"01130012000012340000000100")
    assert token_for("01130012-00001234-00000001-00") == want == token_for("01130012 00001234 00000001 00")
    with pytest.raises(ValueError):
        token_for("0113-abc")
