"""Anonymous identity: a signed opaque token and a friendly pseudonym derived from it.

Nothing about the person is stored or needed. The token carries a random 128-bit identity id,
the time it was issued and an HMAC over both, so any worker holding `HARBOR_SECRET` can verify
it without a lookup. Every `welcome` hands out a fresh token, so a person who keeps coming back
keeps their identity, while a token left unused on a shared device for longer than the idle
window (`HARBOR_TOKEN_IDLE_DAYS`) no longer opens it: the next person at that device gets a new
identity, not the old name and the old private check-in. A ban also retires every token issued
before it ended (`is_revoked`; the store keeps the time, since that needs a lookup).

The pseudonym ("Calm Heron 4821") is derived from the id with the same key, so a returning
client keeps its name and nobody can choose someone else's. There are 256 x 214 x 9,999 (about
5.5e8) names, so even at a million identities only ~0.18 % share their name with anyone
(`bench/pseudonyms.py` measures it). A name is still only a name: whose message is whose is
decided by `author_tag`, never by comparing names.

Everything here is pure (no I/O): the caller passes the time in.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

# Kind, calm, non-identifying words only: no body, age, gender, origin or colour of skin, nothing
# that reads as drug or drinking slang, a slur, or mockery (tests/unit/test_core_identity.py
# keeps a list of words that must never come back).
ADJECTIVES = (
    "Able", "Affable", "Agile", "Alert", "Amiable", "Ardent", "Assured", "Attentive", "Autumn",
    "Balanced", "Beaming", "Benevolent", "Blithe", "Bold", "Bountiful", "Brave", "Breezy",
    "Bright", "Brilliant", "Brisk", "Buoyant", "Calm", "Candid", "Capable", "Careful", "Caring",
    "Cheerful", "Chipper", "Civil", "Clear", "Clever", "Collected", "Comforting", "Composed",
    "Confident", "Considerate", "Constant", "Content", "Cooperative", "Cordial", "Courageous",
    "Courteous", "Cozy", "Creative", "Curious", "Daring", "Dawning", "Dauntless", "Decent",
    "Dedicated", "Deft", "Dependable", "Devoted", "Diligent", "Discreet", "Durable", "Dutiful",
    "Dynamic", "Eager", "Earnest", "Easygoing", "Elegant", "Eloquent", "Empathic", "Enduring",
    "Energetic", "Engaging", "Evening", "Evergreen", "Faithful", "Fearless", "Flowing", "Fluent",
    "Fond", "Forgiving", "Forthright", "Frank", "Friendly", "Gallant", "Generous", "Genial",
    "Gentle", "Genuine", "Giving", "Glad", "Gleaming", "Glimmering", "Glowing", "Golden",
    "Graceful", "Gracious", "Grateful", "Grounded", "Guiding", "Hardy", "Harmonious",
    "Heartfelt", "Hearty", "Heedful", "Helpful", "Honest", "Honorable", "Hopeful", "Humble",
    "Humorous", "Hushed", "Industrious", "Inquisitive", "Inspired", "Intrepid", "Inventive",
    "Jaunty", "Jovial", "Joyful", "Jubilant", "Keen", "Kind", "Kindly", "Kindred", "Lasting",
    "Lively", "Loving", "Loyal", "Lucid", "Lucky", "Luminous", "Lyrical", "Majestic",
    "Measured", "Mild", "Mindful", "Mirthful", "Modest", "Moonlit", "Morning", "Musical",
    "Nimble", "Noble", "Nurturing", "Observant", "Open", "Optimistic", "Orderly", "Patient",
    "Peaceable", "Peaceful", "Pensive", "Perceptive", "Placid", "Playful", "Pleasant", "Plucky",
    "Poised", "Polite", "Positive", "Practical", "Precise", "Prepared", "Principled", "Prudent",
    "Punctual", "Quiet", "Radiant", "Rational", "Ready", "Reasonable", "Reassuring", "Receptive",
    "Reflective", "Regal", "Reliable", "Resilient", "Resolute", "Resourceful", "Respectful",
    "Restful", "Rested", "Restorative", "Rising", "Sage", "Scenic", "Sensible", "Serene",
    "Settled", "Sheltering", "Silver", "Sincere", "Skillful", "Smiling", "Snug", "Sociable",
    "Solid", "Soothing", "Splendid", "Spring", "Stable", "Stalwart", "Starry", "Steadfast",
    "Steady", "Stellar", "Sterling", "Strong", "Sublime", "Summer", "Sunlit", "Sunny",
    "Supportive", "Tactful", "Tenacious", "Tender", "Thankful", "Thoughtful", "Thriving", "Tidy",
    "Timely", "Tireless", "Tolerant", "Tranquil", "True", "Trusted", "Trusty", "Truthful",
    "Tuneful", "Twinkling", "Unfailing", "Unhurried", "Upbeat", "Upright", "Upstanding",
    "Useful", "Valiant", "Valued", "Verdant", "Vernal", "Versatile", "Vibrant", "Vigilant",
    "Vital", "Vivid", "Warm", "Warmhearted", "Watchful", "Welcoming", "Whimsical",
    "Wholehearted", "Wholesome", "Willing", "Winsome", "Winter", "Wise", "Wishful", "Witty",
    "Wondering", "Wonderful", "Worthy",
)  # fmt: skip
ANIMALS = (
    "Aardvark", "Alpaca", "Anteater", "Antelope", "Armadillo", "Avocet", "Axolotl", "Badger",
    "Beluga", "Bilby", "Bison", "Bittern", "Bluebird", "Bluethroat", "Bobcat", "Bobolink",
    "Brambling", "Budgie", "Bullfinch", "Bunting", "Butterfly", "Capybara", "Caracal",
    "Cardinal", "Caribou", "Cassowary", "Catbird", "Chaffinch", "Chamois", "Chickadee",
    "Chiffchaff", "Chinchilla", "Cicada", "Condor", "Cormorant", "Cottontail", "Crane",
    "Cricket", "Crossbill", "Curlew", "Cuttlefish", "Deer", "Dipper", "Dolphin", "Dormouse",
    "Dove", "Dragonfly", "Duck", "Dunlin", "Dunnock", "Eagle", "Echidna", "Egret", "Eider", "Elk",
    "Ermine", "Falcon", "Fennec", "Fieldfare", "Finch", "Firefly", "Flamingo", "Flycatcher",
    "Fox", "Gazelle", "Gecko", "Giraffe", "Godwit", "Goldcrest", "Goldfinch", "Gopher", "Grebe",
    "Greenfinch", "Guillemot", "Hamster", "Hare", "Harrier", "Hawk", "Hedgehog", "Heron",
    "Honeybee", "Hoopoe", "Hornbill", "Hummingbird", "Ibex", "Ibis", "Iguana", "Impala",
    "Jackdaw", "Jaguar", "Jay", "Jerboa", "Junco", "Kangaroo", "Kestrel", "Kingfisher",
    "Kinglet", "Kite", "Kittiwake", "Koala", "Kookaburra", "Ladybug", "Lamb", "Lapwing", "Lark",
    "Leopard", "Linnet", "Lion", "Llama", "Lorikeet", "Lynx", "Macaw", "Mallard", "Marmot",
    "Marten", "Meadowlark", "Meerkat", "Merlin", "Mink", "Mongoose", "Moose", "Moth", "Mouse",
    "Muskox", "Narwhal", "Nautilus", "Newt", "Nightingale", "Nightjar", "Numbat", "Nuthatch",
    "Ocelot", "Octopus", "Okapi", "Orca", "Oriole", "Oryx", "Osprey", "Otter", "Owl", "Owlet",
    "Oystercatcher", "Panda", "Pangolin", "Partridge", "Pelican", "Penguin", "Petrel",
    "Pheasant", "Pika", "Pipit", "Platypus", "Plover", "Porcupine", "Porpoise", "Ptarmigan",
    "Puffin", "Quail", "Quetzal", "Quokka", "Quoll", "Rabbit", "Raven", "Redpoll", "Redstart",
    "Reindeer", "Rhea", "Robin", "Sable", "Salmon", "Sanderling", "Sandpiper", "Seahorse", "Seal",
    "Serval", "Shearwater", "Shrike", "Siskin", "Skylark", "Songbird", "Sparrow", "Squirrel",
    "Starling", "Stoat", "Stork", "Sunbird", "Swan", "Takin", "Tanager", "Tapir", "Teal", "Tern",
    "Tiger", "Tortoise", "Toucan", "Towhee", "Treecreeper", "Turaco", "Turnstone", "Turtle",
    "Vicuna", "Vireo", "Vole", "Wagtail", "Wallaby", "Warbler", "Waxwing", "Wheatear",
    "Whimbrel", "Wildcat", "Wombat", "Woodlark", "Wren", "Zebra",
)  # fmt: skip
NAME_NUMBERS = 9999  # "Calm Heron 1" .. "Calm Heron 9999"
NAME_COUNT = len(ADJECTIVES) * len(ANIMALS) * NAME_NUMBERS

_ID_BYTES = 16
_MAC_BYTES = 16
_MAX_TOKEN = 64
_MAX_TIME_DIGITS = 12
# Workers' clocks differ a little; a token "issued" further ahead than this was not issued by us.
_CLOCK_SKEW_S = 300
_AUTHOR_HEX = 12
_AUTHOR_CACHE = 4096

# Private check-in rooms are named with this prefix; no listed room may use it.
CHECKIN_PREFIX = "checkin-"


def volunteer_name(moderator: str) -> str:
    """How a moderator is named in the rooms: "Volunteer" before their account name, unless
    the name already says so (a moderator called "volunteer" is "Volunteer", not "Volunteer
    volunteer")."""
    if moderator.lower().startswith("volunteer"):
        return moderator[:1].upper() + moderator[1:]
    return f"Volunteer {moderator}"


def is_checkin_room(room: str) -> bool:
    return room.startswith(CHECKIN_PREFIX)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is, anonymously. `uid` is internal (bans, dedupe); never shown to peers.
    `token` is the one to hand out now (issued at the time the identity was looked up)."""

    uid: str
    token: str
    name: str


class TokenState(StrEnum):
    VALID = "valid"
    # Ours, but unused for longer than the idle window, or of the old kind that carried no time.
    EXPIRED = "expired"
    # Malformed, forged, or signed with another secret.
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """What a token says. `uid` and `issued_s` are set when it is ours (VALID or EXPIRED):
    an expired token no longer opens its identity, but a ban on that identity still applies."""

    state: TokenState
    uid: str = ""
    issued_s: int = 0


def is_revoked(issued_s: int, revoked_before_ms: int) -> bool:
    """Whether a token issued at `issued_s` was retired by a revocation up to `revoked_before_ms`
    (0: none). The comparison is in whole seconds, erring towards refusing: a token issued in
    the very second the revocation names is refused too."""
    return revoked_before_ms > 0 and issued_s <= revoked_before_ms // 1000


class IdentityIssuer:
    """Issues and checks tokens with one HMAC key; safe to share across workers by key."""

    def __init__(self, secret: str, *, idle_s: float = 30 * 86400) -> None:
        if not secret:
            raise ValueError("IdentityIssuer needs a non-empty secret")
        if idle_s <= 0:
            raise ValueError("the token idle window must be positive")
        self._key = hashlib.sha256(b"harbor-identity:" + secret.encode()).digest()
        self.idle_s = idle_s
        # The same writers' tags are wanted again and again (every joined history, every
        # message); a small cache keeps that off the HMAC.
        self.author_tag = functools.lru_cache(maxsize=_AUTHOR_CACHE)(self._author_tag)

    def issue(self, now_s: int) -> Identity:
        """A brand-new identity, with a token issued at `now_s`."""
        return self._identity(secrets.token_bytes(_ID_BYTES), now_s)

    def identity(self, uid: str, now_s: int) -> Identity:
        """The identity `uid` (from a VALID check), with a fresh token issued at `now_s`."""
        return self._identity(bytes.fromhex(uid), now_s)

    def check(self, token: str, now_s: int) -> TokenCheck:
        """What `token` stands for at `now_s`. Never raises, whatever the string."""
        if len(token) > _MAX_TOKEN or not token.isascii():
            return TokenCheck(TokenState.INVALID)
        parts = token.split(".")
        if len(parts) == 2:
            return self._check_untimed(token, parts[0], parts[1])
        if len(parts) != 3:
            return TokenCheck(TokenState.INVALID)
        raw_id, raw_time, raw_mac = parts
        if not (raw_time.isdigit() and len(raw_time) <= _MAX_TIME_DIGITS):
            return TokenCheck(TokenState.INVALID)
        uid = _decode(raw_id, _ID_BYTES)
        mac = _decode(raw_mac, _MAC_BYTES)
        issued_s = int(raw_time)
        if uid is None or mac is None or issued_s > now_s + _CLOCK_SKEW_S:
            return TokenCheck(TokenState.INVALID)
        # One spelling per token: padded, '/'-for-'_' or zero-led variants are refused.
        if not hmac.compare_digest(self._token(uid, issued_s), token):
            return TokenCheck(TokenState.INVALID)
        state = TokenState.EXPIRED if now_s - issued_s > self.idle_s else TokenState.VALID
        return TokenCheck(state, uid.hex(), issued_s)

    def _check_untimed(self, token: str, raw_id: str, raw_mac: str) -> TokenCheck:
        """A token of the first kind, `<id>.<mac>`, which never expired: ours is EXPIRED now,
        so whoever holds an old one is told honestly that it no longer opens that identity."""
        uid = _decode(raw_id, _ID_BYTES)
        if uid is None:
            return TokenCheck(TokenState.INVALID)
        untimed = f"{_b64encode(uid)}.{_b64encode(self._mac(b'token', uid))}"
        if not hmac.compare_digest(untimed, token):
            return TokenCheck(TokenState.INVALID)
        return TokenCheck(TokenState.EXPIRED, uid.hex(), 0)

    def checkin_room(self, uid: str) -> str:
        """The private room where volunteers check in with identity `uid`. Only that identity (and
        moderators) may join it, which any worker can check without storing anything."""
        return CHECKIN_PREFIX + self._mac(b"checkin", uid.encode()).hex()[:12]

    def _author_tag(self, uid: str) -> str:
        """The writer's tag sent with every message: stable for one identity, the same on every
        worker, yet neither the uid nor the token, and not reversible to either. The page decides
        "mine" by it, so two people who happen to share a name are never mixed up."""
        return self._mac(b"author", uid.encode()).hex()[:_AUTHOR_HEX]

    def _identity(self, uid: bytes, now_s: int) -> Identity:
        return Identity(uid=uid.hex(), token=self._token(uid, now_s), name=self._pseudonym(uid))

    def _token(self, uid: bytes, issued_s: int) -> str:
        mac = self._mac(b"token-v2", uid + issued_s.to_bytes(8, "big"))
        return f"{_b64encode(uid)}.{issued_s}.{_b64encode(mac)}"

    def _pseudonym(self, uid: bytes) -> str:
        index = int.from_bytes(self._mac(b"name", uid), "big") % NAME_COUNT
        index, number = divmod(index, NAME_NUMBERS)
        adjective, animal = divmod(index, len(ANIMALS))
        return f"{ADJECTIVES[adjective]} {ANIMALS[animal]} {number + 1}"

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._key, purpose + b":" + data, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str, size: int) -> bytes | None:
    """`text` as unpadded base64url of exactly `size` bytes, or None."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return None
    return data if len(data) == size else None
