"""Fair process (#19 item 5) in a real browser: a volunteer mutes someone with a reason; the
person reads the reason and the length, and appeals once; the appeal reaches another
coordinator's queue as a low-severity case, showing the sanction it appeals, and the moderator
who gave the sanction is refused when they try to decide it; the other coordinator lifts it, and
the person reads that at once and after a reload."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import HarborProcess, RedisProcess

from .chat import ChatPage, ms
from .conftest import Chromium, screenshot_path
from .dashboard import EXPECTED_403, EXPECTED_409, Dashboard, add_moderators

SOLICITING = "anyone selling oxy near downtown? dm me, paying cash"
ENV = {"HARBOR_SEND_RATE_PER_10S": "200", "HARBOR_SEND_BURST": "50"}


@pytest.fixture
def worker(harbor: HarborFactory, redis_server: RedisProcess) -> HarborProcess:
    add_moderators(redis_server, "alice", "cara", role="coordinator")
    return harbor(redis_server, **ENV)


async def test_a_sanction_tells_its_reason_and_length_and_its_appeal_reaches_another_coordinator(
    chromium: Chromium, worker: HarborProcess
) -> None:
    chromium.allow_console_error(EXPECTED_409)  # the mute's confirmation step
    chromium.allow_console_error(EXPECTED_403)  # alice may not decide an appeal of her own mute
    alice = await Dashboard.signed_in(chromium, worker, "alice")
    person = await ChatPage.open(chromium, worker)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(SOLICITING)
    await alice.open_case(name)
    sanctions = alice.page.locator("#sanctions")
    if await sanctions.get_attribute("open") is None:  # folded away on crisis cases only
        await sanctions.locator("summary").click()
    await alice.page.get_by_label("Reason").fill("Offering to buy pills")
    await alice.page.get_by_role("button", name="Mute…").click()
    dialog = alice.page.get_by_role("dialog", name="Please confirm")
    await dialog.get_by_role("button", name="Mute").click()
    await alice.status(f"Applied: mute {name} for 1 hour.")

    notice = person.page.locator("#sanction-notice")
    await expect(notice).to_contain_text(
        "A moderator paused your messages for 1 hour. The reason: Offering to buy pills",
        timeout=ms(10),
    )
    await expect(notice).to_contain_text("It ends on its own at")
    await notice.get_by_label("Think this was wrong?").fill("I was asking where not to go.")
    await notice.get_by_role("button", name="Send appeal").click()
    await expect(notice.get_by_role("status")).to_have_text(
        "Your appeal was sent. A volunteer who did not make this decision will look at it."
    )
    await expect(notice.get_by_role("button", name="Send appeal")).to_be_disabled()
    await person.page.screenshot(path=screenshot_path("chat-sanction-appeal.png"))

    cara = await Dashboard.signed_in(chromium, worker, "cara")
    appeal = cara.queue_items().filter(has_text="an appeal of a sanction")
    await expect(appeal).to_have_count(1, timeout=ms(10))
    await expect(appeal).to_contain_text("watch")
    await appeal.get_by_role("button").click()
    case = cara.page.locator("#case")
    await expect(case.locator("#case-facts")).to_contain_text(
        "Appeal of a mute by alice", timeout=ms(10)
    )
    await expect(case.locator("#case-facts")).to_contain_text("“Offering to buy pills”")
    await expect(case.locator("#case-thread")).to_contain_text("I was asking where not to go.")
    await cara.page.screenshot(path=screenshot_path("mod-appeal-case.png"), full_page=True)

    mine = alice.queue_items().filter(has_text="an appeal of a sanction")
    await mine.get_by_role("button").click()
    await alice.action("Claim").click()
    await alice.status("Not done: another moderator decides an appeal of yours")
    await cara.action("Claim").click()
    await expect(appeal).to_contain_text("yours", timeout=ms(10))

    # Cara lifts the mute: the person reads the decision at once, and again after a reload;
    # their next message reaches the room.
    decide = cara.page.locator("#decide-form")
    await expect(cara.page.locator("#resolve-form")).to_be_hidden()
    await decide.get_by_label("Decision").select_option("lifted")
    await decide.get_by_role("button", name="Decide").click()
    await cara.status("Appeal decided: lifted: the pause ended. The person has been told.")
    lifted = "Your appeal was read, and the pause on your messages is lifted: you can write again."
    await expect(notice).to_contain_text(lifted, timeout=ms(10))
    await expect(notice).not_to_contain_text("cara")
    await person.say("thank you for listening")
    await person.wait_message("thank you for listening")
    await person.page.reload()
    await expect(person.page.locator("#sanction-notice")).to_contain_text(lifted, timeout=ms(10))
    await person.page.locator("#sanction-notice").get_by_role("button", name="OK").click()
    await person.page.reload()
    await person.wait_online()
    await expect(person.page.locator("#sanction-notice")).to_have_count(0)


async def test_the_sanction_notice_and_its_one_appeal_survive_a_reload_until_forget_me(
    chromium: Chromium, worker: HarborProcess
) -> None:
    """Before: the notice lived only in the page, so a person who reloaded lost their appeal."""
    chromium.allow_console_error(EXPECTED_409)  # the mute's confirmation step
    alice = await Dashboard.signed_in(chromium, worker, "alice")
    person = await ChatPage.open(chromium, worker)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(SOLICITING)
    await alice.open_case(name)
    sanctions = alice.page.locator("#sanctions")
    if await sanctions.get_attribute("open") is None:
        await sanctions.locator("summary").click()
    await alice.page.get_by_label("Reason").fill("Offering to buy pills")
    await alice.page.get_by_role("button", name="Mute…").click()
    await (
        alice.page.get_by_role("dialog", name="Please confirm")
        .get_by_role("button", name="Mute")
        .click()
    )
    notice = person.page.locator("#sanction-notice")
    reason = "A moderator paused your messages for 1 hour. The reason: Offering to buy pills"
    await expect(notice).to_contain_text(reason, timeout=ms(10))

    await person.page.reload()
    await expect(notice).to_contain_text(reason, timeout=ms(10))
    await expect(notice).to_contain_text("It ends on its own at")
    await notice.get_by_label("Think this was wrong?").fill("I was asking where not to go.")
    await notice.get_by_role("button", name="Send appeal").click()
    await expect(notice.get_by_role("status")).to_have_text(
        "Your appeal was sent. A volunteer who did not make this decision will look at it."
    )
    await person.page.reload()
    await expect(notice).to_contain_text(
        "You have appealed this already; a volunteer will look at it.", timeout=ms(10)
    )
    await expect(notice.get_by_role("button", name="Send appeal")).to_have_count(0)

    await person.wait_online()
    await person.page.locator("#back").click()  # the footer's "Forget me" is on the room list
    await person.page.get_by_role("button", name="Forget me on this device").click()
    await expect(notice).to_have_count(0)
    assert await person.page.evaluate("localStorage.getItem('harbor.appeal')") is None
    await person.page.reload()
    await expect(person.page.locator("#view-welcome")).to_be_visible(timeout=ms(10))
    await expect(notice).to_have_count(0)
