"""Retention: the vault forgets a departed member only when the period is over, they are not
enrolled again, and nothing is open with the intermediary server; each deletion is audited."""

import datetime as dt
import sqlite3

import pytest

from renkei import retention, warehouse
from renkei.vault import Vault

NUMBERS = {"gone": "123456789018", "edge": "983205673214", "recent": "111111111118",
           "back": "222222222226", "open": "333333333335", "stays": "444444444444"}


def tok(name: str) -> str:
    """A token-shaped stand-in (32 hex characters) for a named test member."""
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()[:32]


def _valid(n: str) -> str:
    from stdnum.jp import in_

    return n[:11] + in_.calc_check_digit(n[:11])


@pytest.fixture
def setup(workspace, monkeypatch):
    monkeypatch.setenv(retention.ENV_MONTHS, "84")
    rows = [  # (token, period, lost_date)
        ("gone", "2010-03-01", "2010-03-15"),     # left 2010-03-15: before the cutoff
        ("edge", "2010-04-01", "2010-04-01"),     # left on the cutoff day itself: kept
        ("recent", "2016-05-01", "2016-05-20"),   # within 84 months
        ("back", "2009-01-01", "2009-01-10"),     # left long ago ...
        ("back", "2017-07-01", None),             # ... and is enrolled again
        ("open", "2009-01-01", "2009-01-10"),     # past the period but a change is pending
        ("stays", "2017-07-01", None),            # enrolled
    ]
    with warehouse.writer() as con:
        for token, period, lost in rows:
            con.execute(
                "insert into raw.eligibility_members values ('b', ?, 1, ?, ?, '01130012', '00', "
                "'1', '1', date '1960-01-01', date '2000-04-01', ?, 300000, '22')",
                [period, tok(token), tok(token), lost])
    with Vault() as vault:
        for token, number in NUMBERS.items():
            vault.put(tok(token), _valid(number), "pension_service")
    from renkei import linkage_state

    con = linkage_state.connect()
    with linkage_state.transaction(con):
        con.execute("insert into changes (change_id, member_token, kind, fields, number_digest, "
                    "base_change_id, prepared_on, status) values "
                    "('c1', ?, '3', '{}', 'x', '', '2017-08-01', 'sent')", [tok("open")])
    con.close()


def test_cutoff_is_the_same_day_84_months_earlier():
    assert retention.cutoff_for(dt.date(2017, 4, 1), 84) == dt.date(2010, 4, 1)
    assert retention.cutoff_for(dt.date(2017, 3, 31), 1) == dt.date(2017, 2, 28)


def test_purges_only_members_no_longer_needed(setup):
    result = retention.purge(dt.date(2017, 4, 1))
    assert (result.deleted, result.kept_within_period, result.kept_enrolled,
            result.kept_open_with_intermediary) == (1, 2, 2, 1)
    with Vault() as vault:
        assert not vault.contains(tok("gone"))
        assert all(vault.contains(tok(t)) for t in NUMBERS if t != "gone")
    # a second run the same day deletes nothing more (idempotent)
    assert retention.purge(dt.date(2017, 4, 1)).deleted == 0


def test_every_deletion_is_audited_without_the_number(setup):
    from renkei.settings import paths

    retention.purge(dt.date(2017, 4, 1))
    con = sqlite3.connect(paths().vault)
    try:
        rows = con.execute("select * from vault_audit where event = 'delete'").fetchall()
    finally:
        con.close()
    assert len(rows) == 1
    text = " ".join(str(v) for v in rows[0])
    assert tok("gone") in text and "retention" in text and _valid(NUMBERS["gone"]) not in text


def test_refuses_a_retention_under_a_year(setup, monkeypatch):
    monkeypatch.setenv(retention.ENV_MONTHS, "6")
    with pytest.raises(ValueError, match="under 12 months"):
        retention.purge(dt.date(2017, 4, 1))
