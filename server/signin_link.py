"""The embedded default's one-time moderator sign-in link, so a first run needs no setup."""

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

    def url(self, host: str, port: int) -> str:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{shown}:{port}/mod/#link={self.token}"
