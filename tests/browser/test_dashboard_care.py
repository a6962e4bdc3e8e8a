"""Care first on crisis cases (#19 item 4): support actions come first; warn, mute and ban are
folded away below them and each asks for confirmation. On a case without a crisis (dealing in
a room) the same actions are open from the start."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import HarborProcess, RedisProcess

from .chat import ChatPage
from .conftest import Chromium
from .dashboard import EXPECTED_409, Dashboard, add_moderators

CRISIS_WITH_MEANS = (  # imminent
    "i can't do this anymore, the pills are lined up and i'm taking them all tonight"
)
SOLICITING = "anyone selling oxy near downtown? dm me, paying cash"  # concern


@pytest.fixture
def worker(harbor: HarborFactory, redis_server: RedisProcess) -> HarborProcess:
    add_moderators(redis_server, "alice")
    return harbor(redis_server, HARBOR_SEND_RATE_PER_10S="200", HARBOR_SEND_BURST="50")


async def test_on_a_crisis_case_support_comes_first_and_a_warning_needs_confirming(
    chromium: Chromium, worker: HarborProcess
) -> None:
    chromium.allow_console_error(EXPECTED_409)  # the API's confirmation step
    mod = await Dashboard.signed_in(chromium, worker, "alice")
    person = await ChatPage.open(chromium, worker)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(CRISIS_WITH_MEANS)
    case = await mod.open_case(name)

    buttons = await case.get_by_role("button").all_inner_texts()
    support = buttons.index("Claim")
    assert buttons.index("Open private check-in") == support + 1
    sanctions = case.locator("#sanctions")
    await expect(sanctions).not_to_have_attribute("open", "")
    await expect(sanctions).to_contain_text("This person may be in crisis: reach out first.")
    for label in ("Send warning…", "Mute…", "Ban…"):
        await expect(case.get_by_role("button", name=label)).to_be_hidden()
    await expect(case.get_by_role("button", name="Claim")).to_be_in_viewport()

    # Opened on purpose, a warning still asks first; Cancel changes nothing.
    await sanctions.locator("summary").click()
    await case.get_by_label("What they will read").fill("Please keep the room safe for everyone.")
    await case.get_by_role("button", name="Send warning…").click()
    dialog = mod.page.get_by_role("dialog", name="Please confirm")
    await expect(dialog).to_contain_text(f"Send {name} this warning?")
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await dialog.get_by_role("button", name="Cancel").click()
    await mod.status("Nothing was changed.")
    await expect(person.page.locator("body")).not_to_contain_text("keep the room safe")

    await case.get_by_role("button", name="Send warning…").click()
    await dialog.get_by_role("button", name="Send warning").click()
    await mod.status("Warning sent.")
    await expect(person.page.locator("body")).to_contain_text("keep the room safe")


async def test_a_case_without_a_crisis_shows_warn_mute_and_ban_from_the_start(
    chromium: Chromium, worker: HarborProcess
) -> None:
    mod = await Dashboard.signed_in(chromium, worker, "alice")
    person = await ChatPage.open(chromium, worker)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(SOLICITING)
    case = await mod.open_case(name)
    await expect(case.locator("#sanctions")).to_have_attribute("open", "")
    await expect(case.get_by_role("button", name="Mute…")).to_be_visible()
    await expect(case.locator("#sanctions-note")).to_have_text("")
