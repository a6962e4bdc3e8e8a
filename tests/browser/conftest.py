"""A real Chromium (Debian's, driven by Playwright) against real `harbor serve` processes.

Every page is watched: a console error, an uncaught exception, a CSP violation or a JavaScript
dialog (an injected `alert`) fails the test, unless the test names that exact console error as
expected (a worker restart makes the browser log its refused reconnects).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from tests.conftest import HarborFactory
from tests.harness import REPO, HarborProcess, RedisProcess, seconds

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "artifacts" / "screenshots"
# axe-core comes from the npm registry at test time (never vendored): .ci/test installs it here.
TEST_DEPS = REPO / ".test-deps"
AXE_PATH = TEST_DEPS / "node_modules" / "axe-core" / "axe.min.js"
AXE_PACKAGE = "axe-core@^4.10"

# Records CSP violations in every document of the context, before any page script runs.
_WATCH_SCRIPT = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.harborReportViolation(JSON.stringify({
    directive: event.violatedDirective, blocked: event.blockedURI,
    source: event.sourceFile, line: event.lineNumber,
  }));
});
"""

# Most pages open with the quick exit pointed at about:blank, so a test can see it happen.
EXIT = "?exit=about:blank"


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium is not installed: `bash .ci/test` installs it with apt-get")
    return path


@dataclass
class Watch:
    """Everything a page did that a test must not ignore."""

    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if any(pattern.search(message.text) for pattern in self.allowed):
            return
        self.problems.append(f"console error: {message.text} at {message.location}")


class Chromium:
    """Contexts and pages on one headless browser, all watched by one `Watch`."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.watch = Watch()
        self.contexts: list[BrowserContext] = []

    def allow_console_error(self, pattern: str) -> None:
        self.watch.allowed.append(re.compile(pattern))

    async def context(self, **options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 1024, "height": 768})
        context = await self.browser.new_context(**options)
        self.contexts.append(context)

        def violation(source: Any, report: str) -> None:
            self.watch.problems.append(f"CSP violation: {report}")

        await context.expose_binding("harborReportViolation", violation)
        await context.add_init_script(script=_WATCH_SCRIPT)
        return context

    async def page(self, url: str | None = None, **options: Any) -> Page:
        context = await self.context(**options)
        page = await context.new_page()
        self.watch_page(page)
        if url is not None:
            await page.goto(url)
        return page

    def watch_page(self, page: Page) -> None:
        page.on("console", self.watch.console)
        page.on("pageerror", lambda error: self.watch.problems.append(f"page error: {error}"))

        async def dialog(d: Any) -> None:
            self.watch.dialogs.append(f"{d.type}: {d.message}")
            self.watch.problems.append(f"a JavaScript dialog opened: {d.type} {d.message!r}")
            await d.dismiss()

        page.on("dialog", dialog)

    def assert_clean(self) -> None:
        assert self.watch.problems == [], "\n".join(self.watch.problems)


@pytest.fixture
async def chromium(
    harbor: HarborFactory, redis_server: RedisProcess, spare_workers: list[HarborProcess]
) -> AsyncIterator[Chromium]:
    """The browser. It depends on the server fixtures only so that it closes *before* they stop
    their processes: a page still open then would log refused reconnects as console errors."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        watched = Chromium(browser)
        try:
            yield watched
        finally:
            for context in watched.contexts:
                await context.close()
            await browser.close()
        watched.assert_clean()


@pytest.fixture
def spare_workers() -> Iterator[list[HarborProcess]]:
    """Workers a test starts itself (a restart on the same port); stopped at teardown."""
    started: list[HarborProcess] = []
    try:
        yield started
    finally:
        for process in started:
            process.stop()


def restart_on_same_port(old: HarborProcess, spares: list[HarborProcess]) -> HarborProcess:
    """Stop `old` with SIGTERM (as a deploy does) and start a fresh worker on its port."""
    old.stop(signal.SIGTERM)
    new = HarborProcess(old.workdir, old.env)
    new.port = old.port
    new.log_path = old.workdir / f"harbor-{old.port}-restarted.log"
    spares.append(new)
    return new.start()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_PATH.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to fetch axe-core for the accessibility test")
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(TEST_DEPS),
             AXE_PACKAGE],
            check=True,
            capture_output=True,
            timeout=seconds(300),
        )  # fmt: skip
    return AXE_PATH.read_text(encoding="utf-8")


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def frame(**fields: Any) -> str:
    return json.dumps(fields)
