"""Roles on the dashboard (#19 item 6), in a real browser against a worker on Redis: a volunteer
sees no Accounts panel and is refused if they ask anyway; a coordinator changes a volunteer's
role but cannot touch an admin or make one; a moderator whose role was taken away is refused
with the reason on the page."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import HarborFactory
from tests.harness import HarborProcess, RedisProcess

from .chat import ms
from .conftest import Chromium, screenshot_path
from .dashboard import EXPECTED_403, Dashboard, add_moderators


@pytest.fixture
def worker(harbor: HarborFactory, redis_server: RedisProcess) -> HarborProcess:
    add_moderators(redis_server, "vera")  # no --role: a volunteer
    add_moderators(redis_server, "cole", role="coordinator")
    add_moderators(redis_server, "ada", role="admin")
    return harbor(redis_server)


async def test_a_volunteer_is_refused_accounts_and_a_coordinator_manages_them(
    chromium: Chromium, worker: HarborProcess
) -> None:
    chromium.allow_console_error(EXPECTED_403)  # the refusals this test asks for
    vera = await Dashboard.signed_in(chromium, worker, "vera")
    await expect(vera.page.locator("#whoami")).to_contain_text("vera (volunteer)")
    await expect(vera.page.locator("#accounts")).to_be_hidden()
    refused = await vera.page.evaluate(
        """async () => {
            const r = await fetch('/mod/api/accounts', {credentials: 'same-origin'});
            return [r.status, (await r.json()).message];
        }"""
    )
    assert refused == [403, "only a coordinator can do this"]

    cole = await Dashboard.signed_in(chromium, worker, "cole")
    accounts = cole.page.locator("#accounts")
    await expect(accounts).to_be_visible()
    rows = accounts.locator("#accounts-body tr")
    await expect(rows).to_have_count(3)
    await expect(accounts.get_by_label("Role of ada")).to_be_disabled()  # an admin's account
    await expect(accounts.get_by_role("button", name="Remove ada")).to_be_disabled()
    await expect(rows.filter(has_text="cole (you)").get_by_role("combobox")).to_be_disabled()
    await expect(rows.filter(has_text="vera")).to_contain_text("on duty", timeout=ms(15))
    role_of_vera = accounts.get_by_label("Role of vera")
    await expect(role_of_vera.locator("option[value=admin]")).to_be_disabled()
    await role_of_vera.select_option("coordinator")
    await expect(accounts.locator("#accounts-status")).to_have_text("vera is now a coordinator.")
    await cole.page.screenshot(path=screenshot_path("mod-accounts.png"), full_page=True)

    await vera.page.reload()
    await vera.wait_live()
    await expect(vera.page.locator("#whoami")).to_contain_text("vera (coordinator)")
    await expect(vera.page.locator("#accounts")).to_be_visible()

    await cole.page.get_by_label("Role of vera").select_option("volunteer")
    await expect(cole.page.locator("#accounts-status")).to_have_text("vera is now a volunteer.")
    # Vera's page still shows the panel from before; the server refuses, and says why.
    await vera.page.get_by_label("Role of cole").select_option("volunteer")
    await expect(vera.page.locator("#accounts-status")).to_have_text(
        "Couldn't change cole's role: only a coordinator can do this", timeout=ms(10)
    )
    await expect(cole.page.get_by_label("Role of vera")).to_have_value("volunteer")
