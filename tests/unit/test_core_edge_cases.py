"""Edge cases found by review: deep nesting, trailing newlines in ids, non-finite durations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rooms.catalog import Catalog, CatalogError
from server.protocol import JSON, Refusal, parse
from server.settings import ConfigError, Settings


@pytest.mark.parametrize(
    "data",
    ["[" * 2000, '{"a":' * 2000, "[" * 1100 + "]" * 1100],
    ids=["2000 open brackets", "2000 nested objects", "1100 balanced brackets"],
)
def test_deeply_nested_json_is_refused_as_bad_frame(data: str) -> None:
    """A frame nested deeper than the JSON parser's recursion limit is refused, not raised."""
    assert len(data.encode()) < 16 * 1024  # within HARBOR_MAX_FRAME_BYTES
    assert parse(data, JSON, max_text_chars=2000) == Refusal("bad_frame", "frame is not valid JSON")


@pytest.mark.parametrize("room", ["newcomers\n", "a\n"])
def test_a_room_id_with_a_trailing_newline_is_refused(room: str) -> None:
    """A room id ending in a newline is not 1-48 lowercase letters, digits or dashes."""
    outcome = parse(json.dumps({"type": "leave", "room": room}), JSON, max_text_chars=2000)
    assert isinstance(outcome, Refusal)
    assert outcome.code == "bad_field"


def test_a_catalog_room_id_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    """The catalog refuses a room id ending in a newline."""
    path = tmp_path / "rooms.json"
    path.write_text(json.dumps([{"id": "lobby\n", "title": "Lobby"}]), encoding="utf-8")
    with pytest.raises(CatalogError):
        Catalog.load(path)


@pytest.mark.parametrize(
    "name",
    [
        "HARBOR_HELLO_TIMEOUT_S",
        "HARBOR_PRESENCE_TTL_S",
        "HARBOR_PRESENCE_INTERVAL_S",
        "HARBOR_PING_INTERVAL_S",
        "HARBOR_SHUTDOWN_GRACE_S",
    ],
)
def test_nan_is_not_a_valid_duration(name: str) -> None:
    """'nan' for a seconds setting raises ConfigError like any other non-number."""
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: "nan"})


@pytest.mark.parametrize("value", ["inf", "-inf"])
def test_infinite_durations_are_refused(value: str) -> None:
    """A duration must be finite: an infinite hello timeout would hold sockets forever."""
    with pytest.raises(ConfigError, match="HARBOR_HELLO_TIMEOUT_S"):
        Settings.from_env({"HARBOR_HELLO_TIMEOUT_S": value})


def test_a_port_above_65535_is_refused() -> None:
    """PORT must be a TCP port number."""
    with pytest.raises(ConfigError, match="PORT"):
        Settings.from_env({"PORT": "70000"})


def test_a_room_without_a_title_is_refused(tmp_path: Path) -> None:
    """Every room needs a title to be listed."""
    path = tmp_path / "rooms.json"
    path.write_text(json.dumps([{"id": "lobby"}]), encoding="utf-8")
    with pytest.raises(CatalogError, match="title"):
        Catalog.load(path)


def test_only_the_canonical_spelling_of_a_token_verifies() -> None:
    """Padding, '/'-for-'_' or zero-led-time variants of a valid token are not accepted as the
    same identity."""
    from server.identity import IdentityIssuer, TokenState

    issuer = IdentityIssuer("secret")
    now = 1_700_000_000
    token = next(t for t in (issuer.issue(now).token for _ in range(1000)) if "_" in t)
    uid_part, time_part, mac_part = token.split(".")
    assert issuer.check(token, now).state is TokenState.VALID
    for variant in (
        token + "==",
        token.replace("_", "/"),
        f"{uid_part}.0{time_part}.{mac_part}",
        f"{uid_part}.+{time_part}.{mac_part}",
    ):
        assert issuer.check(variant, now).state is TokenState.INVALID, variant
