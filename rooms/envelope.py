"""What travels between workers: the msgpack envelope, packed once and read with checks.

A room's channel carries three kinds of event. A chat message gets its `id` (the room's sequence
number) and the room's `epoch` from the broker at publish time, inside the same atomic step that
stores it in history, so the wire form is `b"<id> <epoch> " + body`: the body is packed by the
publishing worker before the id exists, and nobody re-packs it. Presence and hide events carry
id 0 and never enter history.

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

    def body(self) -> bytes:
        fields: list[object] = [VERSION, KIND_MESSAGE, self.ts, self.uid, self.name, self.text]
        if self.note:
            fields.append(self.note)
        return _pack(fields)


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
            if not (
                isinstance(ts, int)
                and isinstance(text, str)
                and isinstance(name, str)
                and isinstance(note, str)
                and len(rest) <= 1
            ):
                raise EnvelopeError("message fields have the wrong types")
            return Posted(room, message_id, epoch, ts, str(uid), name, text, note)
        if kind == KIND_PRESENCE and isinstance(fields[2], int):
            return PresenceChanged(room, fields[2])
        if kind == KIND_HIDE and isinstance(fields[2], int):
            return Hidden(room, fields[2])
        if kind == KIND_BROADCAST and isinstance(fields[2], dict):
            return Broadcast(room, fields[2])
    except ValueError:
        raise EnvelopeError("envelope has the wrong number of fields") from None
    raise EnvelopeError(f"unknown envelope kind {kind!r}")
