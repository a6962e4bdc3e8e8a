"""Anonymous tokens made by a test that knows the secret, the way an attacker with a stolen device
cannot: a real token re-signed as if issued long ago, or in the first, untimed form.

Written from the token format (docs/protocol.md), not with `server.identity`, so the unit tests
that compare the two also pin the format down.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

DAY_S = 86400


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"harbor-identity:" + secret.encode()).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uid_bytes(token: str) -> bytes:
    raw = token.split(".")[0]
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def _mac(secret: str, purpose: bytes, data: bytes) -> bytes:
    return hmac.new(_key(secret), purpose + b":" + data, hashlib.sha256).digest()[:16]


def token_for(secret: str, uid: bytes, issued_s: int | None = None) -> str:
    """A token for identity `uid` (16 bytes) issued at `issued_s` (Unix seconds; now if None)."""
    issued = int(time.time()) if issued_s is None else issued_s
    mac = _mac(secret, b"token-v2", uid + issued.to_bytes(8, "big"))
    return f"{_b64encode(uid)}.{issued}.{_b64encode(mac)}"


def reissued(secret: str, token: str, issued_s: int) -> str:
    """The same identity as `token`, in a token issued at `issued_s` (Unix seconds)."""
    return token_for(secret, _uid_bytes(token), issued_s)


def uid_of(token: str) -> str:
    """The identity id a token carries, as the server's uid (hex)."""
    return _uid_bytes(token).hex()


def aged(secret: str, token: str, days: float) -> str:
    """The same identity as `token`, issued `days` ago and not used since."""
    return reissued(secret, token, int(time.time() - days * DAY_S))


def untimed(secret: str, token: str) -> str:
    """The same identity as `token` in the first token form, `<id>.<mac>`, which carried no
    time and never expired."""
    uid = _uid_bytes(token)
    return f"{_b64encode(uid)}.{_b64encode(_mac(secret, b'token', uid))}"


def issued_s(token: str) -> int:
    """When a token says it was issued."""
    return int(token.split(".")[1])
