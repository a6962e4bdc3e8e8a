"""server.origin.origin_allowed: the cross-site WebSocket hijacking guard."""

from __future__ import annotations

import pytest

from server.origin import origin_allowed

CASES: list[tuple[str, str | None, str | None, tuple[str, ...], bool]] = [
    ("no Origin header (non-browser client)", None, "chat.example.org", (), True),
    ("no Origin and no Host", None, None, (), True),
    ("no Origin with an allow-list", None, "chat.example.org", ("https://a.org",), True),
    ("same host", "https://chat.example.org", "chat.example.org", (), True),
    ("same host over http", "http://chat.example.org", "chat.example.org", (), True),
    ("same host, different case", "https://Chat.Example.ORG", "chat.EXAMPLE.org", (), True),
    ("same host and port", "http://localhost:8000", "localhost:8000", (), True),
    ("same host, other port", "http://localhost:8001", "localhost:8000", (), False),
    ("port on origin only", "http://localhost:8000", "localhost", (), False),
    ("another host", "https://evil.example", "chat.example.org", (), False),
    ("a suffix attack", "https://chat.example.org.evil.example", "chat.example.org", (), False),
    ("a subdomain", "https://x.chat.example.org", "chat.example.org", (), False),
    ("opaque null origin", "null", "chat.example.org", (), False),
    ("no Host header", "https://chat.example.org", None, (), False),
    (
        "listed origin",
        "https://app.example.org",
        "api.example.org",
        ("https://app.example.org",),
        True,
    ),
    (
        "listed origin with trailing slash",
        "https://app.example.org/",
        "api.example.org",
        ("https://app.example.org",),
        True,
    ),
    (
        "one of several listed origins",
        "https://b.org",
        "api.example.org",
        ("https://a.org", "https://b.org"),
        True,
    ),
    (
        "the allow-list replaces same-origin",
        "https://api.example.org",
        "api.example.org",
        ("https://app.example.org",),
        False,
    ),
    (
        "scheme matters in the allow-list",
        "http://app.example.org",
        "api.example.org",
        ("https://app.example.org",),
        False,
    ),
    ("wildcard allows anything", "https://evil.example", "chat.example.org", ("*",), True),
    ("wildcard allows null", "null", None, ("*",), True),
]


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_origin_allowed(
    origin: str | None, host: str | None, allowed: tuple[str, ...], expected: bool
) -> None:
    """Same-origin by default, an allow-list (or "*") replaces it, a missing Origin passes."""
    assert origin_allowed(origin, host, allowed) is expected
