"""Tokens are HMAC-SHA256 under a purpose-derived key, whichever path computes them."""

import hmac
import os

import numpy as np
import pytest

from renkei.tokens import TOKEN_HEX_CHARS, Tokenizer

KEY = bytes(range(32))


def reference(value: bytes, purpose: bytes = b"member") -> str:
    derived = hmac.digest(KEY, purpose, "sha256")
    return hmac.new(derived, value, "sha256").hexdigest()[:TOKEN_HEX_CHARS]


@pytest.mark.parametrize("value", [b"", b"01130012000012340000000700", b"x" * 63, b"x" * 64,
                                   b"x" * 65, os.urandom(200)])
def test_token_is_the_standard_hmac(value):
    assert Tokenizer(KEY).token(value) == reference(value)


def test_every_path_gives_the_same_tokens():
    rng = np.random.default_rng(7)
    keys = (rng.integers(0, 10, size=(500, 26)) + 48).astype(np.uint8)
    tok = Tokenizer(KEY)
    expected = [reference(bytes(row)) for row in keys]
    assert tok.tokens(bytes(row) for row in keys) == expected
    got = tok.token_matrix(keys)
    assert got.shape == (500, TOKEN_HEX_CHARS)
    assert [bytes(row).decode() for row in got] == expected
    assert tok.token_matrix(np.empty((0, 26), np.uint8)).shape == (0, TOKEN_HEX_CHARS)


def test_purposes_never_share_tokens():
    value = b"01130012000012340000000700"
    assert Tokenizer(KEY, purpose=b"member").token(value) != Tokenizer(KEY, purpose=b"other").token(value)
    assert Tokenizer(KEY, purpose=b"other").token(value) == reference(value, b"other")
