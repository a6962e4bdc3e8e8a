"""Milestone badges: a closed set of words, so a badge can carry nothing but a milestone."""

from __future__ import annotations

import pytest

from rooms.envelope import _MAX_MARK
from server.milestones import BADGES, MAX_YEARS, is_badge


@pytest.mark.parametrize("badge", ["24h", "1w", "30d", "60d", "90d", "6m", "1y", "2y", "60y"])
def test_every_milestone_is_a_badge(badge: str) -> None:
    assert is_badge(badge)


@pytest.mark.parametrize(
    "value", ["", "7d", "0y", f"{MAX_YEARS + 1}y", "1Y", " 1y", "30 days", 30, None, ["1y"]]
)
def test_anything_else_is_not(value: object) -> None:
    assert not is_badge(value)


def test_every_badge_fits_the_envelope_mark() -> None:
    """A declared badge always survives the trip between workers."""
    assert max(len(badge) for badge in BADGES) <= _MAX_MARK
