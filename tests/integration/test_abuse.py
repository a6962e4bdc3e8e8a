"""The abuse suite (issue #17): each finding of the security review replayed against real
workers, one test per finding, each of which failed on the code as it stood before the fix.

Most test clients come from 127.0.0.1, which the harness treats as many people (it lifts the
per-source limits); tests here that measure those limits set them back. A second source is
another loopback address: Linux routes all of 127.0.0.0/8 to the host, so a client bound to
127.0.0.2 is, to the server, someone else.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET, HarborFactory
from tests.harness import REPO, Client, HarborProcess, RedisProcess, add_moderator_account, seconds

from .test_moderation_flow import (
    CRISIS,
    CRISIS_WITH_MEANS,
    PASSWORD,
    Moderator,
    add_moderator,
    member,
    signed_in,
)

ELSEWHERE = "127.0.0.2"
PER_SOURCE_DEFAULTS = {
    "HARBOR_SOCKETS_PER_SOURCE": "60",
    "HARBOR_NEW_IDENTITIES_PER_SOURCE_PER_MIN": "10",
    "HARBOR_JOINS_PER_SOURCE_PER_10S": "30",
    "HARBOR_JOINS_PER_CONNECTION_PER_10S": "10",
    "HARBOR_SIGN_INS_PER_SOURCE_PER_MIN": "6",
}


def http_from(worker: HarborProcess, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=worker.http, timeout=seconds(10), transport=transport)


def moderators_cli(redis: RedisProcess, *args: str, password: str | None = None) -> str:
    env = {**os.environ, "REDIS_URL": redis.url, "HARBOR_SECRET": TEST_SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "server", "moderators", *args],
        input=None if password is None else password + "\n",
        text=True,
        check=True,
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=30,
    )
    return done.stdout


@pytest.fixture
def workers(harbor: HarborFactory, redis_server: RedisProcess) -> tuple[HarborProcess, ...]:
    add_moderator(redis_server, "alice")
    add_moderator(redis_server, "bob")
    env = {
        "HARBOR_SEND_RATE_PER_10S": "200",
        "HARBOR_SEND_BURST": "50",
        "HARBOR_SESSION_CHECK_INTERVAL_S": "0.5",
        **PER_SOURCE_DEFAULTS,
    }
    return harbor(redis_server, **env), harbor(redis_server, **env)


async def closed_with(client: Client, code: int, within: float = 5) -> None:
    """The server closes `client`'s socket with `code` within `within` seconds."""
    with pytest.raises(Exception, match=str(code)):
        while True:
            await client.recv(within=within)


# Finding 3: moderator sign-in throttling


async def test_a_stranger_cannot_lock_a_moderator_out(workers: tuple[HarborProcess, ...]) -> None:
    """Before: one global bucket (burst 30) let 40 made-up names lock out a correct password."""
    one, _ = workers
    async with http_from(one, ELSEWHERE) as attacker:
        codes = []
        for i in range(40):
            name = "alice" if i % 2 else f"guess{i}"
            response = await attacker.post(
                "/mod/api/session", json={"name": name, "password": "wrong password"}
            )
            codes.append(response.status_code)
    assert 429 in codes, "the attacker is slowed down"
    async with http_from(one) as volunteer:
        response = await volunteer.post(
            "/mod/api/session", json={"name": "alice", "password": PASSWORD}
        )
        assert response.status_code == 200, response.text


async def test_refused_sign_ins_are_audited_once_per_name_per_window(
    workers: tuple[HarborProcess, ...],
) -> None:
    """Before: every refused attempt wrote an audit row, so guessing filled the audit log."""
    one, _ = workers
    for address in ("127.0.0.3", "127.0.0.4"):
        async with http_from(one, address) as attacker:
            for i in range(5):
                await attacker.post(
                    "/mod/api/session", json={"name": "alice", "password": f"nope {i}"}
                )
                await attacker.post(
                    "/mod/api/session", json={"name": f"made-up-{address}-{i}", "password": "x"}
                )
    moderator = Moderator(one, "bob")
    await moderator.sign_in()
    entries = (await moderator.http.get("/mod/api/audit")).json()["entries"]
    await moderator.close()
    refused = [e for e in entries if e["action"] == "sign_in_refused"]
    assert sorted(e["moderator"] for e in refused) == ["(unknown name)", "alice"]
    assert all(not e["moderator"].startswith("made-up") for e in entries)


async def test_an_unknown_name_takes_as_long_to_refuse_as_a_known_one(
    workers: tuple[HarborProcess, ...],
) -> None:
    """Before: an unknown name answered in 1 ms and a known one in 57 ms, which told an
    attacker which names are accounts. Both now run scrypt (~50 ms): a tenfold gap would be
    the old leak, while scheduling noise on a busy machine stays well inside it."""
    one, _ = workers
    loop = asyncio.get_running_loop()

    async def median_ms(name: str, address: str) -> float:
        times = []
        async with http_from(one, address) as http:
            for i in range(5):
                started = loop.time()
                response = await http.post(
                    "/mod/api/session", json={"name": name, "password": f"wrong {i}"}
                )
                times.append((loop.time() - started) * 1000)
                assert response.status_code == 401
        return sorted(times)[2]

    known = await median_ms("alice", "127.0.0.5")
    unknown = await median_ms("nobody-by-this-name", "127.0.0.6")
    assert unknown > known / 4, (known, unknown)


# Finding 4: sign-out, expiry, password change and removal reach open sockets


async def test_signing_out_closes_the_moderator_socket_on_every_worker(
    workers: tuple[HarborProcess, ...],
) -> None:
    """Before: after DELETE /mod/api/session an open moderator socket kept getting crisis
    flags with full text and could post as a volunteer."""
    one, two = workers
    moderator = await signed_in(two)  # the socket is on worker two
    assert moderator.feed is not None
    response = await moderator.http.delete("/mod/api/session")  # signed out on worker two
    assert response.status_code == 200
    await closed_with(moderator.feed, 1008)
    other = await signed_in(one, "bob")
    elsewhere = Moderator(two, "bob")
    elsewhere.http.cookies.set("harbor_mod", other.http.cookies["harbor_mod"])
    feed = await elsewhere.connect_feed()  # bob's session, open on worker two
    await other.http.delete("/mod/api/session")  # ended through worker one
    await closed_with(feed, 1008)
    await moderator.close()
    await other.close()
    await elsewhere.close()


async def test_a_new_password_ends_old_sessions_and_their_sockets(
    workers: tuple[HarborProcess, ...], redis_server: RedisProcess
) -> None:
    """Before: a new password left old cookies valid and old sockets open."""
    one, _ = workers
    moderator = await signed_in(one)
    assert moderator.feed is not None
    moderators_cli(redis_server, "add", "alice", "--password-stdin", password="a brand new one!")
    await closed_with(moderator.feed, 1008)
    assert (await moderator.http.get("/mod/api/flags")).status_code == 401
    response = await moderator.http.post(
        "/mod/api/session", json={"name": "alice", "password": "a brand new one!"}
    )
    assert response.status_code == 200
    await moderator.close()


async def test_a_removed_moderator_is_signed_out_everywhere_and_cannot_sign_in(
    workers: tuple[HarborProcess, ...], redis_server: RedisProcess
) -> None:
    """Before: there was no way to remove a moderator."""
    one, _ = workers
    moderator = await signed_in(one, "bob")
    assert moderator.feed is not None
    assert "removed" in moderators_cli(redis_server, "remove", "bob")
    await closed_with(moderator.feed, 1008)
    assert (await moderator.http.get("/mod/api/flags")).status_code == 401
    response = await moderator.http.post(
        "/mod/api/session", json={"name": "bob", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert moderators_cli(redis_server, "list").split() == ["alice", "volunteer"]
    await moderator.close()


# Finding 5: validate first, act second


async def flagged(worker: HarborProcess, moderator: Moderator, text: str) -> dict[str, Any]:
    writer = await member(worker)
    await writer.send({"type": "send", "room": "newcomers", "text": text, "client_id": "v1"})
    await writer.expect("ack", client_id="v1")
    assert moderator.feed is not None
    flag: dict[str, Any] = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    return flag


async def test_a_refused_hide_hides_nothing(workers: tuple[HarborProcess, ...]) -> None:
    """Before: a 1,001-character reason answered 400 but the message was hidden, unaudited."""
    one, _ = workers
    moderator = await signed_in(one)
    reader = await member(one)
    flag = await flagged(one, moderator, CRISIS)
    response = await moderator.act(flag["id"], "hide", reason="x" * 1001)
    assert response.status_code == 400
    (stored,) = await moderator.flags()
    assert stored["hidden"] is False
    marker = await (await member(one)).say("newcomers", "after the refused hide", "m1")
    await reader.expect("message", id=marker["id"])
    assert not [f for f in reader.backlog if f.get("type") == "hidden"]
    await moderator.close()


async def test_a_refused_release_publishes_nothing(workers: tuple[HarborProcess, ...]) -> None:
    """Before: release-held with a non-string reason answered 400 but published the message."""
    one, _ = workers
    moderator = await signed_in(one)
    reader = await member(one)
    flag = await flagged(one, moderator, CRISIS_WITH_MEANS)
    assert flag["held"] is True
    response = await moderator.act(flag["id"], "release-held", reason=["not", "text"])
    assert response.status_code == 400
    marker = await (await member(one)).say("newcomers", "after the refused release", "m2")
    await reader.expect("message", id=marker["id"])
    texts = [f.get("text") for f in reader.backlog if f.get("type") == "message"]
    assert CRISIS_WITH_MEANS not in texts
    (stored,) = await moderator.flags()
    assert stored["released"] is False
    await moderator.close()


# Finding 2: per-source limits


async def from_source(worker: HarborProcess, address: str) -> Client:
    return await Client.connect(worker.ws, local_addr=(address, 0))


async def test_one_source_cannot_open_sockets_without_bound(
    workers: tuple[HarborProcess, ...],
) -> None:
    """Before: one client opened 1,500 sockets (1,500 identities) in 3.5 s."""
    one, _ = workers
    held = [await from_source(one, ELSEWHERE) for _ in range(60)]
    extra = await from_source(one, ELSEWHERE)
    await closed_with(extra, 1013)
    someone_else = await from_source(one, "127.0.0.7")
    await someone_else.hello()  # another household is not affected
    await held[0].close()
    await until_socket_count_drops(one, held)
    again = await from_source(one, ELSEWHERE)
    await again.hello()


async def until_socket_count_drops(worker: HarborProcess, held: list[Client]) -> None:
    """The server has seen the close of one of `held` (its count is per open socket)."""
    for _ in range(100):
        probe = await from_source(worker, ELSEWHERE)
        try:
            await probe.send({"type": "ping"})
            await probe.recv(within=1)  # hello_first error: it was accepted
            await probe.close()
            return
        except Exception:
            await asyncio.sleep(0.05)
    raise AssertionError("the closed socket was never released")


async def test_one_source_cannot_mint_identities_without_bound(
    workers: tuple[HarborProcess, ...],
) -> None:
    """Before: every tokenless hello got a new name and could post at once."""
    one, _ = workers
    outcomes = []
    for _ in range(25):
        client = await from_source(one, ELSEWHERE)
        await client.send({"type": "hello"})
        frame = await client.recv()
        outcomes.append(frame["type"] if frame["type"] == "welcome" else frame["code"])
        await client.close()
    assert outcomes[:20] == ["welcome"] * 20
    assert set(outcomes[20:]) == {"identity_limit"}
    other = await from_source(one, "127.0.0.8")
    await other.hello()


async def test_a_join_leave_loop_is_slowed_down(workers: tuple[HarborProcess, ...]) -> None:
    """Before: 9 connections looping join/leave pulled 950 MB of history in 10 s."""
    one, _ = workers
    looper = await from_source(one, ELSEWHERE)
    await looper.hello()
    refused = 0
    for _ in range(15):
        await looper.send({"type": "join", "room": "newcomers"})
        frame = await looper.expect_any(("joined", "error"))
        if frame["type"] == "error":
            assert frame["code"] == "rate_limited" and frame["retry_after_ms"] > 0
            refused += 1
            continue
        await looper.send({"type": "leave", "room": "newcomers"})
        await looper.expect("left")
    assert refused == 5, "ten joins at once, then one a second"


async def test_a_ban_holds_the_source_so_a_fresh_identity_cannot_walk_back_in(
    workers: tuple[HarborProcess, ...],
) -> None:
    """Before: a banned person's next hello without a token got a new name and posted."""
    one, two = workers
    moderator = await signed_in(two)
    writer = await from_source(one, ELSEWHERE)
    await writer.hello()
    await writer.join("newcomers")
    housemate = await from_source(one, ELSEWHERE)  # shares the banned person's address
    housemate_token = (await housemate.hello())["token"]
    await housemate.close()
    insult = "you are all pathetic losers and nobody here will ever stay clean, just quit"
    ack = await writer.say("newcomers", insult, "b1")
    reporter = await member(one)
    await reporter.send({"type": "report", "room": "newcomers", "id": ack["id"]})
    assert moderator.feed is not None
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    response = await moderator.act(flag["id"], "ban", minutes=60, reason="abuse", confirm=True)
    assert response.status_code == 200, response.text
    await closed_with(writer, 4503)
    for _ in range(50):  # the hold is written by the worker that closed the socket
        fresh = await from_source(one, ELSEWHERE)
        await fresh.send({"type": "hello"})
        try:
            frame = await fresh.recv(within=2)
        except Exception as closed:
            assert "4503" in str(closed)
            break
        assert frame["type"] == "welcome"
        await fresh.close()
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("a fresh identity from the banned source was welcomed")
    bystander = await from_source(one, "127.0.0.9")
    await bystander.hello()
    returning = await from_source(one, ELSEWHERE)  # someone here before the ban keeps their name
    await returning.send({"type": "hello", "token": housemate_token})
    assert (await returning.recv(within=5))["type"] == "welcome"
    await moderator.close()


# Finding 6: what we tell people we removed is not kept; a person can delete their message


def add_embedded_moderator(worker: HarborProcess, name: str) -> None:
    """`harbor moderators add` against an embedded worker's SQLite store."""
    add_moderator_account(name, PASSWORD, HARBOR_DATA_DIR=str(worker.workdir / "data"))


WITH_DETAILS = "text me at 555-0142 or mail ana.b@example.com, i really need to talk"


async def test_a_flag_keeps_the_words_as_the_room_saw_them_not_the_details_removed(
    harbor: HarborFactory,
) -> None:
    """Before: the room saw "[removed]" but the flag and the SQLite file kept the e-mail
    address and phone number verbatim."""
    worker = harbor(HARBOR_SEND_RATE_PER_10S="200", HARBOR_SEND_BURST="50")
    add_embedded_moderator(worker, "alice")
    moderator = await signed_in(worker)
    volunteer_line = "if it helps my own number is 555-0177, ring any time"
    await moderator.feed.send(  # type: ignore[union-attr]
        {"type": "join", "room": "newcomers"}
    )
    await moderator.feed.expect("joined", room="newcomers")  # type: ignore[union-attr]
    await moderator.feed.send(  # type: ignore[union-attr]
        {"type": "send", "room": "newcomers", "text": volunteer_line, "client_id": "v1"}
    )
    await moderator.feed.expect("ack", client_id="v1")  # type: ignore[union-attr]
    writer = await member(worker)
    await writer.send(
        {"type": "send", "room": "newcomers", "text": WITH_DETAILS, "client_id": "p1"}
    )
    ack = await writer.expect("ack", client_id="p1")
    assert ack["notice"] == "pii_redacted"
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "p2"})
    await writer.expect("ack", client_id="p2")
    flags = {f["text"]: f for f in await moderator.flags()}
    redacted = next(f for text, f in flags.items() if "[removed]" in text)
    assert "555-0142" not in redacted["text"] and "example.com" not in redacted["text"]
    assert redacted["removed"] == ["email", "phone"]
    crisis = flags[CRISIS]
    context_text = " ".join(c["text"] for c in crisis["context"])
    assert "555-0142" not in context_text and "555-0177" not in context_text
    assert "[removed]" in context_text
    await moderator.close()
    stored = b"".join(p.read_bytes() for p in (worker.workdir / "data").glob("moderation*"))
    assert b"555-0142" not in stored and b"ana.b@example.com" not in stored
    assert b"555-0177" not in stored


async def test_a_writer_can_delete_their_own_message_for_everyone_and_from_flags(
    workers: tuple[HarborProcess, ...],
) -> None:
    """Before: nobody could delete their own message."""
    one, two = workers
    moderator = await signed_in(two)
    writer, reader = await member(one), await member(two)
    said = await writer.say("newcomers", "i shared too much earlier, sorry all", "d1")
    await writer.send({"type": "send", "room": "newcomers", "text": CRISIS, "client_id": "d2"})
    await writer.expect("ack", client_id="d2")
    (flag,) = await moderator.flags()
    assert said["id"] in [c["id"] for c in flag["context"]]
    await reader.send({"type": "delete", "room": "newcomers", "id": said["id"]})
    assert (await reader.expect("error"))["code"] == "not_yours"
    await writer.send({"type": "delete", "room": "newcomers", "id": said["id"]})
    await writer.expect("deleted", id=said["id"])
    await reader.expect("hidden", id=said["id"])
    late = await member(one)
    assert said["id"] not in [m["id"] for m in late.last_joined["history"]]
    (flag,) = await moderator.flags()
    assert said["id"] not in [c["id"] for c in flag["context"]]
    assert flag["text"] == CRISIS, "the crisis itself stays with the moderators"
    await moderator.close()
