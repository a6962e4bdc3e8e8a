"""Time to a human on the dashboard: a flag past its target is marked, and once a volunteer
claims it and writes to the person, the case and the "Time to a human" table say how long each
took (from the shared store, as every volunteer's dashboard sees it)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import HarborProcess, RedisProcess

from .chat import ChatPage, ms
from .conftest import Chromium
from .dashboard import Dashboard, add_moderators

CRISIS = "honestly i want to die, i don't see the point of waking up anymore"  # high
TARGET_S = "2"


@pytest.fixture
def worker(harbor: HarborFactory, redis_server: RedisProcess) -> HarborProcess:
    add_moderators(redis_server, "alice")
    return harbor(
        redis_server,
        HARBOR_TARGET_IMMINENT_S=TARGET_S,
        HARBOR_TARGET_HIGH_S=TARGET_S,
        HARBOR_SEND_RATE_PER_10S="200",
        HARBOR_SEND_BURST="50",
    )


async def test_a_flag_past_its_target_is_marked_and_the_wait_for_a_human_is_shown(
    chromium: Chromium, worker: HarborProcess
) -> None:
    mod = await Dashboard.signed_in(chromium, worker, "alice")
    table = mod.page.locator("#response-body")
    high = table.locator('tr[data-severity="high"]')
    await expect(high.locator("td").nth(1)).to_have_text("2 s")  # the target, a setting
    await expect(high.locator("td").nth(3)).to_have_text("no cases yet")

    person = await ChatPage.open(chromium, worker)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(CRISIS)
    await person.page.get_by_role("dialog").get_by_role("button", name="Close").click()
    item = mod.item(name)
    await expect(item.locator(".tag-overdue")).to_have_text("past target", timeout=ms(40))
    await expect(high.locator("td").nth(2)).to_contain_text("1 (longest", timeout=ms(15))

    case = await mod.open_case(name)
    facts = case.locator(".case-facts")
    await expect(facts).to_contain_text("not claimed yet (target 2 s)")
    await mod.action("Claim").click()
    await mod.status("You have this case. The writer was told a volunteer is looking.")
    await expect(item.locator(".tag-overdue")).to_have_count(0)
    await expect(facts).to_contain_text(re.compile(r"claimed after \d+ s; no words to the person"))

    await mod.action("Open private check-in").click()
    join = person.page.get_by_role("button", name="Join private check-in")
    await expect(join).to_be_visible(timeout=ms(10))
    await join.click()
    await person.wait_joined()
    panel = mod.page.locator(".checkin")
    await panel.get_by_label("Your message").fill("Hi, I'm here. How are you doing?")
    await panel.get_by_role("button", name="Send").click()
    await person.wait_message("Hi, I'm here. How are you doing?")
    await expect(facts).to_contain_text(re.compile(r"first words after \d+"), timeout=ms(10))
    await expect(mod.page.locator("#announcer")).to_contain_text("A volunteer has written to")

    await expect(high.locator("td").nth(3)).to_contain_text("1 case", timeout=ms(15))
    await expect(high.locator("td").nth(4)).to_contain_text("1 case", timeout=ms(15))
    await expect(high.locator("td").nth(5)).to_have_text("1 of 1")  # claimed past the target
    await expect(high.locator("td").nth(2)).to_have_text("none")
