"""The /ws endpoint of a real embedded worker, driven by real WebSocket clients."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, StalledReader, seconds, until, wait_until


@pytest.fixture
def worker(harbor: HarborFactory) -> HarborProcess:
    return harbor(HARBOR_SEND_RATE_PER_10S="20", HARBOR_SEND_BURST="5")


async def closed_code(client: Client) -> int | None:
    try:
        while True:
            await asyncio.wait_for(client.ws.recv(), seconds(5))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_two_members_chat_and_the_sender_gets_an_ack_and_its_own_message(
    worker: HarborProcess,
) -> None:
    alice, bob = await Client.connect(worker.ws), await Client.connect(worker.ws)
    await alice.hello()
    await bob.hello()
    await alice.join("newcomers")
    await bob.join("newcomers")
    ack = await alice.say("newcomers", "hello, first day here", "c-1")
    for member in (alice, bob):
        message = await member.expect("message", id=ack["id"])
        assert message["text"] == "hello, first day here"
        assert message["from"] == alice.name
        assert message["room"] == "newcomers"
        assert isinstance(message["ts"], int)


async def test_the_log_keeps_no_message_text_token_address_or_line_per_socket(
    worker: HarborProcess,
) -> None:
    """Privacy by default: after a chat (crisis words included) and a goodbye, the worker's
    log holds none of the text, the token, the peer's address, nor websockets' per-socket
    "connection open/closed" lines (noise that costs CPU in a reconnect storm)."""
    alice, bob = await Client.connect(worker.ws), await Client.connect(worker.ws)
    welcome = await alice.hello()
    await bob.hello()
    for client in (alice, bob):
        await client.join("newcomers")
    ports = [str(client.ws.local_address[1]) for client in (alice, bob)]
    text = "zq-private-words: I want to die tonight"
    ack = await alice.say("newcomers", text, "c-private")
    await bob.expect("message", id=ack["id"])
    await alice.ws.close()
    await bob.ws.close()
    # the worker has let both sockets go (and written whatever it writes on a goodbye)
    await until(
        lambda: "harbor_connections 0.0" in worker.get_text("/metrics"), 10, "both sockets let go"
    )
    log = worker.log()
    assert "zq-private-words" not in log
    assert welcome["token"] not in log
    assert not [port for port in ports if f":{port}" in log or f", {port})" in log]
    assert "connection open" not in log and "connection closed" not in log


async def test_a_returning_token_keeps_its_pseudonym(worker: HarborProcess) -> None:
    first = await Client.connect(worker.ws)
    welcome = await first.hello()
    await first.close()
    again = await Client.connect(worker.ws)
    assert (await again.hello(welcome["token"]))["name"] == welcome["name"]


async def test_a_forged_token_gets_a_fresh_identity(worker: HarborProcess) -> None:
    first = await Client.connect(worker.ws)
    welcome = await first.hello()
    uid_part, _, mac = welcome["token"].partition(".")
    forged = await Client.connect(worker.ws)
    fresh = await forged.hello(uid_part + "." + ("A" if mac[0] != "A" else "B") + mac[1:])
    assert fresh["token"] != welcome["token"]


async def test_a_resent_client_id_is_acked_with_the_original_id_and_published_once(
    worker: HarborProcess,
) -> None:
    alice, bob = await Client.connect(worker.ws), await Client.connect(worker.ws)
    await alice.hello()
    await bob.hello()
    await alice.join("alcohol")
    await bob.join("alcohol")
    first = await alice.say("alcohol", "day 3", "same-id")
    second = await alice.say("alcohol", "day 3", "same-id")
    assert first["id"] == second["id"]
    marker = await alice.say("alcohol", "marker", "marker-id")
    await bob.expect("message", id=marker["id"])
    ids = [f["id"] for f in bob.backlog if f.get("type") == "message"]
    assert ids == [first["id"]]


async def test_commands_before_hello_are_refused_and_hello_still_works(
    worker: HarborProcess,
) -> None:
    client = await Client.connect(worker.ws)
    await client.send({"type": "join", "room": "newcomers"})
    assert (await client.expect("error"))["code"] == "hello_first"
    await client.hello()
    assert (await client.join("newcomers"))["room"] == "newcomers"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "join", "room": "Not A Room!"}', "bad_field"),
        ('{"type": "join", "room": "no-such-room"}', "unknown_room"),
        ('{"type": "send", "room": "newcomers", "text": "hi", "client_id": "x"}', "not_joined"),
        ('{"type": "leave", "room": "newcomers"}', "not_joined"),
        ('{"type": "send", "room": "newcomers", "text": "   ", "client_id": "x"}', "empty_text"),
    ],
)
async def test_bad_frames_get_an_error_frame_and_the_connection_stays_usable(
    worker: HarborProcess, frame: str, code: str
) -> None:
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.ws.send(frame)
    assert (await client.expect("error"))["code"] == code
    await client.send({"type": "ping"})
    await client.expect("pong")


async def test_text_longer_than_the_limit_is_refused_with_its_client_id(
    harbor: HarborFactory,
) -> None:
    worker = harbor(HARBOR_MAX_TEXT_CHARS="50")
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.join("newcomers")
    await client.send({"type": "send", "room": "newcomers", "text": "x" * 51, "client_id": "long"})
    error = await client.expect("error", client_id="long")
    assert error["code"] == "text_too_long"
    assert (await client.say("newcomers", "x" * 50, "ok"))["id"] >= 1


async def test_sending_faster_than_the_rate_limit_gets_rate_limited_errors(
    worker: HarborProcess,
) -> None:
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.join("newcomers")
    for n in range(8):
        await client.send(
            {"type": "send", "room": "newcomers", "text": f"m{n}", "client_id": f"r{n}"}
        )
    outcomes = []
    for n in range(8):
        ack_or_error = await client.expect_any(("ack", "error"), client_id=f"r{n}")
        outcomes.append(ack_or_error)
    acked = [f for f in outcomes if f["type"] == "ack"]
    limited = [f for f in outcomes if f["type"] == "error"]
    assert len(acked) == 5
    assert {f["code"] for f in limited} == {"rate_limited"}
    assert all(f["retry_after_ms"] > 0 for f in limited)


async def test_a_binary_frame_on_a_json_connection_closes_1003(worker: HarborProcess) -> None:
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.ws.send(b"\x00\x01")
    assert await closed_code(client) == 1003


async def test_invalid_utf8_in_a_text_frame_closes_1007(worker: HarborProcess) -> None:
    client = await Client.connect(worker.ws)
    await client.hello()
    # websockets sends bytes given to send_text as they are, so this frame is not UTF-8.
    client.ws.protocol.send_text(b"\xff\xfe")
    client.ws.send_data()
    assert await closed_code(client) == 1007


async def test_a_frame_over_the_size_limit_closes_1009(harbor: HarborFactory) -> None:
    worker = harbor(HARBOR_MAX_FRAME_BYTES="1024")
    client = await Client.connect(worker.ws, max_size=None)
    await client.hello()
    await client.ws.send(json.dumps({"type": "ping", "pad": "x" * 2000}))
    assert await closed_code(client) == 1009


async def test_no_hello_within_the_timeout_closes_1008(harbor: HarborFactory) -> None:
    worker = harbor(HARBOR_HELLO_TIMEOUT_S="0.5")
    client = await Client.connect(worker.ws)
    assert await closed_code(client) == 1008


async def test_a_foreign_origin_is_refused_at_the_handshake(worker: HarborProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await Client.connect(worker.ws, origin="https://evil.example.com")
    assert refused.value.response.status_code == 403
    same = await Client.connect(worker.ws, origin=worker.http)
    await same.hello()


async def test_an_allowed_origin_list_replaces_same_origin(harbor: HarborFactory) -> None:
    worker = harbor(HARBOR_ALLOWED_ORIGINS="https://harbor.example.org")
    allowed = await Client.connect(worker.ws, origin="https://harbor.example.org")
    await allowed.hello()
    with pytest.raises(InvalidStatus):
        await Client.connect(worker.ws, origin=worker.http)


async def test_msgpack_subprotocol_speaks_binary_frames_with_json_members_in_the_same_room(
    worker: HarborProcess,
) -> None:
    packed = await Client.connect(worker.ws, msgpack_codec=True)
    plain = await Client.connect(worker.ws)
    assert packed.ws.subprotocol == "harbor.msgpack"
    await packed.hello()
    await plain.hello()
    await packed.join("opioids")
    await plain.join("opioids")
    ack = await plain.say("opioids", "día 12 ✨", "p1")
    assert (await packed.expect("message", id=ack["id"]))["text"] == "día 12 ✨"
    ack2 = await packed.say("opioids", "back", "p2")
    assert (await plain.expect("message", id=ack2["id"]))["text"] == "back"


async def test_text_frames_on_a_msgpack_connection_close_1003(worker: HarborProcess) -> None:
    client = await Client.connect(worker.ws, msgpack_codec=True)
    await client.ws.send('{"type": "hello"}')
    assert await closed_code(client) == 1003


async def test_join_limits_and_leave(harbor: HarborFactory) -> None:
    worker = harbor(HARBOR_MAX_ROOMS_PER_CONNECTION="2")
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.join("newcomers")
    await client.send({"type": "join", "room": "newcomers"})
    assert (await client.expect("error"))["code"] == "already_joined"
    await client.join("alcohol")
    await client.send({"type": "join", "room": "opioids"})
    assert (await client.expect("error"))["code"] == "too_many_rooms"
    await client.send({"type": "leave", "room": "alcohol"})
    await client.expect("left", room="alcohol")
    await client.join("opioids")


async def test_a_member_that_stops_reading_is_closed_4008_and_others_keep_receiving(
    harbor: HarborFactory,
) -> None:
    worker = harbor(HARBOR_OUTBOX_BYTES="8192", HARBOR_SEND_RATE_PER_10S="100000",
                    HARBOR_SEND_BURST="10000")  # fmt: skip
    slow = StalledReader(worker.ws)
    try:
        slow.send({"type": "hello"})
        slow.send({"type": "join", "room": "stimulants"})
        slow.read_frames(lambda frame: frame.get("type") == "joined")
        talker, listener = await Client.connect(worker.ws), await Client.connect(worker.ws)
        for client in (talker, listener):
            await client.hello()
            await client.join("stimulants")
        # Kernel socket buffers absorb some of it before the worker's own outbox fills: send
        # until the worker reports the drop, with a hard bound on how much that may take.
        text = "x" * 1900
        dropped = False
        for n in range(6000):
            ack = await talker.say("stimulants", text, f"s{n}")
            await listener.expect("message", id=ack["id"])
            talker.drop_messages()
            listener.drop_messages()
            if n % 100 == 99:
                dropped = "harbor_slow_members_dropped_total 1.0" in worker.get_text("/metrics")
                if dropped:
                    break
        assert dropped, "the stalled member was never dropped"
        code = await asyncio.to_thread(slow.close_code_after_draining)
        assert code == 4008
        # What was still queued for it is bounded by the outbox: the worker caps the kernel's
        # send buffer at the outbox size too (left to autotuning, the kernel alone held ~2 MB
        # of these for a stalled reader before the outbox saw a byte).
        assert slow.drained_bytes < 8 * 8192, f"{slow.drained_bytes} bytes were queued for it"
    finally:
        slow.close()


async def test_metrics_count_messages_fanout_latency_and_flags(worker: HarborProcess) -> None:
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.join("newcomers")
    await client.say("newcomers", "first week sober, one day at a time", "ok-1")
    await client.send(
        {"type": "send", "room": "newcomers", "text": "i want to kill myself", "client_id": "c"}
    )
    await client.expect("ack", client_id="c")

    def series(text: str, name: str) -> float:
        line = next((ln for ln in text.splitlines() if ln.startswith(name + " ")), None)
        return float(line.split()[-1]) if line else -1.0

    def exposed() -> bool:
        text = worker.get_text("/metrics")
        fanned = series(text, "harbor_fanout_messages_total")
        return (
            series(text, "harbor_messages_in_total") == 2.0
            and 'harbor_flags_raised_total{category="suicide"' in text
            and series(text, "harbor_fanout_latency_seconds_count") == 2.0
            and series(text, "harbor_moderation_seconds_count") == 2.0
            # One codec in use: exactly one encode per fanned-out event (messages + presence).
            and fanned >= 2.0
            and series(text, "harbor_frames_encoded_total") == fanned
        )

    await asyncio.to_thread(wait_until, exposed, 10, "metrics to reflect the traffic")
