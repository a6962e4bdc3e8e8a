"""The rota (#19 item 2) against a real worker on Redis: volunteers set their own weekly shifts,
coordinators anyone's and are warned of gaps; and while nobody is on duty, members are told when
the next volunteer is expected only when the rota says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess

from .test_abuse import moderators_cli
from .test_moderation_flow import PASSWORD, Moderator


@pytest.fixture
def worker(harbor: HarborFactory, redis_server: RedisProcess) -> HarborProcess:
    moderators_cli(redis_server, "add", "vera", "--password-stdin", password=PASSWORD)
    moderators_cli(
        redis_server, "add", "cole", "--role", "coordinator", "--password-stdin", password=PASSWORD
    )
    return harbor(redis_server)


async def signed(worker: HarborProcess, name: str) -> Moderator:
    moderator = Moderator(worker, name)
    await moderator.sign_in()
    return moderator


def shift_in(hours: float, minutes: int = 120) -> tuple[dict[str, object], int]:
    """A UTC shift starting about `hours` from now (on a whole minute), and its start in ms."""
    start = (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)
    shift = {
        "weekday": start.weekday(),
        "start_minute": start.hour * 60 + start.minute,
        "minutes": minutes,
        "tz": "UTC",
    }
    return shift, int(start.timestamp() * 1000)


async def test_volunteers_set_their_own_shifts_and_coordinators_anyones_and_see_the_gaps(
    worker: HarborProcess,
) -> None:
    vera, cole = await signed(worker, "vera"), await signed(worker, "cole")
    empty = (await vera.http.get("/mod/api/rota")).json()
    assert empty["shifts"] == [] and empty["on_now"] == [] and empty["next_ms"] is None
    (gap,) = empty["gaps_day"]
    assert gap["to_ms"] - gap["from_ms"] == 24 * 3600 * 1000
    assert empty["warning"] == [], "the gap warning is the coordinators'"
    assert len((await cole.http.get("/mod/api/rota")).json()["warning"]) == 1

    now_shift, _ = shift_in(-0.5)
    later, later_ms = shift_in(3)
    mine = await vera.http.post("/mod/api/rota/vera", json={"shifts": [now_shift, later]})
    assert mine.status_code == 200
    refused = await vera.http.post("/mod/api/rota/cole", json={"shifts": [later]})
    assert (refused.status_code, refused.json()["error"]) == (403, "role_required")
    bad = await vera.http.post("/mod/api/rota/vera", json={"shifts": [{**later, "tz": "Nowhere"}]})
    assert bad.status_code == 400
    rota = (await vera.http.get("/mod/api/rota")).json()
    assert rota["on_now"] == ["vera"]
    assert rota["next_ms"] == later_ms
    assert len(rota["gaps_day"]) == 2, "before the later shift, and after it"
    assert (await cole.http.post("/mod/api/rota/vera", json={"shifts": []})).status_code == 200
    assert (await cole.http.get("/mod/api/rota")).json()["shifts"] == []
    await vera.close()
    await cole.close()


async def test_members_hear_when_the_next_volunteer_is_expected_only_from_the_rota(
    worker: HarborProcess,
) -> None:
    member = await Client.connect(worker.ws)
    welcome = await member.hello()
    assert welcome["on_duty"] is False and "next_volunteer_ms" not in welcome, "no rota: no time"
    vera = await signed(worker, "vera")
    later, later_ms = shift_in(3)
    await vera.http.post("/mod/api/rota/vera", json={"shifts": [later]})
    duty = await member.expect("duty", within=10)
    assert duty == {"type": "duty", "on_duty": False, "next_volunteer_ms": later_ms}
    again = await Client.connect(worker.ws)
    assert (await again.hello())["next_volunteer_ms"] == later_ms
    await vera.http.post("/mod/api/rota/vera", json={"shifts": []})
    assert await member.expect("duty", within=10) == {"type": "duty", "on_duty": False}
    far, _ = shift_in(20)  # past HARBOR_NEXT_VOLUNTEER_HOURS (12): no time is named
    await vera.http.post("/mod/api/rota/vera", json={"shifts": [far]})
    assert (await vera.http.get("/mod/api/rota")).json()["next_ms"] is None
    await vera.close()
    await member.close()
    await again.close()
