"""The moderator dashboard (/mod/) in a real browser, against real workers on one Redis: flags
from chat pages reach a moderator signed in on another worker, actions reach the chat pages, and
two moderators see each other's claims."""

from __future__ import annotations

import re

import anyio
import pytest
from playwright.async_api import Route, expect

from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, RedisProcess

from .chat import ChatPage, ms
from .conftest import Chromium, screenshot_path
from .dashboard import EXPECTED_409, Dashboard, add_moderators, sign_in_link
from .test_accessibility import serious_violations

CRISIS = "honestly i want to die, i don't see the point of waking up anymore"  # high, delivered
CRISIS_WITH_MEANS = (  # imminent, held (the room sees a placeholder)
    "i can't do this anymore, the pills are lined up and i'm taking them all tonight"
)
SOLICITING = "anyone selling oxy near downtown? dm me, paying cash"  # concern, held
ENV = {"HARBOR_SEND_RATE_PER_10S": "200", "HARBOR_SEND_BURST": "50"}


@pytest.fixture
def workers(harbor: HarborFactory, redis_server: RedisProcess) -> tuple[HarborProcess, ...]:
    add_moderators(redis_server, "alice", "bob")
    return harbor(redis_server, **ENV), harbor(redis_server, **ENV)


async def writes(worker: HarborProcess, text: str, room: str = "newcomers") -> str:
    """Someone (a plain WebSocket client) writes `text`; returns their pseudonym."""
    client = await Client.connect(worker.ws)
    await client.hello()
    await client.join(room)
    await client.send({"type": "send", "room": room, "text": text, "client_id": "w1"})
    await client.expect("ack", client_id="w1")
    assert client.name is not None
    await client.ws.close()  # the flag is stored; an open socket would only slow shutdown
    return client.name


async def test_a_crisis_reaches_a_moderator_on_another_worker_who_hides_it_from_the_room(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    one, two = workers
    mod = await Dashboard.signed_in(chromium, two, "alice")
    writer = await ChatPage.open(chromium, one)
    reader = await ChatPage.open(chromium, two)
    await writer.enter("newcomers")
    await reader.enter("newcomers")
    name = await writer.name()

    await writer.say(CRISIS)
    help_panel = writer.page.get_by_role("dialog", name="Get help now")
    await expect(help_panel).to_be_visible()  # support for the writer, at once
    await reader.wait_message(CRISIS)

    item = mod.item(name)
    await expect(item).to_have_count(1, timeout=ms(10))
    await expect(item).to_have_class(re.compile(r"\bsev-high\b"))
    await expect(item.locator(".sev")).to_have_text("high")  # in words, not colour alone
    await expect(item).to_contain_text("suicide")
    await expect(mod.page.locator("#announcer")).to_contain_text("New high flag in Newcomers")

    # The case: collapsed until the volunteer chooses to read it; matched words in <mark>.
    case = await mod.open_case(name)
    toggle = case.get_by_role("button", name="Show message")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(case.locator("#case-thread")).to_be_hidden()
    await expect(case.locator(".case-facts")).to_contain_text("Open: nobody has it yet")
    await expect(case.locator(".case-facts")).to_contain_text("Classifier")
    await toggle.click()
    await expect(case.locator("#case-thread")).to_be_visible()
    flagged = case.locator(".thread-msg.flagged .thread-text")
    await expect(flagged).to_have_text(CRISIS)
    await expect(flagged.locator("mark")).to_have_text(["want to die"])
    await mod.action("Claim").click()
    await mod.status("You have this case. The writer was told a volunteer is looking.")
    await expect(mod.item(name).locator(".tag-mine")).to_have_text("yours")
    await expect(writer.page.locator("#banner")).to_contain_text("A volunteer moderator is looking")
    await mod.page.screenshot(path=screenshot_path("mod-case.png"))

    await mod.action("Hide message").click()
    await mod.status("Hidden from the room for everyone.")
    hidden = reader.messages().filter(has_text="This message was removed.")
    await expect(hidden).to_have_count(1, timeout=ms(10))
    await expect(reader.message(CRISIS)).to_have_count(0)
    await expect(mod.page.locator("#audit-body")).to_contain_text("Hid the message", timeout=ms(10))
    await expect(mod.action("Hidden")).to_be_disabled()

    # The flag records it: after a reload the case says Hidden, and offers no Hide again.
    await mod.page.reload()
    await mod.wait_live()
    case = await mod.open_case(name)
    await expect(mod.action("Hidden")).to_be_disabled()
    await expect(mod.action("Hide message")).to_have_count(0)
    await expect(case.locator(".case-facts")).to_contain_text("hidden by a moderator")
    await expect(mod.item(name)).to_contain_text("hidden")


async def test_a_report_of_a_resolved_case_puts_it_back_in_the_queue(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    one, two = workers
    mod = await Dashboard.signed_in(chromium, two, "alice")
    writer, reporter = await Client.connect(one.ws), await Client.connect(one.ws)
    for client in (writer, reporter):
        await client.hello()
        await client.join("newcomers")
    ack = await writer.say("newcomers", "the coffee at the tuesday meeting is terrible", "r1")
    assert writer.name is not None
    report = {"type": "report", "room": "newcomers", "id": ack["id"], "reason": "mean"}
    await reporter.send(report)
    await reporter.expect("reported", id=ack["id"])

    await mod.open_case(writer.name)
    await mod.page.get_by_label("Outcome").select_option("false_alarm")
    await mod.page.get_by_role("button", name="Resolve", exact=True).click()
    await mod.status("Resolved as false alarm.")
    await expect(mod.item(writer.name)).to_have_count(0)

    await reporter.send(report)
    await reporter.expect("reported", id=ack["id"])
    item = mod.item(writer.name)
    await expect(item).to_have_count(1, timeout=ms(10))
    await expect(item).to_contain_text("reopened")
    await expect(mod.page.locator("#announcer")).to_contain_text("back in the queue")
    case = await mod.open_case(writer.name)
    facts = case.locator(".case-facts")
    await expect(facts).to_contain_text("Open again: reported after it was resolved")
    await expect(facts).to_contain_text("(2 reports)")
    await expect(mod.action("Claim")).to_be_enabled()
    for client in (writer, reporter):
        await client.ws.close()


async def test_a_wrong_password_is_refused_and_the_one_time_link_signs_in_once(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    worker = harbor(terminal=True)  # the embedded default shows a one-time link on a terminal
    link = sign_in_link(worker)
    page = await Dashboard.open(chromium, worker)
    await page.sign_in("alice", "not the password")
    error = page.page.get_by_role("alert").filter(has_text="don't match")
    await expect(error).to_have_text("That name and password don't match.")
    await expect(page.page.locator("#view-dashboard")).to_be_hidden()

    linked = await Dashboard.open(chromium, worker, link)
    await linked.wait_live()
    await expect(linked.page.locator("#my-name")).to_have_text("volunteer")
    assert "#link" not in linked.page.url, "the token is wiped from the address bar"
    await linked.page.get_by_role("button", name="Sign out").click()
    await expect(linked.page.get_by_role("heading", name="Moderator sign-in")).to_be_visible()

    chromium.allow_console_error(r"status of 403 \(Forbidden\)")  # the spent link, next
    again = await Dashboard.open(chromium, worker, link)
    await expect(again.page.locator("#sign-in-error")).to_contain_text("already used")


async def test_a_flag_raised_while_the_queue_loads_is_not_wiped_by_the_older_list(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    """The queue list is fetched over HTTP as the feed comes up. If a flag is raised after
    the server built that list but before it reached the page, its live frame came first
    and the older list used to replace it: the flag vanished from view until a reload (a CI
    run caught it). The list's response is held here until the flag's frame is in."""
    one, two = workers
    dashboard = await Dashboard.open(chromium, two)
    fetched = anyio.Event()
    raised = anyio.Event()

    async def hold_the_first_list(route: Route) -> None:
        response = await route.fetch()  # built now, before the flag exists
        if not fetched.is_set():
            fetched.set()
            await raised.wait()
        await route.fulfill(response=response)

    await dashboard.page.route("**/mod/api/flags", hold_the_first_list)
    await dashboard.sign_in("alice")
    with anyio.fail_after(10):
        await fetched.wait()
    writer = await writes(one, CRISIS)
    # the flag's frame reaches the page while the list is still held
    await expect(dashboard.item(writer)).to_have_count(1, timeout=ms(10))
    await expect(dashboard.page.locator("#queue")).to_have_attribute("aria-busy", "true")
    raised.set()
    # and stays once the held (older) list has landed and been applied
    await expect(dashboard.page.locator("#queue")).not_to_have_attribute(
        "aria-busy", "true", timeout=ms(10)
    )
    await expect(dashboard.item(writer)).to_have_count(1)


async def test_claims_and_resolutions_reach_a_second_moderator_on_another_worker(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    one, two = workers
    alice = await Dashboard.signed_in(chromium, one, "alice")
    bob = await Dashboard.signed_in(chromium, two, "bob")
    writer = await writes(one, CRISIS)
    dealer = await writes(two, SOLICITING, room="alcohol")
    for page in (alice, bob):
        await expect(page.queue_items()).to_have_count(2, timeout=ms(10))
        # Most urgent first: the crisis (high) above the dealing (concern).
        await expect(page.queue_items().first).to_contain_text(writer)
    await expect(bob.page.locator("#duty-list")).to_contain_text("alice", timeout=ms(15))

    await alice.open_case(writer)
    await alice.action("Claim").click()
    await expect(bob.item(writer).locator(".tag-owner")).to_have_text("held by alice")
    await alice.page.get_by_label("Outcome").select_option("false_alarm")
    await alice.page.get_by_label(re.compile("^Note")).fill("song lyrics, checked in")
    await alice.page.get_by_role("button", name="Resolve", exact=True).click()
    await alice.status("Resolved as false alarm.")
    await expect(bob.item(writer)).to_have_count(0)
    await expect(alice.item(writer)).to_have_count(0)

    await bob.page.get_by_role("button", name="Take next most urgent").click()
    await expect(bob.page.locator("#case-title")).to_have_text("Concern: dealing")
    await expect(alice.item(dealer).locator(".tag-owner")).to_have_text("held by bob")
    await bob.page.get_by_role("button", name="Take next most urgent").click()
    await expect(bob.page.locator("#queue-status")).to_have_text(
        "Nothing is waiting for a volunteer right now."
    )


async def test_a_check_in_conversation_and_a_mute_that_needs_confirming(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    chromium.allow_console_error(EXPECTED_409)  # the API's confirmation step for a mute
    one, two = workers
    mod = await Dashboard.signed_in(chromium, two, "alice")
    person = await ChatPage.open(chromium, one)
    await person.enter("newcomers")
    name = await person.name()
    await person.say(CRISIS)
    await person.page.get_by_role("dialog").get_by_role("button", name="Close").click()
    await mod.open_case(name)

    await mod.action("Open private check-in").click()
    await mod.status(f"{name} was invited to a private check-in.")
    join = person.page.get_by_role("button", name="Join private check-in")
    await expect(join).to_be_visible(timeout=ms(10))
    await join.click()
    await person.wait_joined()
    await expect(person.page.locator("#room-title")).to_have_text("Private check-in")
    panel = mod.page.locator(".checkin")
    await expect(panel.locator(".checkin-state")).to_contain_text("Only this person and volunteers")
    await panel.get_by_label("Your message").fill("Hi, I'm a volunteer. How are you doing?")
    await panel.get_by_role("button", name="Send").click()
    said = await person.wait_message("Hi, I'm a volunteer. How are you doing?")
    await expect(said.locator(".msg-badge")).to_have_text("volunteer moderator")
    await person.say("thanks for checking, a bit better now")
    await expect(panel.locator(".checkin-msg")).to_have_count(2, timeout=ms(10))
    await expect(panel.locator(".checkin-msg").last).to_contain_text(
        "thanks for checking, a bit better now"
    )

    # Mute: the server asks for confirmation; Cancel changes nothing, Confirm applies it.
    # On a crisis case the sanctions start folded away, below the support actions.
    await mod.page.locator("#sanctions > summary").click()
    mute = mod.page.get_by_role("button", name="Mute…")
    await mod.page.get_by_label("Reason").fill("Sharing a dealer's number")
    await mute.click()
    dialog = mod.page.get_by_role("dialog", name="Please confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(f"Mute {name} for 1 hour?")
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await dialog.get_by_role("button", name="Cancel").click()
    await mod.status("Nothing was changed.")
    await mute.click()
    await dialog.get_by_role("button", name="Mute").click()
    await mod.status(f"Applied: mute {name} for 1 hour.")
    await expect(person.page.locator("#sanction-notice")).to_contain_text(
        "A moderator paused your messages for 1 hour. The reason: Sharing a dealer's number",
        timeout=ms(10),
    )


async def test_dashboard_accessibility_alerts_and_phone_width(
    chromium: Chromium, harbor: HarborFactory, axe_source: str
) -> None:
    worker = harbor(terminal=True)  # signs in with the one-time link
    context = await chromium.context()
    await context.add_init_script(script=axe_source)  # injected outside the page's CSP
    page = await context.new_page()
    chromium.watch_page(page)
    await page.goto(worker.http + sign_in_link(worker))
    mod = Dashboard(page)
    await mod.wait_live()
    found = {"empty queue": await serious_violations(page)}

    await writes(worker, SOLICITING, room="alcohol")
    writer = await writes(worker, CRISIS_WITH_MEANS)
    alert = page.get_by_role("alert").filter(has_text="Imminent")
    await expect(alert).to_contain_text("someone in Newcomers may be in danger", timeout=ms(10))
    await expect(mod.queue_items().first).to_have_class(re.compile(r"\bsev-imminent\b"))
    found["queue with flags"] = await serious_violations(page)
    await page.screenshot(path=screenshot_path("mod-queue.png"))
    await alert.get_by_role("button", name="Open").click()
    await expect(page.locator("#case-title")).to_have_text("Imminent: suicide")
    await page.get_by_role("button", name="Show message").click()
    await expect(page.locator(".thread-msg.flagged mark")).to_have_count(4)
    found["case"] = await serious_violations(page)
    assert {view: v for view, v in found.items() if v} == {}

    # Keyboard: the queue is a list of buttons, Enter opens a case.
    await page.locator("#queue [data-flag]").last.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#case-title")).to_have_text("Concern: dealing")
    await expect(page.locator("#case-title")).to_be_focused()

    phone = await context.new_page()  # the same session, at a phone's width
    chromium.watch_page(phone)
    await phone.set_viewport_size({"width": 390, "height": 844})
    await phone.goto(worker.http + "/mod/")
    narrow = Dashboard(phone)
    await narrow.wait_live()
    await expect(narrow.queue_items()).to_have_count(2)
    await phone.screenshot(path=screenshot_path("mod-phone.png"))
    await narrow.open_case(writer)
    await expect(phone.locator(".queue-pane")).to_be_hidden()  # one pane at a time
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await phone.get_by_role("button", name="Queue").click()
    await expect(narrow.queue_items().first).to_be_visible()


async def test_highlights_count_code_points_and_the_queue_sorts_by_severity_then_age(
    chromium: Chromium, harbor: HarborFactory
) -> None:
    """Span offsets come from Python (code points); an emoji before a match must not shift it."""
    worker = harbor()
    page = await chromium.page(worker.http + "/help/")  # any page of ours: same-origin import
    result = await page.evaluate(
        """async () => {
            const f = await import("/mod/flags.js");
            const pieces = (text, spans) =>
                f.highlightPieces(text, spans).map((p) => (p.match ? `[${p.text}]` : p.text));
            const flags = [
                { id: "a", severity: "watch", created_ms: 1 },
                { id: "b", severity: "high", created_ms: 5 },
                { id: "c", severity: "imminent", created_ms: 9 },
                { id: "d", severity: "high", created_ms: 2 },
            ];
            return {
                emoji: pieces("🙂🙂 i want to die", [{ start: 5, end: 16 }]).join(""),
                overlap: pieces("anyone selling oxy", [
                    { start: 0, end: 14 }, { start: 7, end: 14 }, { start: 15, end: 18 },
                ]).join(""),
                junk: pieces("<b>hi</b>", [{ start: -3, end: 2 }, { start: 7, end: 99 },
                    { start: "x", end: 3 }, null]).join(""),
                order: flags.sort(f.compareFlags).map((x) => x.id).join(""),
                crisis: [f.isCrisis({ categories: ["relapse"] }),
                         f.isCrisis({ categories: ["spam"] })],
            };
        }"""
    )
    assert result == {
        "emoji": "🙂🙂 i [want to die]",
        "overlap": "[anyone selling] [oxy]",
        "junk": "[<b]>hi</[b>]",
        "order": "cdba",
        "crisis": [True, False],
    }


async def test_a_high_flag_raises_a_quieter_alert_on_a_dashboard_on_another_worker(
    chromium: Chromium, workers: tuple[HarborProcess, ...]
) -> None:
    """Imminent flags ring loudly; high ones too, more quietly (one soft tone, a silent
    notification, the same banner); an imminent alert is not replaced by a later high one."""
    one, two = workers
    mod = await Dashboard.signed_in(chromium, two, "alice")
    banner = mod.page.locator("#alert")
    await expect(banner).to_be_hidden()

    await writes(one, CRISIS)  # high
    await expect(banner).to_be_visible(timeout=ms(10))
    await expect(banner).to_have_attribute("data-severity", "high")
    await expect(banner).to_have_attribute("data-level", "quiet")
    await expect(mod.page.locator("#alert-text")).to_have_text(
        re.compile(r"^High: someone in Newcomers needs a volunteer soon")
    )

    await writes(one, CRISIS_WITH_MEANS)  # imminent: the loud alert replaces the quiet one
    await expect(banner).to_have_attribute("data-level", "loud", timeout=ms(10))
    await expect(mod.page.locator("#alert-text")).to_have_text(re.compile(r"^Imminent: "))
    await writes(one, "i want to die, nothing gets better, i'm so tired of all of it")
    await expect(mod.queue_items()).to_have_count(3, timeout=ms(10))
    await expect(banner).to_have_attribute("data-level", "loud")  # not replaced by a high one
