"""server.identity: signed anonymous tokens and the pseudonyms derived from them."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.identity import Identity, IdentityIssuer

NAME = re.compile(r"^([A-Z][a-z]+) ([A-Z][a-z]+) ([1-9][0-9]?)$")
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture
def issuer() -> IdentityIssuer:
    return IdentityIssuer("unit-test-secret")


def test_an_issued_token_verifies_to_the_same_identity(issuer: IdentityIssuer) -> None:
    """verify(issue().token) returns an identity equal to the one issued."""
    identity = issuer.issue()
    assert issuer.verify(identity.token) == identity


def test_verifying_the_same_token_twice_gives_the_same_name_and_uid(
    issuer: IdentityIssuer,
) -> None:
    """A returning token keeps its uid and pseudonym."""
    token = issuer.issue().token
    first, second = issuer.verify(token), issuer.verify(token)
    assert first is not None and second is not None
    assert (first.uid, first.name) == (second.uid, second.name)


def test_another_issuer_with_the_same_secret_accepts_the_token(issuer: IdentityIssuer) -> None:
    """Workers sharing HARBOR_SECRET verify each other's tokens to the same identity."""
    identity = issuer.issue()
    assert IdentityIssuer("unit-test-secret").verify(identity.token) == identity


def test_an_issuer_with_another_secret_rejects_the_token(issuer: IdentityIssuer) -> None:
    """A token signed with a different secret does not verify."""
    token = issuer.issue().token
    assert IdentityIssuer("some-other-secret").verify(token) is None


def test_each_issue_is_a_new_identity_with_a_128_bit_hex_uid(issuer: IdentityIssuer) -> None:
    """Issued identities differ and their uid is 32 hex digits."""
    identities = [issuer.issue() for _ in range(50)]
    assert len({i.uid for i in identities}) == 50
    assert len({i.token for i in identities}) == 50
    assert all(re.fullmatch(r"[0-9a-f]{32}", i.uid) for i in identities)


def test_the_token_is_two_base64url_parts_and_fits_the_protocol_limit(
    issuer: IdentityIssuer,
) -> None:
    """A token is `<uid>.<mac>` in unpadded base64url, 16 bytes each, at most 64 characters."""
    identity = issuer.issue()
    uid_part, _, mac_part = identity.token.partition(".")
    assert b64decode(uid_part).hex() == identity.uid
    assert len(b64decode(mac_part)) == 16
    assert set(identity.token) <= set(B64URL + ".")
    assert len(identity.token) <= 64


def test_a_tampered_mac_is_rejected(issuer: IdentityIssuer) -> None:
    """Flipping any byte of the MAC makes the token invalid."""
    uid_part, _, mac_part = issuer.issue().token.partition(".")
    mac = b64decode(mac_part)
    for index in range(len(mac)):
        forged = bytearray(mac)
        forged[index] ^= 0x01
        assert issuer.verify(f"{uid_part}.{b64encode(bytes(forged))}") is None


def test_a_tampered_uid_is_rejected(issuer: IdentityIssuer) -> None:
    """Changing the uid while keeping the MAC makes the token invalid (no choosing a name)."""
    uid_part, _, mac_part = issuer.issue().token.partition(".")
    uid = bytearray(b64decode(uid_part))
    uid[0] ^= 0x80
    assert issuer.verify(f"{b64encode(bytes(uid))}.{mac_part}") is None


def test_another_tokens_mac_does_not_fit(issuer: IdentityIssuer) -> None:
    """Swapping MACs between two valid tokens yields an invalid token."""
    uid_a, _, _ = issuer.issue().token.partition(".")
    _, _, mac_b = issuer.issue().token.partition(".")
    assert issuer.verify(f"{uid_a}.{mac_b}") is None


@pytest.mark.parametrize("cut", [1, 4, 22, 23, 40])
def test_a_truncated_token_is_rejected(issuer: IdentityIssuer, cut: int) -> None:
    """A token missing trailing characters does not verify."""
    token = issuer.issue().token
    assert issuer.verify(token[:-cut]) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "hello",
        "a.b",
        "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "!!!!!!!!.!!!!!!!!",
        "é" * 10 + "." + "ß" * 10,
        "\x00\x01.\x02",
        "A.B=C",
        "AAAA.=",
    ],
)
def test_garbage_and_non_base64_tokens_are_rejected(issuer: IdentityIssuer, garbage: str) -> None:
    """Malformed or non-base64 tokens verify to None instead of raising."""
    assert issuer.verify(garbage) is None


def test_an_over_long_token_is_rejected_even_if_it_would_decode(issuer: IdentityIssuer) -> None:
    """A token longer than 64 characters is refused before decoding."""
    token = issuer.issue().token
    padded = token + "=" * (65 - len(token))
    assert len(padded) == 65
    assert issuer.verify(padded) is None
    assert issuer.verify(token + "A" * 100) is None


def test_names_look_like_adjective_animal_number(issuer: IdentityIssuer) -> None:
    """Pseudonyms are "Adjective Animal N" with 1 <= N <= 99."""
    numbers = set()
    for _ in range(400):
        match = NAME.match(issuer.issue().name)
        assert match is not None
        number = int(match.group(3))
        assert 1 <= number <= 99
        numbers.add(number)
    assert len(numbers) > 50  # the number actually varies


def test_the_name_depends_on_the_secret(issuer: IdentityIssuer) -> None:
    """The same uids get other names under another secret: names are keyed, not guessable."""
    other = IdentityIssuer("some-other-secret")
    uids = [bytes([i]) * 16 for i in range(20)]
    assert [issuer._pseudonym(uid) for uid in uids] != [other._pseudonym(uid) for uid in uids]


def test_an_empty_secret_is_refused() -> None:
    """IdentityIssuer("") raises ValueError: tokens must be signed with a real key."""
    with pytest.raises(ValueError, match="non-empty secret"):
        IdentityIssuer("")


@given(st.text(max_size=120))
def test_verify_never_raises_on_any_string(token: str) -> None:
    """verify() answers None or an Identity for any string, never an exception."""
    result = IdentityIssuer("property-secret").verify(token)
    assert result is None or isinstance(result, Identity)


@given(st.text(alphabet=B64URL + ".=", max_size=70))
def test_verify_rejects_random_base64_like_strings(token: str) -> None:
    """Random strings in the token alphabet don't verify (the MAC can't be guessed)."""
    assert IdentityIssuer("property-secret").verify(token) is None
