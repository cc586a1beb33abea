"""Keyed tokens (HMAC-SHA256) that stand for members everywhere outside the vault.

The warehouse, dbt models, docs and reports join on tokens, never on names, 記号・番号 or
My Numbers. The key is a secret of the installation: from the environment
(``RENKEI_TOKEN_KEY``, hex), an Airflow connection ``renkei_token_key`` (its password), or,
for the local sandbox only, a key file created once under ``var/secrets/``. It never lives
in the repository. Changing the key changes every token, so it is kept, not rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from renkei import airflow_home
from renkei.settings import paths

log = logging.getLogger(__name__)

TOKEN_HEX_CHARS = 32  # 128 bits: collision-free for any insurer's lifetime membership
_SHA256_BLOCK = 64
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
ENV_KEY = "RENKEI_TOKEN_KEY"
AIRFLOW_CONN_ID = "renkei_token_key"


class TokenKeyError(RuntimeError):
    """No usable token key."""


def _key_from_airflow() -> bytes | None:
    conn = airflow_home.optional_connection(AIRFLOW_CONN_ID)
    return bytes.fromhex(conn.password) if conn is not None and conn.password else None


def _sandbox_key_file() -> Path:
    return paths().secrets / "token.key"


def load_token_key() -> bytes:
    if value := os.environ.get(ENV_KEY):
        key = bytes.fromhex(value)
    elif (key := _key_from_airflow()) is None:
        path = _sandbox_key_file()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            log.warning("Created a local token key at %s (sandbox only; production sets %s "
                        "or the Airflow connection %s)", path, ENV_KEY, AIRFLOW_CONN_ID)
        key = bytes.fromhex(path.read_text().strip())
    if len(key) < 32:
        raise TokenKeyError("token key must be at least 32 bytes (64 hex characters)")
    return key


class Tokenizer:
    """Turns identifying byte strings into stable, non-reversible tokens.

    HMAC-SHA256 (RFC 2104) with the hash states after the padded key computed once, as
    RFC 2104 section 4 suggests: a token then costs two SHA-256 blocks and four C calls
    instead of a fresh HMAC context each (about three times faster, which matters at
    tens of millions of members a month). tests/unit/test_tokens.py checks every path
    against the standard library's ``hmac``.
    """

    def __init__(self, key: bytes | None = None, purpose: bytes = b"member"):
        # Domain separation: a member token can never equal a token made for another purpose.
        self._key = hmac.digest(key if key is not None else load_token_key(), purpose, "sha256")
        block = self._key.ljust(_SHA256_BLOCK, b"\0")  # a 32-byte digest: no need to hash it
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    @property
    def hmac_key(self) -> bytes:
        """The HMAC key for this purpose, for another engine that must compute the very same
        tokens (the bench's DuckDB baseline). Never log or store it."""
        return self._key

    def _digest(self, value: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def token(self, value: bytes) -> str:
        return self._digest(value).hex()[:TOKEN_HEX_CHARS]

    def tokens(self, values: Iterable[bytes]) -> list[str]:
        digest = self._digest
        return [digest(v).hex()[:TOKEN_HEX_CHARS] for v in values]

    def token_matrix(self, keys: np.ndarray) -> np.ndarray:
        """Tokens of the rows of an (n, width) byte matrix, as an (n, 32) matrix of ASCII
        hex digits (see :func:`renkei.fixedwidth.arrow.strings_from_matrix`)."""
        keys = np.ascontiguousarray(keys, dtype=np.uint8)
        n, width = keys.shape
        buf = keys.tobytes()
        inner, outer = self._inner.copy, self._outer.copy

        def one(i: int) -> bytes:
            h = inner()
            h.update(buf[i:i + width])
            o = outer()
            o.update(h.digest())
            return o.digest()

        digests = np.frombuffer(b"".join(map(one, range(0, n * width, width))), dtype=np.uint8)
        head = digests.reshape(n, 32)[:, :TOKEN_HEX_CHARS // 2]
        return _HEX_DIGITS[np.stack([head >> 4, head & 0x0F], axis=2).reshape(n, TOKEN_HEX_CHARS)]
