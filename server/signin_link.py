"""The embedded default's one-time moderator sign-in link, so a first run needs no setup.

The link is a credential, so it is printed only where the person who started Harbor is reading:
on an interactive terminal, and only while no moderator account exists (after that, moderators
sign in with their own names). Anywhere else -- a service manager, a container, a log shipper --
stderr ends up in logs, and a line says how to add a moderator instead; the link is withdrawn.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

LINK_TTL_S = 3600.0


@dataclass
class SignInLink:
    """Redeemable once, within an hour, for a session as moderator `name`."""

    name: str = "volunteer"
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    expires_at: float = field(default_factory=lambda: time.monotonic() + LINK_TTL_S)
    used: bool = False

    def redeem(self, token: str) -> bool:
        if self.used or time.monotonic() > self.expires_at:
            return False
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return False
        self.used = True
        return True

    def withdraw(self) -> None:
        """Nobody was shown the link: it signs nobody in."""
        self.used = True

    def url(self, host: str, port: int) -> str:
        return f"{dashboard_url(host, port)}#link={self.token}"


def dashboard_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/mod/"


ADD_MODERATOR = "moderators add NAME"


def start_notice(
    link: SignInLink,
    host: str,
    port: int,
    *,
    terminal: bool,
    has_moderators: bool,
    command: str = "harbor",
) -> str:
    """The line printed at start: the link itself only on a terminal before any moderator
    exists; otherwise how to add one (and the link is withdrawn). `command` is how to run
    harbor from where it was started (`.venv/bin/harbor` without an active venv)."""
    add = f"{command} {ADD_MODERATOR}"
    if terminal and not has_moderators:
        return (
            f"Moderator sign-in link (one use, 1 hour; shown at each start until a moderator"
            f" account exists: `{add}`): {link.url(host, port)}"
        )
    link.withdraw()
    dashboard = dashboard_url(host, port)
    if has_moderators:
        return f"Moderators sign in at {dashboard} (add one with `{add}`)"
    return (
        f"No moderator yet: add one with `{add}`, then sign in at {dashboard}"
        " (a one-time sign-in link is shown only when Harbor runs on a terminal)"
    )
