"""A page object for the chat page: what a person does, as small awaitable steps."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.async_api import Locator, Page, WebSocketRoute, expect

from tests.harness import HarborProcess, seconds

from .conftest import EXIT, Chromium

_ANY_ID = re.compile(r"^\d+$")
_PENDING = re.compile(r"\b(pending|failed)\b")


def ms(value: float) -> float:
    """A Playwright timeout in milliseconds, scaled for slow machines."""
    return seconds(value) * 1000


class ChatPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    @classmethod
    async def open(
        cls, chromium: Chromium, worker: HarborProcess, *, accept: bool = True, **options: Any
    ) -> ChatPage:
        chat = cls(await chromium.page(worker.http + "/" + EXIT, **options))
        if accept:
            await chat.accept()
        return chat

    @classmethod
    async def routed(
        cls, chromium: Chromium, worker: HarborProcess, route: Callable[[WebSocketRoute], Any]
    ) -> ChatPage:
        """The chat page, welcome accepted, with its /ws socket passed through ``route`` (a
        test stands between the page and the server to inject or hold back frames)."""
        context = await chromium.context()
        await context.route_web_socket(re.compile(r"/ws$"), route)
        page = await context.new_page()
        chromium.watch_page(page)
        await page.goto(worker.http + "/")
        chat = cls(page)
        await chat.accept()
        return chat

    async def accept(self) -> None:
        await self.page.get_by_role("button", name="I understand, continue").click()
        await self.wait_online()

    async def wait_online(self, within: float = 10) -> None:
        await expect(self.page.locator("#conn")).to_have_attribute(
            "data-state", "online", timeout=ms(within)
        )

    async def name(self) -> str:
        return await self.page.locator("#my-name").inner_text()

    async def enter(self, room: str) -> None:
        await self.page.locator(f"button[data-room='{room}']").click()
        await self.wait_joined()

    async def wait_joined(self, within: float = 10) -> None:
        await expect(self.page.locator("#messages-host > .messages")).to_have_attribute(
            "data-state", "in", timeout=ms(within)
        )

    async def say(self, text: str) -> None:
        box = self.page.get_by_label("Your message")
        await box.fill(text)
        await box.press("Enter")

    def messages(self) -> Locator:
        return self.page.locator("#messages-host .msg")

    def message(self, text: str) -> Locator:
        """Messages whose text is exactly `text`."""
        return self.page.locator("#messages-host .msg").filter(
            has=self.page.locator(".msg-text").get_by_text(text, exact=True)
        )

    async def wait_message(self, text: str, within: float = 10) -> Locator:
        """Exactly one message with `text`, stored (it has an id, no pending state)."""
        found = self.message(text)
        await expect(found).to_have_count(1, timeout=ms(within))
        await expect(found).to_have_attribute("data-id", _ANY_ID, timeout=ms(within))
        await expect(found).not_to_have_class(_PENDING, timeout=ms(within))
        return found

    async def ids(self) -> list[int]:
        values: list[str] = await self.page.locator("#messages-host .msg[data-id]").evaluate_all(
            "nodes => nodes.map(n => n.dataset.id)"
        )
        return [int(v) for v in values]

    async def texts(self) -> list[str]:
        return await self.page.locator("#messages-host .msg-text").all_inner_texts()
