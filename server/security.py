"""Security and cache headers on every HTTP response, as a pure ASGI middleware.

Pure ASGI (not BaseHTTPMiddleware) so WebSocket and lifespan scopes pass straight through
untouched, and streamed static files are not buffered. The policy is strict on purpose: the pages
use no inline script or style, so a script injected through user text could not run even if a
rendering bug let markup through.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Scripts and styles are plain files without content hashes in their names, so they may only be
# cached briefly; HTML is always revalidated so a deploy reaches people at once. Everything else
# (the API, health, metrics) is never stored: a room list on a shared computer is nobody's business.
_SHORT_CACHE_SUFFIXES = (".js", ".css", ".svg", ".png", ".ico", ".woff2")
_SHORT_CACHE = "public, max-age=300"


def cache_control(path: str, content_type: str) -> str:
    """The Cache-Control value for a response to `path` with this content type."""
    if path.startswith("/api/"):
        return "no-store"
    if content_type.startswith("text/html"):
        return "no-cache"
    if path.endswith(_SHORT_CACHE_SUFFIXES):
        return _SHORT_CACHE
    return "no-store"


class SecurityHeadersMiddleware:
    """Adds `SECURITY_HEADERS` and a Cache-Control (unless one is set) to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["Cache-Control"] = cache_control(path, headers.get("content-type", ""))
            await send(message)

        await self.app(scope, receive, send_with_headers)
