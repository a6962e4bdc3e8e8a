"""Anonymous identity: a signed opaque token and a friendly pseudonym derived from it.

Nothing about the person is stored or needed. The token carries a random 128-bit identity id and
an HMAC over it, so any worker holding `HARBOR_SECRET` can verify it without a lookup, and the
pseudonym ("Calm Heron 42") is derived from the id with the same key, so a returning client keeps
its name and nobody can choose someone else's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

_ADJECTIVES = (
    "Calm", "Gentle", "Brave", "Steady", "Quiet", "Kind", "Bright", "Warm", "Patient", "Hopeful",
    "Honest", "Open", "Clear", "Soft", "Strong", "Wise", "Humble", "Sunny", "Curious", "Thoughtful",
    "Grounded", "Easy", "Mellow", "Serene", "Cheerful", "Loyal", "Caring", "Peaceful", "Friendly",
    "Golden", "Silver", "Misty", "Rising", "Morning", "Evening", "Spring", "Autumn", "Winter",
    "Summer", "Northern", "Southern", "Eastern", "Western", "Little", "Tall", "Swift", "Careful",
    "Merry", "Sincere", "Resilient", "Tender", "Willing", "Radiant", "Lucky", "Daring", "Noble",
    "Playful", "Restful", "Trusty", "Vivid", "Wandering", "Young", "Zesty", "Amber",
)  # fmt: skip
_ANIMALS = (
    "Heron", "Otter", "Sparrow", "Fox", "Badger", "Robin", "Turtle", "Owl", "Deer", "Hare",
    "Finch", "Wren", "Seal", "Whale", "Dolphin", "Falcon", "Swan", "Crane", "Lynx", "Bear",
    "Wolf", "Beaver", "Moose", "Panda", "Koala", "Lark", "Dove", "Kestrel", "Puffin", "Marten",
    "Bison", "Elk", "Ibis", "Jay", "Kite", "Lemur", "Mole", "Newt", "Orca", "Pelican", "Quail",
    "Raven", "Stork", "Tern", "Vole", "Walrus", "Yak", "Zebra", "Gecko", "Hedgehog", "Starling",
    "Salmon", "Tortoise", "Pony", "Llama", "Mink", "Osprey", "Plover", "Rook", "Teal", "Weasel",
    "Egret", "Gull", "Magpie",
)  # fmt: skip

_ID_BYTES = 16
_MAC_BYTES = 16


# Private check-in rooms are named with this prefix; no listed room may use it.
CHECKIN_PREFIX = "checkin-"


def is_checkin_room(room: str) -> bool:
    return room.startswith(CHECKIN_PREFIX)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is, anonymously. `uid` is internal (bans, dedupe); never shown to peers."""

    uid: str
    token: str
    name: str


class IdentityIssuer:
    """Issues and verifies tokens with one HMAC key; safe to share across workers by key."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("IdentityIssuer needs a non-empty secret")
        self._key = hashlib.sha256(b"harbor-identity:" + secret.encode()).digest()

    def issue(self) -> Identity:
        return self._identity(secrets.token_bytes(_ID_BYTES))

    def verify(self, token: str) -> Identity | None:
        """The identity a token stands for, or None if it is malformed or not ours."""
        raw_id, sep, raw_mac = token.partition(".")
        if not sep or len(token) > 64:
            return None
        try:
            uid = _b64decode(raw_id)
            mac = _b64decode(raw_mac)
        except (ValueError, binascii.Error):
            return None
        if len(uid) != _ID_BYTES or not hmac.compare_digest(mac, self._mac(b"token", uid)):
            return None
        identity = self._identity(uid)
        # One spelling per identity: padded or '/'-for-'_' variants of a valid token are refused.
        return identity if hmac.compare_digest(identity.token, token) else None

    def checkin_room(self, uid: str) -> str:
        """The private room where volunteers check in with identity `uid`. Only that identity (and
        moderators) may join it, which any worker can check without storing anything."""
        return CHECKIN_PREFIX + self._mac(b"checkin", uid.encode()).hex()[:12]

    def _identity(self, uid: bytes) -> Identity:
        token = f"{_b64encode(uid)}.{_b64encode(self._mac(b'token', uid))}"
        return Identity(uid=uid.hex(), token=token, name=self._pseudonym(uid))

    def _pseudonym(self, uid: bytes) -> str:
        digest = self._mac(b"name", uid)
        adjective = _ADJECTIVES[digest[0] % len(_ADJECTIVES)]
        animal = _ANIMALS[digest[1] % len(_ANIMALS)]
        number = int.from_bytes(digest[2:4], "big") % 99 + 1
        return f"{adjective} {animal} {number}"

    def _mac(self, purpose: bytes, uid: bytes) -> bytes:
        return hmac.new(self._key, purpose + b":" + uid, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
