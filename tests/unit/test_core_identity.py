"""server.identity: signed anonymous tokens that expire when unused, writers' tags, and the
pseudonyms derived from them."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.identity import (
    ADJECTIVES,
    ANIMALS,
    NAME_COUNT,
    NAME_NUMBERS,
    IdentityIssuer,
    TokenCheck,
    TokenState,
    is_revoked,
)
from tests.tokens import reissued, untimed

SECRET = "unit-test-secret"
NOW = 1_700_000_000  # Unix seconds
DAY = 86400
IDLE = 30 * DAY
NAME = re.compile(r"^([A-Z][a-z]+) ([A-Z][a-z]+) ([1-9][0-9]{0,3})$")
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture
def issuer() -> IdentityIssuer:
    return IdentityIssuer(SECRET, idle_s=IDLE)


def state(issuer: IdentityIssuer, token: str, now: int = NOW) -> TokenState:
    return issuer.check(token, now).state


# Tokens


def test_an_issued_token_checks_valid_and_brings_back_the_same_identity(
    issuer: IdentityIssuer,
) -> None:
    """check(issue().token) names the same uid and issue time; the identity it opens has the
    same name, and a token refreshed to now."""
    identity = issuer.issue(NOW)
    check = issuer.check(identity.token, NOW + 60)
    assert check == TokenCheck(TokenState.VALID, identity.uid, NOW)
    back = issuer.identity(check.uid, NOW + 60)
    assert (back.uid, back.name) == (identity.uid, identity.name)
    assert back.token != identity.token
    assert issuer.check(back.token, NOW + 60) == TokenCheck(
        TokenState.VALID, identity.uid, NOW + 60
    )


def test_another_issuer_with_the_same_secret_accepts_the_token(issuer: IdentityIssuer) -> None:
    """Workers sharing HARBOR_SECRET check each other's tokens to the same identity."""
    identity = issuer.issue(NOW)
    other = IdentityIssuer(SECRET, idle_s=IDLE)
    assert other.check(identity.token, NOW).uid == identity.uid
    assert other.identity(identity.uid, NOW) == identity


def test_an_issuer_with_another_secret_rejects_the_token(issuer: IdentityIssuer) -> None:
    """A token signed with a different secret is INVALID, and names nobody."""
    token = issuer.issue(NOW).token
    assert IdentityIssuer("some-other-secret").check(token, NOW) == TokenCheck(TokenState.INVALID)


def test_each_issue_is_a_new_identity_with_a_128_bit_hex_uid(issuer: IdentityIssuer) -> None:
    """Issued identities differ and their uid is 32 hex digits."""
    identities = [issuer.issue(NOW) for _ in range(50)]
    assert len({i.uid for i in identities}) == 50
    assert len({i.token for i in identities}) == 50
    assert all(re.fullmatch(r"[0-9a-f]{32}", i.uid) for i in identities)


def test_the_token_is_id_time_and_mac_and_fits_the_protocol_limit(
    issuer: IdentityIssuer,
) -> None:
    """A token is `<id>.<issued seconds>.<mac>` (16-byte id and MAC in unpadded base64url), at
    most 64 characters; the test's own signer (tests/tokens.py) makes the very same token."""
    identity = issuer.issue(NOW)
    uid_part, time_part, mac_part = identity.token.split(".")
    assert b64decode(uid_part).hex() == identity.uid
    assert time_part == str(NOW)
    assert len(b64decode(mac_part)) == 16
    assert set(identity.token) <= set(B64URL + ".")
    assert len(identity.token) <= 64
    assert reissued(SECRET, identity.token, NOW) == identity.token


def test_a_token_unused_for_longer_than_the_idle_window_has_expired(
    issuer: IdentityIssuer,
) -> None:
    """Valid up to exactly the idle window after it was issued, EXPIRED past it; an expired
    check still names the identity (so a ban on it can still hold its bearer)."""
    identity = issuer.issue(NOW)
    assert state(issuer, identity.token, NOW + IDLE) is TokenState.VALID
    assert issuer.check(identity.token, NOW + IDLE + 1) == TokenCheck(
        TokenState.EXPIRED, identity.uid, NOW
    )


def test_a_refreshed_token_keeps_an_active_person_in_while_the_old_one_expires(
    issuer: IdentityIssuer,
) -> None:
    """Every welcome hands out a fresh token: someone who comes back every few weeks never
    expires, while the token they were given first does."""
    identity = issuer.issue(NOW)
    token = identity.token
    for visit in range(1, 6):
        later = NOW + visit * 20 * DAY
        check = issuer.check(token, later)
        assert check.state is TokenState.VALID
        token = issuer.identity(check.uid, later).token
    assert state(issuer, identity.token, NOW + 100 * DAY) is TokenState.EXPIRED
    assert issuer.identity(issuer.check(token, NOW + 100 * DAY).uid, NOW).name == identity.name


def test_the_idle_window_is_the_issuers_setting() -> None:
    """A one-hour window expires a two-hour-old token that the default 30 days would keep."""
    short = IdentityIssuer(SECRET, idle_s=3600)
    token = short.issue(NOW).token
    assert state(short, token, NOW + 7200) is TokenState.EXPIRED
    assert state(IdentityIssuer(SECRET), token, NOW + 7200) is TokenState.VALID
    with pytest.raises(ValueError, match="positive"):
        IdentityIssuer(SECRET, idle_s=0)


def test_a_token_of_the_first_untimed_kind_is_expired_not_honoured(
    issuer: IdentityIssuer,
) -> None:
    """`<id>.<mac>` tokens never expired; ours are now EXPIRED (naming their identity), and a
    forged or foreign one is INVALID."""
    identity = issuer.issue(NOW)
    old = untimed(SECRET, identity.token)
    assert issuer.check(old, NOW) == TokenCheck(TokenState.EXPIRED, identity.uid, 0)
    assert state(issuer, untimed("another-secret", identity.token)) is TokenState.INVALID
    uid_part, _, mac_part = old.partition(".")
    forged = bytearray(b64decode(mac_part))
    forged[0] ^= 1
    assert state(issuer, f"{uid_part}.{b64encode(bytes(forged))}") is TokenState.INVALID


def test_moving_the_time_forward_without_the_secret_is_refused(issuer: IdentityIssuer) -> None:
    """The time is under the MAC: an old token cannot be freshened by editing it."""
    token = issuer.issue(NOW - 40 * DAY).token
    uid_part, _, mac_part = token.split(".")
    assert state(issuer, f"{uid_part}.{NOW}.{mac_part}") is TokenState.INVALID
    assert state(issuer, token) is TokenState.EXPIRED


def test_a_token_issued_in_the_future_is_not_ours(issuer: IdentityIssuer) -> None:
    """Beyond a few minutes of clock skew between workers, a future time was never issued."""
    assert state(issuer, issuer.issue(NOW + 60).token) is TokenState.VALID
    assert state(issuer, issuer.issue(NOW + 3600).token) is TokenState.INVALID


def test_a_tampered_mac_is_rejected(issuer: IdentityIssuer) -> None:
    """Flipping any byte of the MAC makes the token invalid."""
    uid_part, time_part, mac_part = issuer.issue(NOW).token.split(".")
    mac = b64decode(mac_part)
    for index in range(len(mac)):
        forged = bytearray(mac)
        forged[index] ^= 0x01
        assert state(issuer, f"{uid_part}.{time_part}.{b64encode(bytes(forged))}") is (
            TokenState.INVALID
        )


def test_a_tampered_uid_is_rejected(issuer: IdentityIssuer) -> None:
    """Changing the uid while keeping the MAC makes the token invalid (no choosing a name)."""
    uid_part, time_part, mac_part = issuer.issue(NOW).token.split(".")
    uid = bytearray(b64decode(uid_part))
    uid[0] ^= 0x80
    assert state(issuer, f"{b64encode(bytes(uid))}.{time_part}.{mac_part}") is TokenState.INVALID


def test_another_tokens_mac_does_not_fit(issuer: IdentityIssuer) -> None:
    """Swapping MACs between two valid tokens of the same second yields an invalid token."""
    uid_a, time_a, _ = issuer.issue(NOW).token.split(".")
    _, _, mac_b = issuer.issue(NOW).token.split(".")
    assert state(issuer, f"{uid_a}.{time_a}.{mac_b}") is TokenState.INVALID


@pytest.mark.parametrize("cut", [1, 4, 22, 23, 33, 40])
def test_a_truncated_token_is_rejected(issuer: IdentityIssuer, cut: int) -> None:
    """A token missing trailing characters does not check."""
    token = issuer.issue(NOW).token
    assert state(issuer, token[:-cut]) is TokenState.INVALID


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "...",
        "hello",
        "a.b",
        "a.1.b",
        "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA.1700000000.AAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA.-1.AAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA.1e9.AAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA.\u0661\u0662.AAAAAAAAAAAAAAAAAAAAAA",
        "!!!!!!!!.!!!!!!!!",
        "é" * 10 + "." + "ß" * 10,
        "\x00\x01.\x02",
        "A.B=C",
        "AAAA.=",
    ],
)
def test_garbage_and_non_base64_tokens_are_rejected(issuer: IdentityIssuer, garbage: str) -> None:
    """Malformed or non-base64 tokens check INVALID instead of raising."""
    assert issuer.check(garbage, NOW) == TokenCheck(TokenState.INVALID)


def test_an_over_long_token_is_rejected_even_if_it_would_decode(issuer: IdentityIssuer) -> None:
    """A token longer than 64 characters is refused before decoding."""
    token = issuer.issue(NOW).token
    padded = token + "=" * (65 - len(token))
    assert len(padded) == 65
    assert state(issuer, padded) is TokenState.INVALID
    assert state(issuer, token + "A" * 100) is TokenState.INVALID


@given(st.text(max_size=120))
def test_check_never_raises_on_any_string(token: str) -> None:
    """check() answers a TokenCheck for any string, never an exception."""
    result = IdentityIssuer("property-secret").check(token, NOW)
    assert isinstance(result, TokenCheck)


@given(st.text(alphabet=B64URL + ".=0123456789", max_size=70))
def test_check_rejects_random_token_like_strings(token: str) -> None:
    """Random strings in the token alphabet don't check (the MAC can't be guessed)."""
    assert IdentityIssuer("property-secret").check(token, NOW).state is TokenState.INVALID


def test_an_empty_secret_is_refused() -> None:
    """IdentityIssuer("") raises ValueError: tokens must be signed with a real key."""
    with pytest.raises(ValueError, match="non-empty secret"):
        IdentityIssuer("")


# Revocation


def test_a_revocation_retires_every_token_issued_up_to_its_time() -> None:
    """Tokens issued before the revocation's time, or in its very second, are revoked; later
    ones (and any token when nothing was revoked, 0) are not."""
    before_ms = NOW * 1000 + 500
    assert is_revoked(NOW - 30 * DAY, before_ms)
    assert is_revoked(NOW - 1, before_ms)
    assert is_revoked(NOW, before_ms), "the same second errs towards refusing"
    assert not is_revoked(NOW + 1, before_ms)
    assert not is_revoked(NOW, 0)


# Writers' tags


def test_the_author_tag_is_short_stable_and_keyed(issuer: IdentityIssuer) -> None:
    """12 hex digits, the same for one uid on every worker, different per uid and per secret,
    and never a piece of the uid or the token."""
    one, two = issuer.issue(NOW), issuer.issue(NOW)
    tag = issuer.author_tag(one.uid)
    assert re.fullmatch(r"[0-9a-f]{12}", tag)
    assert IdentityIssuer(SECRET).author_tag(one.uid) == tag
    assert issuer.author_tag(two.uid) != tag
    assert IdentityIssuer("some-other-secret").author_tag(one.uid) != tag
    assert tag not in one.uid and tag not in one.token
    assert issuer.author_tag(f"mod:{'ana'}") != issuer.author_tag("mod:ben")


# Pseudonyms

# Words that must never be part of a name: slurs and words used as slurs, drug and drinking
# slang, mockery of bodies, minds or people, and words about who someone is (age, gender,
# origin, skin). Whole words, case-insensitive.
NEVER = {
    # drink and drugs, and being on them
    "baked", "bars", "blow", "blue", "blues", "booze", "brown", "bubbly", "buzzed", "candy",
    "cherry", "chill", "china", "cloud", "coke", "crystal", "dope", "dragon", "dust", "faded",
    "festive", "glass", "grass", "green", "hash", "herb", "high", "horse", "ice", "jolly",
    "laughing", "lean", "lit", "lucy", "magic", "mary", "mellow", "merry", "molly", "mule",
    "neat", "pink", "purple", "rock", "rolling", "rosy", "skunk", "smack", "snow", "snowbird",
    "speed", "spirited", "sparkling", "still", "stoned", "sugar", "tar", "tina", "toasted",
    "trip", "wasted", "weed", "white", "zesty", "zooted", "crack", "junkie", "amber",
    # slurs, insults, mockery
    "ape", "ass", "bat", "beaver", "bitch", "chicken", "chimp", "cock", "coon", "cougar", "cow",
    "crow", "cuckoo", "dog", "donkey", "fag", "gorilla", "goose", "hippo", "hyena", "jackal",
    "loon", "manatee", "mole", "monkey", "pig", "pussy", "rat", "rook", "shrew", "sloth", "snake",
    "snipe", "swallow", "tit", "titmouse", "toad", "trout", "turkey", "vixen", "vulture", "walrus",
    "weasel", "whale", "woodpecker", "booby", "gull", "meek", "homely", "balmy", "soft", "easy",
    "cheetah", "canary", "coyote", "gannet", "thrush", "mockingbird", "peacock", "parrot",
    # about who someone is
    "young", "old", "little", "tall", "short", "fat", "thin", "fair", "dark", "black",
    "northern", "southern", "eastern", "western", "youthful", "spry", "stout", "sober", "clean",
}  # fmt: skip
# Slurs and slang that must not hide inside a longer word either.
NEVER_INSIDE = (
    "fag", "coon", "dyke", "tard", "spic", "kike", "dope", "coke", "meth", "stoned", "booze",
    "drunk", "junk", "weed", "cock", "tits", "slut", "whore", "kink",
)  # fmt: skip


def test_the_word_lists_give_half_a_billion_names() -> None:
    """256 adjectives x 214 animals x 9,999 numbers, every word distinct and one capitalised
    ASCII word."""
    assert (len(ADJECTIVES), len(ANIMALS), NAME_NUMBERS) == (256, 214, 9999)
    assert NAME_COUNT == 256 * 214 * 9999 == 547_785_216
    words = ADJECTIVES + ANIMALS
    assert len(set(words)) == len(words)
    assert all(re.fullmatch(r"[A-Z][a-z]+", word) for word in words)


def test_no_name_word_is_a_slur_slang_mockery_or_about_who_someone_is() -> None:
    """None of the words kept out on purpose is in the lists, whole or (for the worst) inside
    a longer word."""
    words = {word.lower() for word in ADJECTIVES + ANIMALS}
    assert words & NEVER == set()
    assert [w for w in words if any(bad in w for bad in NEVER_INSIDE)] == []


def test_names_look_like_adjective_animal_number(issuer: IdentityIssuer) -> None:
    """Pseudonyms are "Adjective Animal N" with 1 <= N <= 9999, from the lists."""
    numbers = set()
    for _ in range(400):
        match = NAME.match(issuer.issue(NOW).name)
        assert match is not None
        adjective, animal, number = match.groups()
        assert adjective in ADJECTIVES and animal in ANIMALS
        assert 1 <= int(number) <= 9999
        numbers.add(int(number))
    assert max(numbers) > 999, "the number actually reaches four digits"


def test_1500_identities_all_get_different_names() -> None:
    """Before: 405,504 names, and 2 collisions among 1,500 identities. Now 1,500 (fixed) uids
    under a fixed secret share none."""
    issuer = IdentityIssuer(SECRET)
    names = [issuer._pseudonym(i.to_bytes(16, "big")) for i in range(1500)]
    assert len(set(names)) == 1500


def test_every_word_is_used(issuer: IdentityIssuer) -> None:
    """The name is spread over the whole lists (no word is unreachable)."""
    names = [issuer._pseudonym(i.to_bytes(16, "big")).split() for i in range(20_000)]
    assert {n[0] for n in names} == set(ADJECTIVES)
    assert {n[1] for n in names} == set(ANIMALS)


def test_the_name_depends_on_the_secret(issuer: IdentityIssuer) -> None:
    """The same uids get other names under another secret: names are keyed, not guessable."""
    other = IdentityIssuer("some-other-secret")
    uids = [bytes([i]) * 16 for i in range(20)]
    assert [issuer._pseudonym(uid) for uid in uids] != [other._pseudonym(uid) for uid in uids]
