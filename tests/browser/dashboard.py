"""A page object for the moderator dashboard (/mod/), and moderators for it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

from playwright.async_api import Locator, Page, expect

from tests.conftest import TEST_SECRET
from tests.harness import REPO, HarborProcess, RedisProcess, seconds

from .chat import ms
from .conftest import Chromium

PASSWORD = "correct horse battery staple"
# Chromium logs every 4xx answer to fetch() as a console error. The dashboard expects some: the
# sign-in check before anyone signed in (401), a wrong password (401), and the confirmation step
# of mute and ban (409 confirm_required). Tests that meet them allow exactly these.
EXPECTED_401 = r"status of 401 \(Unauthorized\)"
EXPECTED_409 = r"status of 409 \(Conflict\)"
EXPECTED_403 = r"status of 403 \(Forbidden\)"


def add_moderators(redis: RedisProcess, *names: str, role: str | None = None) -> None:
    """`harbor moderators add NAME --password-stdin [--role ROLE]`, as an operator would run it
    (all at once: each run pays for a Python start and a password hash)."""
    roles = [] if role is None else ["--role", role]
    env = {**os.environ, "REDIS_URL": redis.url, "HARBOR_SECRET": TEST_SECRET}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "server", "moderators", "add", name, "--password-stdin", *roles],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
            env=env,
        )
        for name in names
    ]
    for run in runs:
        output, _ = run.communicate(PASSWORD + "\n", timeout=seconds(30))
        assert run.returncode == 0, output


def sign_in_link(worker: HarborProcess) -> str:
    """The one-time link the embedded default shows at start on a terminal, before any
    moderator exists (path and fragment only): start the worker with `terminal=True`."""
    return worker.wait_for_output(r"/mod/#link=[\w-]+").group(0)


class Dashboard:
    def __init__(self, page: Page) -> None:
        self.page = page

    @classmethod
    async def open(
        cls, chromium: Chromium, worker: HarborProcess, path: str = "/mod/", **options: Any
    ) -> Dashboard:
        chromium.allow_console_error(EXPECTED_401)  # "am I signed in?" before signing in
        return cls(await chromium.page(worker.http + path, **options))

    @classmethod
    async def signed_in(
        cls, chromium: Chromium, worker: HarborProcess, name: str, **options: Any
    ) -> Dashboard:
        dashboard = await cls.open(chromium, worker, **options)
        await dashboard.sign_in(name)
        return dashboard

    async def sign_in(self, name: str, password: str = PASSWORD) -> None:
        await self.page.get_by_label("Name").fill(name)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        if password == PASSWORD:
            await self.wait_live()

    async def wait_live(self, within: float = 10) -> None:
        await expect(self.page.locator("#view-dashboard")).to_be_visible(timeout=ms(within))
        await expect(self.page.locator("#conn")).to_have_attribute(
            "data-state", "online", timeout=ms(within)
        )

    def queue_items(self) -> Locator:
        return self.page.locator("#queue .queue-item")

    def item(self, writer: str) -> Locator:
        """The queue entry for a flag on `writer`'s message."""
        return self.queue_items().filter(has_text=writer)

    async def open_case(self, writer: str, within: float = 10) -> Locator:
        item = self.item(writer)
        await expect(item).to_have_count(1, timeout=ms(within))
        await item.get_by_role("button").click()
        case = self.page.locator("#case")
        await expect(case).to_be_visible()
        return case

    def action(self, name: str) -> Locator:
        return self.page.locator("#case").get_by_role("button", name=name, exact=True)

    async def status(self, text: str | re.Pattern[str], within: float = 10) -> None:
        await expect(self.page.locator("#case-status")).to_have_text(text, timeout=ms(within))
