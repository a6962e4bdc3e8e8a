"""The client wire protocol, sans I/O: frames in -> typed commands or refusals; events -> frames.

JSON text frames by default; msgpack binary frames when the client asked for the `harbor.msgpack`
subprotocol. This is the ONE place that decides what a client frame means and how a refusal is
reported: a recoverable fault becomes an `error` frame (the connection stays usable), a frame of
the wrong kind becomes a close code. `docs/protocol.md` describes the same frames for client
authors.

Outgoing frames are prepared whole (WebSocket header + payload) so the hub can hand one `bytes`
object to every member's transport.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

from rooms.catalog import ROOM_ID
from rooms.envelope import THREADS, Broadcast, Event, Hidden, Posted, PresenceChanged
from rooms.meeting_rules import ACTIONS, REACTIONS
from rooms.meetings import MAX_STEPS

from .closecodes import CloseCode
from .milestones import is_badge

JSON = 0
MSGPACK = 1
CODECS = 2
MSGPACK_SUBPROTOCOL = "harbor.msgpack"

_OPCODE_TEXT = 0x1
_OPCODE_BINARY = 0x2
_MAX_CLIENT_ID = 64
_MAX_TOKEN = 64
_MAX_EPOCH = 16
_MAX_REASON = 500


# Commands (client -> server)


@dataclass(frozen=True, slots=True)
class Hello:
    token: str | None
    region: str | None = None  # ISO country code, to list the writer's crisis lines first
    moderator: bool = False  # sign in with the moderator session cookie of the handshake


@dataclass(frozen=True, slots=True)
class Join:
    room: str
    since: int | None
    epoch: str | None


@dataclass(frozen=True, slots=True)
class Leave:
    room: str


@dataclass(frozen=True, slots=True)
class Send:
    room: str
    text: str
    client_id: str
    thread: str = ""  # "checkin": an answer to the room's daily check-in (rooms.envelope.THREADS)


@dataclass(frozen=True, slots=True)
class Report:
    room: str
    id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Delete:
    """The writer takes back one of their own messages."""

    room: str
    id: int


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Struggling:
    """One tap: a gentle request for support posted in the room (server/struggling.py)."""

    room: str
    client_id: str


@dataclass(frozen=True, slots=True)
class Profile:
    """What a person shows beside their pseudonym: a milestone badge, or none ("")."""

    badge: str


@dataclass(frozen=True, slots=True)
class MeetingCommand:
    """One action in a room's meeting (rooms/meeting_rules.py says who may take it)."""

    room: str
    action: str
    to: str = ""  # a writer's tag: for give, hand and remove
    on: bool = True  # for crosstalk, pause and listen
    step: int = 0  # for step
    reaction: str = ""  # for react


Command = (
    Hello | Join | Leave | Send | Report | Delete | Ping | Struggling | Profile | MeetingCommand
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A frame we understood well enough to refuse politely: answered with an `error` frame."""

    code: str
    message: str
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """A frame that breaks the protocol itself: the connection closes with `code`."""

    code: CloseCode
    reason: str


def negotiate_codec(offered: list[str]) -> int:
    """MSGPACK when the client offered `harbor.msgpack` (in any Sec-WebSocket-Protocol header)."""
    tokens = {token.strip() for header in offered for token in header.split(",")}
    return MSGPACK if MSGPACK_SUBPROTOCOL in tokens else JSON


def parse(data: str | bytes, codec: int, *, max_text_chars: int) -> Command | Refusal | Close:
    """Turn one client frame into a command, a refusal, or a close."""
    if codec == JSON:
        if not isinstance(data, str):
            return Close(CloseCode.UNSUPPORTED_DATA, "binary frames need the msgpack subprotocol")
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the limit
            return Refusal("bad_frame", "frame is not valid JSON")
    else:
        if not isinstance(data, bytes):
            return Close(CloseCode.UNSUPPORTED_DATA, "text frames are not msgpack")
        try:
            # Invalid UTF-8 in a string (a lone surrogate, a cut character) becomes U+FFFD,
            # as in JSON frames below: the rest of the words still reach the classifier.
            obj = msgpack.unpackb(data, unicode_errors="replace")
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
            return Refusal("bad_frame", "frame is not valid msgpack")
    if not isinstance(obj, dict):
        return Refusal("bad_frame", "frame must be an object")
    return _command(obj, max_text_chars)


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _command(obj: dict[Any, Any], max_text_chars: int) -> Command | Refusal:
    kind = obj.get("type")
    client_id = obj.get("client_id")
    client_id = (
        client_id
        if isinstance(client_id, str)
        and len(client_id) <= _MAX_CLIENT_ID
        and is_well_formed(client_id)
        else None
    )
    try:
        if kind == "send":
            thread = obj.get("thread")
            if thread is not None and not (isinstance(thread, str) and thread in THREADS):
                raise _Invalid("bad_field", "thread must be 'checkin' or absent")
            return Send(
                _room(obj),
                _text(obj, max_text_chars),
                _string(obj, "client_id", _MAX_CLIENT_ID),
                thread or "",
            )
        if kind == "join":
            return Join(_room(obj), _optional_id(obj, "since"), _optional_epoch(obj))
        if kind == "hello":
            token = obj.get("token")
            if token is not None and (
                not isinstance(token, str) or len(token) > _MAX_TOKEN or not is_well_formed(token)
            ):
                raise _Invalid("bad_field", "token must be a string from a welcome frame")
            region = obj.get("region")
            if region is not None and (
                not isinstance(region, str) or len(region) != 2 or not region.isascii()
            ):
                raise _Invalid("bad_field", "region must be a two-letter country code")
            return Hello(
                token or None, region.upper() if region else None, obj.get("moderator") is True
            )
        if kind == "leave":
            return Leave(_room(obj))
        if kind == "report":
            reason = obj.get("reason", "")
            if not isinstance(reason, str):
                raise _Invalid("bad_field", "reason must be a string")
            message_id = _optional_id(obj, "id")
            if message_id is None:
                raise _Invalid("bad_field", "id must be the message id")
            return Report(_room(obj), message_id, well_formed(reason[:_MAX_REASON]))
        if kind == "delete":
            message_id = _optional_id(obj, "id")
            if message_id is None:
                raise _Invalid("bad_field", "id must be the message id")
            return Delete(_room(obj), message_id)
        if kind == "ping":
            return Ping()
        if kind == "profile":
            badge = obj.get("badge")
            if badge is not None and not is_badge(badge):
                raise _Invalid("bad_field", "badge must be a milestone (24h, 1w, 30d, ..., 1y)")
            return Profile(badge or "")
        if kind == "struggling":
            return Struggling(_room(obj), _string(obj, "client_id", _MAX_CLIENT_ID))
        if kind == "meeting":
            return _meeting(obj)
    except _Invalid as invalid:
        return Refusal(invalid.code, invalid.message, client_id)
    if not isinstance(kind, str):
        return Refusal("bad_frame", "frame needs a string 'type'", client_id)
    return Refusal("unknown_type", "unknown frame type", client_id)


# A writer's tag (server/identity.py): what `to` names in a meeting action.
_AUTHOR_TAG = re.compile(r"[0-9a-f]{12}")


def _meeting(obj: dict[Any, Any]) -> MeetingCommand:
    room = _room(obj)
    action = obj.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise _Invalid("bad_field", "action must be a meeting action")
    to = obj.get("to", "")
    if action in ("hand", "remove") or (action == "give" and to):
        if not isinstance(to, str) or not _AUTHOR_TAG.fullmatch(to):
            raise _Invalid("bad_field", "to must be a writer's tag (a message's author)")
    on = obj.get("on", True)
    if not isinstance(on, bool):
        raise _Invalid("bad_field", "on must be true or false")
    step = obj.get("step", 0)
    if action == "step" and (
        isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < MAX_STEPS
    ):
        raise _Invalid("bad_field", "step must be the number of a part of the format")
    reaction = obj.get("reaction", "")
    if action == "react" and reaction not in REACTIONS:
        raise _Invalid("bad_field", f"reaction must be one of {', '.join(REACTIONS)}")
    return MeetingCommand(
        room,
        action,
        to if isinstance(to, str) else "",
        on,
        step if action == "step" else 0,
        reaction if action == "react" else "",
    )


def _room(obj: dict[Any, Any]) -> str:
    room = obj.get("room")
    if not isinstance(room, str) or not ROOM_ID.fullmatch(room):
        raise _Invalid("bad_field", "room must be a room id")
    return room


def _string(obj: dict[Any, Any], name: str, limit: int) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit or not is_well_formed(value):
        raise _Invalid("bad_field", f"{name} must be a string of 1-{limit} characters")
    return value


def is_well_formed(value: str) -> bool:
    """Whether `value` is well-formed Unicode (JSON's "\\ud83d" escape alone is not): an
    identifier that is not is refused, since it could never be written back to anyone."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def well_formed(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD. Free text is mended, not refused:
    a crisis message with a broken emoji at its end must still reach the classifier and a
    moderator (and nothing downstream can encode a lone surrogate)."""
    if is_well_formed(text):
        return text
    return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)


def _text(obj: dict[Any, Any], max_chars: int) -> str:
    text = obj.get("text")
    if not isinstance(text, str):
        raise _Invalid("bad_field", "text must be a string")
    text = well_formed(text).strip()
    if not text:
        raise _Invalid("empty_text", "message is empty")
    if len(text) > max_chars:
        raise _Invalid("text_too_long", f"message is longer than {max_chars} characters")
    return text


def _optional_id(obj: dict[Any, Any], name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise _Invalid("bad_field", f"{name} must be a message id")
    return value


def _optional_epoch(obj: dict[Any, Any]) -> str | None:
    epoch = obj.get("epoch")
    if epoch is None:
        return None
    if not isinstance(epoch, str) or len(epoch) > _MAX_EPOCH or not is_well_formed(epoch):
        raise _Invalid("bad_field", "epoch must be the epoch from a joined frame")
    return epoch


# Events (server -> client)


# The writer's tag for a uid (`IdentityIssuer.author_tag`): what clients compare to tell whose
# message is whose. The uid itself never leaves the server.
AuthorOf = Callable[[str], str]


def message_event(posted: Posted, author: str) -> dict[str, Any]:
    frame = {
        "type": "message",
        "room": posted.room,
        "id": posted.id,
        "from": posted.name,
        "author": author,
        "text": posted.text,
        "ts": posted.ts,
    }
    _add_marks(frame, posted)
    return frame


def history_item(posted: Posted, author: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": posted.id,
        "from": posted.name,
        "author": author,
        "text": posted.text,
    }
    item["ts"] = posted.ts
    _add_marks(item, posted)
    return item


def _add_marks(frame: dict[str, Any], posted: Posted) -> None:
    """How a client should present the message: `note`, and the one-word `sensitive` subject,
    self-declared `badge` and daily check-in `thread` when it has them (never anything else of
    the verdict)."""
    if posted.note:
        frame["note"] = posted.note
    if posted.sensitive:
        frame["sensitive"] = posted.sensitive
    if posted.badge:
        frame["badge"] = posted.badge
    if posted.thread:
        frame["thread"] = posted.thread


def error_event(
    code: str, message: str, *, client_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_id is not None:
        frame["client_id"] = client_id
    frame.update(extra)
    return frame


def room_event(event: Event, author_of: AuthorOf) -> dict[str, Any]:
    """The client frame for an event from the room channel."""
    if isinstance(event, Posted):
        return message_event(event, author_of(event.uid))
    if isinstance(event, PresenceChanged):
        return {"type": "presence", "room": event.room, "count": event.count}
    if isinstance(event, Hidden):
        return {"type": "hidden", "room": event.room, "id": event.id}
    if isinstance(event, Broadcast):
        return event.frame
    raise TypeError(f"not a room event: {event!r}")


def encode(frame: dict[str, Any], codec: int) -> bytes:
    """A complete, unmasked server WebSocket frame carrying `frame` in `codec`."""
    if codec == JSON:
        payload = json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode()
        return prepare(_OPCODE_TEXT, payload)
    return prepare(_OPCODE_BINARY, msgpack.packb(frame))


def room_encoder(author_of: AuthorOf) -> Callable[[Event, int], bytes]:
    """The hub's encoder: a room event as a complete frame in one codec. The hub calls it once
    per codec per event, so the writer's tag is derived there too, never per member."""

    def encode_room_event(event: Event, codec: int) -> bytes:
        return encode(room_event(event, author_of), codec)

    return encode_room_event


def prepare(opcode: int, payload: bytes) -> bytes:
    """RFC 6455 section 5.2 framing for one unfragmented server frame (FIN set, no mask)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload
