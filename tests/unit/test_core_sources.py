"""Per-source keys and limits, and the sign-in guard: pure, driven with explicit times."""

from __future__ import annotations

from server.ratelimit import BucketTable
from server.signin_guard import PAIR_BURST, SignInGuard
from server.sources import DAY_S, SourceKeys, SourceLimits, SourceRules

NOON = 20_000 * DAY_S + DAY_S / 2


def test_a_source_is_a_keyed_hash_that_never_shows_the_address() -> None:
    keys = SourceKeys("secret")
    source = keys.source("203.0.113.7", NOON)
    assert "203" not in source and "113" not in source and len(source) == 24
    assert keys.source("203.0.113.7", NOON + 60) == source, "stable within a day"
    assert keys.source("203.0.113.8", NOON) != source
    assert SourceKeys("other secret").source("203.0.113.7", NOON) != source


def test_the_key_rotates_daily_and_yesterdays_source_is_still_known() -> None:
    keys = SourceKeys("secret")
    today = keys.source("203.0.113.7", NOON)
    tomorrow, yesterday = keys.sources("203.0.113.7", NOON + DAY_S)
    assert tomorrow != today and yesterday == today


def test_an_ipv6_household_is_one_source_by_its_64_prefix() -> None:
    keys = SourceKeys("secret")
    assert keys.source("2001:db8:1:2::a", NOON) == keys.source("2001:db8:1:2:ffff::1", NOON)
    assert keys.source("2001:db8:1:3::a", NOON) != keys.source("2001:db8:1:2::a", NOON)
    assert keys.source("::ffff:203.0.113.7", NOON) == keys.source("203.0.113.7", NOON)


def test_sockets_per_source_are_counted_and_released() -> None:
    limits = SourceLimits(SourceRules(sockets=2))
    assert limits.open_socket("a") and limits.open_socket("a")
    assert not limits.open_socket("a"), "the third is refused"
    assert limits.open_socket("b"), "another source is not affected"
    limits.close_socket("a")
    assert limits.sockets("a") == 1 and limits.open_socket("a")


def test_new_identities_per_source_come_back_at_the_set_rate() -> None:
    limits = SourceLimits(SourceRules(new_identities_per_min=6, new_identities_burst=2))
    assert limits.new_identity("a", 0.0) == 0.0 and limits.new_identity("a", 0.0) == 0.0
    assert limits.new_identity("a", 0.0) == 10.0
    assert limits.new_identity("b", 0.0) == 0.0
    assert limits.new_identity("a", 10.0) == 0.0


def test_a_full_bucket_table_forgets_the_least_recently_used_key_only() -> None:
    """The old sign-in table cleared itself past 10,000 keys, resetting everyone's count."""
    table = BucketTable(rate=0.001, burst=1, capacity=3)
    assert table.take("victim", 0.0) == 0.0
    for key in ("x", "y"):
        table.take(key, 0.0)
    assert table.take("victim", 0.0) > 0, "still empty, and now the most recently used"
    table.take("z", 0.0)  # evicts "x", the least recently used
    assert len(table) == 3
    assert table.take("victim", 0.0) > 0, "a flood of new keys does not reset the victim"


def test_sign_in_attempts_are_limited_per_source_and_name_never_per_name() -> None:
    guard = SignInGuard(per_source_per_min=600, per_source_burst=100)
    for _ in range(PAIR_BURST):
        assert guard.attempt("attacker", "alice", 0.0) == 0.0
    assert guard.attempt("attacker", "alice", 0.0) > 0
    assert guard.attempt("alice's laptop", "alice", 0.0) == 0.0, "the owner is not locked out"


def test_sign_in_attempts_are_limited_per_source_over_all_names() -> None:
    guard = SignInGuard(per_source_per_min=6, per_source_burst=3)
    assert [guard.attempt("a", f"n{i}", 0.0) == 0.0 for i in range(4)] == [True] * 3 + [False]


def test_refusals_are_reported_once_per_window_with_their_count() -> None:
    guard = SignInGuard(per_source_per_min=6, per_source_burst=3)
    assert guard.refused("alice", 0.0) == 1
    assert [guard.refused("alice", t) for t in (1.0, 2.0, 3.0)] == [None] * 3
    assert guard.refused("bob", 4.0) == 1
    assert guard.refused("alice", 700.0) == 4, "the three unreported ones, and this one"
