"""情報提供等記録: append-only, each key once, and verify() finds an edited, deleted or reordered
entry and a cut-off end; `renkei disclosure` prints one member's record and no keys."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from renkei.provision_log import ProvisionLog

A, B = "a" * 32, "b" * 32


def entry(i: int, token: str = A, event: str = "inquiry", outcome: str = "sent") -> dict:
    return {"entry_key": f"{event}:{i}", "at": f"2017-07-{i:02d}T00:00:00+09:00", "event": event,
            "member_token": token, "fiscal_year": 2017, "purpose_code": "0101", "outcome": outcome,
            "reference": f"{i} in T1"}


@pytest.fixture
def plog(tmp_path):
    log = ProvisionLog(tmp_path / "log.sqlite")
    log.append_many([entry(1), entry(2, B), entry(3), entry(4, event="answer", outcome="answered")])
    yield log
    log.close()


def raw(plog):
    con = sqlite3.connect(plog.path)
    con.execute("drop trigger entries_no_update")
    con.execute("drop trigger entries_no_delete")
    return con


def test_intact_log_verifies_and_keys_are_written_once(plog):
    assert plog.verify().ok and plog.verify().entries == 4
    assert plog.append_many([entry(2, B), entry(5)]) == 1     # entry 2 was there already
    assert [e["seq"] for e in plog.entries()] == [1, 2, 3, 4, 5]
    assert [e["entry_key"] for e in plog.entries(A)] == ["inquiry:1", "inquiry:3", "answer:4", "inquiry:5"]
    assert plog.verify().ok


def test_the_platform_cannot_update_or_delete(plog):
    con = sqlite3.connect(plog.path)
    for sql in ("update entries set outcome = 'answered' where seq = 1", "delete from entries where seq = 1"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)


def test_an_edit_is_found_at_its_entry(plog):
    con = raw(plog)
    con.execute("update entries set fiscal_year = 2016 where seq = 2")
    con.commit()
    problems = plog.verify().problems
    assert problems == ["entry 2: its content does not match its hash (edited)"]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(plog):
    from renkei.provision_log import entry_sha256

    con = raw(plog)
    con.row_factory = sqlite3.Row
    row = dict(con.execute("select * from entries where seq = 2").fetchone())
    row["outcome"] = "answered"
    con.execute("update entries set outcome = ?, sha256 = ? where seq = 2", ["answered", entry_sha256(row)])
    con.commit()
    assert plog.verify().problems == ["entry 3: does not follow the entry before it "
                                      "(an entry was edited, removed or moved)"]


def test_a_deletion_a_reorder_and_a_cut_end_are_found(plog, tmp_path):
    con = raw(plog)
    con.execute("delete from entries where seq = 2")
    con.commit()
    problems = plog.verify().problems
    assert "entry 2: missing (next entry is 3)" in problems
    assert any(p.startswith("entry 3: does not follow") for p in problems)

    other = ProvisionLog(tmp_path / "other.sqlite")
    other.append_many([entry(1), entry(2), entry(3)])
    con = raw(other)
    con.execute("update entries set seq = 10 where seq = 1")
    con.execute("update entries set seq = 1 where seq = 3")
    con.execute("update entries set seq = 3 where seq = 10")
    con.commit()
    assert not other.verify().ok
    other.close()

    cut = ProvisionLog(tmp_path / "cut.sqlite")
    cut.append_many([entry(1), entry(2), entry(3)])
    con = raw(cut)
    con.execute("delete from entries where seq = 3")
    con.commit()
    assert cut.verify().problems == ["the log ends at entry 2 but the head says 3 "
                                     "(entries were cut off the end or the head was changed)"]
    cut.close()


def test_disclosure_prints_one_members_record(workspace):
    from renkei.cli import main
    from renkei.tokens import Tokenizer

    keys = "01130012-00001234-00000001-00"
    token = Tokenizer().token(keys.replace("-", "").encode())
    with ProvisionLog() as plog:
        plog.append_many([entry(1, token), entry(2, B),
                          entry(3, token, event="answer", outcome="answered")])
    result = CliRunner().invoke(main, ["disclosure", "--member", keys])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert token in lines[0]
    body = [line for line in lines if line.startswith("2017-")]
    assert len(body) == 2
    assert "inquiry" in body[0] and "照会済" in body[0] and "健康保険法" in body[0]
    assert "answer" in body[1] and "情報提供あり" in body[1]
    assert "00001234" not in result.output and lines[-1] == "2 entries"

    with ProvisionLog() as plog:
        con = raw(plog)
    con.execute("update entries set outcome = 'moved' where seq = 1")
    con.commit()
    tampered = CliRunner().invoke(main, ["disclosure", "--member", keys])
    assert tampered.exit_code != 0 and "integrity check" in tampered.output
