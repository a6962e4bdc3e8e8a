"""The abuse suite's HTTP edge (issue #17, findings 7 and 9), against real `harbor serve`
processes: one test per part of each finding, each of which failed on the code before the fix.

Raw sockets where the point is what a well-behaved client would never do (a body that is
never finished, headers dripped a byte at a time). A second client address is another loopback
address, as in test_abuse.py; a proxy in front of Harbor is simulated by a client on a trusted
address that sends the headers a proxy would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, add_moderator_account, seconds

from .test_abuse import add_embedded_moderator, closed_with, http_from
from .test_moderation_flow import PASSWORD

ELSEWHERE = "127.0.0.2"
ADD_HINT = "harbor moderators add NAME"


# Raw HTTP


async def raw(
    worker: HarborProcess, data: bytes, address: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", worker.port, local_addr=(address, 0)
    )
    writer.write(data)
    await writer.drain()
    return reader, writer


def post_head(length: int | None, path: str = "/mod/api/link") -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    ).encode()


async def status_of(reader: asyncio.StreamReader, within: float = 5) -> int:
    """The status of the response the server sends, waiting at most `within` seconds."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), seconds(within))
    return int(head.split(b" ", 2)[1])


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sent until it closed the connection (at most `within` s)."""
    try:
        return await asyncio.wait_for(reader.read(), seconds(within))
    except ConnectionResetError:
        return b""


# Finding 7: bodies, timeouts, concurrency


async def test_a_body_declared_over_the_cap_is_refused_before_it_is_sent(
    harbor: HarborFactory,
) -> None:
    """Before: a 100 MB body to /mod/api/link was read whole (RSS 251 -> 447 MB) before its 400.
    Now the 413 comes back while 99.99 % of the body has not even been sent."""
    worker = harbor()
    reader, writer = await raw(worker, post_head(100_000_000) + b"{" * 1024)
    assert await status_of(reader) == 413
    assert b"too_large" in await closed_by_server(reader, 5), "then the connection is closed"
    writer.close()
    assert worker.status("/healthz") == 200


async def test_a_chunked_body_is_cut_off_once_it_passes_the_cap(harbor: HarborFactory) -> None:
    """Before: a chunked body had no bound at all; the server waited for its last chunk."""
    worker = harbor()
    chunk = b"1000\r\n" + b"x" * 0x1000 + b"\r\n"  # 4 KiB each; the cap is 16 KiB
    reader, writer = await raw(worker, post_head(None) + chunk * 5)  # never terminated
    assert await status_of(reader) == 413
    writer.close()


async def test_dripped_headers_are_cut_off_in_total_not_per_byte(harbor: HarborFactory) -> None:
    """Before: a byte every 5 s kept a request open indefinitely (500 such held). With a
    1 s header deadline, bytes arriving every 0.2 s do not extend it."""
    worker = harbor(HARBOR_HEADER_TIMEOUT_S="1")
    reader, writer = await raw(worker, b"GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ")
    dripped = 0
    loop = asyncio.get_running_loop()
    give_up = loop.time() + seconds(1 + 5)
    closed = False
    while loop.time() < give_up and not closed:
        try:
            writer.write(b"a")
            await writer.drain()
            dripped += 1
            closed = await asyncio.wait_for(reader.read(1), 0.2) == b""
        except TimeoutError:
            continue
        except ConnectionError:
            closed = True
    assert closed, "the connection outlived its header deadline"
    assert dripped >= 3, "bytes kept coming, each well within the deadline"
    writer.close()


async def test_connections_that_send_nothing_or_idle_after_a_response_are_closed(
    harbor: HarborFactory,
) -> None:
    """Before: a connection that never sent a byte was held open forever."""
    worker = harbor(HARBOR_HEADER_TIMEOUT_S="1", HARBOR_KEEP_ALIVE_TIMEOUT_S="1")
    silent, silent_writer = await raw(worker, b"")
    assert await closed_by_server(silent, 1 + 5) == b""
    reader, writer = await raw(worker, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert await status_of(reader) == 200
    rest = await closed_by_server(reader, 1 + 5)
    assert rest.endswith(b"ok"), "the response, then the keep-alive connection closed"
    for opened in (silent_writer, writer):
        opened.close()


async def test_a_dripped_body_times_out(harbor: HarborFactory) -> None:
    """Before: a body announced but never finished held its request (and its handler) open
    for as long as the client liked."""
    worker = harbor(HARBOR_BODY_TIMEOUT_S="1")
    reader, writer = await raw(worker, post_head(100) + b'{"token": ')
    assert await status_of(reader, within=1 + 5) == 408
    writer.close()


async def test_requests_past_the_limit_get_503_until_the_slow_ones_end(
    harbor: HarborFactory,
) -> None:
    """Before: nothing bounded the requests in flight. Three slow bodies fill a limit of 3."""
    worker = harbor(HARBOR_MAX_HTTP_REQUESTS="3", HARBOR_BODY_TIMEOUT_S="60")
    slow = [await raw(worker, post_head(1000) + b'{"token": "') for _ in range(3)]
    async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as http:
        for _ in range(200):  # until the server has seen all three headers
            refused = await http.get("/api/rooms")
            if refused.status_code == 503:
                break
            await asyncio.sleep(0.02)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert (await http.get("/readyz")).status_code == 200, "probes still answered"
        for _, writer in slow:
            writer.close()
        for _ in range(200):
            served = await http.get("/api/rooms")
            if served.status_code == 200:
                break
            await asyncio.sleep(0.02)
        assert served.status_code == 200
        assert served.json()["rooms"]


# Finding 9: /metrics


async def test_metrics_are_refused_to_other_sources_unless_the_token_is_given(
    harbor: HarborFactory,
) -> None:
    """Before: anyone could read how many moderators are on duty and how long the oldest
    imminent flag had waited. 127.0.0.1 stands for an outside address here."""
    worker = harbor(
        HARBOR_METRICS_ALLOWED_SOURCES="10.0.0.0/8", HARBOR_METRICS_TOKEN="a-long-scrape-token"
    )
    async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as http:
        anonymous = await http.get("/metrics")
        assert anonymous.status_code == 403
        assert "harbor_moderators_on_duty" not in anonymous.text
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer a-long-scrape-tokeN"})
        assert wrong.status_code == 401
        good = await http.get("/metrics", headers={"Authorization": "Bearer a-long-scrape-token"})
        assert good.status_code == 200
        assert "harbor_moderators_on_duty" in good.text


# Finding 9: forwarded headers


def secure(response: httpx.Response) -> bool:
    """Whether the moderator cookie set by `response` carries the Secure attribute."""
    (cookie,) = [c for c in response.headers.get_list("set-cookie") if c.startswith("harbor_mod=")]
    return "secure" in [part.strip().lower() for part in cookie.split(";")[1:]]


async def sign_in(http: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await http.post(
        "/mod/api/session", json={"name": "alice", "password": PASSWORD}, headers=headers
    )


async def throttled(http: httpx.AsyncClient, forwarded_for: list[str]) -> bool:
    """Whether wrong sign-ins, one per X-Forwarded-For value, were ever refused with 429."""
    codes = []
    for i, address in enumerate(forwarded_for):
        response = await http.post(
            "/mod/api/session",
            json={"name": f"guess{i}", "password": "wrong password"},
            headers={"X-Forwarded-For": address},
        )
        codes.append(response.status_code)
    assert set(codes) <= {401, 429}, codes
    return 429 in codes


async def sockets(worker: HarborProcess, address: str, forwarded_for: str, n: int) -> list[Client]:
    return [
        await Client.connect(
            worker.ws,
            local_addr=(address, 0),
            additional_headers={"X-Forwarded-For": forwarded_for},
        )
        for _ in range(n)
    ]


PER_SOURCE = {"HARBOR_SIGN_INS_PER_SOURCE_PER_MIN": "6", "HARBOR_SOCKETS_PER_SOURCE": "2"}
OUTSIDE = [f"198.51.100.{i}" for i in range(1, 13)]


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    harbor: HarborFactory,
) -> None:
    """Before: uvicorn believed X-Forwarded-* from any client on 127.0.0.1, so one client
    could mark its cookie Secure and, sending a new X-Forwarded-For each time, never run out
    of sign-in attempts. With no trusted proxies, the peer is the client."""
    worker = harbor(**PER_SOURCE)
    add_embedded_moderator(worker, "alice")
    async with http_from(worker) as http:
        response = await sign_in(http, **{"X-Forwarded-Proto": "https"})
        assert response.status_code == 200 and not secure(response)
        assert await throttled(http, OUTSIDE), "one source however it names itself"
    held = await sockets(worker, "127.0.0.1", "198.51.100.1", 2)
    third = (await sockets(worker, "127.0.0.1", "198.51.100.2", 1))[0]
    await closed_with(third, 1013)
    await held[0].hello()


async def test_forwarded_headers_from_a_trusted_proxy_name_the_client(
    harbor: HarborFactory,
) -> None:
    """Behind a TLS-terminating proxy, the cookie was never Secure and every visitor was one
    source for the chat socket's limits. Here 127.0.0.1 is the proxy; 127.0.0.2 is not."""
    worker = harbor(HARBOR_TRUSTED_PROXIES="127.0.0.1", **PER_SOURCE)
    add_embedded_moderator(worker, "alice")
    async with http_from(worker) as proxy:
        response = await sign_in(proxy, **{"X-Forwarded-Proto": "https"})
        assert response.status_code == 200 and secure(response)
        assert not secure(await sign_in(proxy))
        assert await throttled(proxy, ["198.51.100.1"] * 12)
        assert not await throttled(proxy, ["198.51.100.2"]), "another visitor, another bucket"
        relayed = await proxy.get("/metrics", headers={"X-Forwarded-For": "198.51.100.3"})
        assert relayed.status_code == 403, "relayed from outside is not localhost"
        assert (await proxy.get("/metrics")).status_code == 200
    async with http_from(worker, ELSEWHERE) as stranger:
        response = await sign_in(stranger, **{"X-Forwarded-Proto": "https"})
        assert response.status_code == 200 and not secure(response)
    await sockets(worker, "127.0.0.1", "198.51.100.4", 2)
    other_visitor = (await sockets(worker, "127.0.0.1", "198.51.100.5", 1))[0]
    await other_visitor.hello()
    same_visitor = (await sockets(worker, "127.0.0.1", "198.51.100.4", 1))[0]
    await closed_with(same_visitor, 1013)
    await sockets(worker, ELSEWHERE, "198.51.100.6", 2)
    spoofed = (await sockets(worker, ELSEWHERE, "198.51.100.7", 1))[0]
    await closed_with(spoofed, 1013)


# Finding 9: the Origin's scheme


async def test_an_origin_with_the_wrong_scheme_is_refused(harbor: HarborFactory) -> None:
    """Before: only the Origin's host was compared, so an http:// page was as good as the
    https:// site -- and one served over http can be written by anyone on the path."""
    worker = harbor(HARBOR_TRUSTED_PROXIES="127.0.0.1")
    host = f"127.0.0.1:{worker.port}"
    with pytest.raises(InvalidStatus, match="403"):
        await Client.connect(worker.ws, origin=Origin(f"https://{host}"))
    await (await Client.connect(worker.ws, origin=Origin(f"http://{host}"))).hello()
    over_tls = {"X-Forwarded-Proto": "https"}
    with pytest.raises(InvalidStatus, match="403"):
        await Client.connect(
            worker.ws, origin=Origin(f"http://{host}"), additional_headers=over_tls
        )
    await Client.connect(worker.ws, origin=Origin(f"https://{host}"), additional_headers=over_tls)
    async with http_from(worker) as http:
        for path in ("/mod/api/session", "/mod/api/flags/next"):
            for origin, extra, allowed in (
                (f"https://{host}", {}, False),
                (f"http://{host}", {}, True),
                (f"http://{host}", over_tls, False),
                (f"https://{host}", over_tls, True),
            ):
                response = await http.post(path, json={}, headers={"Origin": origin, **extra})
                refused = response.status_code == 403
                assert refused is not allowed, (path, origin, extra, response.text)


# Finding 9: the one-time sign-in link


def add_moderator_to(data_dir: Path, name: str) -> None:
    add_moderator_account(name, PASSWORD, HARBOR_DATA_DIR=str(data_dir))


async def test_the_sign_in_link_is_not_written_where_stderr_is_not_a_terminal(
    harbor: HarborFactory,
) -> None:
    """Before: the link was written to stderr at every start, so it landed in logs."""
    worker = harbor()
    worker.wait_for_output(ADD_HINT)
    assert "#link=" not in worker.log()
    async with http_from(worker) as http:
        response = await http.post("/mod/api/link", json={"token": "x" * 32})
        assert response.status_code == 403


async def test_the_sign_in_link_is_shown_on_a_terminal_only_while_no_moderator_exists(
    harbor: HarborFactory, tmp_path: Path
) -> None:
    """Before: the link was printed even when moderators had their own accounts."""
    data = tmp_path / "shared-data"
    first = harbor(terminal=True, HARBOR_DATA_DIR=str(data))
    token = first.wait_for_output(r"/mod/#link=([\w-]+)").group(1)
    async with http_from(first) as http:
        assert (await http.post("/mod/api/link", json={"token": token})).status_code == 200
    first.stop()
    add_moderator_to(data, "alice")
    second = harbor(terminal=True, HARBOR_DATA_DIR=str(data))
    second.wait_for_output(ADD_HINT)
    assert "#link=" not in second.log()
