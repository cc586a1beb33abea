"""Keyed tokens (HMAC-SHA256) that stand for members everywhere outside the vault.

The warehouse, dbt models, docs and reports join on tokens, never on names, 記号・番号 or
My Numbers. The key is a secret of the installation: from the environment
(``RENKEI_TOKEN_KEY``, hex), an Airflow connection ``renkei_token_key`` (its password), or,
for the local sandbox only, a key file created once under ``var/secrets/``. It never lives
in the repository. Changing the key changes every token, so it is kept, not rotated.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from renkei import airflow_home
from renkei.settings import paths

log = logging.getLogger(__name__)

TOKEN_HEX_CHARS = 32  # 128 bits: collision-free for any insurer's lifetime membership
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
    """Turns identifying byte strings into stable, non-reversible tokens."""

    def __init__(self, key: bytes | None = None, purpose: bytes = b"member"):
        # Domain separation: a member token can never equal a token made for another purpose.
        self._key = hmac.digest(key if key is not None else load_token_key(), purpose, "sha256")

    def token(self, value: bytes) -> str:
        return hmac.digest(self._key, value, "sha256").hex()[:TOKEN_HEX_CHARS]

    def tokens(self, values: Iterable[bytes]) -> list[str]:
        key, digest = self._key, hmac.digest
        return [digest(key, v, "sha256").hex()[:TOKEN_HEX_CHARS] for v in values]
