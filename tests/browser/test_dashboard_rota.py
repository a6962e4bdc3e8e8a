"""The rota (#19 item 2) in a real browser against a worker on Redis: a coordinator is warned
of the gap within a day, nights marked; a volunteer adds a weekly shift on their own clock and
the gaps close around it; and once nobody is on duty, the chat page says when the next volunteer
is expected -- because the rota says so, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import HarborProcess, RedisProcess

from .chat import ChatPage, ms
from .conftest import Chromium, screenshot_path
from .dashboard import Dashboard, add_moderators

# The page's clock, so the test knows which weekday to pick.
ZONE: dict[str, Any] = {"timezone_id": "UTC"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@pytest.fixture
def worker(harbor: HarborFactory, redis_server: RedisProcess) -> HarborProcess:
    add_moderators(redis_server, "vera")
    add_moderators(redis_server, "cole", role="coordinator")
    return harbor(redis_server)


async def test_the_rota_shows_its_gaps_warns_a_coordinator_and_tells_people_the_next_volunteer(
    chromium: Chromium, worker: HarborProcess
) -> None:
    person = await ChatPage.open(chromium, worker, **ZONE)
    duty = person.page.locator("#duty")
    await expect(duty).to_have_text("Moderators: none on duty right now")  # no rota: no time

    cole = await Dashboard.signed_in(chromium, worker, "cole", **ZONE)
    rota = cole.page.locator("#rota")
    warning = rota.locator("#rota-warning")
    await expect(warning).to_contain_text("Gap within a day: nobody is on the rota")
    await expect(rota.locator("#rota-gaps-day .gap")).to_have_count(1)
    await expect(rota.locator("#rota-gaps-day .gap-night")).to_have_count(1)  # 24 h has a night
    await expect(rota.locator("#rota-gaps-day")).to_contain_text("night")

    vera = await Dashboard.signed_in(chromium, worker, "vera", **ZONE)
    mine = vera.page.locator("#rota")
    await expect(mine.locator("#rota-warning")).to_be_hidden()  # the warning is coordinators'
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    await mine.get_by_label("Every").select_option(label=WEEKDAYS[start.weekday()])
    await mine.get_by_label("from").fill(start.strftime("%H:%M"))
    await mine.get_by_label("for").select_option("240")
    await mine.get_by_role("button", name="Add shift").click()
    await expect(mine.locator("#rota-status")).to_have_text("Shift added. Thank you.")
    await expect(mine.locator("#rota-mine")).to_contain_text(
        f"{WEEKDAYS[start.weekday()]}s {start:%H:%M} for 4 h (UTC)"
    )
    await expect(mine.locator("#rota-gaps-day .gap")).to_have_count(2)  # before it, after it
    await cole.page.reload()
    await cole.wait_live()
    await expect(rota.locator("#rota-gaps-day .gap")).to_have_count(2)
    await expect(warning).to_contain_text("Gap within a day")
    await cole.page.screenshot(path=screenshot_path("mod-rota.png"), full_page=True)

    await vera.page.close()  # nobody on duty now: the page says what the rota says
    await cole.page.close()
    hour = start.strftime("%-I %p")
    await expect(duty).to_contain_text(
        "Moderators: none on duty right now. The next volunteer is expected", timeout=ms(15)
    )
    await expect(duty).to_contain_text(f"around {hour}")
    await person.page.screenshot(path=screenshot_path("chat-next-volunteer.png"))
