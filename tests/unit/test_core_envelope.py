"""rooms.envelope: the msgpack envelope between workers, packed once and read with checks."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rooms.envelope import (
    KIND_HIDE,
    KIND_MESSAGE,
    KIND_PRESENCE,
    VERSION,
    Draft,
    EnvelopeError,
    Hidden,
    Posted,
    PresenceChanged,
    hide_body,
    presence_body,
    read,
    read_body,
    wire,
)

DRAFT = Draft(uid="ab12", name="Calm Heron 42", text="day 30 today ✓", ts=1_700_000_000_123)


def packed(value: object) -> bytes:
    data: bytes = msgpack.packb(value)
    return data


def test_a_draft_travels_as_a_posted_message() -> None:
    """Draft.body() wired with an id and epoch reads back as the Posted message."""
    event = read("newcomers", wire(17, "c0ffee00", DRAFT.body()))
    assert event == Posted(
        "newcomers", 17, "c0ffee00", 1_700_000_000_123, "ab12", "Calm Heron 42", "day 30 today ✓"
    )


def test_the_client_id_never_travels() -> None:
    """The body does not depend on client_id (dedupe is the broker's, not the peers')."""
    assert Draft("u", "n", "t", 1, client_id="c-1").body() == Draft("u", "n", "t", 1).body()


def test_marks_travel_with_the_message() -> None:
    """A draft's sensitive kind and badge read back on the Posted message."""
    draft = Draft("u", "n", "t", 1, sensitive="self_harm", badge="30d", thread="checkin")
    event = read("r", wire(2, "e", draft.body()))
    assert isinstance(event, Posted)
    assert (event.note, event.sensitive, event.badge, event.thread) == (
        "",
        "self_harm",
        "30d",
        "checkin",
    )


def test_unknown_or_malformed_marks_are_ignored() -> None:
    """A mark this worker does not know, an unknown sensitive kind or an overlong value reads
    as no mark: a newer worker's message still reads here, and nothing odd is shown."""
    marks = {"s": "weapons", "b": "x" * 40, "t": "gossip", "z": "later"}
    event = read("r", message(1, "u", "n", "t", "volunteer", marks))
    assert isinstance(event, Posted)
    assert (event.note, event.sensitive, event.badge, event.thread) == ("volunteer", "", "", "")


def test_a_message_without_marks_keeps_the_old_shape() -> None:
    """No marks and no note: the body is the six fields older workers read."""
    assert msgpack.unpackb(DRAFT.body()) == [
        VERSION,
        KIND_MESSAGE,
        *[DRAFT.ts, "ab12"],
        *["Calm Heron 42", "day 30 today ✓"],
    ]


def test_the_wire_form_is_an_ascii_head_then_the_body_untouched() -> None:
    """wire() prefixes `<id> <epoch> ` and leaves the packed body byte-identical."""
    body = DRAFT.body()
    assert wire(3, "ep", body) == b"3 ep " + body
    assert wire(0, "-", body).endswith(body)


def test_presence_and_hide_bodies_roundtrip() -> None:
    """presence_body and hide_body read back as PresenceChanged and Hidden for the room."""
    assert read("alcohol", wire(0, "-", presence_body(12))) == PresenceChanged("alcohol", 12)
    assert read("alcohol", wire(0, "-", presence_body(0))) == PresenceChanged("alcohol", 0)
    assert read("alcohol", wire(0, "-", hide_body(99))) == Hidden("alcohol", 99)


def test_read_body_is_read_without_the_head() -> None:
    """read_body with id and epoch gives the same event as read of the wired payload."""
    assert read_body("r", 5, "e", DRAFT.body()) == read("r", wire(5, "e", DRAFT.body()))


def test_large_ids_and_long_texts_roundtrip() -> None:
    """Ids up to 2**53 and a 2000-character text survive the trip."""
    draft = Draft(uid="u", name="n", text="x" * 2000, ts=0)
    event = read("r", wire(2**53 - 1, "e", draft.body()))
    assert isinstance(event, Posted)
    assert (event.id, event.text) == (2**53 - 1, "x" * 2000)


def message(*fields: Any) -> bytes:
    return wire(1, "e", packed([VERSION, KIND_MESSAGE, *fields]))


MALFORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("no head", DRAFT.body()),
    ("id only", b"12"),
    ("id and epoch without body separator", b"12 epoch"),
    ("non-integer id", b"twelve e " + DRAFT.body()),
    ("non-ASCII id", b"\xff\xfe e " + DRAFT.body()),
    ("body not msgpack", b"1 e \xc1"),
    ("empty body", b"1 e "),
    ("truncated body", wire(1, "e", DRAFT.body()[:-3])),
    ("trailing bytes after the body", wire(1, "e", DRAFT.body() + b"\x00")),
    ("body not a list", wire(1, "e", packed({"v": 1}))),
    ("body a scalar", wire(1, "e", packed(7))),
    ("too few fields", wire(1, "e", packed([VERSION, KIND_PRESENCE]))),
    ("wrong version", wire(1, "e", packed([2, KIND_PRESENCE, 3]))),
    ("version as string", wire(1, "e", packed(["1", KIND_PRESENCE, 3]))),
    ("unknown kind", wire(1, "e", packed([VERSION, "z", 3]))),
    ("kind not a string", wire(1, "e", packed([VERSION, 1, 3]))),
    ("message with five fields", message(1, "u", "n")),
    ("message with a string for its marks", message(1, "u", "n", "t", "note", "extra")),
    ("message with nine fields", message(1, "u", "n", "t", "", {}, "extra")),
    ("message with a non-string note", message(1, "u", "n", "t", 7)),
    ("message ts as string", message("1", "u", "n", "t")),
    ("message ts as float", message(1.5, "u", "n", "t")),
    ("message name not a string", message(1, "u", None, "t")),
    ("message text not a string", message(1, "u", "n", b"t")),
    ("presence count as string", wire(0, "-", packed([VERSION, KIND_PRESENCE, "3"]))),
    ("hide id as float", wire(0, "-", packed([VERSION, KIND_HIDE, 3.0]))),
    ("hide id missing", wire(0, "-", packed([VERSION, KIND_HIDE]))),
]


@pytest.mark.parametrize("data", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_envelope_raises_envelope_error(data: bytes) -> None:
    """Anything malformed raises EnvelopeError (a ValueError), never another exception."""
    with pytest.raises(EnvelopeError):
        read("r", data)


@given(st.binary(max_size=200))
def test_random_bytes_read_as_an_event_or_envelope_error(data: bytes) -> None:
    """Arbitrary bytes either read as an Event or raise EnvelopeError."""
    try:
        event = read("r", data)
    except EnvelopeError:
        return
    assert isinstance(event, Posted | PresenceChanged | Hidden)


@given(st.binary(max_size=200))
def test_random_bodies_behind_a_valid_head_read_as_an_event_or_envelope_error(body: bytes) -> None:
    """Arbitrary bodies behind a well-formed head either read or raise EnvelopeError."""
    try:
        event = read("r", b"1 e " + body)
    except EnvelopeError:
        return
    assert isinstance(event, Posted | PresenceChanged | Hidden)


MSGPACK_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text()
    | st.binary(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
FIELD = st.sampled_from([VERSION, 0, 2, KIND_MESSAGE, KIND_PRESENCE, KIND_HIDE]) | MSGPACK_VALUES


@given(st.lists(FIELD, max_size=8))
def test_envelope_shaped_lists_read_as_an_event_or_envelope_error(fields: list[object]) -> None:
    """Lists that look like envelopes (right version and kinds, random fields) never crash read."""
    try:
        event = read("r", wire(4, "e", packed(fields)))
    except EnvelopeError:
        return
    assert isinstance(event, Posted | PresenceChanged | Hidden)
