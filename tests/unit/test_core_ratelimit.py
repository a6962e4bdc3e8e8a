"""server.ratelimit.TokenBucket, driven with explicit `now` values (no clock)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.ratelimit import TokenBucket


def test_a_full_bucket_allows_the_burst_then_says_how_long_to_wait() -> None:
    """With burst 3 at 1 token/s, three takes pass at once and the fourth must wait 1 s."""
    bucket = TokenBucket(rate=1.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(1.0)


def test_the_wait_is_the_time_until_the_next_whole_token() -> None:
    """At 2 tokens/s an empty bucket waits 0.5 s; a quarter second later, 0.25 s."""
    bucket = TokenBucket(rate=2.0, burst=1, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.25) == pytest.approx(0.25)


def test_a_refused_take_spends_nothing() -> None:
    """Asking again at the same instant gives the same wait: refusals don't dig a deficit."""
    bucket = TokenBucket(rate=0.5, burst=1, now=0.0)
    bucket.take(0.0)
    waits = [bucket.take(1.0) for _ in range(5)]
    assert waits == [pytest.approx(1.0)] * 5
    assert bucket.take(2.0) == 0.0


def test_tokens_refill_at_the_rate() -> None:
    """After 1/rate seconds one more take is allowed, and only one."""
    bucket = TokenBucket(rate=2.0, burst=2, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) > 0.0
    assert bucket.take(1.5) == 0.0
    assert bucket.take(1.5) == 0.0
    assert bucket.take(1.5) > 0.0


def test_a_long_idle_never_saves_more_than_the_burst() -> None:
    """After an hour idle exactly `burst` takes pass, not rate x 3600."""
    bucket = TokenBucket(rate=2.0, burst=5, now=0.0)
    allowed = [bucket.take(3600.0) == 0.0 for _ in range(20)]
    assert allowed == [True] * 5 + [False] * 15


def test_a_clock_going_backwards_refills_nothing() -> None:
    """A `now` earlier than the last take adds no tokens."""
    bucket = TokenBucket(rate=1.0, burst=1, now=10.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) == pytest.approx(1.0)


def test_a_fractional_rate_waits_longer_than_a_second() -> None:
    """20 messages per 10 s is 2/s, but 1 per 10 s waits 10 s."""
    bucket = TokenBucket(rate=0.1, burst=1, now=0.0)
    bucket.take(0.0)
    assert bucket.take(0.0) == pytest.approx(10.0)
    assert bucket.take(9.99) > 0.0
    assert bucket.take(10.0) == 0.0


@pytest.mark.parametrize(
    ("rate", "burst"), [(0.0, 5.0), (-1.0, 5.0), (1.0, 0.0), (1.0, 0.99), (1.0, -3.0)]
)
def test_a_non_positive_rate_or_a_burst_below_one_is_refused(rate: float, burst: float) -> None:
    """TokenBucket refuses parameters that would never allow a take."""
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(rate=rate, burst=burst, now=0.0)


@given(
    rate=st.floats(min_value=0.01, max_value=100.0),
    burst=st.integers(min_value=1, max_value=20),
    steps=st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=200),
)
def test_takes_never_exceed_burst_plus_rate_times_elapsed(
    rate: float, burst: int, steps: list[float]
) -> None:
    """Over any sequence of times, allowed takes <= burst + rate x elapsed."""
    bucket = TokenBucket(rate=rate, burst=burst, now=0.0)
    now = 0.0
    allowed = 0
    for step in steps:
        now += step
        wait = bucket.take(now)
        assert wait >= 0.0
        if wait == 0.0:
            allowed += 1
        assert allowed <= burst + rate * now + 1e-6


def test_a_hold_allows_no_token_for_its_length_then_the_rate_resumes() -> None:
    """A spam penalty: a full bucket held for 10 s gives nothing until then, one token at 10 s."""
    bucket = TokenBucket(rate=2.0, burst=5, now=0.0)
    bucket.hold(0.0, 10.0)
    assert bucket.take(0.0) == pytest.approx(10.0)
    assert bucket.take(9.0) == pytest.approx(1.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(10.0) == pytest.approx(0.5)


def test_a_shorter_hold_never_shortens_a_longer_wait() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    bucket.hold(0.0, 30.0)
    bucket.hold(1.0, 5.0)
    assert bucket.take(1.0) == pytest.approx(29.0)
