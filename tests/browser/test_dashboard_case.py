"""A dependable case (#19 item 3), in a real browser against two workers on one Redis: a
check-in sits inside its case and survives a reload of the dashboard, the writer's presence is
shown on the case, notes stay with the case, and resolved cases are found again by room,
outcome and date."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess

from .chat import ChatPage, ms
from .conftest import Chromium, screenshot_path
from .dashboard import Dashboard, add_moderators

CRISIS = "honestly i want to die, i don't see the point of waking up anymore"  # high
ENV = {"HARBOR_SEND_RATE_PER_10S": "200", "HARBOR_SEND_BURST": "50"}


@pytest.fixture
def workers(harbor: HarborFactory, redis_server: RedisProcess) -> tuple[HarborProcess, ...]:
    add_moderators(redis_server, "alice")
    return harbor(redis_server, **ENV), harbor(redis_server, **ENV)


async def test_a_check_in_stays_beside_its_case_through_a_reload_of_the_dashboard(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    one, two = workers
    mod = await Dashboard.signed_in(chromium, two, "alice")
    person = await ChatPage.open(chromium, one)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(CRISIS)
    await person.page.get_by_role("dialog").get_by_role("button", name="Close").click()
    case = await mod.open_case(name)
    await expect(case.locator("#writer-online")).to_have_text("here now", timeout=ms(15))
    await mod.action("Claim").click()
    await mod.action("Open private check-in").click()
    await person.page.get_by_role("button", name="Join private check-in").click(timeout=ms(10))
    await person.wait_joined()
    panel = case.locator(".checkin")  # inside the case, not somewhere else on the page
    await expect(panel).to_be_visible()
    await expect(panel.locator(".checkin-state")).to_contain_text("Only this person and volunteers")
    await panel.get_by_label("Your message").fill("Hi, I'm here. Are you safe right now?")
    await panel.get_by_role("button", name="Send").click()
    await person.wait_message("Hi, I'm here. Are you safe right now?")
    await case.get_by_label("A note for the volunteers on this case").fill("Talking in check-in.")
    await case.get_by_role("button", name="Add note").click()
    await expect(case.locator("#notes-list li")).to_have_count(1)

    await mod.page.reload()
    await mod.wait_live()
    case = mod.page.locator("#case")
    await expect(case).to_be_visible()
    await expect(case.locator("#case-title")).to_have_text("High: suicide")
    panel = case.locator(".checkin")
    await expect(panel.locator(".checkin-msg")).to_have_count(1, timeout=ms(10))
    await expect(panel.locator(".checkin-state")).to_contain_text("Only this person and volunteers")
    await expect(case.locator("#notes-list")).to_contain_text("Talking in check-in.")
    await person.say("not really, but talking helps")
    await expect(panel.locator(".checkin-msg").last).to_contain_text(
        "not really, but talking helps", timeout=ms(10)
    )
    await panel.get_by_label("Your message").fill("I'm staying right here with you.")
    await panel.get_by_role("button", name="Send").click()
    await person.wait_message("I'm staying right here with you.")
    box = await case.locator("#case-title").bounding_box()
    panel_box = await panel.bounding_box()
    assert box is not None and panel_box is not None
    assert abs(panel_box["x"] - box["x"]) < 40, "the check-in sits in the case's column"
    await mod.page.screenshot(path=screenshot_path("mod-checkin-in-case.png"), full_page=True)

    await person.page.close()  # the person leaves: the case says so
    await expect(case.locator("#writer-online")).to_have_text("not here now", timeout=ms(30))


async def resolved_case(worker: HarborProcess, mod: Dashboard, room: str, outcome: str) -> str:
    """Someone writes a crisis message in `room`; the volunteer resolves it with `outcome`."""
    client = await Client.connect(worker.ws)
    name: str = (await client.hello())["name"]
    await client.join(room)
    await client.say(room, CRISIS, "c1")
    case = await mod.open_case(name)
    await case.locator("#resolve-outcome").select_option(outcome)
    await case.get_by_role("button", name="Resolve", exact=True).click()
    await mod.status(f"Resolved as {outcome.replace('_', ' ')}.")
    await client.close()
    return name


async def test_resolved_cases_are_found_by_room_outcome_and_date_and_open_again(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    one, two = workers
    mod = await Dashboard.signed_in(chromium, two, "alice")
    newcomer = await resolved_case(one, mod, "newcomers", "supported")
    drinker = await resolved_case(one, mod, "alcohol", "referred")
    page = mod.page
    history = page.locator(".history-pane")
    results = history.locator("#history-body tr")

    await history.get_by_role("button", name="Search").click()
    await expect(results).to_have_count(2)
    await expect(results.first).to_contain_text(drinker)  # the most recently resolved first

    await history.get_by_label("In room").select_option(label="Newcomers")
    await history.get_by_role("button", name="Search").click()
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text(newcomer)
    await expect(results.first).to_contain_text("supported")

    await history.get_by_label("In room").select_option("")
    await history.get_by_label("Resolved as").select_option("referred")
    await history.get_by_role("button", name="Search").click()
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text(drinker)
    await expect(results.first).to_contain_text("referred to a crisis line")

    await history.get_by_label("Resolved as").select_option("")
    await history.get_by_label("Resolved from").fill("2001-01-01")
    await history.get_by_label("Resolved until").fill("2001-01-31")
    await history.get_by_role("button", name="Search").click()
    await expect(history.locator("#history-status")).to_have_text("No resolved cases match.")
    await expect(results).to_have_count(0)

    await history.get_by_label("Resolved from").fill("")
    await history.get_by_label("Resolved until").fill("")
    await history.get_by_label("Category").select_option(label="suicide")
    await history.get_by_role("button", name="Search").click()
    await expect(results).to_have_count(2)
    await results.filter(has_text=newcomer).get_by_role("button", name="Open").click()
    case = page.locator("#case")
    await expect(case.locator("#case-facts")).to_contain_text(f"{newcomer} in Newcomers")
    await expect(case.locator("#case-facts")).to_contain_text("Resolved: supported")


async def test_a_person_who_comes_back_after_their_crisis_case_was_resolved_prompts_a_follow_up(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    """The "Came back" prompt (HARBOR_FOLLOW_UP_HOURS): the person of a resolved crisis case
    leaves and returns on the same device; the dashboard says so, opens the case, and "Done"
    puts the prompt away."""
    one, two = workers
    mod = await Dashboard.signed_in(chromium, two, "alice")
    person = await ChatPage.open(chromium, one)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(CRISIS)
    await person.page.get_by_role("dialog").get_by_role("button", name="Close").click()
    case = await mod.open_case(name)
    await expect(case.locator("#writer-online")).to_have_text("here now", timeout=ms(15))
    context = person.page.context
    await person.page.close()  # the person leaves
    await expect(case.locator("#writer-online")).to_have_text("not here now", timeout=ms(30))
    await mod.page.get_by_role("button", name="Resolve", exact=True).click()
    await mod.status("Resolved as supported.")
    came_back = mod.page.locator("#followups")
    await expect(came_back).to_be_hidden()

    back = await context.new_page()  # the same device: the token is still in localStorage
    chromium.watch_page(back)
    await back.goto(one.http + "/")
    await expect(back.locator("#my-name")).to_have_text(name, timeout=ms(15))
    await expect(came_back).to_be_visible(timeout=ms(30))
    await expect(came_back).to_contain_text(f"{name} is back in Harbor")
    await expect(came_back).to_contain_text("high case")
    await expect(came_back).to_contain_text("Say hello?")
    await mod.page.screenshot(path=screenshot_path("mod-came-back.png"), full_page=True)
    await came_back.get_by_role("button", name="Open the case").click()
    await expect(mod.page.locator("#case-title")).to_be_focused()
    await expect(case.locator("#writer-online")).to_have_text("here now", timeout=ms(15))
    await came_back.get_by_role("button", name="Done").click()
    await expect(came_back).to_be_hidden(timeout=ms(10))
    await mod.page.reload()
    await mod.wait_live()
    await expect(came_back).to_be_hidden()
