"""The case around the person, end to end on two workers and one Redis: whether the writer is
here, the follow-up when they come back after their case was resolved, notes, hand-over notes
and the search of resolved cases."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess, seconds

from .test_moderation_flow import CRISIS_WITH_MEANS, Moderator, add_moderator, member, signed_in


@pytest.fixture
def workers(harbor: HarborFactory, redis_server: RedisProcess) -> tuple[HarborProcess, ...]:
    add_moderator(redis_server, "alice")
    env = {"HARBOR_SEND_RATE_PER_10S": "200", "HARBOR_SEND_BURST": "50"}
    return harbor(redis_server, **env), harbor(redis_server, **env)


async def writers(moderator: Moderator) -> dict[str, Any]:
    response = await moderator.http.get("/mod/api/writers")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def until_writers(moderator: Moderator, check: Any, within: float = 10) -> dict[str, Any]:
    """Polls /mod/api/writers (the presence of another worker's sockets) until `check` holds."""
    deadline = time.monotonic() + seconds(within)
    while True:
        answer = await writers(moderator)
        if check(answer):
            return answer
        if time.monotonic() >= deadline:
            raise TimeoutError(f"writers never matched: {answer}")
        await asyncio.sleep(0.1)


async def test_a_writer_on_another_worker_shows_online_and_a_return_after_resolution_prompts(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    assert moderator.feed is not None
    writer = await member(one)
    await writer.say("newcomers", CRISIS_WITH_MEANS, "c1")
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    await until_writers(moderator, lambda a: flag["id"] in a["online"])
    case = (await moderator.http.get(f"/mod/api/cases/{flag['id']}")).json()
    assert case["online"] is True and case["flag"]["id"] == flag["id"]

    token = writer.token
    await writer.close()
    await until_writers(moderator, lambda a: flag["id"] not in a["online"])
    resolved = await moderator.act(flag["id"], "resolve", outcome="supported", note="")
    assert resolved.status_code == 200
    assert (await writers(moderator))["followups"] == []

    back = await Client.connect(one.ws)
    await back.hello(token)  # the same person, on the same device
    answer = await until_writers(moderator, lambda a: a["followups"])
    assert [f["id"] for f in answer["followups"]] == [flag["id"]]
    assert "uid" not in answer["followups"][0]
    done = await moderator.http.post(f"/mod/api/cases/{flag['id']}/followed-up", json={})
    assert done.status_code == 200 and done.json()["flag"]["followed_up_ms"] > 0
    assert (await writers(moderator))["followups"] == []
    await back.close()
    await moderator.close()


async def test_a_writer_who_never_left_is_not_prompted_as_come_back(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    assert moderator.feed is not None
    writer = await member(one)
    await writer.say("newcomers", CRISIS_WITH_MEANS, "c1")
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    await moderator.act(flag["id"], "resolve", outcome="supported", note="")
    await until_writers(moderator, lambda a: flag["id"] in a["online"])
    second = await member(one)  # someone else arriving does not count either
    await until_writers(moderator, lambda a: flag["id"] in a["online"] and not a["followups"])
    await second.close()
    await writer.close()
    await moderator.close()


async def test_notes_handover_and_the_search_of_resolved_cases(
    workers: tuple[HarborProcess, ...],
) -> None:
    one, two = workers
    moderator = await signed_in(two)
    assert moderator.feed is not None
    writer = await member(one, "alcohol")
    await writer.say("alcohol", CRISIS_WITH_MEANS, "c1")
    flag = (await moderator.feed.expect("flag", within=10, event="raised"))["flag"]
    http = moderator.http
    note = await http.post(f"/mod/api/cases/{flag['id']}/notes", json={"text": "Rang 988 with her"})
    assert note.status_code == 200
    assert [n["text"] for n in note.json()["notes"]] == ["Rang 988 with her"]
    assert (
        await http.post(f"/mod/api/cases/{flag['id']}/notes", json={"text": " "})
    ).status_code == 400
    await moderator.act(flag["id"], "resolve", outcome="referred", note="")

    handover = await http.post("/mod/api/handover", json={"text": "Quiet night; one referral."})
    assert [n["text"] for n in handover.json()["notes"]] == ["Quiet night; one referral."]
    assert (await http.get("/mod/api/handover")).json()["notes"][0]["moderator"] == "alice"

    async def found(**params: str) -> list[str]:
        response = await http.get("/mod/api/cases", params=params)
        assert response.status_code == 200, response.text
        return [case["id"] for case in response.json()["cases"]]

    assert await found(room="alcohol", outcome="referred") == [flag["id"]]
    assert await found(room="newcomers") == []
    assert await found(category=flag["categories"][0]) == [flag["id"]]
    assert await found(outcome="supported") == []
    now = int(time.time() * 1000)
    assert await found(from_ms=str(now - 3_600_000), to_ms=str(now + 3_600_000)) == [flag["id"]]
    assert await found(to_ms=str(now - 3_600_000)) == []
    bad = await http.get("/mod/api/cases", params={"outcome": "nonsense"})
    assert bad.status_code == 400 and "outcome" in bad.json()["message"]
    audit = (await http.get("/mod/api/audit")).json()["entries"]
    actions = [entry["action"] for entry in audit]
    assert "note" in actions and "handover" in actions
    assert all("Rang 988" not in str(entry) for entry in audit), "notes stay out of the audit"
    await writer.close()
    await moderator.close()
