"""Token buckets, pure: the caller passes `now`, so tests need no clock."""

from __future__ import annotations

from collections import OrderedDict


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


class BucketTable:
    """Token buckets by key, at most `capacity` of them: the least recently used is evicted.

    Eviction forgets one key's history (it starts again with a full burst), never the whole
    table, so nobody can reset another person's bucket by flooding the table with fresh keys;
    at worst a flood ages out keys that were quiet for longer than the flood took.
    """

    __slots__ = ("_buckets", "_burst", "_capacity", "_rate")

    def __init__(self, *, rate: float, burst: float, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        TokenBucket(rate=rate, burst=burst, now=0.0)  # the same argument checks
        self._rate = rate
        self._burst = burst
        self._capacity = capacity
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, key: str, now: float) -> float:
        """Spend one of `key`'s tokens: 0.0 if allowed, else the seconds to wait."""
        return self._bucket(key, now).take(now)

    def hold(self, key: str, now: float, seconds: float) -> None:
        self._bucket(key, now).hold(now, seconds)

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(rate=self._rate, burst=self._burst, now=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket
