"""The My Number vault: 個人番号 stored only encrypted, one row per member token.

Everything outside the vault joins on member tokens (``renkei.tokens``); only code that must
hand a number to an outside body (the intermediary server, J-LIS) reads it back, naming a
purpose that is counted in the audit table.

Storage. Its own SQLite file, ``var/vault/vault.sqlite`` (``paths().vault``), never the
DuckDB warehouse: the warehouse is read by dbt, GX and reports, the vault by nobody but this
module. The folder is 0700 and the file 0600. Each number is sealed with AES-256-GCM under a
fresh 96-bit nonce; the associated data binds it to its member token and key id, so a
ciphertext copied to another row or relabelled with another key id fails authentication
(``VaultTampered``, naming the row's token). The audit table is append-only (triggers refuse
UPDATE and DELETE) and holds tokens, counts, key ids, sources and purposes, never a number.

Keys. A key ring ``{"current": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "..."}}``
comes from, in this order:

1. the environment variable ``RENKEI_VAULT_KEYS`` (that JSON);
2. the Airflow connection ``renkei_vault_keys`` (the same JSON as its extra);
3. for the local sandbox only, ``var/secrets/vault_keys.json`` (0600), created on first use
   with a warning, as ``renkei.tokens`` does for the token key.

Production sets ``RENKEI_VAULT_REQUIRE_KEY=1``: then only 1 and 2 count and a missing key is
a ``VaultKeyError``. Without it, a key file is created only while the vault holds no rows: a
new key could not open existing rows, so a vault with rows and no key is an error too.

The vault stores a keyed check value (HMAC of a constant) for every key it has used. A
configured key whose check value differs is refused when the vault is opened ("vault key k2
does not open this vault: wrong key?") before anything is read or written. A row whose key
id is not in the key ring is a ``VaultKeyError`` naming the key id. Nothing ever falls back
to plaintext.

Rotation. Add the new key to the ring and make it ``current`` (new writes use it at once;
rows under the old key stay readable), then call ``rotate("k2")``: rows move to the new key in
small transactions (``batch_size``), so readers in other processes keep reading between
batches (WAL mode), and a stopped rotation resumes where it left off when called again. When
``key_usage()`` shows no row under the old key, remove it from the ring.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from renkei import airflow_home, masking
from renkei.identifiers import is_valid_my_number
from renkei.settings import TIMEZONE, paths
from renkei.tokens import TOKEN_HEX_CHARS

log = logging.getLogger(__name__)

ENV_KEYS = "RENKEI_VAULT_KEYS"
ENV_REQUIRE_KEY = "RENKEI_VAULT_REQUIRE_KEY"
AIRFLOW_CONN_ID = "renkei_vault_keys"
KEY_BYTES = 32          # AES-256
NONCE_BYTES = 12        # the 96-bit nonce GCM is specified for
ROTATE_BATCH = 500      # rows per rotation transaction: short write locks, readers barely wait
PUT_BATCH = 1_000
READ_FLUSH_EVERY = 1_000
READ_FLUSH_SECONDS = 5.0

_TOKEN = re.compile(rf"[0-9a-f]{{{TOKEN_HEX_CHARS}}}")
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
# Sources and purposes are identifiers, never free text: no number can be written into them.
_LABEL = re.compile(r"[a-z][a-z_]{0,63}")
_CHECK_CONSTANT = b"renkei vault key check v1"

_SCHEMA = """
create table if not exists my_numbers (
    member_token text primary key,
    ciphertext blob not null,
    nonce blob not null,
    key_id text not null,
    source text not null,
    stored_at text not null,
    updated_at text not null        -- when the number last changed (rotation does not count)
);
create index if not exists my_numbers_by_key on my_numbers (key_id);
create table if not exists vault_keys (
    key_id text primary key,
    check_value blob not null,
    first_seen_at text not null
);
create table if not exists vault_audit (
    event_id integer primary key autoincrement,
    at text not null,
    event text not null,
    member_token text,
    purpose text,
    count integer,
    detail text
);
create trigger if not exists vault_audit_no_update before update on vault_audit
begin select raise(abort, 'vault_audit is append-only'); end;
create trigger if not exists vault_audit_no_delete before delete on vault_audit
begin select raise(abort, 'vault_audit is append-only'); end;
"""


class VaultError(RuntimeError):
    """Base class; messages name member tokens and key ids, never a number or a key."""


class VaultKeyError(VaultError):
    """No usable key: missing, malformed, wrong, or not in the key ring."""


class VaultTampered(VaultError):
    """Rows that fail authentication: changed, moved to another token or relabelled."""

    def __init__(self, tokens: Iterable[str], note: str = ""):
        self.tokens, self.note = tuple(tokens), note
        shown = ", ".join(self.tokens[:10]) + (" ..." if len(self.tokens) > 10 else "")
        super().__init__(
            f"vault rows failed authentication (tampered, moved or relabelled) for "
            f"{len(self.tokens)} member(s): {shown}{note}")

    def __reduce__(self):  # rebuilt from its fields, not from the message (pickling, processes)
        return type(self), (self.tokens, self.note)


class InvalidMyNumber(VaultError, ValueError):
    """A value that is not 12 ASCII digits with a correct check digit; nothing was stored."""

    def __init__(self, member_token: str):
        self.member_token = member_token
        super().__init__(
            f"member {member_token}: not a valid 個人番号 (12 ASCII digits with a correct check "
            f"digit); nothing was stored")

    def __reduce__(self):
        return type(self), (self.member_token,)


@dataclass(frozen=True, repr=False)
class VaultKeys:
    current: str
    keys: Mapping[str, bytes]
    origin: str                      # where the ring came from, for error messages

    def __repr__(self) -> str:       # never show key material
        return f"VaultKeys(current={self.current!r}, key_ids={sorted(self.keys)}, origin={self.origin!r})"


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    readable: int
    tampered: tuple[str, ...]                               # member tokens
    by_key: dict[str, int] = field(default_factory=dict)    # rows per key id
    unknown_keys: dict[str, int] = field(default_factory=dict)  # rows under a key not in the ring

    @property
    def ok(self) -> bool:
        return not self.tampered and not self.unknown_keys


def generate_key() -> str:
    """A new vault key, base64 as the key ring holds it (for operators adding a key)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_keys(value: str | Mapping[str, Any], origin: str) -> VaultKeys:
    """Validate a key ring; errors say what is wrong and where, never the key material."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise VaultKeyError(f"vault keys from {origin} are not valid JSON") from None
    if not isinstance(value, Mapping) or not isinstance(value.get("keys"), Mapping):
        raise VaultKeyError(f'vault keys from {origin} must look like {{"current": "k1", "keys": '
                            f'{{"k1": "<base64 of 32 bytes>"}}}}')
    keys: dict[str, bytes] = {}
    for key_id, encoded in value["keys"].items():
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
            raise VaultKeyError(f"vault keys from {origin}: key ids are 1-32 of A-Z a-z 0-9 _ . -")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise VaultKeyError(f"vault key {key_id} from {origin} is not base64") from None
        if len(raw) != KEY_BYTES:
            raise VaultKeyError(f"vault key {key_id} from {origin} must be {KEY_BYTES} bytes "
                                f"(AES-256), not {len(raw)}")
        keys[key_id] = raw
    current = value.get("current")
    if current not in keys:
        raise VaultKeyError(f"vault keys from {origin}: current key {current!r} is not in the ring")
    return VaultKeys(current=current, keys=keys, origin=origin)


def _keys_from_airflow() -> Mapping[str, Any] | None:
    conn = airflow_home.optional_connection(AIRFLOW_CONN_ID)
    return (conn.extra_dejson or None) if conn is not None else None


def _key_required() -> bool:
    return os.environ.get(ENV_REQUIRE_KEY, "").strip().lower() in {"1", "true", "yes"}


def sandbox_key_file() -> Path:
    return paths().secrets / "vault_keys.json"


def load_vault_keys(vault_rows: int = 0) -> VaultKeys:
    """The key ring, from the environment, the Airflow connection or the sandbox key file.

    ``vault_rows`` is how many rows the vault already holds: a key file is created only for an
    empty vault, because a new key could not open existing rows.
    """
    if text := os.environ.get(ENV_KEYS):
        return parse_keys(text, ENV_KEYS)
    if (extra := _keys_from_airflow()) is not None:
        return parse_keys(extra, f"Airflow connection {AIRFLOW_CONN_ID}")
    if _key_required():
        raise VaultKeyError(f"no vault key: {ENV_REQUIRE_KEY} is set and neither {ENV_KEYS} nor "
                            f"the Airflow connection {AIRFLOW_CONN_ID} provides one")
    path = sandbox_key_file()
    if not path.exists():
        if vault_rows:
            raise VaultKeyError(
                f"the vault holds {vault_rows} rows but no vault key is configured ({ENV_KEYS}, the "
                f"Airflow connection {AIRFLOW_CONN_ID} or {path}); a new key would not open them")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        ring = {"current": "k1", "keys": {"k1": generate_key()}}
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                json.dump(ring, fh)
            log.warning("Created a local vault key file at %s (sandbox only; production sets %s or "
                        "the Airflow connection %s, and %s=1)", path, ENV_KEYS, AIRFLOW_CONN_ID,
                        ENV_REQUIRE_KEY)
    return parse_keys(path.read_text("utf-8"), str(path))


def _check_value(key: bytes) -> bytes:
    return hmac.digest(key, _CHECK_CONSTANT, "sha256")


def _aad(member_token: str, key_id: str) -> bytes:
    # The token has a fixed length, so token + key id cannot be split two ways.
    return f"{member_token}{key_id}".encode("ascii")


def _now() -> str:
    return datetime.now(ZoneInfo(TIMEZONE)).isoformat(timespec="milliseconds")


def _check_token(member_token: Any) -> None:
    # The guard that keeps a number from ever becoming a primary key in clear: a token is
    # 32 hex characters, a My Number 12 digits. The value is not echoed (it may be a number).
    if not isinstance(member_token, str) or not _TOKEN.fullmatch(member_token):
        raise ValueError(f"member_token must be a member token ({TOKEN_HEX_CHARS} lowercase hex "
                         f"characters from renkei.tokens)")


def _check_label(value: Any, what: str) -> None:
    if not isinstance(value, str) or not _LABEL.fullmatch(value):
        raise ValueError(f"{what} must be an identifier of lowercase letters and underscores "
                         f"(e.g. 'pension_service', 'jlis', 'intermediary_registration')")


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("pragma journal_mode=wal")      # readers keep reading while a writer commits
    conn.execute("pragma synchronous=full")      # a stored number survives a power cut
    conn.execute("pragma secure_delete=on")      # deleted rows are overwritten, not left in free pages
    conn.executescript(_SCHEMA)
    return conn


def _flush_reads(conn: sqlite3.Connection, reads: Counter, lock: threading.RLock) -> None:
    with lock:
        if not reads:
            return
        at = _now()
        try:
            conn.execute("begin immediate")
            conn.executemany(
                "insert into vault_audit (at, event, purpose, count) values (?, 'read', ?, ?)",
                [(at, purpose, n) for purpose, n in sorted(reads.items())])
            conn.execute("commit")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("rollback")
            raise
        reads.clear()


def _finalize(conn: sqlite3.Connection, reads: Counter, lock: threading.RLock) -> None:
    try:
        _flush_reads(conn, reads, lock)
    except sqlite3.Error:
        log.exception("Could not record the vault's pending read counts")
    finally:
        conn.close()


class Vault:
    """The encrypted store of My Numbers. Use as a context manager or call ``close()`` so that
    read counts are written (they are also written every ``READ_FLUSH_EVERY`` reads or
    ``READ_FLUSH_SECONDS``, and when the process exits normally)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, keys: VaultKeys | None = None):
        self.path = Path(path) if path is not None else paths().vault
        self._lock = threading.RLock()
        self._conn = _open(self.path)
        self._reads: Counter[str] = Counter()
        self._last_flush = time.monotonic()
        self._finalizer = weakref.finalize(self, _finalize, self._conn, self._reads, self._lock)
        try:
            self._keys = keys if keys is not None else load_vault_keys(self.count())
            self._ciphers = {key_id: AESGCM(key) for key_id, key in self._keys.keys.items()}
            self._check_key_ring()
        except BaseException:
            self._finalizer()
            raise

    def __repr__(self) -> str:
        return f"Vault({str(self.path)!r})"

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._finalizer()

    @property
    def current_key_id(self) -> str:
        return self._keys.current

    # -- writing -------------------------------------------------------------------------

    def put(self, member_token: str, my_number: str, source: str) -> bool:
        """Store ``my_number`` for ``member_token``; True if it is new or changed."""
        return self.put_many([(member_token, my_number, source)]) == 1

    def put_many(self, rows: Iterable[tuple[str, str, str] | Mapping[str, str]]) -> int:
        """Store many rows ``(member_token, my_number, source)`` or mappings with those keys.

        Every row is validated before anything is written, so one invalid number stores
        nothing; then rows are written in transactions of ``PUT_BATCH``. Returns how many were
        new or changed.
        """
        items = [self._validated(row) for row in rows]
        changed = 0
        for start in range(0, len(items), PUT_BATCH):
            with self._transaction():
                for member_token, my_number, source in items[start:start + PUT_BATCH]:
                    changed += self._put_one(member_token, my_number, source)
        for _, my_number, _ in items:
            masking.register(my_number)
        return changed

    def delete(self, member_token: str, reason: str) -> bool:
        """Remove a member's number (e.g. end of retention, a withdrawn collection)."""
        _check_token(member_token)
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("delete needs a reason for the audit table")
        with self._transaction():
            deleted = self._conn.execute(
                "delete from my_numbers where member_token = ?", (member_token,)).rowcount
            if deleted:
                # A reason is free text: mask it in case someone pasted a number into it.
                self._audit("delete", member_token, detail=masking.mask_text(reason.strip())[:200])
        return bool(deleted)

    def rotate(self, new_key_id: str, batch_size: int = ROTATE_BATCH, max_rows: int | None = None) -> int:
        """Re-encrypt every row not yet under ``new_key_id`` (the current key); return how many.

        Runs in transactions of ``batch_size`` rows; ``max_rows`` stops early (to spread a
        rotation over maintenance windows). Calling it again resumes. Rows that fail
        authentication stay under their old key and are raised as ``VaultTampered`` at the end.
        """
        if new_key_id not in self._ciphers:
            raise VaultKeyError(f"vault key {new_key_id} is not in the key ring ({self._keys.origin})")
        if new_key_id != self._keys.current:
            raise VaultKeyError(f"rotate to {new_key_id}: make it the current key first, so that new "
                                f"writes use it too ({self._keys.origin})")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        cipher, done, after, tampered = self._ciphers[new_key_id], 0, "", []
        while max_rows is None or done < max_rows:
            limit = batch_size if max_rows is None else min(batch_size, max_rows - done)
            with self._transaction():
                rows = self._conn.execute(
                    "select member_token, ciphertext, nonce, key_id from my_numbers "
                    "where key_id <> ? and member_token > ? order by member_token limit ?",
                    (new_key_id, after, limit)).fetchall()
                if not rows:
                    break
                moved = 0
                for member_token, ciphertext, nonce, key_id in rows:
                    try:
                        plain = self._open_row(member_token, ciphertext, nonce, key_id)
                    except VaultTampered:
                        tampered.append(member_token)
                        continue
                    fresh = os.urandom(NONCE_BYTES)
                    self._conn.execute(
                        "update my_numbers set ciphertext = ?, nonce = ?, key_id = ? "
                        "where member_token = ?",
                        (cipher.encrypt(fresh, plain, _aad(member_token, new_key_id)), fresh,
                         new_key_id, member_token))
                    moved += 1
                after = rows[-1][0]
                if moved:
                    self._audit("rotate", count=moved, detail=f"to {new_key_id}")
            done += len(rows)
        if tampered:
            self._audit_tampered(tampered)
            raise VaultTampered(tampered, "; these rows stay under their old key")
        log.info("Vault rotation to key %s: %d rows re-encrypted in this call", new_key_id,
                 done - len(tampered))
        return done - len(tampered)

    # -- reading -------------------------------------------------------------------------

    def get(self, member_token: str, purpose: str) -> str | None:
        """The member's number, or None; the read is counted under ``purpose`` in the audit table
        and the value is masked in this process's logs from now on."""
        _check_token(member_token)
        _check_label(purpose, "purpose")
        with self._lock:
            row = self._conn.execute(
                "select ciphertext, nonce, key_id from my_numbers where member_token = ?",
                (member_token,)).fetchone()
        if row is None:
            return None
        try:
            value = self._open_row(member_token, *row).decode("ascii")
        except VaultTampered as exc:
            self._audit_tampered(exc.tokens)
            raise
        masking.register(value)
        self._count_read(purpose)
        return value

    def contains(self, member_token: str) -> bool:
        _check_token(member_token)
        with self._lock:
            return self._conn.execute(
                "select 1 from my_numbers where member_token = ?", (member_token,)).fetchone() is not None

    def tokens(self) -> Iterator[str]:
        """Every member token in the vault, in order (an iterator: wrap it in ``set()`` if needed)."""
        after = ""
        while True:
            with self._lock:
                page = [r[0] for r in self._conn.execute(
                    "select member_token from my_numbers where member_token > ? "
                    "order by member_token limit 10000", (after,))]
            if not page:
                return
            yield from page
            after = page[-1]

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("select count(*) from my_numbers").fetchone()[0]

    def key_usage(self) -> dict[str, int]:
        """Rows per key id: a key can leave the ring once no row uses it."""
        with self._lock:
            return dict(self._conn.execute(
                "select key_id, count(*) from my_numbers group by key_id order by key_id"))

    def verify(self) -> VerifyReport:
        """Decrypt every row (values are discarded at once) and report what does not open."""
        by_key: Counter[str] = Counter()
        unknown: Counter[str] = Counter()
        tampered: list[str] = []
        checked = 0
        with self._lock:
            rows = self._conn.execute(
                "select member_token, ciphertext, nonce, key_id from my_numbers order by member_token")
            for member_token, ciphertext, nonce, key_id in rows:
                checked += 1
                by_key[key_id] += 1
                if key_id not in self._ciphers:
                    unknown[key_id] += 1
                    continue
                try:
                    self._open_row(member_token, ciphertext, nonce, key_id)
                except VaultTampered:
                    tampered.append(member_token)
        report = VerifyReport(checked=checked, readable=checked - len(tampered) - sum(unknown.values()),
                              tampered=tuple(tampered), by_key=dict(by_key), unknown_keys=dict(unknown))
        with self._transaction():
            self._audit("verify", count=checked, detail=(
                f"tampered={len(tampered)} unknown_key_rows={sum(unknown.values())}"))
        if tampered:
            self._audit_tampered(tampered)
        return report

    # -- internals -----------------------------------------------------------------------

    def _validated(self, row: tuple[str, str, str] | Mapping[str, str]) -> tuple[str, str, str]:
        if isinstance(row, Mapping):
            member_token, my_number, source = row["member_token"], row["my_number"], row["source"]
        else:
            member_token, my_number, source = row
        _check_token(member_token)
        _check_label(source, "source")
        if not isinstance(my_number, str) or not is_valid_my_number(my_number):
            raise InvalidMyNumber(member_token)
        return member_token, my_number, source

    def _put_one(self, member_token: str, my_number: str, source: str) -> int:
        old = self._conn.execute(
            "select ciphertext, nonce, key_id from my_numbers where member_token = ?",
            (member_token,)).fetchone()
        plain = my_number.encode("ascii")
        if old is not None and hmac.compare_digest(self._open_row(member_token, *old), plain):
            return 0
        key_id, nonce, now = self._keys.current, os.urandom(NONCE_BYTES), _now()
        ciphertext = self._ciphers[key_id].encrypt(nonce, plain, _aad(member_token, key_id))
        self._conn.execute(
            "insert into my_numbers (member_token, ciphertext, nonce, key_id, source, stored_at, "
            "updated_at) values (?, ?, ?, ?, ?, ?, ?) on conflict (member_token) do update set "
            "ciphertext = excluded.ciphertext, nonce = excluded.nonce, key_id = excluded.key_id, "
            "source = excluded.source, updated_at = excluded.updated_at",
            (member_token, ciphertext, nonce, key_id, source, now, now))
        self._audit("put" if old is None else "update", member_token, detail=source)
        return 1

    def _open_row(self, member_token: str, ciphertext: bytes, nonce: bytes, key_id: str) -> bytes:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise VaultKeyError(f"vault key {key_id} is not in the key ring ({self._keys.origin}) but "
                                f"rows were written with it: add it back")
        try:
            return cipher.decrypt(nonce, ciphertext, _aad(member_token, key_id))
        except (InvalidTag, ValueError):  # ValueError: a nonce of the wrong length
            raise VaultTampered([member_token]) from None

    def _check_key_ring(self) -> None:
        """Refuse a configured key that is not the one the vault was written with.

        A key seen for the first time is recorded by its check value; if rows already use it
        (the check value was lost), it must open them first.
        """
        with self._transaction():
            for key_id, key in sorted(self._keys.keys.items()):
                expected = _check_value(key)
                row = self._conn.execute(
                    "select check_value from vault_keys where key_id = ?", (key_id,)).fetchone()
                if row is None:
                    sample = self._conn.execute(
                        "select member_token, ciphertext, nonce from my_numbers where key_id = ? limit 5",
                        (key_id,)).fetchall()
                    if sample and not any(self._opens(t, c, n, key_id) for t, c, n in sample):
                        raise VaultKeyError(f"vault key {key_id} does not open this vault: wrong key?")
                    self._conn.execute(
                        "insert into vault_keys (key_id, check_value, first_seen_at) values (?, ?, ?)",
                        (key_id, expected, _now()))
                elif not hmac.compare_digest(row[0], expected):
                    raise VaultKeyError(f"vault key {key_id} does not open this vault: wrong key?")

    def _opens(self, member_token: str, ciphertext: bytes, nonce: bytes, key_id: str) -> bool:
        try:
            self._open_row(member_token, ciphertext, nonce, key_id)
        except VaultTampered:
            return False
        return True

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("begin immediate")
            try:
                yield
            except BaseException as exc:
                self._conn.execute("rollback")
                if isinstance(exc, VaultTampered):  # the rollback took the audit row with it
                    self._audit_tampered(exc.tokens)
                raise
            self._conn.execute("commit")

    def _audit(self, event: str, member_token: str | None = None, *, purpose: str | None = None,
               count: int | None = None, detail: str | None = None) -> None:
        self._conn.execute(
            "insert into vault_audit (at, event, member_token, purpose, count, detail) "
            "values (?, ?, ?, ?, ?, ?)", (_now(), event, member_token, purpose, count, detail))

    def _audit_tampered(self, tokens: Iterable[str]) -> None:
        tokens = list(tokens)
        with self._transaction():
            for member_token in tokens:
                self._audit("tamper_detected", member_token)
        log.error("Vault rows failed authentication for %d member(s), first: %s", len(tokens),
                  tokens[0] if tokens else "-")

    def _count_read(self, purpose: str) -> None:
        self._reads[purpose] += 1
        if (sum(self._reads.values()) >= READ_FLUSH_EVERY
                or time.monotonic() - self._last_flush >= READ_FLUSH_SECONDS):
            self.flush_reads()

    def flush_reads(self) -> None:
        """Write the pending read counts to the audit table now."""
        _flush_reads(self._conn, self._reads, self._lock)
        self._last_flush = time.monotonic()
