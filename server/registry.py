"""The live connections of one worker, and the per-worker state that follows from them.

Everything mutable about a worker's sockets lives here, behind methods: how many are open,
which belong to each anonymous identity (so a notice or a ban reaches all of them), which
moderators are signed in here (their claims are renewed by this worker), whether anyone is on
duty (as last seen; members are told when it changes), and whether the worker is draining for a
restart. The wiring around it (server/context.py) never changes after start.

Typed against `LiveConnection`, the little a notice needs of a socket, so this module imports
nothing from the rest of the server but the per-source bookkeeping (server/sources.py), which
is mutable per-worker state of the same kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, Protocol

from .signin_guard import SignInGuard
from .sources import SourceLimits, SourceRules


class LiveConnection(Protocol):
    """What a notice, a mute or a ban needs of one member's socket."""

    muted_until_ms: int
    sources: tuple[str, str]  # today's and yesterday's keyed hash of its address

    def send(self, frame: dict[str, Any]) -> bool:
        """Encode and write `frame` to this member alone; False once closing."""
        ...

    def close(self, code: int, reason: str) -> None:
        """Send a close frame now (nothing follows it)."""
        ...


class Registry:
    __slots__ = (
        "_arrived",
        "_by_uid",
        "_drain_slots",
        "_moderators",
        "_sessions",
        "draining",
        "limits",
        "next_volunteer_ms",
        "on_duty",
        "open_count",
        "sign_ins",
    )

    def __init__(self, rules: SourceRules | None = None) -> None:
        rules = rules or SourceRules()
        self.limits = SourceLimits(rules)
        self.sign_ins = SignInGuard(
            per_source_per_min=rules.sign_ins_per_min, per_source_burst=rules.sign_ins_burst
        )
        self.open_count = 0
        self.on_duty = False  # a moderator is signed in on some worker (refreshed by duty.py)
        # While nobody is: when the rota says the next volunteer is expected (0: it doesn't
        # say, and the page then says nothing about when).
        self.next_volunteer_ms = 0
        self.draining = False  # SIGTERM received: not ready, clients being closed in batches
        self._drain_slots = 0
        self._by_uid: dict[str, set[LiveConnection]] = {}
        self._arrived: dict[LiveConnection, int] = {}  # identified socket -> when (ms)
        self._moderators: Counter[str] = Counter()
        self._sessions: dict[LiveConnection, str] = {}  # moderator socket -> session hash

    # Sockets

    def opened(self) -> None:
        self.open_count += 1

    def identified(self, uid: str, connection: LiveConnection, at_ms: int = 0) -> None:
        """`at_ms`: when it said hello, so a case can tell a person who came back after it was
        resolved from one who never left (server/writer_presence.py)."""
        self._by_uid.setdefault(uid, set()).add(connection)
        self._arrived[connection] = at_ms

    def closed(self, connection: LiveConnection, uid: str | None, moderator: str | None) -> None:
        """Forget a socket everywhere it was indexed (call once, when it has ended)."""
        self.open_count -= 1
        self._arrived.pop(connection, None)
        if uid is not None:
            peers = self._by_uid.get(uid)
            if peers is not None:
                peers.discard(connection)
                if not peers:
                    del self._by_uid[uid]
        if moderator is not None:
            self._sessions.pop(connection, None)
            self._moderators[moderator] -= 1
            if self._moderators[moderator] <= 0:
                del self._moderators[moderator]

    def of_identity(self, uid: str) -> tuple[LiveConnection, ...]:
        return tuple(self._by_uid.get(uid, ()))

    def arrivals(self, uid: str) -> list[int]:
        """When each open socket of identity `uid` said hello (ms)."""
        return [self._arrived.get(peer, 0) for peer in self._by_uid.get(uid, ())]

    def identified_connections(self) -> Iterator[LiveConnection]:
        """Every socket that said hello, once each (a snapshot: safe to close while iterating)."""
        for peers in list(self._by_uid.values()):
            yield from list(peers)

    # Moderators

    def moderator_arrived(self, name: str, connection: LiveConnection, session_hash: str) -> None:
        self._moderators[name] += 1
        self._sessions[connection] = session_hash

    def moderator_sessions(self) -> list[tuple[LiveConnection, str]]:
        """Each open moderator socket with the hash of the session it signed in with."""
        return list(self._sessions.items())

    def moderators_here(self) -> tuple[str, ...]:
        return tuple(self._moderators)

    def set_on_duty(self, on_duty: bool, next_volunteer_ms: int = 0) -> bool:
        """Record whether anyone is on duty, and else when the rota expects the next volunteer;
        True if either changed."""
        expected = 0 if on_duty else next_volunteer_ms
        changed = on_duty != self.on_duty or expected != self.next_volunteer_ms
        self.on_duty = on_duty
        self.next_volunteer_ms = expected
        return changed

    def duty_fields(self) -> dict[str, object]:
        """What members are told about duty: whether a volunteer is on, and only when the rota
        says so, when the next one is expected."""
        fields: dict[str, object] = {"on_duty": self.on_duty}
        if not self.on_duty and self.next_volunteer_ms:
            fields["next_volunteer_ms"] = self.next_volunteer_ms
        return fields

    # Restart

    def drain_slot(self) -> int:
        """Mark the worker draining and give this socket its place in the closing order."""
        self.draining = True
        slot = self._drain_slots
        self._drain_slots += 1
        return slot
