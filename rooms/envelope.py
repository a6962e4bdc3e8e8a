"""What travels between workers: the msgpack envelope, packed once and read with checks.

A room's channel carries three kinds of event. A chat message gets its `id` (the room's sequence
number) and the room's `epoch` from the broker at publish time, inside the same atomic step that
stores it in history, so the wire form is `b"<id> <epoch> " + body`: the body is packed by the
publishing worker before the id exists, and nobody re-packs it. Presence and hide events carry
id 0 and never enter history.

A message body is `[version, "m", ts, uid, name, text, note?, marks?]`. `marks` is a small map of
short strings a client may show beside the words: `s`, what kind of sensitive subject the
moderation core found (`SENSITIVE_KINDS`), `b`, the writer's self-declared milestone badge, and
`t`, the thread the message answers (`THREADS`: the room's daily check-in).
A reader ignores a mark it does not know, so a newer worker's messages still read on an older
one during a rolling deploy.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

VERSION = 1
KIND_MESSAGE = "m"
KIND_PRESENCE = "p"
KIND_HIDE = "h"
KIND_BROADCAST = "x"
MARK_SENSITIVE = "s"
MARK_BADGE = "b"
MARK_THREAD = "t"
# What a `sensitive` mark may say: the subjects a reader can choose to fold behind a tap.
SENSITIVE_KINDS = frozenset({"suicide", "self_harm", "using"})
# What a `thread` mark may say: "checkin", an answer to the room's daily check-in prompt.
THREADS = frozenset({"checkin"})
# The longest mark value read back; anything longer is dropped, never shown.
_MAX_MARK = 16


def _pack(value: object) -> bytes:
    packed: bytes = msgpack.packb(value)
    return packed


class EnvelopeError(ValueError):
    """An envelope from the channel or history could not be read; it is dropped, never fatal."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A message before the broker numbers it. `uid` is the anonymous identity (never shown)."""

    uid: str
    name: str
    text: str
    ts: int  # milliseconds since the epoch, stamped by the receiving worker
    client_id: str = ""
    note: str = ""  # "placeholder", "released", "volunteer": how clients should present it
    sensitive: str = ""  # one of SENSITIVE_KINDS, computed once from the message's verdict
    badge: str = ""  # the writer's milestone badge, as they declared it (server/milestones.py)
    thread: str = ""  # one of THREADS: the daily check-in this message answers

    def body(self) -> bytes:
        fields: list[object] = [VERSION, KIND_MESSAGE, self.ts, self.uid, self.name, self.text]
        marks = _marks(self.sensitive, self.badge, self.thread)
        if self.note or marks:
            fields.append(self.note)
        if marks:
            fields.append(marks)
        return _pack(fields)


def _marks(sensitive: str, badge: str, thread: str) -> dict[str, str]:
    marks = {}
    if sensitive:
        marks[MARK_SENSITIVE] = sensitive
    if badge:
        marks[MARK_BADGE] = badge
    if thread:
        marks[MARK_THREAD] = thread
    return marks


@dataclass(frozen=True, slots=True)
class Posted:
    """A numbered chat message, as stored in history and delivered live."""

    room: str
    id: int
    epoch: str
    ts: int
    uid: str
    name: str
    text: str
    note: str = ""
    sensitive: str = ""
    badge: str = ""
    thread: str = ""


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    room: str
    count: int


@dataclass(frozen=True, slots=True)
class Hidden:
    """A moderator removed message `id` from the room, everywhere."""

    room: str
    id: int


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A ready client frame for everyone subscribed to a channel (moderator feed, direct notices).
    Carried as msgpack and encoded for clients once per codec, like any room event."""

    room: str
    frame: dict[str, object]


Event = Posted | PresenceChanged | Hidden | Broadcast


def broadcast_body(frame: dict[str, object]) -> bytes:
    return _pack([VERSION, KIND_BROADCAST, frame])


def presence_body(count: int) -> bytes:
    return _pack([VERSION, KIND_PRESENCE, count])


def hide_body(message_id: int) -> bytes:
    return _pack([VERSION, KIND_HIDE, message_id])


def wire(message_id: int, epoch: str, body: bytes) -> bytes:
    """The channel form of an event: a short ASCII head, then the body untouched."""
    return b"%d %s %s" % (message_id, epoch.encode("ascii"), body)


def read(room: str, data: bytes) -> Event:
    """Parse a channel payload. Raises EnvelopeError on anything malformed."""
    head_id, sep1, rest = data.partition(b" ")
    epoch, sep2, body = rest.partition(b" ")
    if not (sep1 and sep2):
        raise EnvelopeError("envelope head is missing")
    try:
        message_id = int(head_id)
    except ValueError:
        raise EnvelopeError("envelope id is not a number") from None
    return read_body(room, message_id, epoch.decode("ascii", "replace"), body)


def read_body(room: str, message_id: int, epoch: str, body: bytes) -> Event:
    try:
        fields = msgpack.unpackb(body, use_list=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise EnvelopeError(f"envelope body is not msgpack: {type(exc).__name__}") from None
    if not isinstance(fields, list) or len(fields) < 3 or fields[0] != VERSION:
        raise EnvelopeError("envelope has an unknown version or shape")
    kind = fields[1]
    try:
        if kind == KIND_MESSAGE:
            _, _, ts, uid, name, text, *rest = fields
            note = rest[0] if rest else ""
            marks = rest[1] if len(rest) > 1 else {}
            if not (
                isinstance(ts, int)
                and isinstance(text, str)
                and isinstance(name, str)
                and isinstance(note, str)
                and isinstance(marks, dict)
                and len(rest) <= 2
            ):
                raise EnvelopeError("message fields have the wrong types")
            sensitive = _mark(marks, MARK_SENSITIVE)
            thread = _mark(marks, MARK_THREAD)
            return Posted(
                room,
                message_id,
                epoch,
                ts,
                str(uid),
                name,
                text,
                note,
                sensitive if sensitive in SENSITIVE_KINDS else "",
                _mark(marks, MARK_BADGE),
                thread if thread in THREADS else "",
            )
        if kind == KIND_PRESENCE and isinstance(fields[2], int):
            return PresenceChanged(room, fields[2])
        if kind == KIND_HIDE and isinstance(fields[2], int):
            return Hidden(room, fields[2])
        if kind == KIND_BROADCAST and isinstance(fields[2], dict):
            return Broadcast(room, fields[2])
    except ValueError:
        raise EnvelopeError("envelope has the wrong number of fields") from None
    raise EnvelopeError(f"unknown envelope kind {kind!r}")


def _mark(marks: dict[object, object], key: str) -> str:
    """One mark's value, or "" when it is absent or not a short string."""
    value = marks.get(key, "")
    return value if isinstance(value, str) and len(value) <= _MAX_MARK else ""
