"""One moderation-store contract, run unchanged against SQLite (a file in tmp_path), Redis (a
private redis-server per test) and a real local Redis Cluster (3 primaries, 3 replicas, shared
by the session and emptied before each test).

Time is passed explicitly (`now_ms`) everywhere: leases lapsing and flags falling due are tested by
moving the clock argument, never by sleeping. The base time is the real clock, because Redis
expires session and sanction keys by its own clock.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from casework.flags import (
    DUE_AFTER_MS,
    HANDOVER,
    SEVERITY_ORDER,
    AuditEntry,
    CaseNote,
    CaseQuery,
    ClaimConflict,
    Flag,
    FlagDraft,
    FlagError,
    FlagState,
    ModerationStore,
    Outcome,
    Raised,
    ResponseTargets,
    Revocation,
    Sanction,
)
from casework.roles import DEFAULT_ROLE, Role
from casework.rota import Shift
from casework.store_redis import RedisModerationStore
from casework.store_sqlite import SqliteModerationStore
from rooms.broker_cluster import open_redis
from tests.harness import RedisClusterProcesses, RedisProcess

LEASE = 30_000
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass
class Backend:
    """Opens stores over one set of data; every store it opened is closed at teardown."""

    name: str
    make: Callable[[], ModerationStore]
    opened: list[ModerationStore] = field(default_factory=list)

    def open(self) -> ModerationStore:
        """Another store over the same data: another worker (Redis) or a reopened file (SQLite)."""
        store = self.make()
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "redis", "cluster"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    server: RedisProcess | None = None
    if request.param == "sqlite":
        path = tmp_path / "data" / "moderation.sqlite3"
        chosen = Backend("sqlite", lambda: SqliteModerationStore(path))
    elif request.param == "cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("cluster")
        chosen = Backend(
            "cluster", lambda: RedisModerationStore(open_redis(cluster.url), owns_client=True)
        )
    else:
        server = RedisProcess(tmp_path / "redis").start()
        url = server.url
        chosen = Backend(
            "redis", lambda: RedisModerationStore(aioredis.from_url(url), owns_client=True)
        )
    try:
        yield chosen
    finally:
        for store in chosen.opened:
            await store.aclose()
        if server is not None:
            server.stop()


@pytest.fixture
def store(backend: Backend) -> ModerationStore:
    return backend.open()


@pytest.fixture
def now() -> int:
    """The test's clock: real time (Redis expiry uses it), moved by hand from there."""
    return int(time.time() * 1000)


def draft(
    key: str = "newcomers:u1:c1",
    *,
    severity: str = "high",
    created_ms: int,
    source: str = "classifier",
    **changes: object,
) -> FlagDraft:
    base = FlagDraft(
        key=key,
        room="newcomers",
        message_id=7,
        uid="u1",
        name="Calm Heron 1",
        text="I don't think I can stay safe tonight",
        categories=("suicide",),
        severity=severity,
        spans=({"start": 0, "end": 5, "category": "suicide"},),
        lexicon_version="2024.1",
        context=({"id": 6, "from": "Quiet Fox 2", "text": "how is everyone", "ts": 1},),
        source=source,
        held=False,
        created_ms=created_ms,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# Raising and reading


async def test_a_raised_flag_is_open_due_by_its_severity_and_reads_back_unchanged(
    store: ModerationStore, now: int
) -> None:
    tricky = draft(
        "ayuda:u9:c3",
        severity="imminent",
        created_ms=now,
        message_id=None,
        text='tomé todas las pastillas 💊 "ahora" \\ \n línea',
        spans=({"start": 0, "end": 4, "words": ["tomé"], "nested": {"empty": []}},),
        context=(),
        categories=(),
        held=True,
        source="report",
        reason="they said goodbye",
    )
    flag, created = await store.raise_flag(tricky)
    assert created
    assert flag.state is FlagState.OPEN and flag.owner is None
    assert flag.due_ms == now + DUE_AFTER_MS["imminent"]
    assert flag.draft == tricky
    assert await store.get_flag(flag.id) == flag
    assert len(flag.id) == 16 and int(flag.id, 16) >= 0


async def test_raising_the_same_key_again_returns_the_same_flag_and_creates_nothing(
    store: ModerationStore, now: int
) -> None:
    first, created = await store.raise_flag(draft(created_ms=now))
    again, created_again = await store.raise_flag(draft(created_ms=now + 5))
    assert created and not created_again
    assert again.id == first.id and again.reports == 0
    assert [f.id for f in await store.list_flags()] == [first.id]
    assert await store.flag_by_key(first.draft.key) == await store.get_flag(first.id)
    assert await store.flag_by_key("no-such-key") is None


async def test_another_report_of_the_same_message_counts_as_an_extra_report(
    store: ModerationStore, now: int
) -> None:
    first, _ = await store.raise_flag(draft("report:m7", created_ms=now, source="report"))
    for n in range(1, 3):
        again, created = await store.raise_flag(
            draft("report:m7", created_ms=now + n, source="report")
        )
        assert not created and again.id == first.id and again.reports == n
    stored = await store.get_flag(first.id)
    assert stored is not None and stored.reports == 2


async def test_raise_or_fold_says_what_it_did_with_each_draft(
    store: ModerationStore, now: int
) -> None:
    flag, raised = await store.raise_or_fold(draft(created_ms=now))
    assert raised is Raised.CREATED
    again, raised = await store.raise_or_fold(draft(created_ms=now + 1))
    assert raised is Raised.EXISTING and again == flag
    report, raised = await store.raise_or_fold(draft("report:m7", created_ms=now, source="report"))
    assert raised is Raised.CREATED
    await store.claim(report.id, "ana", now, LEASE)
    folded, raised = await store.raise_or_fold(
        draft("report:m7", created_ms=now + 2, source="report")
    )
    assert raised is Raised.REPORTED and folded.id == report.id
    assert folded.reports == 1 and folded.state is FlagState.CLAIMED and folded.owner == "ana"
    assert folded.reopened_ms == 0


async def test_a_report_of_a_resolved_flags_message_reopens_that_flag(
    store: ModerationStore, now: int
) -> None:
    first, _ = await store.raise_flag(
        draft("report:m7", severity="concern", created_ms=now, source="report")
    )
    await store.claim(first.id, "ana", now, LEASE)
    await store.resolve(first.id, "ana", Outcome.FALSE_ALARM, "banter", now + 5)
    later = now + HOUR
    reopened, raised = await store.raise_or_fold(
        draft("report:m7", severity="concern", created_ms=later, source="report")
    )
    assert raised is Raised.REOPENED and reopened.id == first.id
    assert reopened.state is FlagState.OPEN and reopened.owner is None
    assert reopened.outcome is None and reopened.resolved_ms == 0
    assert reopened.lease_until_ms == 0 and reopened.reports == 1
    assert reopened.reopened_ms == later and reopened.updated_ms == later
    assert reopened.due_ms == later + DUE_AFTER_MS["concern"]
    assert reopened.draft == first.draft, "the flag keeps the message it was raised for"
    assert reopened.note == "banter", "the earlier moderator's note stays as context"
    assert await store.get_flag(first.id) == reopened
    # Back in the queue like any open flag: listed, next, due, claimable, resolvable.
    assert await store.list_flags() == [reopened]
    assert await store.list_flags(include_resolved=True) == [reopened]
    assert await store.next_open() == reopened
    assert await store.take_overdue(later + DUE_AFTER_MS["concern"] - 1) == []
    overdue = await store.take_overdue(later + DUE_AFTER_MS["concern"])
    assert [f.id for f in overdue] == [first.id]
    claimed = await store.claim(first.id, "ben", later + 1, LEASE)
    assert claimed.owner == "ben"
    # While it is open again, further reports only count.
    folded, raised = await store.raise_or_fold(
        draft("report:m7", created_ms=later + 2, source="report")
    )
    assert raised is Raised.REPORTED and folded.reports == 2 and folded.owner == "ben"
    again = await store.resolve(first.id, "ben", Outcome.SUPPORTED, "", later + 3)
    assert again.state is FlagState.RESOLVED and again.reopened_ms == later
    assert await store.list_flags() == []


async def test_a_resent_classifier_flag_never_reopens_a_resolved_flag(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    resolved = await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", now)
    again, raised = await store.raise_or_fold(draft(created_ms=now + 1))
    assert raised is Raised.EXISTING and again == resolved


async def test_a_reopened_escalated_flag_is_due_at_the_imminent_pace(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(
        draft("report:m7", severity="watch", created_ms=now, source="report")
    )
    await store.escalate(flag.id, "ana", "", now)
    await store.resolve(flag.id, "ana", Outcome.ESCALATED, "", now + 1)
    reopened, _ = await store.raise_flag(
        draft("report:m7", severity="watch", created_ms=now + 2, source="report")
    )
    assert reopened.escalated and reopened.due_ms == now + 2 + DUE_AFTER_MS["imminent"]


async def test_a_reopened_flag_is_never_pruned_however_long_ago_it_was_resolved(
    store: ModerationStore, now: int
) -> None:
    long_ago = now - 90 * DAY
    flag, _ = await store.raise_flag(draft("report:m7", created_ms=long_ago, source="report"))
    await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", long_ago)
    await store.raise_flag(draft("report:m7", created_ms=now, source="report"))
    assert await store.prune(now, 30 * DAY) == 0
    kept = await store.get_flag(flag.id)
    assert kept is not None and kept.state is FlagState.OPEN


async def test_two_reports_of_a_resolved_flag_at_once_through_two_stores_reopen_it_once(
    backend: Backend, now: int
) -> None:
    stores = [backend.open(), backend.open()]
    flag, _ = await stores[0].raise_flag(draft("report:m7", created_ms=now, source="report"))
    await stores[0].resolve(flag.id, "ana", Outcome.SUPPORTED, "", now)
    results: list[tuple[Flag, Raised]] = []

    async def report(store: ModerationStore, n: int) -> None:
        results.append(
            await store.raise_or_fold(draft("report:m7", created_ms=now + n, source="report"))
        )

    async with anyio.create_task_group() as tg:
        for n, each in enumerate(stores, start=1):
            tg.start_soon(report, each, n)
    assert sorted(raised for _, raised in results) == [Raised.REOPENED, Raised.REPORTED]
    stored = await stores[1].get_flag(flag.id)
    assert stored is not None and stored.state is FlagState.OPEN and stored.reports == 2


async def test_raising_an_unknown_severity_is_refused(store: ModerationStore, now: int) -> None:
    with pytest.raises(ValueError, match="severity"):
        await store.raise_flag(draft(severity="meh", created_ms=now))
    assert await store.list_flags() == []


async def test_list_flags_orders_by_severity_then_age(store: ModerationStore, now: int) -> None:
    raised = {}
    for key, severity, age in [
        ("w-old", "watch", 50),
        ("c-new", "concern", 1),
        ("i-new", "imminent", 2),
        ("h-old", "high", 40),
        ("i-old", "imminent", 30),
        ("h-new", "high", 3),
    ]:
        flag, _ = await store.raise_flag(draft(key, severity=severity, created_ms=now - age))
        raised[key] = flag.id
    listed = await store.list_flags()
    assert [f.id for f in listed] == [
        raised[k] for k in ["i-old", "i-new", "h-old", "h-new", "c-new", "w-old"]
    ]
    assert [f.id for f in await store.list_flags(limit=2)] == [raised["i-old"], raised["i-new"]]
    assert await store.list_flags(limit=0) == []


async def test_next_open_is_the_most_urgent_open_flag_skipping_claimed_ones(
    store: ModerationStore, now: int
) -> None:
    assert await store.next_open() is None
    older, _ = await store.raise_flag(draft("a", severity="imminent", created_ms=now - 10))
    newer, _ = await store.raise_flag(draft("b", severity="imminent", created_ms=now))
    await store.raise_flag(draft("c", severity="watch", created_ms=now - 99))
    first = await store.next_open()
    assert first is not None and first.id == older.id
    await store.claim(older.id, "ana", now, LEASE)
    second = await store.next_open()
    assert second is not None and second.id == newer.id


async def test_unknown_flag_ids_are_not_found(store: ModerationStore, now: int) -> None:
    assert await store.get_flag("0123456789abcdef") is None
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: store.claim("nope", "ana", now, LEASE),
        lambda: store.release("nope", "ana", now),
        lambda: store.resolve("nope", "ana", Outcome.SUPPORTED, "", now),
        lambda: store.escalate("nope", "ana", "", now),
        lambda: store.mark_released("nope", 9, now),
        lambda: store.mark_hidden("nope", now),
    ]
    for attempt in attempts:
        with pytest.raises(FlagError) as caught:
            await attempt()
        assert caught.value.code == "not_found"
    assert await store.list_flags(include_resolved=True) == []


# Claims


async def test_claiming_an_open_flag_makes_the_moderator_its_owner_with_a_lease(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now - 100))
    claimed = await store.claim(flag.id, "ana", now, LEASE)
    assert claimed.state is FlagState.CLAIMED and claimed.owner == "ana"
    assert claimed.lease_until_ms == now + LEASE and claimed.updated_ms == now
    assert await store.get_flag(flag.id) == claimed
    assert [f.state for f in await store.list_flags()] == [FlagState.CLAIMED]


async def test_the_owner_claiming_again_renews_the_lease(store: ModerationStore, now: int) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    await store.claim(flag.id, "ana", now, LEASE)
    renewed = await store.claim(flag.id, "ana", now + 10_000, LEASE)
    assert renewed.owner == "ana" and renewed.lease_until_ms == now + 10_000 + LEASE


async def test_another_moderator_claiming_gets_a_conflict_naming_the_owner(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    await store.claim(flag.id, "ana", now, LEASE)
    with pytest.raises(ClaimConflict) as caught:
        await store.claim(flag.id, "ben", now + 1, LEASE)
    assert caught.value.owner == "ana" and caught.value.state is FlagState.CLAIMED
    assert caught.value.code == "claimed_by_other"
    still = await store.get_flag(flag.id)
    assert still is not None and still.owner == "ana" and still.lease_until_ms == now + LEASE


async def test_claiming_a_resolved_flag_is_a_conflict(store: ModerationStore, now: int) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", now)
    with pytest.raises(ClaimConflict) as caught:
        await store.claim(flag.id, "ben", now + 1, LEASE)
    assert caught.value.state is FlagState.RESOLVED and caught.value.owner == "ana"


async def _race_claims(
    first: ModerationStore, second: ModerationStore, now: int, rounds: int
) -> None:
    """Both moderators claim every flag at the same moment; each flag has exactly one winner."""
    flags = [(await first.raise_flag(draft(f"k{n}", created_ms=now)))[0] for n in range(rounds)]
    winners: dict[str, list[str]] = {flag.id: [] for flag in flags}
    conflicts: dict[str, list[str | None]] = {flag.id: [] for flag in flags}

    async def attempt(store: ModerationStore, flag_id: str, moderator: str) -> None:
        try:
            claimed = await store.claim(flag_id, moderator, now, LEASE)
        except ClaimConflict as conflict:
            conflicts[flag_id].append(conflict.owner)
        else:
            assert claimed.owner == moderator
            winners[flag_id].append(moderator)

    async with anyio.create_task_group() as tg:
        for flag in flags:
            tg.start_soon(attempt, first, flag.id, "ana")
            tg.start_soon(attempt, second, flag.id, "ben")
    for flag in flags:
        assert len(winners[flag.id]) == 1
        assert conflicts[flag.id] == winners[flag.id]
        stored = await first.get_flag(flag.id)
        assert stored is not None and [stored.owner] == winners[flag.id]


async def test_two_moderators_claiming_at_once_on_one_store_have_exactly_one_winner(
    store: ModerationStore, now: int
) -> None:
    await _race_claims(store, store, now, rounds=20)


async def test_two_moderators_claiming_at_once_through_two_stores_have_exactly_one_winner(
    backend: Backend, now: int
) -> None:
    await _race_claims(backend.open(), backend.open(), now, rounds=20)


# Release and resolve


async def test_the_owner_releasing_a_claim_reopens_the_flag(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    await store.claim(flag.id, "ana", now, LEASE)
    released = await store.release(flag.id, "ana", now + 5)
    assert released.state is FlagState.OPEN and released.owner is None
    assert released.lease_until_ms == 0 and released.updated_ms == now + 5
    next_flag = await store.next_open()
    assert next_flag is not None and next_flag.id == flag.id


async def test_only_the_owner_can_release_a_claim(store: ModerationStore, now: int) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    with pytest.raises(FlagError) as unclaimed:
        await store.release(flag.id, "ana", now)
    assert unclaimed.value.code == "not_owner"
    await store.claim(flag.id, "ana", now, LEASE)
    with pytest.raises(FlagError) as other:
        await store.release(flag.id, "ben", now)
    assert other.value.code == "not_owner"
    still = await store.get_flag(flag.id)
    assert still is not None and still.owner == "ana" and still.state is FlagState.CLAIMED


@pytest.mark.parametrize("outcome", list(Outcome))
async def test_resolving_records_the_outcome_and_takes_the_flag_out_of_the_queue(
    store: ModerationStore, now: int, outcome: Outcome
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    await store.claim(flag.id, "ana", now, LEASE)
    resolved = await store.resolve(flag.id, "ana", outcome, "talked it through", now + 9)
    assert resolved.state is FlagState.RESOLVED and resolved.outcome is outcome
    assert (resolved.owner, resolved.note) == ("ana", "talked it through")
    assert resolved.resolved_ms == now + 9 and resolved.lease_until_ms == 0
    assert await store.get_flag(flag.id) == resolved
    assert await store.list_flags() == []
    assert await store.next_open() is None
    assert await store.take_overdue(now + DAY) == []
    assert await store.lapse_expired(now + DAY) == []


async def test_resolved_flags_are_listed_after_live_ones_newest_first_only_when_asked(
    store: ModerationStore, now: int
) -> None:
    live, _ = await store.raise_flag(draft("live", severity="watch", created_ms=now))
    ids = []
    for n in range(3):
        flag, _ = await store.raise_flag(draft(f"done{n}", severity="imminent", created_ms=now))
        await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", now + n)
        ids.append(flag.id)
    assert [f.id for f in await store.list_flags()] == [live.id]
    everything = await store.list_flags(include_resolved=True)
    assert [f.id for f in everything] == [live.id, ids[2], ids[1], ids[0]]
    capped = await store.list_flags(include_resolved=True, limit=2)
    assert [f.id for f in capped] == [live.id, ids[2]]


async def test_resolving_an_open_flag_claims_and_resolves_it(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    resolved = await store.resolve(flag.id, "ben", Outcome.FALSE_ALARM, "song lyrics", now)
    assert resolved.state is FlagState.RESOLVED and resolved.owner == "ben"
    assert resolved.outcome is Outcome.FALSE_ALARM


async def test_resolving_someone_elses_claim_is_a_conflict(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    await store.claim(flag.id, "ana", now, LEASE)
    with pytest.raises(ClaimConflict) as caught:
        await store.resolve(flag.id, "ben", Outcome.SUPPORTED, "", now)
    assert caught.value.owner == "ana"
    still = await store.get_flag(flag.id)
    assert still is not None and still.state is FlagState.CLAIMED


async def test_resolving_a_resolved_flag_is_refused_and_changes_nothing(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    first = await store.resolve(flag.id, "ana", Outcome.REFERRED, "hotline", now)
    with pytest.raises(FlagError) as caught:
        await store.resolve(flag.id, "ana", Outcome.DUPLICATE, "", now + 1)
    assert caught.value.code == "already_resolved"
    with pytest.raises(FlagError):
        await store.release(flag.id, "ana", now + 1)
    with pytest.raises(FlagError):
        await store.escalate(flag.id, "ana", "", now + 1)
    assert await store.get_flag(flag.id) == first


async def test_raising_a_resolved_flags_key_again_returns_the_resolved_flag(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", now)
    again, created = await store.raise_flag(draft(created_ms=now + 1))
    assert not created and again.id == flag.id and again.state is FlagState.RESOLVED


# Escalation and release of held messages


async def test_escalating_an_open_flag_makes_it_due_now(store: ModerationStore, now: int) -> None:
    flag, _ = await store.raise_flag(draft(severity="watch", created_ms=now))
    assert await store.take_overdue(now + 1) == []
    escalated = await store.escalate(flag.id, "ana", "needs a second pair of eyes", now + 1)
    assert escalated.escalated and escalated.state is FlagState.OPEN
    assert escalated.due_ms == now + 1 and escalated.note == "needs a second pair of eyes"
    assert [f.id for f in await store.take_overdue(now + 1)] == [flag.id]


async def test_an_escalated_flag_realerts_at_the_imminent_pace(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(severity="watch", created_ms=now))
    await store.escalate(flag.id, "ana", "", now)
    assert [f.id for f in await store.take_overdue(now)] == [flag.id]
    assert await store.take_overdue(now + DUE_AFTER_MS["imminent"] - 1) == []
    again = await store.take_overdue(now + DUE_AFTER_MS["imminent"])
    assert [f.id for f in again] == [flag.id]


async def test_escalating_a_claimed_flag_keeps_the_claim_and_it_is_due_once_reopened(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(severity="watch", created_ms=now))
    await store.claim(flag.id, "ana", now, LEASE)
    escalated = await store.escalate(flag.id, "ben", "", now + 1)
    assert escalated.owner == "ana" and escalated.state is FlagState.CLAIMED
    assert escalated.escalated and escalated.note == ""
    assert await store.take_overdue(now + 2) == []
    await store.release(flag.id, "ana", now + 3)
    assert [f.id for f in await store.take_overdue(now + 3)] == [flag.id]


async def test_mark_released_records_that_the_held_message_reached_the_room(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now, held=True))
    assert not flag.released and flag.released_id is None and flag.room_message_id == 7
    released = await store.mark_released(flag.id, 12, now + 4)
    assert released.released and released.updated_ms == now + 4
    assert released.released_id == 12 and released.room_message_id == 12
    assert released.state is FlagState.OPEN
    stored = await store.get_flag(flag.id)
    assert stored is not None and stored.released and stored.released_id == 12


async def test_mark_hidden_records_that_the_flags_message_left_the_room(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    assert not flag.hidden
    hidden = await store.mark_hidden(flag.id, now + 3)
    assert hidden.hidden and hidden.updated_ms == now + 3
    assert hidden.state is FlagState.OPEN and hidden.owner is None
    assert await store.get_flag(flag.id) == hidden
    assert await store.list_flags() == [hidden]
    resolved = await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", now + 4)
    assert resolved.hidden, "resolving keeps the record"
    assert (await store.mark_hidden(flag.id, now + 5)).hidden, "a resolved flag records it too"


async def test_releasing_a_hidden_placeholder_leaves_the_released_copy_not_hidden(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now, held=True))
    await store.mark_hidden(flag.id, now + 1)  # the placeholder went first
    released = await store.mark_released(flag.id, 12, now + 2)
    assert released.released and not released.hidden
    hidden = await store.mark_hidden(flag.id, now + 3)
    assert hidden.hidden and hidden.released_id == 12


# Leases


async def test_renewing_leases_extends_every_claim_of_that_moderator_only(
    store: ModerationStore, now: int
) -> None:
    mine = [(await store.raise_flag(draft(f"m{n}", created_ms=now)))[0] for n in range(3)]
    theirs, _ = await store.raise_flag(draft("t", created_ms=now))
    for flag in mine:
        await store.claim(flag.id, "ana", now, LEASE)
    await store.claim(theirs.id, "ben", now, LEASE)
    assert await store.renew_leases("ana", now + 20_000, LEASE) == 3
    assert await store.renew_leases("nobody", now + 20_000, LEASE) == 0
    for flag in mine:
        renewed = await store.get_flag(flag.id)
        assert renewed is not None and renewed.lease_until_ms == now + 20_000 + LEASE
    other = await store.get_flag(theirs.id)
    assert other is not None and other.lease_until_ms == now + LEASE


async def test_an_expired_claim_lapses_back_to_open_exactly_once(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    await store.claim(flag.id, "ana", now, LEASE)
    assert await store.lapse_expired(now + LEASE - 1) == []
    lapsed = await store.lapse_expired(now + LEASE)
    assert [f.id for f in lapsed] == [flag.id]
    assert lapsed[0].state is FlagState.OPEN and lapsed[0].owner is None
    assert lapsed[0].lease_until_ms == 0
    assert await store.lapse_expired(now + LEASE) == []
    assert await store.get_flag(flag.id) == lapsed[0]
    reclaimed = await store.claim(flag.id, "ben", now + LEASE + 1, LEASE)
    assert reclaimed.owner == "ben"


async def test_a_renewed_claim_does_not_lapse_when_its_first_lease_would_have(
    store: ModerationStore, now: int
) -> None:
    kept, _ = await store.raise_flag(draft("kept", created_ms=now))
    dropped, _ = await store.raise_flag(draft("dropped", created_ms=now))
    await store.claim(kept.id, "ana", now, LEASE)
    await store.claim(dropped.id, "ben", now, LEASE)
    await store.renew_leases("ana", now + LEASE - 1, LEASE)
    lapsed = await store.lapse_expired(now + LEASE)
    assert [f.id for f in lapsed] == [dropped.id]
    still = await store.get_flag(kept.id)
    assert still is not None and still.owner == "ana"


async def test_a_lapsed_flag_that_was_already_due_is_overdue_straight_away(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(severity="imminent", created_ms=now))
    await store.claim(flag.id, "ana", now, LEASE)
    later = now + DUE_AFTER_MS["imminent"] + LEASE
    await store.lapse_expired(later)
    assert [f.id for f in await store.take_overdue(later)] == [flag.id]


async def test_two_workers_lapsing_at_once_each_get_different_flags(
    backend: Backend, now: int
) -> None:
    first, second = backend.open(), backend.open()
    flags = [(await first.raise_flag(draft(f"k{n}", created_ms=now)))[0] for n in range(30)]
    for flag in flags:
        await first.claim(flag.id, "ana", now, LEASE)
    results: list[list[str]] = []

    async def lapse(store: ModerationStore) -> None:
        results.append([f.id for f in await store.lapse_expired(now + LEASE)])

    async with anyio.create_task_group() as tg:
        tg.start_soon(lapse, first)
        tg.start_soon(lapse, second)
    assert sorted(results[0] + results[1]) == sorted(f.id for f in flags)


# Overdue re-alerts


async def test_overdue_flags_are_handed_out_once_per_period(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(severity="high", created_ms=now))
    period = DUE_AFTER_MS["high"]
    assert await store.take_overdue(now + period - 1) == []
    taken = await store.take_overdue(now + period)
    assert [f.id for f in taken] == [flag.id] and taken[0].due_ms == now + 2 * period
    assert await store.take_overdue(now + period) == []
    assert await store.take_overdue(now + 2 * period - 1) == []
    assert [f.id for f in await store.take_overdue(now + 2 * period)] == [flag.id]


async def test_overdue_flags_come_most_urgent_first(store: ModerationStore, now: int) -> None:
    watch, _ = await store.raise_flag(draft("w", severity="watch", created_ms=now - HOUR))
    imminent, _ = await store.raise_flag(draft("i", severity="imminent", created_ms=now))
    taken = await store.take_overdue(now + HOUR)
    assert [f.id for f in taken] == [imminent.id, watch.id]


async def test_take_overdue_never_hands_out_claimed_or_resolved_flags(
    store: ModerationStore, now: int
) -> None:
    claimed, _ = await store.raise_flag(draft("c", created_ms=now))
    resolved, _ = await store.raise_flag(draft("r", created_ms=now))
    open_flag, _ = await store.raise_flag(draft("o", created_ms=now))
    await store.claim(claimed.id, "ana", now, DAY)
    await store.resolve(resolved.id, "ana", Outcome.USER_LEFT, "", now)
    assert [f.id for f in await store.take_overdue(now + HOUR)] == [open_flag.id]


async def test_two_workers_taking_overdue_at_once_split_the_flags_without_overlap(
    backend: Backend, now: int
) -> None:
    first, second = backend.open(), backend.open()
    flags = [(await first.raise_flag(draft(f"k{n}", created_ms=now)))[0] for n in range(30)]
    results: list[list[str]] = []

    async def take(store: ModerationStore) -> None:
        results.append([f.id for f in await store.take_overdue(now + HOUR)])

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, first)
        tg.start_soon(take, second)
    assert sorted(results[0] + results[1]) == sorted(f.id for f in flags)


# Time to a human: first claim, first words, the backup list

BACKUP_AFTER = 60_000  # ResponseTargets' default


async def test_an_imminent_flag_nobody_claims_is_handed_out_once_for_the_backup_list(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(severity="imminent", created_ms=now))
    due = now + DUE_AFTER_MS["imminent"] + BACKUP_AFTER
    assert flag.backup_due_ms == due and flag.backup_ms == 0
    assert await store.take_unanswered(due - 1) == []
    (taken,) = await store.take_unanswered(due)
    assert taken.id == flag.id and taken.backup_ms == due
    assert await store.take_unanswered(due + HOUR) == []
    assert (await store.get_flag(flag.id)) == taken


async def test_a_flag_claimed_once_never_calls_the_backup_list_even_when_released(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(severity="high", created_ms=now))
    await store.claim(flag.id, "ana", now + 5, LEASE)
    released = await store.release(flag.id, "ana", now + 6)
    assert released.state is FlagState.OPEN and released.claimed_ms == now + 5
    assert await store.take_unanswered(now + DAY) == []


async def test_concern_and_watch_flags_have_no_backup_and_resolved_ones_call_none(
    store: ModerationStore, now: int
) -> None:
    concern, _ = await store.raise_flag(draft("c", severity="concern", created_ms=now))
    watch, _ = await store.raise_flag(draft("w", severity="watch", created_ms=now))
    done, _ = await store.raise_flag(draft("i", severity="imminent", created_ms=now))
    await store.resolve(done.id, "ana", Outcome.SUPPORTED, "", now + 1)
    assert concern.backup_due_ms == 0 and watch.backup_due_ms == 0
    assert await store.take_unanswered(now + DAY) == []


async def test_the_first_claim_is_kept_and_a_reopened_flag_waits_afresh(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft("report:9", created_ms=now, source="report"))
    await store.claim(flag.id, "ana", now + 5, LEASE)
    await store.mark_first_words(flag.id, now + 8)
    await store.release(flag.id, "ana", now + 9)
    again = await store.claim(flag.id, "ben", now + 10, LEASE)
    assert again.claimed_ms == now + 5 and again.first_words_ms == now + 8
    await store.resolve(flag.id, "ben", Outcome.SUPPORTED, "", now + 20)
    later = now + HOUR
    reopened, raised = await store.raise_or_fold(
        draft("report:9", created_ms=later, source="report")
    )
    assert raised is Raised.REOPENED
    assert (reopened.claimed_ms, reopened.first_words_ms, reopened.backup_ms) == (0, 0, 0)
    severity = reopened.draft.severity
    assert reopened.backup_due_ms == later + DUE_AFTER_MS[severity] + BACKUP_AFTER
    assert reopened.waiting_since_ms == later
    (taken,) = await store.take_unanswered(reopened.backup_due_ms)
    assert taken.id == flag.id


async def test_first_words_are_recorded_once_and_never_on_a_resolved_flag(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft("a", created_ms=now))
    done, _ = await store.raise_flag(draft("b", created_ms=now))
    await store.resolve(done.id, "ana", Outcome.SUPPORTED, "", now + 1)
    said = await store.mark_first_words(flag.id, now + 30)
    assert said is not None and said.first_words_ms == now + 30
    assert await store.mark_first_words(flag.id, now + 40) is None
    assert (await store.get_flag(flag.id)) == said
    assert await store.mark_first_words(done.id, now + 40) is None
    assert await store.mark_first_words("0000000000000000", now) is None


async def test_two_workers_taking_unanswered_at_once_split_the_flags_without_overlap(
    backend: Backend, now: int
) -> None:
    first, second = backend.open(), backend.open()
    flags = [
        (await first.raise_flag(draft(f"k{n}", severity="imminent", created_ms=now)))[0]
        for n in range(30)
    ]
    results: list[list[str]] = []

    async def take(store: ModerationStore) -> None:
        results.append([f.id for f in await store.take_unanswered(now + HOUR)])

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, first)
        tg.start_soon(take, second)
    assert sorted(results[0] + results[1]) == sorted(f.id for f in flags)


async def test_a_store_built_with_other_targets_sets_due_and_backup_times_by_them(
    backend: Backend, tmp_path: Path, now: int
) -> None:
    targets = ResponseTargets(
        due_after_ms={**DUE_AFTER_MS, "imminent": 2_000, "high": 9_000}, backup_after_ms=500
    )
    probe = backend.open()
    if isinstance(probe, SqliteModerationStore):
        store: ModerationStore = SqliteModerationStore(tmp_path / "t.sqlite3", targets=targets)
    else:
        assert isinstance(probe, RedisModerationStore)
        store = RedisModerationStore(probe._redis, targets=targets)
    try:
        flag, _ = await store.raise_flag(draft(severity="imminent", created_ms=now))
        assert flag.due_ms == now + 2_000 and flag.backup_due_ms == now + 2_500
        assert [f.id for f in await store.take_overdue(now + 2_000)] == [flag.id]
        assert (await store.get_flag(flag.id)) is not None
        assert [f.id for f in await store.take_unanswered(now + 2_500)] == [flag.id]
    finally:
        if isinstance(store, SqliteModerationStore):
            await store.aclose()


# Moderators and sessions


async def test_moderators_can_be_added_replaced_and_listed(store: ModerationStore) -> None:
    assert await store.moderator_names() == []
    assert await store.password_hash("ana") is None
    await store.add_moderator("ben", "scrypt$old")
    await store.add_moderator("ana", "scrypt$a")
    await store.add_moderator("ben", "scrypt$new")
    assert await store.moderator_names() == ["ana", "ben"]
    assert await store.password_hash("ben") == "scrypt$new"
    assert await store.password_hash("ana") == "scrypt$a"


async def test_an_account_is_a_volunteer_until_given_a_role_and_loses_it_when_removed(
    store: ModerationStore,
) -> None:
    assert await store.role_of("ana") is None
    assert await store.set_role("ana", Role.ADMIN) is False, "no account, no role"
    await store.add_moderator("ana", "scrypt$a")
    assert await store.role_of("ana") == DEFAULT_ROLE == Role.VOLUNTEER
    assert await store.set_role("ana", Role.COORDINATOR) is True
    await store.add_moderator("ana", "scrypt$changed")  # a new password keeps the role
    assert await store.role_of("ana") == Role.COORDINATOR
    await store.add_moderator("ben", "scrypt$b")
    assert await store.role_of("ben") == Role.VOLUNTEER, "one account's role is its own"
    assert await store.remove_moderator("ana") is True
    assert await store.role_of("ana") is None
    await store.add_moderator("ana", "scrypt$again")
    assert await store.role_of("ana") == Role.VOLUNTEER, "a re-created account starts afresh"


async def test_each_moderators_shifts_are_replaced_whole_and_listed_together(
    store: ModerationStore,
) -> None:
    assert await store.shifts() == []
    ana = [Shift("ana", 0, 540, 120, "Europe/London"), Shift("ana", 2, 1320, 240, "UTC")]
    await store.set_shifts("ana", ana)
    await store.set_shifts("ben", [Shift("ben", 6, 0, 60, "Asia/Tokyo")])
    assert await store.shifts() == [*ana, Shift("ben", 6, 0, 60, "Asia/Tokyo")]
    await store.set_shifts("ana", [ana[1]])
    await store.set_shifts("ben", [])
    assert await store.shifts() == [ana[1]]


async def test_a_session_names_its_moderator_until_it_expires_or_ends(
    store: ModerationStore, now: int
) -> None:
    await store.add_moderator("ana", "scrypt$a")
    await store.create_session("h1", "ana", now + HOUR)
    await store.create_session("h2", "ana", now + HOUR)
    assert await store.session_owner("h1", now) == "ana"
    assert await store.session_owner("h1", now + HOUR - 1) == "ana"
    assert await store.session_owner("h1", now + HOUR) is None
    assert await store.session_owner("unknown", now) is None
    await store.end_session("h1")
    assert await store.session_owner("h1", now) is None
    assert await store.session_owner("h2", now) == "ana"


async def test_a_new_password_ends_every_session_signed_in_with_the_old_one(
    store: ModerationStore, now: int
) -> None:
    """A stolen cookie must not outlive the password change that answers the theft."""
    await store.add_moderator("ana", "scrypt$a")
    await store.add_moderator("ben", "scrypt$b")
    await store.create_session("h1", "ana", now + HOUR)
    await store.create_session("h2", "ben", now + HOUR)
    await store.add_moderator("ana", "scrypt$a")  # the same password again: nothing ends
    assert await store.session_owner("h1", now) == "ana"
    await store.add_moderator("ana", "scrypt$changed")
    assert await store.session_owner("h1", now) is None
    assert await store.session_owner("h2", now) == "ben", "other moderators keep theirs"
    await store.create_session("h3", "ana", now + HOUR)
    assert await store.session_owner("h3", now) == "ana", "signing in again works"


async def test_removing_a_moderator_ends_their_sessions_and_their_account(
    store: ModerationStore, now: int
) -> None:
    await store.add_moderator("ana", "scrypt$a")
    await store.add_moderator("ben", "scrypt$b")
    await store.create_session("h1", "ana", now + HOUR)
    await store.create_session("h2", "ben", now + HOUR)
    assert await store.remove_moderator("ana") is True
    assert await store.remove_moderator("ana") is False
    assert await store.session_owner("h1", now) is None
    assert await store.password_hash("ana") is None
    assert await store.moderator_names() == ["ben"]
    assert await store.session_owner("h2", now) == "ben"
    await store.add_moderator("ana", "scrypt$a2")  # real hashes are salted: never the same
    assert await store.session_owner("h1", now) is None, "a re-created account starts afresh"


async def test_a_session_can_only_be_created_for_an_existing_moderator(
    store: ModerationStore, now: int
) -> None:
    with pytest.raises(ValueError, match="moderator"):
        await store.create_session("h1", "ghost", now + HOUR)
    assert await store.session_owner("h1", now) is None


# Audit log and retention


async def test_audit_entries_come_back_newest_first_up_to_the_limit(
    store: ModerationStore, now: int
) -> None:
    entries = [
        AuditEntry(now + n, "ana", "claim", f"f{n}", "why", {"n": n, "list": [1, "ü"]})
        for n in range(5)
    ]
    for entry in [entries[2], entries[0], entries[4], entries[1], entries[3]]:
        await store.audit(entry)
    same_time = AuditEntry(now + 4, "ben", "resolve", "f4")
    await store.audit(same_time)
    assert await store.audit_log() == [same_time, *reversed(entries)]
    assert await store.audit_log(limit=2) == [same_time, entries[4]]


async def test_prune_removes_old_resolved_flags_and_audit_entries_and_never_live_ones(
    store: ModerationStore, now: int
) -> None:
    retention = 30 * DAY
    long_ago = now - 90 * DAY
    old_open, _ = await store.raise_flag(draft("open", created_ms=long_ago))
    old_claimed, _ = await store.raise_flag(draft("claimed", created_ms=long_ago))
    old_resolved, _ = await store.raise_flag(draft("old", created_ms=long_ago))
    new_resolved, _ = await store.raise_flag(draft("new", created_ms=long_ago))
    await store.claim(old_claimed.id, "ana", long_ago, LEASE)
    await store.resolve(old_resolved.id, "ana", Outcome.SUPPORTED, "", long_ago)
    await store.resolve(new_resolved.id, "ana", Outcome.SUPPORTED, "", now - DAY)
    await store.audit(AuditEntry(long_ago, "ana", "resolve", old_resolved.id))
    recent = AuditEntry(now - DAY, "ana", "resolve", new_resolved.id)
    await store.audit(recent)

    assert await store.prune(now, retention) == 2
    assert await store.get_flag(old_resolved.id) is None
    remaining = await store.list_flags(include_resolved=True)
    assert {f.id for f in remaining} == {old_open.id, old_claimed.id, new_resolved.id}
    assert await store.audit_log() == [recent]
    assert await store.prune(now, retention) == 0
    assert await store.prune(now + 10 * 365 * DAY, retention) == 2
    survivors = await store.list_flags(include_resolved=True)
    assert {f.id for f in survivors} == {old_open.id, old_claimed.id}


async def test_a_pruned_flags_key_raises_a_new_flag(store: ModerationStore, now: int) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now - 90 * DAY))
    await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", now - 90 * DAY)
    await store.prune(now, 30 * DAY)
    again, created = await store.raise_flag(draft(created_ms=now))
    assert created and again.id != flag.id and again.state is FlagState.OPEN


# The case around the person


async def test_a_checkin_and_a_follow_up_are_recorded_on_the_flag_in_any_state(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(draft(created_ms=now))
    opened = await store.mark_checkin(flag.id, "checkin-abc", now + 1)
    assert opened.checkin_room == "checkin-abc" and opened.updated_ms == now + 1
    await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", now + 2)
    followed = await store.mark_followed_up(flag.id, now + 3)
    assert followed.followed_up_ms == now + 3 and followed.state is FlagState.RESOLVED
    assert followed.checkin_room == "checkin-abc"
    assert await store.get_flag(flag.id) == followed
    with pytest.raises(FlagError) as missing:
        await store.mark_checkin("nope", "checkin-abc", now)
    assert missing.value.code == "not_found"


async def test_notes_come_back_by_subject_newest_first(store: ModerationStore, now: int) -> None:
    first = CaseNote(now, "ana", "f1", "Called back; she is with her sister.")
    second = CaseNote(now + 1, "ben", "f1", "Follow up tomorrow 🌅")
    same_time = CaseNote(now + 1, "ana", "f1", "written after, at the same time")
    handover = CaseNote(now, "ana", HANDOVER, "Quiet night; f1 may come back.")
    for note in (first, handover, second, same_time):
        await store.add_note(note)
    assert await store.notes("f1") == [same_time, second, first]
    assert await store.notes("f1", limit=1) == [same_time]
    assert await store.notes(HANDOVER) == [handover]
    assert await store.notes("f2") == []


async def test_prune_takes_a_pruned_flags_notes_and_old_handovers_with_it(
    store: ModerationStore, now: int
) -> None:
    long_ago = now - 90 * DAY
    old, _ = await store.raise_flag(draft("old", created_ms=long_ago))
    live, _ = await store.raise_flag(draft("live", created_ms=long_ago))
    await store.resolve(old.id, "ana", Outcome.SUPPORTED, "", long_ago)
    for subject in (old.id, live.id, HANDOVER):
        await store.add_note(CaseNote(long_ago, "ana", subject, "old"))
    recent = CaseNote(now, "ana", HANDOVER, "new")
    await store.add_note(recent)
    await store.prune(now, 30 * DAY)
    assert await store.notes(old.id) == []
    assert [n.text for n in await store.notes(live.id)] == ["old"]
    assert await store.notes(HANDOVER) == [recent]


async def test_resolved_cases_are_found_by_room_category_outcome_and_date(
    store: ModerationStore, now: int
) -> None:
    cases = [
        ("a", "newcomers", ("suicide",), Outcome.SUPPORTED, now - 3 * DAY),
        ("b", "alcohol", ("overdose",), Outcome.REFERRED, now - 2 * DAY),
        ("c", "newcomers", ("overdose", "relapse"), Outcome.FALSE_ALARM, now - DAY),
        ("d", "newcomers", ("suicide",), Outcome.SUPPORTED, now - HOUR),
    ]
    ids = {}
    for key, room, categories, outcome, at in cases:
        flag, _ = await store.raise_flag(
            draft(key, created_ms=at - MINUTE, room=room, categories=categories)
        )
        await store.resolve(flag.id, "ana", outcome, "", at)
        ids[flag.id] = key
    await store.raise_flag(draft("live", created_ms=now))  # never a search result

    async def found(**fields: object) -> list[str]:
        return [ids[f.id] for f in await store.search_resolved(CaseQuery(**fields))]  # type: ignore[arg-type]

    assert await found() == ["d", "c", "b", "a"]
    assert await found(room="newcomers") == ["d", "c", "a"]
    assert await found(category="overdose") == ["c", "b"]
    assert await found(outcome="supported", room="newcomers") == ["d", "a"]
    assert await found(from_ms=now - 2 * DAY, to_ms=now - DAY) == ["b"]
    assert await found(from_ms=now - 2 * DAY) == ["d", "c", "b"]
    assert await found(room="alcohol", category="suicide") == []
    limited = await store.search_resolved(CaseQuery(room="newcomers"), limit=2)
    assert [ids[f.id] for f in limited] == ["d", "c"]


# Sanctions


async def test_active_sanctions_are_the_unexpired_ones_of_that_identity(
    store: ModerationStore, now: int
) -> None:
    mute = Sanction("u1", "mute", now + HOUR, "ana", "spam")
    ban = Sanction("u1", "ban", now + DAY, "ben")
    expired = Sanction("u1", "mute", now - 1, "ana")
    other = Sanction("u2", "ban", now + DAY, "ana")
    for sanction in (mute, expired, ban, other):
        await store.sanction(sanction)
    assert await store.active_sanctions("u1", now) == [ban, mute]
    assert await store.active_sanctions("u1", now + HOUR) == [ban]
    assert await store.active_sanctions("u1", now + DAY) == []
    assert await store.active_sanctions("u3", now) == []


async def test_ending_a_sanction_moves_only_that_sanctions_end(
    store: ModerationStore, now: int
) -> None:
    """An appeal decided: lifted (the end becomes now) or shortened; the other sanctions of the
    identity, and a sanction that is not there, are left alone."""
    mute = Sanction("u1", "mute", now + DAY, "ana", "spam")
    ban = Sanction("u1", "ban", now + DAY, "ben", "dealing")
    for sanction in (mute, ban):
        await store.sanction(sanction)
    assert await store.end_sanction(mute, now + HOUR)
    assert await store.active_sanctions("u1", now) == [ban, replace(mute, until_ms=now + HOUR)]
    assert await store.end_sanction(ban, now)
    assert await store.active_sanctions("u1", now) == [replace(mute, until_ms=now + HOUR)]
    assert not await store.end_sanction(Sanction("u2", "mute", now + DAY, "ana"), now)


def _hold(source: str, uid: str, until_ms: int) -> Sanction:
    """A ban's hold on a network, as the worker that closed the banned person's sockets
    records it (server/lifespan.py)."""
    return Sanction(f"source:{source}", "ban", until_ms, "", "held by a ban", held_for=uid)


async def test_ending_a_bans_holds_moves_exactly_the_holds_it_placed(
    store: ModerationStore, now: int
) -> None:
    """A ban lifted or shortened on appeal: the networks it held are held no longer (or only
    until its new end); a network another standing ban also holds stays held by that ban, and
    a hold of the same identity's other ban stays too."""
    ban_end, other_end = now + DAY, now + 2 * DAY
    home, shelter = _hold("home", "u1", ban_end), _hold("shelter", "u1", ban_end)
    neighbour = _hold("shelter", "u2", ban_end)  # another person's ban, the same end
    cafe = _hold("cafe", "u1", other_end)  # a second ban of u1, not appealed
    for hold in (home, shelter, neighbour, cafe):
        await store.sanction(hold)
    assert sorted(await store.active_sanctions("source:shelter", now), key=str) == sorted(
        [neighbour, shelter], key=str
    )

    assert await store.end_holds("u1", ban_end, now + HOUR) == 2
    assert await store.active_sanctions("source:home", now) == [replace(home, until_ms=now + HOUR)]
    assert await store.active_sanctions("source:home", now + HOUR) == []
    assert await store.active_sanctions("source:shelter", now + HOUR) == [neighbour]
    assert await store.active_sanctions("source:cafe", now + HOUR) == [cafe]

    # Lifted after being shortened (the end it was placed with no longer matches): nothing
    # moves; lifted from its current end: the hold ends now.
    assert await store.end_holds("u1", ban_end, now) == 0
    assert await store.end_holds("u1", now + HOUR, now) == 2
    assert await store.active_sanctions("source:home", now) == []
    assert await store.active_sanctions("source:shelter", now) == [neighbour]
    assert await store.active_sanctions("source:cafe", now) == [cafe]
    assert await store.end_holds("u3", ban_end, now) == 0


async def test_a_hold_is_seen_by_another_worker_and_ended_by_it(backend: Backend, now: int) -> None:
    """The hold is recorded by the worker that closed the sockets; the coordinator's decision
    lands on any worker, which must find it."""
    placing, deciding = backend.open(), backend.open()
    hold = _hold("home", "u1", now + DAY)
    await placing.sanction(hold)
    assert await deciding.active_sanctions("source:home", now) == [hold]
    assert await deciding.end_holds("u1", now + DAY, now) == 1
    assert await backend.open().active_sanctions("source:home", now) == []


async def test_many_concurrent_lookups_each_get_their_own_identitys_sanctions(
    store: ModerationStore, now: int
) -> None:
    """Lookups arriving together (a reconnect storm's hellos) may share a round trip; each
    still gets exactly its own identity's answer, past the batch size too."""
    banned = Sanction("u-banned", "ban", now + DAY, "ana")
    muted = Sanction("u-muted", "mute", now + HOUR, "ben")
    for sanction in (banned, muted):
        await store.sanction(sanction)
    uids = [f"u-{i}" for i in range(600)] + ["u-banned", "u-muted"] * 50
    random.Random(3).shuffle(uids)
    expected = {"u-banned": [banned], "u-muted": [muted]}
    answers = await asyncio.gather(*(store.active_sanctions(uid, now) for uid in uids))
    assert answers == [expected.get(uid, []) for uid in uids]


async def test_a_sessions_claims_are_its_own_and_forgotten_once_taken(
    store: ModerationStore, now: int
) -> None:
    await store.remember_claim("laptop", "f1", now + HOUR)
    await store.remember_claim("laptop", "f2", now + HOUR)
    await store.remember_claim("phone", "f3", now + HOUR)
    await store.remember_claim("laptop", "f1", now + HOUR)  # claimed again: still once
    assert await store.take_session_claims("laptop") == ["f1", "f2"]
    assert await store.take_session_claims("laptop") == []
    assert await store.take_session_claims("phone") == ["f3"]


async def test_a_mark_goes_to_exactly_one_caller_until_it_expires(
    backend: Backend, now: int
) -> None:
    one, two = backend.open(), backend.open()
    wins = await asyncio.gather(*(s.first_to_mark("gap:1", now, now + HOUR) for s in (one, two)))
    assert sorted(wins) == [False, True]
    assert await one.first_to_mark("gap:2", now, now + HOUR)
    assert not await one.first_to_mark("gap:3", now, now), "an expired mark is never taken"


# Token revocations


async def test_a_revocation_is_kept_until_its_end_for_that_identity_only(
    store: ModerationStore, now: int
) -> None:
    """A ban's revocation answers `before_ms` until `until_ms`, then 0; others are unaffected."""
    assert await store.tokens_revoked_before("u1", now) == 0
    await store.revoke_tokens(Revocation("u1", now + HOUR, now + DAY))
    assert await store.tokens_revoked_before("u1", now) == now + HOUR
    assert await store.tokens_revoked_before("u1", now + DAY - 1) == now + HOUR
    assert await store.tokens_revoked_before("u1", now + DAY) == 0
    assert await store.tokens_revoked_before("u2", now) == 0


async def test_a_second_revocation_never_narrows_or_shortens_the_first(
    store: ModerationStore, now: int
) -> None:
    """Two bans of one identity: the later `before_ms` and the later `until_ms` are kept,
    whichever order the two are recorded in."""
    await store.revoke_tokens(Revocation("u1", now + 2 * HOUR, now + 2 * DAY))
    await store.revoke_tokens(Revocation("u1", now + HOUR, now + 3 * DAY))
    assert await store.tokens_revoked_before("u1", now + 2 * DAY + 1) == now + 2 * HOUR
    await store.revoke_tokens(Revocation("u1", now + 5 * HOUR, now + DAY))
    assert await store.tokens_revoked_before("u1", now + 3 * DAY - 1) == now + 5 * HOUR


async def test_a_lifted_revocation_is_gone_for_that_identity_only(
    store: ModerationStore, now: int
) -> None:
    await store.revoke_tokens(Revocation("u1", now + HOUR, now + DAY))
    await store.revoke_tokens(Revocation("u2", now + HOUR, now + DAY))
    await store.lift_revocation("u1")
    assert await store.tokens_revoked_before("u1", now) == 0
    assert await store.tokens_revoked_before("u2", now) == now + HOUR


async def test_many_concurrent_revocation_lookups_each_get_their_own_answer(
    store: ModerationStore, now: int
) -> None:
    """Like sanctions, revocation lookups of a reconnect storm may share a round trip."""
    await store.revoke_tokens(Revocation("u-revoked", now + HOUR, now + DAY))
    uids = [f"u-{i}" for i in range(600)] + ["u-revoked"] * 50
    random.Random(5).shuffle(uids)
    answers = await asyncio.gather(*(store.tokens_revoked_before(uid, now) for uid in uids))
    assert answers == [now + HOUR if uid == "u-revoked" else 0 for uid in uids]


# Restarts


async def test_a_store_reopened_on_the_same_data_sees_everything(
    backend: Backend, now: int
) -> None:
    store = backend.open()
    flag, _ = await store.raise_flag(draft(created_ms=now, held=True))
    await store.mark_hidden(flag.id, now)
    await store.mark_released(flag.id, 12, now)
    await store.mark_hidden(flag.id, now)
    claimed = await store.claim(flag.id, "ana", now, LEASE)
    assert claimed.hidden and claimed.released_id == 12
    done, _ = await store.raise_flag(draft("done", created_ms=now))
    resolved = await store.resolve(done.id, "ana", Outcome.REFERRED, "hotline", now)
    await store.add_moderator("ana", "scrypt$a")
    await store.create_session("h1", "ana", now + HOUR)
    entry = AuditEntry(now, "ana", "claim", flag.id, "", {"k": "v"})
    await store.audit(entry)
    ban = Sanction("u1", "ban", now + DAY, "ana", "threats")
    await store.sanction(ban)
    await store.revoke_tokens(Revocation("u1", now + HOUR, now + DAY))
    await store.aclose()

    reopened = backend.open()
    assert await reopened.get_flag(flag.id) == claimed
    assert await reopened.list_flags(include_resolved=True) == [claimed, resolved]
    again, created = await reopened.raise_flag(draft(created_ms=now + 1))
    assert not created and again.id == flag.id
    assert await reopened.password_hash("ana") == "scrypt$a"
    assert await reopened.session_owner("h1", now) == "ana"
    assert await reopened.audit_log() == [entry]
    assert await reopened.active_sanctions("u1", now) == [ban]
    assert await reopened.tokens_revoked_before("u1", now) == now + HOUR
    assert [f.id for f in await reopened.lapse_expired(now + LEASE)] == [flag.id]


# SQLite specifics


async def test_sqlite_prunes_a_revocation_once_it_ended(tmp_path: Path, now: int) -> None:
    """(Redis expires the key itself, at `until_ms`.)"""
    store = SqliteModerationStore(tmp_path / "moderation.sqlite3")
    try:
        await store.revoke_tokens(Revocation("u1", now + HOUR, now + DAY))
        await store.prune(now + HOUR, 30 * DAY)
        assert await store.tokens_revoked_before("u1", now) == now + HOUR
        await store.prune(now + DAY, 30 * DAY)
        assert await store.tokens_revoked_before("u1", now) == 0
    finally:
        await store.aclose()


async def test_sqlite_refuses_a_file_written_by_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "moderation.sqlite3"
    await SqliteModerationStore(path).aclose()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    db.close()
    with pytest.raises(RuntimeError, match="schema 99"):
        SqliteModerationStore(path)


_SCHEMA_3_COLUMNS = ("claimed_ms", "first_words_ms", "backup_due_ms", "backup_ms")
_SCHEMA_4_COLUMNS = ("checkin_room", "followed_up_ms")


async def test_sqlite_upgrades_a_schema_2_file_keeping_every_flag_and_calling_no_backup(
    tmp_path: Path, now: int
) -> None:
    """A file written before time to a human was kept (schema 2) opens with every flag and
    records claims from then on."""
    path = tmp_path / "moderation.sqlite3"
    store = SqliteModerationStore(path)
    flag, _ = await store.raise_flag(draft(created_ms=now, severity="imminent"))
    await store.aclose()
    with sqlite3.connect(path) as db:
        for column in (*_SCHEMA_3_COLUMNS, *_SCHEMA_4_COLUMNS):
            db.execute(f"ALTER TABLE flags DROP COLUMN {column}")
        db.execute("UPDATE schema_version SET version = 2")
    db.close()
    upgraded = SqliteModerationStore(path)
    try:
        assert await upgraded.get_flag(flag.id) == replace(flag, backup_due_ms=0)
        assert await upgraded.take_unanswered(now + DAY) == []
        claimed = await upgraded.claim(flag.id, "ana", now + 7, LEASE)
        assert claimed.claimed_ms == now + 7
    finally:
        await upgraded.aclose()


async def test_sqlite_upgrades_a_schema_1_file_keeping_every_flag(tmp_path: Path, now: int) -> None:
    """A file written before flags recorded hiding (schema 1) opens, reads, and gains it."""
    path = tmp_path / "moderation.sqlite3"
    store = SqliteModerationStore(path)
    flag, _ = await store.raise_flag(draft("report:m7", created_ms=now, source="report"))
    resolved = await store.resolve(flag.id, "ana", Outcome.SUPPORTED, "", now)
    await store.aclose()
    with sqlite3.connect(path) as db:
        for column in (
            "hidden",
            "released_id",
            "reopened_ms",
            *_SCHEMA_3_COLUMNS,
            *_SCHEMA_4_COLUMNS,
        ):
            db.execute(f"ALTER TABLE flags DROP COLUMN {column}")
        db.execute("UPDATE schema_version SET version = 1")
    db.close()

    upgraded = SqliteModerationStore(path)
    try:
        # A flag written before backups were kept calls none (its backup time reads as 0).
        assert await upgraded.get_flag(flag.id) == replace(resolved, backup_due_ms=0)
        versions = upgraded._conn.execute("SELECT version FROM schema_version").fetchall()
        assert [tuple(row) for row in versions] == [(4,)]
        hidden = await upgraded.mark_hidden(flag.id, now + 1)
        assert hidden.hidden
        reopened, raised = await upgraded.raise_or_fold(
            draft("report:m7", created_ms=now + 2, source="report")
        )
        assert raised is Raised.REOPENED and reopened.reopened_ms == now + 2
    finally:
        await upgraded.aclose()
    again = SqliteModerationStore(path)  # and opens again as schema 4, without migrating twice
    try:
        stored = await again.get_flag(flag.id)
        assert stored is not None and stored.hidden and stored.state is FlagState.OPEN
    finally:
        await again.aclose()


async def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "moderation.sqlite3"
    store = SqliteModerationStore(path)
    try:
        db = store._conn
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        await store.aclose()


async def test_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path, now: int) -> None:
    path = tmp_path / "new-dir" / "moderation.sqlite3"
    store = SqliteModerationStore(path)
    try:
        await store.raise_flag(draft(created_ms=now))
        files = sorted(path.parent.iterdir())
        assert [f.name for f in files] == [
            "moderation.sqlite3",
            "moderation.sqlite3-shm",
            "moderation.sqlite3-wal",
        ]
        assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    finally:
        await store.aclose()


# Redis specifics


async def test_redis_prune_trusts_the_flags_own_state_over_the_resolved_index(
    tmp_path: Path, now: int
) -> None:
    """Even if the resolved index wrongly listed an open flag, prune would not delete it."""
    server = RedisProcess(tmp_path / "redis").start()
    client = aioredis.from_url(server.url)
    store = RedisModerationStore(client)
    try:
        flag, _ = await store.raise_flag(draft(created_ms=now - 90 * DAY))
        await client.zadd("harbor:{mod}:flags:resolved", {flag.id: now - 90 * DAY})
        assert await store.prune(now, 30 * DAY) == 0
        assert await store.get_flag(flag.id) == flag
        await store.aclose()
        assert await client.ping(), "a store must not close a client it was lent"
    finally:
        await store.aclose()
        await client.aclose()
        server.stop()


# Both backends, one random history


_MODERATORS = ("ana", "ben")
# Multiples of 10 ms, and a flag's age is `now + key index` (0..2): no two flags ever tie on
# (severity, age), since a tie orders by the random id, which differs between the backends.
_STEPS = (10, LEASE - 10, LEASE, MINUTE, 5 * MINUTE, HOUR)
_OPERATIONS = st.one_of(
    st.tuples(st.just("raise"), st.integers(0, 2), st.sampled_from(SEVERITY_ORDER), st.booleans()),
    st.tuples(st.just("claim"), st.integers(0, 2), st.sampled_from(_MODERATORS)),
    st.tuples(st.just("release"), st.integers(0, 2), st.sampled_from(_MODERATORS)),
    st.tuples(
        st.just("resolve"),
        st.integers(0, 2),
        st.sampled_from(_MODERATORS),
        st.sampled_from(Outcome),
    ),
    st.tuples(st.just("escalate"), st.integers(0, 2), st.sampled_from(_MODERATORS)),
    st.tuples(st.just("mark_released"), st.integers(0, 2)),
    st.tuples(st.just("mark_hidden"), st.integers(0, 2)),
    st.tuples(st.just("renew"), st.sampled_from(_MODERATORS)),
    st.tuples(st.just("lapse")),
    st.tuples(st.just("overdue")),
    st.tuples(st.just("unanswered")),
    st.tuples(st.just("first_words"), st.integers(0, 2)),
    st.tuples(st.just("next_open")),
    st.tuples(st.just("prune"), st.sampled_from((MINUTE, HOUR))),
    st.tuples(st.just("tick"), st.sampled_from(_STEPS)),
)


class _Replica:
    """One store driven by the random history; flag ids are named by their key so the two
    backends' (random) ids compare equal."""

    def __init__(self, store: ModerationStore) -> None:
        self.store = store
        self.ids: dict[int, str] = {}

    def named(self, value: object) -> object:
        names = {flag_id: f"key{index}" for index, flag_id in self.ids.items()}
        if isinstance(value, Flag):
            return replace(value, id=names.get(value.id, "?"))
        if isinstance(value, list | tuple):
            return [self.named(item) for item in value]
        return value

    async def apply(self, operation: tuple[object, ...], now: int) -> object:
        """The operation's result (flags renamed), or the error it raised, as comparable data."""
        kind, *args = operation
        store = self.store
        try:
            if kind == "raise":
                index, severity, report = args
                assert isinstance(index, int) and isinstance(severity, str)
                flag, raised = await store.raise_or_fold(
                    draft(
                        f"room:u:{index}",
                        severity=severity,
                        created_ms=now + index,
                        source="report" if report else "classifier",
                    )
                )
                self.ids.setdefault(index, flag.id)
                return [self.named(flag), raised]
            if kind in {"tick", "renew", "lapse", "overdue", "unanswered", "next_open", "prune"}:
                return self.named(await self._no_flag(kind, args, now))
            index = args[0]
            assert isinstance(index, int)
            flag_id = self.ids.get(index, f"missing{index}")
            if kind == "claim":
                return self.named(await store.claim(flag_id, str(args[1]), now, LEASE))
            if kind == "release":
                return self.named(await store.release(flag_id, str(args[1]), now))
            if kind == "resolve":
                outcome = args[2]
                assert isinstance(outcome, Outcome)
                return self.named(await store.resolve(flag_id, str(args[1]), outcome, "n", now))
            if kind == "escalate":
                return self.named(await store.escalate(flag_id, str(args[1]), "e", now))
            if kind == "mark_hidden":
                return self.named(await store.mark_hidden(flag_id, now))
            if kind == "first_words":
                return self.named(await store.mark_first_words(flag_id, now))
            assert kind == "mark_released"
            return self.named(await store.mark_released(flag_id, 100 + index, now))
        except ClaimConflict as conflict:
            return ("conflict", conflict.owner, conflict.state)
        except FlagError as error:
            return ("error", error.code)

    async def _no_flag(self, kind: object, args: list[object], now: int) -> object:
        store = self.store
        if kind == "renew":
            return await store.renew_leases(str(args[0]), now, LEASE)
        if kind == "tick":  # time passing: the server's sweep runs, as it would
            lapsed = await store.lapse_expired(now)
            return (lapsed, await store.take_overdue(now), await store.take_unanswered(now))
        if kind == "lapse":
            return await store.lapse_expired(now)
        if kind == "overdue":
            return await store.take_overdue(now)
        if kind == "unanswered":
            return await store.take_unanswered(now)
        if kind == "next_open":
            return await store.next_open()
        if kind == "prune":
            retention = args[0]
            assert isinstance(retention, int)
            return await store.prune(now, retention)
        return None

    async def snapshot(self) -> object:
        """Every flag, in list order -- except that resolved flags resolved in the same
        millisecond are put in key order: the contract orders them by id, and the two backends'
        ids are random (this once failed one run in about 40)."""
        flags = await self.store.list_flags(include_resolved=True)
        named = [flag for flag in map(self.named, flags) if isinstance(flag, Flag)]
        live = [flag for flag in named if flag.state is not FlagState.RESOLVED]
        resolved = [flag for flag in named if flag.state is FlagState.RESOLVED]
        assert [f.resolved_ms for f in resolved] == sorted(
            (f.resolved_ms for f in resolved), reverse=True
        )
        return live + sorted(resolved, key=lambda flag: (-flag.resolved_ms, flag.id))


@pytest.fixture
def shared_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(history=st.lists(_OPERATIONS, max_size=40))
@example(history=[("raise", 0, "high", False), ("claim", 0, "ana"), ("tick", LEASE)])
@example(
    history=[
        ("raise", 1, "watch", True),
        ("escalate", 1, "ben"),
        ("claim", 1, "ana"),
        ("tick", LEASE),
        ("tick", MINUTE),
        ("raise", 1, "watch", True),
        ("resolve", 1, "ben", Outcome.ESCALATED),
        ("prune", MINUTE),
        ("tick", HOUR),
        ("prune", MINUTE),
    ]
)
@example(
    history=[
        ("raise", 0, "concern", True),
        ("escalate", 0, "ana"),
        ("mark_hidden", 0),
        ("resolve", 0, "ana", Outcome.FALSE_ALARM),
        ("tick", HOUR),
        ("raise", 0, "concern", True),
        ("next_open",),
        ("overdue",),
        ("raise", 0, "concern", True),
        ("resolve", 0, "ben", Outcome.SUPPORTED),
        ("prune", MINUTE),
    ]
)
async def test_sqlite_and_redis_give_the_same_answers_to_any_history(
    history: list[tuple[object, ...]], tmp_path: Path, shared_redis: RedisProcess
) -> None:
    """Each example starts from empty stores (a new file, a flushed Redis)."""
    client = aioredis.from_url(shared_redis.url)
    await client.flushdb()
    path = tmp_path / f"{secrets.token_hex(8)}.sqlite3"
    replicas = [_Replica(SqliteModerationStore(path)), _Replica(RedisModerationStore(client))]
    now = int(time.time() * 1000) // 10 * 10
    try:
        for operation in history:
            if operation[0] == "tick":
                step = operation[1]
                assert isinstance(step, int)
                now += step
            sqlite_answer, redis_answer = [await r.apply(operation, now) for r in replicas]
            assert sqlite_answer == redis_answer, operation
            assert await replicas[0].snapshot() == await replicas[1].snapshot(), operation
    finally:
        for replica in replicas:
            await replica.store.aclose()
        await client.aclose()


# A writer deleting their message


async def test_a_deleted_message_leaves_every_flags_earlier_messages_in_its_room_only(
    store: ModerationStore, now: int
) -> None:
    earlier = (
        {"id": 5, "from": "Quiet Fox 2", "text": "my number is gone now", "ts": 1},
        {"id": 6, "from": "Quiet Fox 2", "text": "how is everyone", "ts": 2},
    )
    here, _ = await store.raise_flag(draft("k1", created_ms=now, context=earlier))
    resolved, _ = await store.raise_flag(draft("k2", created_ms=now, context=earlier[:1]))
    await store.resolve(resolved.id, "ana", Outcome.FALSE_ALARM, "", now + 1)
    elsewhere, _ = await store.raise_flag(
        draft("k3", created_ms=now, context=earlier, room="alcohol")
    )
    about_it, _ = await store.raise_flag(draft("k4", created_ms=now, message_id=5))
    assert await store.forget_message("newcomers", 5) == 2
    assert [c["id"] for c in (await store.get_flag(here.id)).draft.context] == [6]  # type: ignore[union-attr]
    assert (await store.get_flag(resolved.id)).draft.context == ()  # type: ignore[union-attr]
    assert len((await store.get_flag(elsewhere.id)).draft.context) == 2  # type: ignore[union-attr]
    kept = await store.get_flag(about_it.id)
    assert kept is not None and kept.draft.message_id == 5, "a flag about it keeps its words"
    assert await store.forget_message("newcomers", 5) == 0


async def test_a_draft_keeps_the_kinds_of_detail_removed_from_it(
    store: ModerationStore, now: int
) -> None:
    flag, _ = await store.raise_flag(
        draft(created_ms=now, text="call me on [removed]", removed=("email", "phone"))
    )
    stored = await store.get_flag(flag.id)
    assert stored is not None and stored.draft.removed == ("email", "phone")
    assert stored.to_json()["removed"] == ["email", "phone"]
