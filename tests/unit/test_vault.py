"""The My Number vault: encryption at rest, tamper detection, keys, rotation, audit.

Every person here is synthetic: numbers are random 11-digit bodies with their check digit."""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import sqlite3
import stat
import threading

import pytest

from renkei import masking, vault
from renkei.identifiers import my_number_with_check_digit
from renkei.tokens import Tokenizer
from renkei.vault import InvalidMyNumber, Vault, VaultKeyError, VaultKeys, VaultTampered, parse_keys

TOKENIZER = Tokenizer(b"\x42" * 32)
RNG = random.Random(20170718)


def member(i: int) -> str:
    # insurer number + 記号 + 番号 + 枝番, as renkei.interfaces tokenises them
    return TOKENIZER.token(f"01130012|00001234|{i:08d}|00".encode())


def synthetic_number() -> str:
    return my_number_with_check_digit(f"{RNG.randrange(10**11):011d}")


def ring(current: str, **keys: bytes) -> VaultKeys:
    return parse_keys({"current": current,
                       "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}, "test")


K1, K2, WRONG = os.urandom(32), os.urandom(32), os.urandom(32)
REAL_KEYS_FROM_AIRFLOW = vault._keys_from_airflow


@pytest.fixture(autouse=True)
def no_outside_keys(workspace, monkeypatch):
    """Unit tests decide where keys come from; the session's Airflow home has no connection."""
    monkeypatch.delenv(vault.ENV_KEYS, raising=False)
    monkeypatch.delenv(vault.ENV_REQUIRE_KEY, raising=False)
    monkeypatch.setattr(vault, "_keys_from_airflow", lambda: None)


@pytest.fixture
def unmasked():
    """See what the vault itself logs, without the process-wide mask rewriting it."""
    was = masking.is_installed()
    masking.uninstall()
    yield
    if was:
        masking.install()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "vault" / "vault.sqlite"


def filled(path, n=5, keys=None):
    people = {member(i): synthetic_number() for i in range(n)}
    with Vault(path, keys=keys or ring("k1", k1=K1)) as v:
        assert v.put_many([(t, num, "jlis") for t, num in people.items()]) == n
    return people


def raw(path):
    con = sqlite3.connect(path)
    con.isolation_level = None
    return con


# -- round trip ---------------------------------------------------------------------------

def test_round_trip_put_get_contains_count_tokens(path):
    people = {member(i): synthetic_number() for i in range(4)}
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        for token, number in people.items():
            assert v.put(token, number, "pension_service") is True
        assert v.count() == 4
        assert list(v.tokens()) == sorted(people)
        for token, number in people.items():
            assert v.contains(token)
            assert v.get(token, "intermediary_registration") == number
        assert v.get(member(99), "intermediary_registration") is None
        assert not v.contains(member(99))
        assert v.key_usage() == {"k1": 4}


def test_put_reports_new_changed_or_unchanged(path):
    token, first, second = member(1), synthetic_number(), synthetic_number()
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        assert v.put(token, first, "jlis") is True
        assert v.put(token, first, "jlis") is False
        assert v.put(token, second, "jlis") is True
        assert v.get(token, "check") == second
        assert v.count() == 1
    events = [e for (e,) in raw(path).execute("select event from vault_audit order by event_id")]
    assert events == ["put", "update", "read"]


def test_put_many_accepts_mappings_and_counts_changes(path):
    a, b = synthetic_number(), synthetic_number()
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        rows = [{"member_token": member(1), "my_number": a, "source": "jlis"},
                {"member_token": member(2), "my_number": b, "source": "jlis"}]
        assert v.put_many(rows) == 2
        assert v.put_many(rows) == 0
        assert v.get(member(2), "check") == b


def test_values_survive_reopening(path):
    people = filled(path)
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        assert {t: v.get(t, "check") for t in people} == people


# -- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "123456789019",           # check digit off by one (123456789018 is valid)
    "12345678901",            # 11 digits
    "1234567890180",          # 13 digits
    "１２３４５６７８９０１８",  # full-width: the collection step normalises, the vault refuses
    "12345678901a",
    "",
])
def test_invalid_my_number_is_refused_naming_the_token_only(path, value):
    token = member(7)
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        with pytest.raises(InvalidMyNumber) as exc:
            v.put(token, value, "jlis")
        assert exc.value.member_token == token
        assert token in str(exc.value)
        if value:
            assert value not in str(exc.value)
        assert v.count() == 0


def test_the_check_digit_boundary_itself(path):
    # 123456789018 is the DOMAIN.md example; every other last digit must be refused.
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        assert v.put(member(1), "123456789018", "jlis") is True
        for digit in "012345679":
            with pytest.raises(InvalidMyNumber):
                v.put(member(2), "12345678901" + digit, "jlis")
        assert v.count() == 1


def test_a_number_as_integer_is_refused(path):
    with Vault(path, keys=ring("k1", k1=K1)) as v, pytest.raises(InvalidMyNumber):
        v.put(member(1), 123456789018, "jlis")


def test_one_invalid_row_stores_nothing_of_the_batch(path):
    rows = [(member(i), synthetic_number(), "jlis") for i in range(3)] + [(member(3), "123456789019", "jlis")]
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        with pytest.raises(InvalidMyNumber) as exc:
            v.put_many(rows)
        assert exc.value.member_token == member(3)
        assert v.count() == 0


def test_a_number_in_the_token_position_is_refused_without_echo(path):
    number = synthetic_number()
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        with pytest.raises(ValueError) as exc:
            v.put(number, number, "jlis")
        assert number not in str(exc.value)
        with pytest.raises(ValueError):
            v.get(number, "check")
        assert v.count() == 0


@pytest.mark.parametrize("label", ["", "JLIS", "jlis 2017", "source123456789018", "j-lis"])
def test_sources_and_purposes_are_identifiers(path, label):
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        with pytest.raises(ValueError):
            v.put(member(1), synthetic_number(), label)
        v.put(member(1), synthetic_number(), "jlis")
        with pytest.raises(ValueError):
            v.get(member(1), label)


# -- tampering ----------------------------------------------------------------------------

def test_changed_ciphertext_is_detected_and_audited(path):
    people = filled(path)
    victim = sorted(people)[2]
    con = raw(path)
    (ct,) = con.execute("select ciphertext from my_numbers where member_token = ?", (victim,)).fetchone()
    con.execute("update my_numbers set ciphertext = ? where member_token = ?",
                (bytes([ct[0] ^ 1]) + ct[1:], victim))
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        with pytest.raises(VaultTampered) as exc:
            v.get(victim, "check")
        assert exc.value.tokens == (victim,)
        assert victim in str(exc.value)
        others = [t for t in people if t != victim]
        assert [v.get(t, "check") for t in others] == [people[t] for t in others]
        report = v.verify()
    assert report.tampered == (victim,) and report.readable == len(people) - 1 and not report.ok
    audited = con.execute("select member_token from vault_audit where event = 'tamper_detected'").fetchall()
    assert set(audited) == {(victim,)}


def test_swapped_rows_are_detected(path):
    people = filled(path)
    a, b = sorted(people)[:2]
    con = raw(path)
    row_a = con.execute("select ciphertext, nonce from my_numbers where member_token = ?", (a,)).fetchone()
    row_b = con.execute("select ciphertext, nonce from my_numbers where member_token = ?", (b,)).fetchone()
    con.execute("update my_numbers set ciphertext = ?, nonce = ? where member_token = ?", (*row_b, a))
    con.execute("update my_numbers set ciphertext = ?, nonce = ? where member_token = ?", (*row_a, b))
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        for token in (a, b):
            with pytest.raises(VaultTampered) as exc:
                v.get(token, "check")
            assert exc.value.tokens == (token,)
        assert set(v.verify().tampered) == {a, b}


def test_relabelled_key_id_is_tampering_not_a_key_problem(path):
    keys = ring("k1", k1=K1, k2=K2)
    people = filled(path, keys=keys)
    victim = sorted(people)[0]
    raw(path).execute("update my_numbers set key_id = 'k2' where member_token = ?", (victim,))
    with Vault(path, keys=keys) as v:
        with pytest.raises(VaultTampered) as exc:
            v.get(victim, "check")
        assert exc.value.tokens == (victim,)


def test_put_over_a_tampered_row_is_refused_and_keeps_the_audit_row(path):
    people = filled(path, n=2)
    victim = sorted(people)[0]
    raw(path).execute("update my_numbers set nonce = zeroblob(12) where member_token = ?", (victim,))
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        with pytest.raises(VaultTampered):
            v.put(victim, synthetic_number(), "jlis")
        events = v._conn.execute(
            "select event from vault_audit where member_token = ? order by event_id", (victim,)).fetchall()
    assert events[-1] == ("tamper_detected",)


# -- keys ---------------------------------------------------------------------------------

def test_wrong_key_is_refused_on_open(path):
    filled(path, keys=ring("k2", k2=K2))
    with pytest.raises(VaultKeyError, match=r"^vault key k2 does not open this vault: wrong key\?$"):
        Vault(path, keys=ring("k2", k2=WRONG))


def test_wrong_key_is_refused_even_without_its_check_value(path):
    # The check value was lost: the rows written with the key decide.
    filled(path, keys=ring("k2", k2=K2))
    raw(path).execute("delete from vault_keys")
    with pytest.raises(VaultKeyError, match="vault key k2 does not open this vault: wrong key"):
        Vault(path, keys=ring("k2", k2=WRONG))
    with Vault(path, keys=ring("k2", k2=K2)) as v:  # the right key re-records its check value
        assert v.verify().ok


def test_rows_under_a_key_missing_from_the_ring(path):
    people = filled(path, keys=ring("k1", k1=K1))
    with Vault(path, keys=ring("k2", k2=K2)) as v:
        with pytest.raises(VaultKeyError, match="vault key k1 is not in the key ring"):
            v.get(next(iter(people)), "check")
        report = v.verify()
    assert report.unknown_keys == {"k1": len(people)} and not report.ok


def test_required_key_missing(path, monkeypatch):
    monkeypatch.setenv(vault.ENV_REQUIRE_KEY, "1")
    with pytest.raises(VaultKeyError, match="RENKEI_VAULT_KEYS"):
        Vault(path)
    assert not vault.sandbox_key_file().exists()


def test_required_key_ignores_a_sandbox_key_file(path, monkeypatch):
    with Vault(path):
        pass
    assert vault.sandbox_key_file().exists()
    monkeypatch.setenv(vault.ENV_REQUIRE_KEY, "1")
    with pytest.raises(VaultKeyError):
        Vault(path)


def test_sandbox_key_file_is_created_once_and_private(path, caplog):
    with caplog.at_level(logging.WARNING, logger="renkei.vault"), Vault(path) as v:
        v.put(member(1), "983205673214", "jlis")
    key_file = vault.sandbox_key_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert any("sandbox only" in r.getMessage() for r in caplog.records)
    before = key_file.read_bytes()
    with Vault(path) as v:
        assert v.get(member(1), "check") == "983205673214"
    assert key_file.read_bytes() == before


def test_no_new_key_for_a_vault_that_has_rows(path):
    with Vault(path) as v:
        v.put(member(1), synthetic_number(), "jlis")
    vault.sandbox_key_file().unlink()
    with pytest.raises(VaultKeyError, match="holds 1 rows but no vault key"):
        Vault(path)
    assert not vault.sandbox_key_file().exists()


def test_environment_wins_over_the_key_file(path, monkeypatch):
    with Vault(path):
        pass  # creates the sandbox key file with a random k1
    monkeypatch.setenv(vault.ENV_KEYS, json.dumps(
        {"current": "env1", "keys": {"env1": base64.b64encode(K1).decode()}}))
    with Vault(path) as v:
        assert v.current_key_id == "env1"
        v.put(member(1), synthetic_number(), "jlis")
        assert v.key_usage() == {"env1": 1}


def test_airflow_connection_supplies_the_ring(path, monkeypatch):
    # The real lookup, through a connection defined as an environment variable.
    monkeypatch.setattr(vault, "_keys_from_airflow", REAL_KEYS_FROM_AIRFLOW)
    extra = {"current": "af1", "keys": {"af1": base64.b64encode(K2).decode()}}
    monkeypatch.setenv("AIRFLOW_CONN_RENKEI_VAULT_KEYS", json.dumps({"conn_type": "generic", "extra": extra}))
    keys = vault.load_vault_keys()
    assert keys.current == "af1" and keys.keys == {"af1": K2}
    assert "Airflow connection" in keys.origin


def ring_json(current: str, key_id: str, key: str) -> str:
    return json.dumps({"current": current, "keys": {key_id: key}})


B64_K1, B64_SHORT = base64.b64encode(K1).decode(), base64.b64encode(K1[:16]).decode()


@pytest.mark.parametrize("value, message", [
    ("not json", "not valid JSON"),
    ('{"current": "k1"}', "must look like"),
    (ring_json("k9", "k1", B64_K1), "not in the ring"),
    (ring_json("k1", "k1", B64_SHORT), "must be 32 bytes"),
    (ring_json("k1", "k1", "***"), "not base64"),
    (ring_json("k 1", "k 1", B64_K1), "key ids"),
])
def test_malformed_key_rings_are_explained_without_key_material(path, monkeypatch, value, message):
    monkeypatch.setenv(vault.ENV_KEYS, value)
    with pytest.raises(VaultKeyError, match=message) as exc:
        Vault(path)
    assert B64_K1 not in str(exc.value) and B64_SHORT not in str(exc.value)


def test_exceptions_survive_pickling_with_their_tokens():
    import pickle

    tampered = pickle.loads(pickle.dumps(VaultTampered([member(1), member(2)], "; note")))
    assert tampered.tokens == (member(1), member(2)) and str(tampered).endswith("; note")
    invalid = pickle.loads(pickle.dumps(InvalidMyNumber(member(3))))
    assert invalid.member_token == member(3) and member(3) in str(invalid)


def test_key_ring_repr_hides_keys():
    keys = ring("k1", k1=K1)
    assert base64.b64encode(K1).decode() not in repr(keys) and repr(K1) not in repr(keys)


# -- rotation -----------------------------------------------------------------------------

def test_rotation_in_slices_keeps_every_row_readable_then_the_old_key_retires(path):
    people = filled(path, n=7, keys=ring("k1", k1=K1))
    con = raw(path)
    before = dict(con.execute("select member_token, cast(ciphertext || nonce as blob) from my_numbers"))
    both = ring("k2", k1=K1, k2=K2)
    with Vault(path, keys=both) as writer, Vault(path, keys=both) as reader:
        assert writer.rotate("k2", batch_size=2, max_rows=3) == 3
        assert writer.key_usage() == {"k1": 4, "k2": 3}
        assert {t: reader.get(t, "check") for t in people} == people   # mid-rotation, another connection
        assert writer.rotate("k2", batch_size=2) == 4                    # resumes
        assert writer.rotate("k2") == 0                                  # nothing left
        assert writer.key_usage() == {"k2": 7}
        assert {t: reader.get(t, "check") for t in people} == people
    after = dict(con.execute("select member_token, cast(ciphertext || nonce as blob) from my_numbers"))
    assert all(after[t] != before[t] for t in people)
    assert con.execute("select sum(count) from vault_audit where event = 'rotate'").fetchone() == (7,)
    with Vault(path, keys=ring("k2", k2=K2)) as v:  # k1 retired
        assert {t: v.get(t, "check") for t in people} == people
        assert v.verify().ok


def test_readers_in_another_thread_see_no_downtime_during_rotation(path):
    people = filled(path, n=40, keys=ring("k1", k1=K1))
    both = ring("k2", k1=K1, k2=K2)
    errors, rounds, done, ready = [], [0], threading.Event(), threading.Event()

    def read_all():
        with Vault(path, keys=both) as reader:
            ready.set()
            while not done.is_set():
                try:
                    if {t: reader.get(t, "check") for t in people} != people:
                        errors.append("wrong value")
                except Exception as exc:  # noqa: BLE001 - any failure is the finding
                    errors.append(type(exc).__name__)
                rounds[0] += 1

    def reader_finishes_a_round():
        seen = rounds[0]
        while rounds[0] < seen + 2 and thread.is_alive():  # +2: one whole round after this point
            threading.Event().wait(0.005)

    thread = threading.Thread(target=read_all)
    thread.start()
    try:
        assert ready.wait(30)
        moved = 0
        with Vault(path, keys=both) as writer:
            while writer.key_usage().get("k1"):
                moved += writer.rotate("k2", batch_size=1, max_rows=4)
                reader_finishes_a_round()
    finally:
        done.set()
        thread.join()
    assert moved == 40
    assert errors == [] and rounds[0] >= 20


def test_rotate_only_to_the_current_key_in_the_ring(path):
    filled(path, keys=ring("k1", k1=K1))
    with Vault(path, keys=ring("k1", k1=K1, k2=K2)) as v:
        with pytest.raises(VaultKeyError, match="make it the current key first"):
            v.rotate("k2")
        with pytest.raises(VaultKeyError, match="k3 is not in the key ring"):
            v.rotate("k3")


def test_rotation_leaves_tampered_rows_and_names_them(path):
    people = filled(path, n=4, keys=ring("k1", k1=K1))
    victim = sorted(people)[1]
    raw(path).execute("update my_numbers set ciphertext = zeroblob(28) where member_token = ?", (victim,))
    with Vault(path, keys=ring("k2", k1=K1, k2=K2)) as v:
        with pytest.raises(VaultTampered) as exc:
            v.rotate("k2", batch_size=2)
        assert exc.value.tokens == (victim,)
        assert v.key_usage() == {"k1": 1, "k2": 3}


# -- delete, audit ------------------------------------------------------------------------

def test_delete_is_audited_with_a_masked_reason(path):
    people = filled(path, n=2)
    token = sorted(people)[0]
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        assert v.delete(token, f"retention ended (was {people[token]})") is True
        assert v.delete(token, "again") is False
        assert v.get(token, "check") is None
        with pytest.raises(ValueError):
            v.delete(sorted(people)[1], " ")
        (detail,) = v._conn.execute(
            "select detail from vault_audit where event = 'delete' and member_token = ?", (token,)).fetchone()
    # The number was registered with the mask when it was stored, so either label may stand.
    assert detail in {f"retention ended (was {label})"
                      for label in (masking.MY_NUMBER_LABEL, masking.REGISTERED_LABEL)}


def test_reads_are_counted_by_purpose(path):
    people = filled(path, n=3)
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        for token in people:
            v.get(token, "intermediary_registration")
        v.get(next(iter(people)), "member_inquiry")
        v.get(member(99), "member_inquiry")  # absent: nothing was read
    counts = dict(raw(path).execute(
        "select purpose, sum(count) from vault_audit where event = 'read' group by purpose"))
    assert counts == {"intermediary_registration": 3, "member_inquiry": 1}


def test_audit_table_is_append_only(path):
    filled(path, n=1)
    con = raw(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("update vault_audit set member_token = null")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("delete from vault_audit")


# -- nothing in clear ---------------------------------------------------------------------

def test_no_number_on_disk_anywhere(path):
    people = filled(path, n=30)
    changed = {t: synthetic_number() for t in sorted(people)[:5]}
    both = ring("k2", k1=K1, k2=K2)
    with Vault(path, keys=both) as v:
        v.put_many([(t, num, "pension_service") for t, num in changed.items()])
        v.delete(sorted(people)[-1], "withdrawn")
        v.rotate("k2", batch_size=7)
        assert [v.get(t, "check") for t in changed] == list(changed.values())
    numbers = {*people.values(), *changed.values()}
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert path in files
    for f in files:
        data = f.read_bytes()
        leaked = [n for n in numbers if n.encode() in data or n.encode("utf-16-le") in data]
        assert leaked == [], f.name


def test_files_are_private(path):
    filled(path, n=1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_no_number_in_any_log_line_or_exception(path, caplog, unmasked):
    caplog.set_level(logging.DEBUG)
    people = filled(path, n=3)
    numbers = set(people.values())
    messages = []
    with Vault(path, keys=ring("k2", k1=K1, k2=K2)) as v:
        bad = "123456789019"
        numbers.add(bad)
        for call in (lambda: v.put(member(50), bad, "jlis"),
                     lambda: v.put(next(iter(people)), "983205673215", "jlis"),
                     lambda: v.put("983205673214", "983205673214", "jlis")):
            with pytest.raises(ValueError) as exc:
                call()
            messages.append(str(exc.value))
        numbers |= {"983205673214", "983205673215"}
        victim = sorted(people)[0]
        raw(path).execute("update my_numbers set nonce = zeroblob(12) where member_token = ?", (victim,))
        with pytest.raises(VaultTampered) as exc:
            v.get(victim, "check")
        messages.append(str(exc.value))
        with pytest.raises(VaultTampered) as exc:
            v.rotate("k2")
        messages.append(str(exc.value))
        v.verify()
        v.delete(sorted(people)[1], "member asked")
    with pytest.raises(VaultKeyError) as exc:
        Vault(path, keys=ring("k2", k2=WRONG))
    messages.append(str(exc.value))
    messages += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert any(r.name == "renkei.vault" for r in caplog.records)  # the vault did log something
    assert [m for m in messages for n in numbers if n in m] == []
    audit = raw(path).execute("select * from vault_audit").fetchall()
    assert [row for row in audit for n in numbers if n in repr(row)] == []


def test_get_registers_the_value_with_the_log_mask(path):
    people = filled(path, n=1)
    token, number = next(iter(people.items()))
    masking.clear_registered()
    # Inside a longer digit run the check-digit rule does not apply; only registration masks it.
    assert masking.mask_text(f"x9{number}9x") == f"x9{number}9x"
    with Vault(path, keys=ring("k1", k1=K1)) as v:
        v.get(token, "check")
    assert masking.mask_text(f"x9{number}9x") == f"x9{masking.REGISTERED_LABEL}9x"
    masking.clear_registered()
