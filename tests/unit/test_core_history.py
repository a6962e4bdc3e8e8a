"""rooms.history.is_recovered: when a resuming client may be told it missed nothing else."""

from __future__ import annotations

import pytest

from rooms.history import Carried, Resume, carry_over, is_recovered

# (case, since, client_epoch, epoch, head, first_after_since, recovered)
TABLE: list[tuple[str, int | None, str | None, str, int, int | None, bool]] = [
    ("no since: a fresh join", None, None, "e1", 10, None, False),
    ("no since even with epoch", None, "e1", "e1", 10, 1, False),
    ("negative since", -1, "e1", "e1", 10, 1, False),
    ("epoch mismatch", 5, "e0", "e1", 10, 6, False),
    ("epoch mismatch at head", 10, "e0", "e1", 10, None, False),
    ("since beyond head", 11, "e1", "e1", 10, None, False),
    ("since beyond head of an empty room", 1, "e1", "e1", 0, None, False),
    ("since equals head: nothing missed", 10, "e1", "e1", 10, None, True),
    ("since 0 in an empty room", 0, "e1", "e1", 0, None, True),
    ("no client epoch is trusted", 10, None, "e1", 10, None, True),
    ("next message retained: contiguous", 5, "e1", "e1", 10, 6, True),
    ("since 0 with message 1 retained", 0, "e1", "e1", 3, 1, True),
    ("no client epoch, contiguous", 5, None, "e1", 10, 6, True),
    ("gap: next message trimmed", 5, "e1", "e1", 10, 7, False),
    ("gap: nothing retained after since", 5, "e1", "e1", 10, None, False),
    ("since 0 after history was trimmed", 0, "e1", "e1", 300, 101, False),
]


@pytest.mark.parametrize(
    ("since", "client_epoch", "epoch", "head", "first_after_since", "recovered"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_is_recovered(
    since: int | None,
    client_epoch: str | None,
    epoch: str,
    head: int,
    first_after_since: int | None,
    recovered: bool,
) -> None:
    """Recovered only when the same epoch's messages after `since` are contiguous up to head."""
    assert (
        is_recovered(
            since=since,
            client_epoch=client_epoch,
            epoch=epoch,
            head=head,
            first_after_since=first_after_since,
        )
        is recovered
    )


CARRIED = Carried("e1", 40)


@pytest.mark.parametrize(
    ("since", "client_epoch", "carried", "resume"),
    [
        (35, "e1", CARRIED, Resume(35, "e2")),  # saw only what the new node inherited
        (40, "e1", CARRIED, Resume(40, "e2")),
        (42, "e1", CARRIED, Resume(40, "e2", lost=True)),  # saw a message the failover lost
        (42, "e0", CARRIED, Resume(42, "e0")),  # from an older epoch still: untouched
        (42, None, CARRIED, Resume(42, None)),
        (None, "e1", CARRIED, Resume(None, "e1")),
        (42, "e1", None, Resume(42, "e1")),  # no node change on record (one Redis)
        (3, "e2", CARRIED, Resume(3, "e2")),  # already in the current epoch
    ],
)
def test_carry_over(
    since: int | None, client_epoch: str | None, carried: Carried | None, resume: Resume
) -> None:
    """A resume from the epoch before a node change continues in the new one up to the last
    id both share; past it the client is not recovered but restarts from that id."""
    assert carry_over(since, client_epoch, epoch="e2", carried=carried) == resume
