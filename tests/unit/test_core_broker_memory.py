"""The embedded broker's memory bounds (#17 finding 1): what it holds shrinks back by itself."""

from __future__ import annotations

from rooms.broker import HistoryLimits
from rooms.broker_memory import MemoryBroker
from rooms.envelope import Draft

HOUR_MS = 3600 * 1000
T0 = 1_800_000_000_000


def draft(uid: str, text: str, ts: int, client_id: str = "") -> Draft:
    return Draft(uid=uid, name="Calm Heron 1", text=text, ts=ts, client_id=client_id)


async def test_a_sweep_drops_expired_messages_idle_rooms_and_old_resend_ids() -> None:
    """Before: logs were trimmed only when their room was used again, and never dropped."""
    broker = MemoryBroker(HistoryLimits(max_age_s=3600))
    for i in range(300):
        await broker.publish(f"checkin-{i}", draft(f"u{i}", "x" * 2000, T0, client_id="c1"))
    await broker.subscribe("lively")
    await broker.publish("lively", draft("u", "still here", T0 + 2 * HOUR_MS, client_id="c2"))
    assert broker.rooms_held == 301 and broker.bytes_held > 300 * 2000
    assert broker.sweep(now_ms=T0 + HOUR_MS // 2) == 0, "nothing has expired yet"
    assert broker.sweep(now_ms=T0 + 2 * HOUR_MS) == 300
    assert broker.rooms_held == 1
    assert broker.bytes_held < 1000


async def test_a_resend_within_the_history_age_is_still_recognised_after_a_sweep() -> None:
    broker = MemoryBroker(HistoryLimits(max_age_s=3600, max_messages=2))
    first = await broker.publish("room", draft("u1", "hello", T0, client_id="c1"))
    for i in range(3):  # pushes the message out of the log, but not its resend id
        await broker.publish("room", draft("u2", f"other {i}", T0 + 1000, client_id=f"o{i}"))
    broker.sweep(now_ms=T0 + 2000)
    again = await broker.publish("room", draft("u1", "hello", T0 + 3000, client_id="c1"))
    assert again.duplicate and again.id == first.id


async def test_past_the_room_cap_the_least_recently_used_idle_room_goes_first() -> None:
    broker = MemoryBroker(HistoryLimits(max_rooms=3))
    await broker.subscribe("listened")
    await broker.publish("listened", draft("u", "a", T0))
    await broker.publish("old", draft("u", "b", T0))
    await broker.publish("recent", draft("u", "c", T0))
    await broker.publish("new", draft("u", "d", T0))
    assert broker.rooms_held == 3
    kept = await broker.history("listened", since=None, client_epoch=None, limit=10)
    assert [m.text for m in kept.messages] == ["a"], "a room someone listens to is never dropped"
    gone = await broker.history("old", since=None, client_epoch=None, limit=10)
    assert gone.messages == ()


async def test_past_the_byte_cap_idle_rooms_are_dropped_until_it_fits() -> None:
    broker = MemoryBroker(HistoryLimits(max_bytes=10_000))
    for i in range(20):
        await broker.publish(f"r{i}", draft("u", "y" * 1500, T0))
    assert broker.bytes_held <= 10_000
    assert broker.rooms_held < 20
    latest = await broker.history("r19", since=None, client_epoch=None, limit=10)
    assert len(latest.messages) == 1
