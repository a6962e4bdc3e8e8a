"""Moderator password hashing and session tokens (casework.passwords): pure functions."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.passwords import (
    hash_password,
    new_session_token,
    session_token_hash,
    verify_password,
)

# One hash shared by the tampering tests: scrypt is deliberately slow.
STORED = hash_password("correct horse battery staple")


def _with_part(stored: str, index: int, value: str) -> str:
    parts = stored.split("$")
    parts[index] = value
    return "$".join(parts)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_the_right_password_verifies_and_a_wrong_one_does_not() -> None:
    assert verify_password("correct horse battery staple", STORED)
    assert not verify_password("correct horse battery stapler", STORED)
    assert not verify_password("Correct horse battery staple", STORED)


def test_a_hash_describes_its_scheme_cost_salt_and_key() -> None:
    scheme, n, r, p, salt, key = STORED.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(key)) == 32


def test_a_hash_is_scrypt_of_the_password_with_its_own_salt() -> None:
    _, _, _, _, salt, key = STORED.split("$")
    expected = hashlib.scrypt(
        b"correct horse battery staple", salt=base64.b64decode(salt), n=2**14, r=8, p=1, dklen=32
    )
    assert base64.b64decode(key) == expected


def test_hashing_the_same_password_twice_uses_different_salts() -> None:
    again = hash_password("correct horse battery staple")
    assert again.split("$")[4] != STORED.split("$")[4]
    assert again != STORED
    assert verify_password("correct horse battery staple", again)


def test_non_ascii_passwords_round_trip() -> None:
    stored = hash_password("contraseña segura ☕")
    assert verify_password("contraseña segura ☕", stored)
    assert not verify_password("contrasena segura ☕", stored)


def test_an_empty_password_cannot_be_hashed_and_never_verifies() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")
    assert not verify_password("", STORED)


@pytest.mark.parametrize(
    "tampered",
    [
        pytest.param(_with_part(STORED, 5, _b64(bytes(32))), id="other-key"),
        pytest.param(_with_part(STORED, 4, _b64(bytes(16))), id="other-salt"),
        pytest.param(_with_part(STORED, 1, "32768"), id="other-n"),
        pytest.param(_with_part(STORED, 2, "9"), id="other-r"),
        pytest.param(_with_part(STORED, 0, "pbkdf2"), id="other-scheme"),
        pytest.param(_with_part(STORED, 1, "1024"), id="weaker-n"),
        pytest.param(_with_part(STORED, 1, "16385"), id="n-not-a-power-of-two"),
        pytest.param(_with_part(STORED, 1, "016384"), id="n-not-canonical"),
        pytest.param(_with_part(STORED, 1, "1" + "0" * 40), id="n-huge"),
        pytest.param(_with_part(STORED, 2, "-8"), id="r-negative"),
        pytest.param(_with_part(STORED, 3, "１"), id="p-non-ascii-digit"),
        pytest.param(_with_part(STORED, 5, STORED.split("$")[5][:-4]), id="key-truncated"),
        pytest.param(_with_part(STORED, 5, "!!!!"), id="key-not-base64"),
        pytest.param(_with_part(STORED, 4, "é" * 24), id="salt-non-ascii"),
        pytest.param(_with_part(STORED, 4, _b64(bytes(8))), id="salt-too-short"),
        pytest.param(_with_part(STORED, 5, _b64(bytes(10_000))), id="key-too-long"),
        pytest.param(_with_part(STORED, 1, str(2**20)), id="n-over-memory-limit"),
        pytest.param(STORED + "$extra", id="extra-part"),
        pytest.param(STORED.rsplit("$", 1)[0], id="missing-part"),
        pytest.param(STORED[:-1], id="last-char-cut"),
        pytest.param("", id="empty"),
        pytest.param("correct horse battery staple", id="plaintext"),
    ],
)
def test_a_tampered_or_malformed_stored_hash_is_refused(tampered: str) -> None:
    assert not verify_password("correct horse battery staple", tampered)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_verifying_against_any_garbage_returns_false_and_never_raises(garbage: str) -> None:
    assert verify_password("correct horse battery staple", garbage) is False


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=6, max_size=6))
def test_verifying_against_garbage_in_the_right_shape_returns_false(parts: list[str]) -> None:
    assert verify_password("pw", "$".join(["scrypt", *parts[1:]])) is False


def test_a_lone_surrogate_password_is_refused_not_crashed() -> None:
    assert not verify_password("\ud800", STORED)


def test_session_tokens_are_random_url_safe_and_long() -> None:
    tokens = {new_session_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)


def test_a_session_is_stored_by_the_sha256_of_its_token() -> None:
    token = new_session_token()
    digest = session_token_hash(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert session_token_hash(token) == digest
    assert session_token_hash(new_session_token()) != digest
