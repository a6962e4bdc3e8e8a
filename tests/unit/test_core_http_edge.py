"""The HTTP edge's pure rules: forwarded headers (server/proxies.py), who may read /metrics
(server/metrics_access.py), the sign-in link's start notice (server/signin_link.py), their
settings, and the request limits middleware driven without a socket (server/http_edge.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from typing import Any

import pytest

from server.http_edge import ForwardedClient, RequestLimits
from server.metrics_access import MetricsAccess, metrics_access
from server.proxies import Hop, networks, parse_address, parse_network, resolve
from server.settings import ConfigError, Settings
from server.signin_link import SignInLink, start_notice

PROXY = networks(("10.0.0.0/8", "2001:db8:ffff::/48"))


# Addresses and ranges


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("203.0.113.9:51234", "203.0.113.9"),
        ("2001:db8::7", "2001:db8::7"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
        ("unknown", None),
        ("_hidden", None),
        ("", None),
        (None, None),
        ("999.1.1.1", None),
    ],
)
def test_addresses_are_read_as_proxies_write_them(text: str | None, expected: str | None) -> None:
    address = parse_address(text)
    assert (str(address) if address is not None else None) == expected


def test_ranges_accept_addresses_host_bits_and_mapped_forms_and_refuse_the_rest() -> None:
    assert str(parse_network("10.1.2.3/8")) == "10.0.0.0/8"
    assert str(parse_network("127.0.0.1")) == "127.0.0.1/32"
    assert str(parse_network("::ffff:10.0.0.0/104")) == "10.0.0.0/8"
    for bad in ("10.0.0.0/33", "a.b.c.d", "", "10.0.0.0/8/8"):
        with pytest.raises(ValueError, match="not an IP address"):
            parse_network(bad)
    assert ipaddress.ip_address("10.9.9.9") in PROXY
    assert ipaddress.ip_address("11.0.0.1") not in PROXY
    assert "10.9.9.9" not in PROXY, "only parsed addresses are members"
    assert not networks(())


# Forwarded headers


def hop(
    peer: str | None,
    forwarded_for: tuple[str, ...] = (),
    forwarded_proto: tuple[str, ...] = (),
    scheme: str = "http",
) -> Hop:
    return resolve(peer, scheme, forwarded_for, forwarded_proto, PROXY)


def test_an_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    """Before: uvicorn believed any client on 127.0.0.1; here nobody outside the list."""
    assert hop("203.0.113.9", ("198.51.100.1",), ("https",)) == Hop("203.0.113.9", "http")
    assert hop("203.0.113.9", scheme="https") == Hop("203.0.113.9", "https")
    assert resolve("127.0.0.1", "http", ("198.51.100.1",), ("https",), networks(())) == Hop(
        "127.0.0.1", "http"
    )


def test_a_trusted_proxy_names_the_client_and_its_scheme() -> None:
    assert hop("10.0.0.2", ("198.51.100.1",), ("https",)) == Hop("198.51.100.1", "https")
    assert hop("10.0.0.2", ("198.51.100.1:40000",)) == Hop("198.51.100.1", "http")
    assert hop("::ffff:10.0.0.2", ("2001:db8::5",)) == Hop("2001:db8::5", "http")


def test_what_a_client_writes_left_of_the_proxies_is_ignored() -> None:
    """A client sends its own X-Forwarded-For; the proxy appends the address it really saw."""
    assert hop("10.0.0.2", ("6.6.6.6, 198.51.100.1",)) == Hop("198.51.100.1", "http")
    assert hop("10.0.0.2", ("6.6.6.6", "198.51.100.1")) == Hop("198.51.100.1", "http")


def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_address() -> None:
    chain = ("6.6.6.6, 198.51.100.1, 10.0.0.9, 2001:db8:ffff::1",)
    assert hop("10.0.0.2", chain) == Hop("198.51.100.1", "http")
    assert hop("10.0.0.2", ("10.0.0.7, 10.0.0.8",)) == Hop("10.0.0.7", "http")
    assert hop("10.0.0.2", ("unknown, 10.0.0.8",)) == Hop("unknown", "http")


def test_the_scheme_is_the_one_written_for_the_chosen_hop() -> None:
    # One value (a proxy that overwrites it): it is the client's.
    assert hop("10.0.0.2", ("198.51.100.1, 10.0.0.9",), ("https",)).scheme == "https"
    # One per hop, paired from the right: the client told the edge proxy https.
    assert hop("10.0.0.2", ("198.51.100.1, 10.0.0.9",), ("https, http",)).scheme == "https"
    # A client's own claim, left of what the proxy appended, is not the client's hop.
    assert hop("10.0.0.2", ("198.51.100.1",), ("https, http",)).scheme == "http"
    # No X-Forwarded-For: the peer is the client, and the proxy's word on the scheme stands.
    assert hop("10.0.0.2", (), ("HTTPS",)) == Hop("10.0.0.2", "https")
    # Anything but http or https is ignored.
    assert hop("10.0.0.2", ("198.51.100.1",), ("gopher",), scheme="https").scheme == "https"


# /metrics


ALLOWED = networks(("127.0.0.1/32", "::1/128"))


@pytest.mark.parametrize(
    ("client", "authorization", "token", "expected"),
    [
        ("127.0.0.1", None, "", MetricsAccess.ALLOWED),
        ("::1", None, "", MetricsAccess.ALLOWED),
        ("::ffff:127.0.0.1", None, "", MetricsAccess.ALLOWED),
        ("203.0.113.9", None, "", MetricsAccess.FORBIDDEN),
        (None, None, "", MetricsAccess.FORBIDDEN),
        ("203.0.113.9", None, "s3cret-token", MetricsAccess.FORBIDDEN),
        ("203.0.113.9", "Bearer s3cret-token", "s3cret-token", MetricsAccess.ALLOWED),
        ("203.0.113.9", "bearer  s3cret-token ", "s3cret-token", MetricsAccess.ALLOWED),
        ("203.0.113.9", "Bearer s3cret-tokem", "s3cret-token", MetricsAccess.WRONG_TOKEN),
        ("203.0.113.9", "Bearer s3cret", "s3cret-token", MetricsAccess.WRONG_TOKEN),
        ("203.0.113.9", "Basic czNjcmV0", "s3cret-token", MetricsAccess.WRONG_TOKEN),
        ("203.0.113.9", "Bearer ", "", MetricsAccess.WRONG_TOKEN),
        ("203.0.113.9", "Bearer anything", "", MetricsAccess.WRONG_TOKEN),
        ("127.0.0.1", "Bearer wrong", "s3cret-token", MetricsAccess.ALLOWED),
    ],
)
def test_metrics_are_for_allowed_sources_or_the_token(
    client: str | None, authorization: str | None, token: str, expected: MetricsAccess
) -> None:
    assert metrics_access(client, authorization, ALLOWED, token) is expected


# Settings


def test_the_edge_settings_parse_ranges_and_refuse_nonsense() -> None:
    settings = Settings.from_env(
        {
            "HARBOR_TRUSTED_PROXIES": "10.1.2.3/8, 127.0.0.1 ::1",
            "HARBOR_METRICS_ALLOWED_SOURCES": "none",
            "HARBOR_METRICS_TOKEN": "t0ken",
        }
    )
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32", "::1/128")
    assert settings.metrics_allowed_sources == ()
    assert settings.metrics_token.value == "t0ken" and "t0ken" not in repr(settings)
    for name, value in (
        ("HARBOR_TRUSTED_PROXIES", "localhost"),
        ("HARBOR_METRICS_ALLOWED_SOURCES", "10.0.0.0/40"),
        ("HARBOR_MAX_BODY_BYTES", "100"),
        ("HARBOR_MAX_HTTP_REQUESTS", "0"),
        ("HARBOR_HEADER_TIMEOUT_S", "0"),
    ):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value})


# The sign-in link


def test_the_link_is_shown_only_on_a_terminal_before_any_moderator_exists() -> None:
    shown = SignInLink()
    line = start_notice(shown, "0.0.0.0", 8000, terminal=True, has_moderators=False)
    assert line.endswith(f"http://127.0.0.1:8000/mod/#link={shown.token}")
    assert shown.redeem(shown.token)
    for terminal, has_moderators in ((False, False), (True, True), (False, True)):
        link = SignInLink()
        line = start_notice(link, "::1", 8000, terminal=terminal, has_moderators=has_moderators)
        assert link.token not in line and "#link" not in line
        assert "harbor moderators add NAME" in line and "http://[::1]:8000/mod/" in line
        assert not link.redeem(link.token), "a link nobody was shown signs nobody in"


# The middlewares, driven without a socket


class Recorder:
    """An ASGI app and `send` that remember what reached them."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        if scope["type"] == "http" and scope["method"] == "POST":
            body = (await receive())["body"]
        self.calls.append({"scope": scope, "body": body})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))

    @property
    def status(self) -> int:
        status: int = self.sent[0]["status"]
        return status


def scope(headers: dict[str, str], path: str = "/mod/api/link", **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "scheme": "http",
        "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        **extra,
    }


async def never_called() -> dict[str, Any]:
    raise AssertionError("the body was read")


def limits(recorder: Recorder, **env: str) -> RequestLimits:
    return RequestLimits(recorder.app, Settings.from_env(env))


async def test_a_declared_length_over_the_cap_is_refused_without_reading() -> None:
    recorder = Recorder()
    await limits(recorder)(scope({"Content-Length": "100000000"}), never_called, recorder.send)
    assert recorder.status == 413 and not recorder.calls
    assert (b"connection", b"close") in recorder.sent[0]["headers"]


async def test_a_chunked_body_is_cut_off_once_it_passes_the_cap() -> None:
    recorder = Recorder()
    chunks = iter([b"x" * 8000, b"x" * 8000, b"x" * 8000])
    read = []

    async def receive() -> dict[str, Any]:
        chunk = next(chunks)
        read.append(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    await limits(recorder)(scope({"Transfer-Encoding": "chunked"}), receive, recorder.send)
    assert recorder.status == 413 and not recorder.calls
    assert len(read) == 3


async def test_a_body_within_the_cap_reaches_the_app_whole() -> None:
    recorder = Recorder()
    parts = [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b"1}", "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return parts.pop(0)

    await limits(recorder)(scope({"Transfer-Encoding": "chunked"}), receive, recorder.send)
    assert recorder.status == 200 and recorder.calls[0]["body"] == b'{"a":1}'


async def test_requests_past_the_limit_get_503_with_retry_after_and_probes_pass() -> None:
    recorder = Recorder()
    edge = limits(recorder, HARBOR_MAX_HTTP_REQUESTS="2")
    edge.in_flight = 2  # two requests still reading their bodies
    await edge(scope({}, method="GET"), never_called, recorder.send)
    assert recorder.status == 503
    assert (b"retry-after", b"1") in recorder.sent[0]["headers"]
    probe = Recorder()
    edge.app = probe.app
    await edge(scope({}, path="/readyz", method="GET"), never_called, probe.send)
    assert probe.status == 200
    edge.in_flight = 1
    fine = Recorder()
    edge.app = fine.app
    await edge(scope({}, method="GET"), never_called, fine.send)
    assert fine.status == 200 and edge.in_flight == 1, "counted while in flight, then released"


async def test_forwarded_client_rewrites_the_scope_only_for_trusted_peers() -> None:
    recorder = Recorder()
    edge = ForwardedClient(recorder.app, ("127.0.0.1/32",))
    claims = {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}
    await edge(scope(claims, method="GET"), never_called, recorder.send)
    await edge(scope(claims, method="GET", client=("127.0.0.2", 1)), never_called, recorder.send)
    trusted, untrusted = (c["scope"] for c in recorder.calls)
    assert trusted["client"] == ("198.51.100.1", 0) and trusted["scheme"] == "https"
    assert untrusted["client"] == ("127.0.0.2", 1) and untrusted["scheme"] == "http"
