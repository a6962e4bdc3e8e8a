"""server.protocol: client frames in -> commands, refusals or closes; events -> prepared frames."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from rooms.envelope import Hidden, Posted, PresenceChanged
from server.closecodes import CloseCode
from server.protocol import (
    JSON,
    MSGPACK,
    Close,
    Command,
    Hello,
    Join,
    Leave,
    Ping,
    Profile,
    Refusal,
    Report,
    Send,
    Struggling,
    encode,
    error_event,
    history_item,
    message_event,
    parse,
    prepare,
    room_encoder,
    room_event,
)

MAX_TEXT = 20
CODECS = pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])


def frame_of(obj: object, codec: int) -> str | bytes:
    """The client frame carrying `obj` in `codec`."""
    if codec == JSON:
        return json.dumps(obj)
    packed: bytes = msgpack.packb(obj)
    return packed


def parsed(obj: object, codec: int) -> Command | Refusal | Close:
    return parse(frame_of(obj, codec), codec, max_text_chars=MAX_TEXT)


def read_server_frame(data: bytes) -> Frame:
    """Parse `data` with websockets' sans-I/O reader as a client would; it must be one frame."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False, max_size=None)
    with pytest.raises(StopIteration) as stop:
        next(parser)
    frame: Frame = stop.value.value
    assert not reader.buffer, "bytes left over after the frame"
    return frame


POSTED = Posted("newcomers", 7, "ep01", 1_700_000_000_000, "uid-1", "Calm Heron 4", "héllo ✓")


def tag_of(uid: str) -> str:
    """A stand-in for `IdentityIssuer.author_tag`: visibly not the uid."""
    return "tag<" + uid[::-1] + ">"


# Commands


COMMANDS: list[tuple[str, dict[str, Any], Command]] = [
    ("hello without token", {"type": "hello"}, Hello(None)),
    ("hello with token", {"type": "hello", "token": "abc.def"}, Hello("abc.def")),
    ("hello with empty token", {"type": "hello", "token": ""}, Hello(None)),
    ("hello with null token", {"type": "hello", "token": None}, Hello(None)),
    ("hello with 64-char token", {"type": "hello", "token": "t" * 64}, Hello("t" * 64)),
    ("join", {"type": "join", "room": "newcomers"}, Join("newcomers", None, None)),
    (
        "join with since and epoch",
        {"type": "join", "room": "sober-living", "since": 0, "epoch": "a1b2c3d4"},
        Join("sober-living", 0, "a1b2c3d4"),
    ),
    (
        "join with largest since",
        {"type": "join", "room": "r", "since": 2**53 - 1},
        Join("r", 2**53 - 1, None),
    ),
    ("join with 48-char room", {"type": "join", "room": "a" * 48}, Join("a" * 48, None, None)),
    (
        "join with 16-char epoch",
        {"type": "join", "room": "r", "epoch": "e" * 16},
        Join("r", None, "e" * 16),
    ),
    ("leave", {"type": "leave", "room": "alcohol"}, Leave("alcohol")),
    (
        "send strips whitespace",
        {"type": "send", "room": "alcohol", "text": "  day one \n", "client_id": "c-1"},
        Send("alcohol", "day one", "c-1"),
    ),
    (
        "send at exactly the max length",
        {"type": "send", "room": "alcohol", "text": "x" * MAX_TEXT, "client_id": "c"},
        Send("alcohol", "x" * MAX_TEXT, "c"),
    ),
    (
        "send with max length after stripping",
        {"type": "send", "room": "alcohol", "text": "  " + "y" * MAX_TEXT + "  ", "client_id": "c"},
        Send("alcohol", "y" * MAX_TEXT, "c"),
    ),
    (
        "send with 64-char client_id",
        {"type": "send", "room": "alcohol", "text": "hi", "client_id": "k" * 64},
        Send("alcohol", "hi", "k" * 64),
    ),
    (
        "report",
        {"type": "report", "room": "opioids", "id": 12, "reason": "selling"},
        Report("opioids", 12, "selling"),
    ),
    (
        "report without reason",
        {"type": "report", "room": "opioids", "id": 0},
        Report("opioids", 0, ""),
    ),
    (
        "report with over-long reason is truncated",
        {"type": "report", "room": "opioids", "id": 3, "reason": "r" * 600},
        Report("opioids", 3, "r" * 500),
    ),
    (
        "send answering the daily check-in",
        {
            "type": "send",
            "room": "alcohol",
            "text": "a good day",
            "client_id": "c",
            "thread": "checkin",
        },
        Send("alcohol", "a good day", "c", "checkin"),
    ),
    (
        "send with a null thread",
        {"type": "send", "room": "alcohol", "text": "hi", "client_id": "c", "thread": None},
        Send("alcohol", "hi", "c"),
    ),
    ("ping", {"type": "ping"}, Ping()),
    ("ping ignores extra fields", {"type": "ping", "extra": [1, 2]}, Ping()),
    (
        "struggling",
        {"type": "struggling", "room": "alcohol", "client_id": "s-1"},
        Struggling("alcohol", "s-1"),
    ),
    ("profile with a badge", {"type": "profile", "badge": "30d"}, Profile("30d")),
    ("profile without a badge", {"type": "profile", "badge": None}, Profile("")),
    ("profile with no badge field", {"type": "profile"}, Profile("")),
    (
        "struggling ignores any text",
        {"type": "struggling", "room": "alcohol", "client_id": "s-1", "text": "details"},
        Struggling("alcohol", "s-1"),
    ),
]


@CODECS
@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in COMMANDS], ids=[c[0] for c in COMMANDS]
)
def test_a_well_formed_frame_parses_to_its_command(
    obj: dict[str, Any], expected: Command, codec: int
) -> None:
    """Every command parses to the same typed value from a JSON text or a msgpack binary frame."""
    assert parsed(obj, codec) == expected


# Refusals


def send(**fields: Any) -> dict[str, Any]:
    return {"type": "send", "room": "alcohol", "text": "hello", "client_id": "c-1", **fields}


def join(**fields: Any) -> dict[str, Any]:
    return {"type": "join", "room": "newcomers", **fields}


def report(**fields: Any) -> dict[str, Any]:
    return {"type": "report", "room": "opioids", "id": 1, **fields}


REFUSALS: list[tuple[str, object, str]] = [
    ("a list is not an object", [1, 2], "bad_frame"),
    ("a number is not an object", 42, "bad_frame"),
    ("a string is not an object", "hello", "bad_frame"),
    ("null is not an object", None, "bad_frame"),
    ("missing type", {"room": "alcohol"}, "bad_frame"),
    ("non-string type", {"type": 5}, "bad_frame"),
    ("unknown type", {"type": "dance"}, "unknown_type"),
    ("type is case-sensitive", {"type": "PING"}, "unknown_type"),
    ("join without room", {"type": "join"}, "bad_field"),
    ("room with uppercase", join(room="Newcomers"), "bad_field"),
    ("room too long", join(room="a" * 49), "bad_field"),
    ("room with slash", join(room="a/b"), "bad_field"),
    ("room starting with dash", join(room="-a"), "bad_field"),
    ("room with space", join(room="sober living"), "bad_field"),
    ("empty room", join(room=""), "bad_field"),
    ("room not a string", join(room=7), "bad_field"),
    ("bool as since", join(since=True), "bad_field"),
    ("negative since", join(since=-1), "bad_field"),
    ("string since", join(since="3"), "bad_field"),
    ("float since", join(since=1.0), "bad_field"),
    ("since beyond 2**53", join(since=2**53), "bad_field"),
    ("epoch too long", join(epoch="e" * 17), "bad_field"),
    ("epoch not a string", join(epoch=5), "bad_field"),
    ("leave without room", {"type": "leave"}, "bad_field"),
    ("hello token not a string", {"type": "hello", "token": 5}, "bad_field"),
    ("hello token too long", {"type": "hello", "token": "t" * 65}, "bad_field"),
    ("send text not a string", send(text=5), "bad_field"),
    ("send without text", {"type": "send", "room": "alcohol", "client_id": "c"}, "bad_field"),
    ("send without client_id", {"type": "send", "room": "alcohol", "text": "hi"}, "bad_field"),
    ("send with empty client_id", send(client_id=""), "bad_field"),
    ("send with client_id too long", send(client_id="k" * 65), "bad_field"),
    ("send with client_id not a string", send(client_id=12), "bad_field"),
    ("send with bad room", send(room="ALCOHOL"), "bad_field"),
    ("empty text", send(text=""), "empty_text"),
    ("whitespace-only text", send(text=" \t\n  "), "empty_text"),
    ("text one over the max", send(text="x" * (MAX_TEXT + 1)), "text_too_long"),
    (
        "text over the max after stripping",
        send(text=" " + "x" * (MAX_TEXT + 1) + " "),
        "text_too_long",
    ),
    ("report without id", {"type": "report", "room": "opioids"}, "bad_field"),
    ("bool as report id", report(id=True), "bad_field"),
    ("negative report id", report(id=-5), "bad_field"),
    ("report reason not a string", report(reason=["spam"]), "bad_field"),
    ("report with bad room", report(room="x/y"), "bad_field"),
    ("send to an unknown thread", send(thread="gossip"), "bad_field"),
    ("send with a thread not a string", send(thread=["checkin"]), "bad_field"),
    ("profile badge not a milestone", {"type": "profile", "badge": "7d"}, "bad_field"),
    ("profile badge with words", {"type": "profile", "badge": "call me"}, "bad_field"),
    ("profile badge not a string", {"type": "profile", "badge": 30}, "bad_field"),
    ("struggling without room", {"type": "struggling", "client_id": "s"}, "bad_field"),
    ("struggling without client_id", {"type": "struggling", "room": "alcohol"}, "bad_field"),
    (
        "struggling with client_id too long",
        {"type": "struggling", "room": "alcohol", "client_id": "k" * 65},
        "bad_field",
    ),
    (
        "struggling with bad room",
        {"type": "struggling", "room": "A", "client_id": "s"},
        "bad_field",
    ),
]


@CODECS
@pytest.mark.parametrize(("obj", "code"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_a_faulty_frame_is_refused_with_its_code(obj: object, code: str, codec: int) -> None:
    """A recoverable fault becomes a Refusal with the code naming the fault and a message."""
    outcome = parsed(obj, codec)
    assert isinstance(outcome, Refusal)
    assert outcome.code == code
    assert outcome.message


@pytest.mark.parametrize("data", ["", "{", "not json", '{"type": "ping",}', "[1, 2"])
def test_invalid_json_is_refused_as_bad_frame(data: str) -> None:
    """Text that is not JSON is refused as bad_frame, not closed."""
    assert parse(data, JSON, max_text_chars=MAX_TEXT) == Refusal(
        "bad_frame", "frame is not valid JSON"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never-used msgpack byte
        b"\x92\x01",  # array of 2 with one element
        b"\x81\xa4type\xa4ping\x00",  # a map followed by extra data
        b"\x81\x90\x00",  # map with an array as key
        b"\x91" * 5000,  # nested beyond msgpack's stack limit
    ],
)
def test_invalid_msgpack_is_refused_as_bad_frame(data: bytes) -> None:
    """Bytes that are not one msgpack value are refused as bad_frame, not closed or raised."""
    assert parse(data, MSGPACK, max_text_chars=MAX_TEXT) == Refusal(
        "bad_frame", "frame is not valid msgpack"
    )


def test_a_binary_frame_on_a_json_connection_closes_with_unsupported_data() -> None:
    """Bytes on a JSON connection close it with 1003, whatever they contain."""
    outcome = parse(json.dumps({"type": "ping"}).encode(), JSON, max_text_chars=MAX_TEXT)
    assert isinstance(outcome, Close)
    assert outcome.code is CloseCode.UNSUPPORTED_DATA
    assert int(outcome.code) == 1003
    assert outcome.reason


def test_a_text_frame_on_a_msgpack_connection_closes_with_unsupported_data() -> None:
    """A str on a msgpack connection closes it with 1003, even if it is valid JSON."""
    outcome = parse('{"type": "ping"}', MSGPACK, max_text_chars=MAX_TEXT)
    assert isinstance(outcome, Close)
    assert outcome.code is CloseCode.UNSUPPORTED_DATA
    assert int(outcome.code) == 1003
    assert outcome.reason


ECHOES: list[tuple[str, dict[str, Any], str | None]] = [
    ("send with bad text echoes its client_id", send(text=" ", client_id="c-9"), "c-9"),
    ("send with bad room echoes its client_id", send(room="BAD", client_id="c-9"), "c-9"),
    ("unknown type echoes a client_id", {"type": "dance", "client_id": "c-2"}, "c-2"),
    ("join with a client_id echoes it", join(room="Nope", client_id="j-1"), "j-1"),
    ("non-string type echoes a client_id", {"type": 1, "client_id": "c-3"}, "c-3"),
    ("64-char client_id is echoed", send(text="", client_id="k" * 64), "k" * 64),
    ("over-long client_id is not echoed", send(text="", client_id="k" * 65), None),
    ("non-string client_id is not echoed", send(text="", client_id=["c"]), None),
    ("absent client_id is not echoed", {"type": "dance"}, None),
]


@CODECS
@pytest.mark.parametrize(("obj", "client_id"), [e[1:] for e in ECHOES], ids=[e[0] for e in ECHOES])
def test_a_refusal_echoes_the_client_id_only_when_it_is_valid(
    obj: dict[str, Any], client_id: str | None, codec: int
) -> None:
    """A refusal carries the frame's client_id when it is a string of at most 64 characters."""
    outcome = parsed(obj, codec)
    assert isinstance(outcome, Refusal)
    assert outcome.client_id == client_id


def test_refusal_messages_name_the_text_limit() -> None:
    """The text_too_long message tells the client the limit it exceeded."""
    outcome = parse(json.dumps(send(text="x" * 31)), JSON, max_text_chars=30)
    assert isinstance(outcome, Refusal)
    assert outcome.code == "text_too_long"
    assert "30" in outcome.message


def test_the_text_limit_counts_characters_not_bytes() -> None:
    """A text of max_text_chars multi-byte characters is accepted."""
    text = "ü✓" * (MAX_TEXT // 2)
    assert parse(json.dumps(send(text=text)), JSON, max_text_chars=MAX_TEXT) == Send(
        "alcohol", text, "c-1"
    )


# Events


def test_message_event_carries_the_posted_message() -> None:
    """A Posted becomes a `message` frame with room, id, sender name, the writer's tag, text and
    timestamp."""
    assert message_event(POSTED, "a1b2c3d4e5f6") == {
        "type": "message",
        "room": "newcomers",
        "id": 7,
        "from": "Calm Heron 4",
        "author": "a1b2c3d4e5f6",
        "text": "héllo ✓",
        "ts": 1_700_000_000_000,
    }


def test_history_item_omits_the_room_and_the_uid() -> None:
    """A history item is id, sender name, the writer's tag, text and timestamp, never the
    internal uid."""
    assert history_item(POSTED, "a1b2c3d4e5f6") == {
        "id": 7,
        "from": "Calm Heron 4",
        "author": "a1b2c3d4e5f6",
        "text": "héllo ✓",
        "ts": 1_700_000_000_000,
    }
    assert "uid-1" not in json.dumps(history_item(POSTED, tag_of(POSTED.uid)))


@pytest.mark.parametrize(
    ("event", "frame"),
    [
        (POSTED, message_event(POSTED, "tag<1-diu>")),
        (
            PresenceChanged("alcohol", 12),
            {"type": "presence", "room": "alcohol", "count": 12},
        ),
        (Hidden("opioids", 44), {"type": "hidden", "room": "opioids", "id": 44}),
    ],
    ids=["posted", "presence", "hidden"],
)
def test_room_event_maps_each_event_to_its_client_frame(event: Any, frame: dict[str, Any]) -> None:
    """Each room event kind becomes its own client frame type; a message carries the tag the
    worker derives from its writer's uid."""
    assert room_event(event, tag_of) == frame


def test_room_event_rejects_a_non_event() -> None:
    """Anything that is not a room event is a programming error: TypeError."""
    not_an_event: Any = {"type": "message"}
    with pytest.raises(TypeError):
        room_event(not_an_event, tag_of)


def test_error_event_includes_client_id_and_extras_only_when_given() -> None:
    """An error frame has type, code and message; client_id and extras appear only when given."""
    assert error_event("bad_field", "room must be a room id") == {
        "type": "error",
        "code": "bad_field",
        "message": "room must be a room id",
    }
    assert error_event("rate_limited", "slow down", client_id="c-1", retry_after_ms=501) == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow down",
        "client_id": "c-1",
        "retry_after_ms": 501,
    }


def test_encode_json_is_one_unmasked_text_frame_of_compact_utf8_json() -> None:
    """A JSON-codec frame is a final text frame whose payload is compact, non-escaped UTF-8 JSON."""
    frame = {"type": "message", "text": "héllo ✓", "n": [1, 2]}
    wire_frame = read_server_frame(encode(frame, JSON))
    assert wire_frame.opcode is Opcode.TEXT
    assert wire_frame.fin
    assert bytes(wire_frame.data) == '{"type":"message","text":"héllo ✓","n":[1,2]}'.encode()
    assert json.loads(bytes(wire_frame.data)) == frame


def test_encode_msgpack_is_one_unmasked_binary_frame_of_msgpack() -> None:
    """A msgpack-codec frame is a final binary frame whose payload unpacks to the same object."""
    frame = {"type": "presence", "room": "alcohol", "count": 3}
    wire_frame = read_server_frame(encode(frame, MSGPACK))
    assert wire_frame.opcode is Opcode.BINARY
    assert wire_frame.fin
    assert msgpack.unpackb(wire_frame.data) == frame


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
@pytest.mark.parametrize(
    "event", [POSTED, PresenceChanged("alcohol", 2), Hidden("alcohol", 9)], ids=["m", "p", "h"]
)
def test_the_room_encoder_is_encode_of_room_event(event: Any, codec: int) -> None:
    """room_encoder(tag_of) produces exactly the bytes of encode(room_event(event, tag_of))."""
    assert room_encoder(tag_of)(event, codec) == encode(room_event(event, tag_of), codec)


@pytest.mark.parametrize(
    ("length", "header_bytes"),
    [(0, 2), (1, 2), (125, 2), (126, 4), (127, 4), (65535, 4), (65536, 10), (70000, 10)],
)
@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY], ids=["text", "binary"])
def test_prepare_frames_every_payload_length_per_rfc6455(
    length: int, header_bytes: int, opcode: Opcode
) -> None:
    """prepare() emits a minimal header that websockets' reader parses back to the payload."""
    payload = bytes(i % 251 for i in range(length))
    data = prepare(int(opcode), payload)
    assert len(data) == header_bytes + length
    frame = read_server_frame(data)
    assert frame.opcode is opcode
    assert frame.fin
    assert not (frame.rsv1 or frame.rsv2 or frame.rsv3)
    assert bytes(frame.data) == payload


# Invalid code points: a JSON "\ud83d" escape decodes to a lone surrogate, which nothing
# downstream can encode; msgpack can carry the same as invalid UTF-8.

LONE = "\ud83d"


def _json_with_lone_surrogate(obj: dict[str, Any]) -> str:
    """`obj` as a JSON frame whose strings keep their lone surrogates as escapes (as a
    browser's JSON.stringify writes them)."""
    return json.dumps(obj, ensure_ascii=True)


def _msgpack_with_invalid_utf8(obj: dict[str, Any]) -> bytes:
    def pack(value: object) -> object:
        return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value

    packed: bytes = msgpack.packb({k: pack(v) for k, v in obj.items()}, use_bin_type=False)
    return packed


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
def test_a_lone_surrogate_in_text_is_mended_so_the_words_still_count(codec: int) -> None:
    """the crisis words before a broken emoji still reach moderation, with U+FFFD in its place."""
    obj = {"type": "send", "room": "r1", "text": f"help me{LONE}", "client_id": "c1"}
    data = _json_with_lone_surrogate(obj) if codec == JSON else _msgpack_with_invalid_utf8(obj)
    command = parse(data, codec, max_text_chars=MAX_TEXT)
    assert isinstance(command, Send) and (command.room, command.client_id) == ("r1", "c1")
    # JSON's escape is one code point; its bytes in msgpack are three invalid UTF-8 bytes.
    assert command.text in ("help me\ufffd", "help me\ufffd\ufffd\ufffd")
    command.text.encode()  # encodable: nothing downstream can fail on it


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "send", "room": "r1", "text": "hi", "client_id": f"c{LONE}"}, "bad_field"),
        ({"type": "hello", "token": f"t{LONE}"}, "bad_field"),
        ({"type": "hello", "region": f"U{LONE}"}, "bad_field"),
        ({"type": "join", "room": f"r{LONE}"}, "bad_field"),
        ({"type": "join", "room": "r1", "since": 1, "epoch": f"e{LONE}"}, "bad_field"),
        ({"type": "leave", "room": f"r{LONE}"}, "bad_field"),
        ({"type": f"send{LONE}"}, "unknown_type"),
    ],
)
def test_a_lone_surrogate_in_an_identifier_is_refused_with_an_error_frame(
    frame: dict[str, Any], code: str
) -> None:
    """every other string field is refused politely, never echoed back unencodable."""
    outcome = parse(_json_with_lone_surrogate(frame), JSON, max_text_chars=MAX_TEXT)
    assert isinstance(outcome, Refusal) and outcome.code == code
    assert outcome.client_id is None or outcome.client_id.encode()
    encode(error_event(outcome.code, outcome.message, client_id=outcome.client_id), JSON)


def test_a_lone_surrogate_in_a_report_reason_is_mended() -> None:
    frame = {"type": "report", "room": "r1", "id": 3, "reason": f"mean{LONE}"}
    outcome = parse(_json_with_lone_surrogate(frame), JSON, max_text_chars=MAX_TEXT)
    assert outcome == Report("r1", 3, "mean\ufffd")


def test_a_lone_surrogate_as_the_client_id_of_an_unknown_frame_is_not_echoed() -> None:
    frame = {"type": "dance", "client_id": f"c{LONE}"}
    outcome = parse(_json_with_lone_surrogate(frame), JSON, max_text_chars=MAX_TEXT)
    assert isinstance(outcome, Refusal) and outcome.client_id is None
