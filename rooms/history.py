"""The resume rule, pure: may a client that saw up to `since` be told it missed nothing else?

Both brokers answer a `join` with `since` through this one function, so memory and Redis can never
disagree about when to say `recovered: false`.
"""

from __future__ import annotations


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
