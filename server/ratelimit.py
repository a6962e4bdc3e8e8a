"""A token bucket per connection, pure: the caller passes `now`, so tests need no clock."""

from __future__ import annotations


class TokenBucket:
    """`rate` tokens per second up to `burst`; `take` says how long to wait when empty."""

    __slots__ = ("_burst", "_rate", "_tokens", "_updated")

    def __init__(self, *, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._updated = now

    def take(self, now: float) -> float:
        """Spend one token: 0.0 if allowed, else the seconds until one is available."""
        self._refill(now)
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate

    def hold(self, now: float, seconds: float) -> None:
        """No token for `seconds` from `now` (a penalty), unless the bucket is emptier still."""
        self._refill(now)
        self._tokens = min(self._tokens, 1 - seconds * self._rate)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now
