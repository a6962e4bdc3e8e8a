"""The resume rule, pure: may a client that saw up to `since` be told it missed nothing else?

Both brokers answer a `join` with `since` through this one function, so memory and Redis can never
disagree about when to say `recovered: false`.
"""

from __future__ import annotations

from dataclasses import dataclass


def is_recovered(
    *,
    since: int | None,
    client_epoch: str | None,
    epoch: str,
    head: int,
    first_after_since: int | None,
) -> bool:
    """True when the messages returned after `since` are every message after `since`.

    `head` is the last id the room assigned in `epoch`; `first_after_since` is the id of the first
    retained message after `since` (None when none is retained). A client from another epoch, or
    one claiming to have seen more than the room ever sent, lost history and is told so.
    """
    if since is None or since < 0:
        return False
    if client_epoch is not None and client_epoch != epoch:
        return False
    if since > head:
        return False
    if since == head:
        return True
    return first_after_since == since + 1


@dataclass(frozen=True, slots=True)
class Carried:
    """How a room's epoch began on a new Redis Cluster node (a failover, a moved slot): ids up
    to `upto` of `epoch` are the very same messages in the new epoch. A replica holds a prefix
    of its primary's writes, so everything it had numbered when it took over is what the old
    primary numbered; only later ids may have been given twice."""

    epoch: str
    upto: int


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a resuming client's history read starts, in the room's current epoch. `lost`: it
    saw a message the new node never had, so it is not recovered, but still gets every message
    after the last one both share."""

    since: int | None
    client_epoch: str | None
    lost: bool = False


def carry_over(
    since: int | None, client_epoch: str | None, *, epoch: str, carried: Carried | None
) -> Resume:
    """A resume from the epoch before a node change, translated into the current one: a client
    up to `carried.upto` resumes as if its epoch never changed; one past it (it saw a message
    the failover lost, whose id the new node gives again) restarts from `carried.upto`, told it
    was not recovered. Any other resume is left as it is."""
    if carried is None or since is None or client_epoch is None or client_epoch != carried.epoch:
        return Resume(since, client_epoch)
    if since <= carried.upto:
        return Resume(since, epoch)
    return Resume(carried.upto, epoch, lost=True)
