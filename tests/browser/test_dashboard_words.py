"""Words fit for people on the dashboard (#19 item 7): room titles not slugs, the audit log in
words without raw ids, a volunteer called "volunteer" not doubled, the duty list right from the
first paint, and a case no longer anyone's once its volunteer signed out."""

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
ENV = {"HARBOR_SEND_RATE_PER_10S": "200", "HARBOR_SEND_BURST": "50"}

# Every text the "On duty" line and list ever show, from the first paint on.
_RECORD_DUTY = """
window.dutyTexts = [];
new MutationObserver(() => {
  window.dutyTexts.push(document.getElementById("on-duty").textContent);
  window.dutyTexts.push(document.getElementById("duty-list").textContent);
}).observe(document.body, { subtree: true, childList: true, characterData: true });
"""


@pytest.fixture
def workers(harbor: HarborFactory, redis_server: RedisProcess) -> tuple[HarborProcess, ...]:
    add_moderators(redis_server, "volunteer", "bob")
    return harbor(redis_server, **ENV), harbor(redis_server, **ENV)


async def test_a_case_in_words_a_volunteer_named_volunteer_and_an_audit_log_without_ids(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    one, two = workers
    mod = await Dashboard.open(chromium, two)
    await mod.page.evaluate(_RECORD_DUTY)
    await mod.sign_in("volunteer")
    await expect(mod.page.locator("#duty-list")).to_contain_text("volunteer (you)", timeout=ms(5))
    await expect(mod.page.locator("#on-duty")).to_have_text("On duty: 1")
    shown: list[str] = await mod.page.evaluate("window.dutyTexts")
    assert "On duty: 0" not in shown and not any("Nobody" in text for text in shown), shown

    person = await ChatPage.open(chromium, one)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(CRISIS)
    await person.page.get_by_role("dialog").get_by_role("button", name="Close").click()
    item = mod.item(name)
    await expect(item).to_contain_text(f"Newcomers · {name}", timeout=ms(10))
    case = await mod.open_case(name)
    await expect(case.locator(".case-facts")).to_contain_text(f"{name} in Newcomers")
    flag_id = await case.get_attribute("data-flag")
    assert flag_id

    await mod.action("Claim").click()
    await mod.status(re.compile("You have this case"))
    await mod.action("Open private check-in").click()
    join = person.page.get_by_role("button", name="Join private check-in")
    await expect(join).to_be_visible(timeout=ms(10))
    await join.click()
    await person.wait_joined()
    panel = mod.page.locator(".checkin")
    await panel.get_by_label("Your message").fill("Hi, I'm a volunteer here.")
    await panel.get_by_role("button", name="Send").click()
    said = await person.wait_message("Hi, I'm a volunteer here.")
    await expect(said).to_contain_text("Volunteer")
    await expect(said).not_to_contain_text(re.compile("Volunteer volunteer", re.I))

    audit = mod.page.locator("#audit-body")
    await mod.page.get_by_role("button", name="Refresh").click()
    subject = f"a high flag about {name} in Newcomers"
    claimed = audit.locator("tr").filter(has_text="Claimed")
    await expect(claimed).to_contain_text(subject, timeout=ms(10))
    await expect(
        audit.locator("tr").filter(has_text="Invited to a private check-in")
    ).to_contain_text(subject)
    await expect(audit).to_contain_text("Signed in")
    text = await audit.inner_text()
    for raw in (flag_id, "checkin-", "sign_in", "moderator\t"):
        assert raw not in text, raw


async def test_signing_out_hands_the_case_back_to_the_queue_for_everyone(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    one, two = workers
    leaving = await Dashboard.signed_in(chromium, two, "volunteer")
    staying = await Dashboard.signed_in(chromium, one, "bob")
    person = await ChatPage.open(chromium, one)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(CRISIS)
    await leaving.open_case(name)
    await leaving.action("Claim").click()
    await expect(staying.item(name).locator(".tag-owner")).to_have_text(
        "held by volunteer", timeout=ms(10)
    )

    await leaving.page.get_by_role("button", name="Sign out").click()
    await expect(leaving.page.locator("#view-sign-in")).to_be_visible()
    await expect(staying.item(name).locator(".tag-open")).to_have_text("open", timeout=ms(10))
    await leaving.sign_in("volunteer")
    await expect(leaving.item(name).locator(".tag-open")).to_have_text("open", timeout=ms(10))
    await expect(leaving.item(name).locator(".tag-mine")).to_have_count(0)
    await staying.page.get_by_role("button", name="Refresh").click()
    row = staying.page.locator("#audit-body tr").filter(has_text="Handed back to the queue")
    await expect(row.first).to_contain_text("signed out", timeout=ms(10))
