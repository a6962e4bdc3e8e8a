"""server.origin.origin_allowed: the cross-site request guard, scheme included."""

from __future__ import annotations

import pytest

from server.origin import origin_allowed

# (what, Origin, Host, allow-list, expected) for a request that came over http; the scheme's
# own cases are in SCHEME_CASES.
CASES: list[tuple[str, str | None, str | None, tuple[str, ...], bool]] = [
    ("no Origin header (non-browser client)", None, "chat.example.org", (), True),
    ("no Origin and no Host", None, None, (), True),
    ("no Origin with an allow-list", None, "chat.example.org", ("https://a.org",), True),
    ("same host", "http://chat.example.org", "chat.example.org", (), True),
    ("same host, different case", "HTTP://Chat.Example.ORG", "chat.EXAMPLE.org", (), True),
    ("same host and port", "http://localhost:8000", "localhost:8000", (), True),
    ("same host, other port", "http://localhost:8001", "localhost:8000", (), False),
    ("port on origin only", "http://localhost:8000", "localhost", (), False),
    ("another host", "http://evil.example", "chat.example.org", (), False),
    ("a suffix attack", "http://chat.example.org.evil.example", "chat.example.org", (), False),
    ("a subdomain", "http://x.chat.example.org", "chat.example.org", (), False),
    ("opaque null origin", "null", "chat.example.org", (), False),
    ("no Host header", "http://chat.example.org", None, (), False),
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
    assert origin_allowed(origin, host, allowed, "http") is expected


# (what, Origin, Host, allow-list, the request's scheme, expected)
SCHEME_CASES: list[tuple[str, str | None, str, tuple[str, ...], str, bool]] = [
    (
        "https page, https request",
        "https://chat.example.org",
        "chat.example.org",
        (),
        "https",
        True,
    ),
    ("http page, https request", "http://chat.example.org", "chat.example.org", (), "https", False),
    ("https page, http request", "https://chat.example.org", "chat.example.org", (), "http", False),
    (
        "https with port",
        "https://chat.example.org:8443",
        "chat.example.org:8443",
        (),
        "https",
        True,
    ),
    ("no Origin over https", None, "chat.example.org", (), "https", True),
    (
        "a listed http origin is still refused over https",
        "http://app.example.org",
        "api.example.org",
        ("http://app.example.org",),
        "https",
        False,
    ),
    (
        "a listed https origin over https",
        "https://app.example.org",
        "api.example.org",
        ("https://app.example.org",),
        "https",
        True,
    ),
    (
        "a listed http origin over http",
        "http://app.example.org",
        "api.example.org",
        ("http://app.example.org",),
        "http",
        True,
    ),
    (
        "the wildcard allows anything, even over https",
        "http://x.org",
        "a.org",
        ("*",),
        "https",
        True,
    ),
]


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "scheme", "expected"),
    [c[1:] for c in SCHEME_CASES],
    ids=[c[0] for c in SCHEME_CASES],
)
def test_the_scheme_is_part_of_the_origin(
    origin: str | None, host: str, allowed: tuple[str, ...], scheme: str, expected: bool
) -> None:
    """Before: only the host was compared, so an http page on the same name (which anyone on
    the network path can write) passed for the https site."""
    assert origin_allowed(origin, host, allowed, scheme) is expected
