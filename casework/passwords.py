"""Moderator passwords and session tokens. Pure: no I/O, standard library only.

Passwords are hashed with scrypt (memory-hard, in the standard library, no native dependency to
ship) into a self-describing string::

    scrypt$16384$8$1$<salt, base64>$<key, base64>

so the cost can be raised later without a migration: `verify_password` reads the parameters from
the stored string. It refuses parameters weaker than today's, so whoever can edit a stored hash
cannot downgrade it to something cheap to brute-force, and it refuses absurdly expensive ones
(scrypt's `maxmem`), so a corrupted row cannot make a login eat the worker's memory. Anything it
cannot parse is a failed login (False), never an exception: a login handler must not 500 on a bad
row.

Session tokens are random and stored only as their SHA-256: a leaked sessions table (or Redis
dump) cannot be replayed as a login. SHA-256 without salt is enough here because the tokens carry
256 bits of entropy; there is nothing to brute-force.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
N = 2**14
R = 8
P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# n=2**14, r=8 needs 16 MiB; allow room for a later, costlier policy but no more.
_MAXMEM = 64 * 1024 * 1024
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16


def hash_password(password: str) -> str:
    """A fresh salted scrypt hash of `password`; raises ValueError for an empty password."""
    if not password:
        raise ValueError("a password must not be empty")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P, KEY_BYTES)
    return "$".join((SCHEME, str(N), str(R), str(P), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """True only if `password` matches `stored`; False for a wrong password and for any stored
    string that is malformed, tampered with, or uses parameters weaker than the current policy."""
    if not password or not isinstance(stored, str):
        return False
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return False
    try:
        n, r, p = (_decimal(part) for part in parts[1:4])
        salt = _unb64(parts[4])
        expected = _unb64(parts[5])
    except ValueError:
        return False
    if not (N <= n <= _MAX_N and n & (n - 1) == 0 and R <= r <= _MAX_R and P <= p <= _MAX_P):
        return False
    if not (SALT_BYTES <= len(salt) <= 64 and KEY_BYTES <= len(expected) <= 64):
        return False
    try:
        actual = _derive(password, salt, n, r, p, len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def new_session_token() -> str:
    """A random bearer token for a moderator session (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def session_token_hash(token: str) -> str:
    """What the store keeps instead of the token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # UnicodeEncodeError (a lone surrogate) is a ValueError, handled like any bad input.
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=length)


def _decimal(text: str) -> int:
    # int() would also accept " 8", "+8", "8_0" and non-ASCII digits; a stored hash is canonical.
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise ValueError("not a canonical decimal")
    return int(text)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
    if _b64(raw) != text:
        raise ValueError("not canonical base64")
    return raw
