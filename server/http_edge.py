"""The HTTP edge, as two pure ASGI middlewares: who the client is, and how much it may ask for.

`ForwardedClient` puts the client that server/proxies.py resolves -- the socket's peer, or the
one a trusted proxy forwarded -- into the scope's `client` and `scheme`, so every handler (the
moderator sign-in's per-source limit, the Secure cookie, the Origin check, /metrics) sees the
same answer the chat socket gets. uvicorn's own proxy-header handling is switched off
(server/__main__.py): it trusts 127.0.0.1 by default, which on a host with a local proxy is
everyone.

`RequestLimits` bounds what one request can cost before any handler runs: at most
HARBOR_MAX_HTTP_REQUESTS in flight (503 with Retry-After past it), and a body of at most
HARBOR_MAX_BODY_BYTES that arrives within HARBOR_BODY_TIMEOUT_S. A declared Content-Length over
the cap is answered 413 without reading a byte of the body; a chunked body is read only until it
passes the cap. Refusals close the connection, so the rest of a refused body is never parsed.
Before this, a 100 MB body to /mod/api/link was read whole into memory before its 400.
Header and keep-alive timeouts need the protocol under ASGI: server/http_protocol.py.
"""

from __future__ import annotations

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import process_metrics
from .proxies import networks, parse_address, resolve
from .settings import Settings

# Load balancers' probes must get an answer while the worker is busy: a 503 there would take a
# merely loaded worker out of rotation. They carry no body and cost next to nothing.
PROBES = ("/healthz", "/readyz")
RETRY_AFTER_S = 1


class ForwardedClient:
    """Rewrites `client` and `scheme` in HTTP and WebSocket scopes to the resolved client, when
    the peer is a trusted proxy (any other scope passes untouched)."""

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[str, ...]) -> None:
        self.app = app
        self.trusted = networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        address = peer[0] if peer else None
        if scope["type"] in ("http", "websocket") and parse_address(address) in self.trusted:
            headers = Headers(scope=scope)
            secure = scope.get("scheme") in ("https", "wss")
            hop = resolve(
                address,
                "https" if secure else "http",
                headers.getlist("x-forwarded-for"),
                headers.getlist("x-forwarded-proto"),
                self.trusted,
            )
            scope = dict(scope)
            scope["client"] = (hop.address, 0) if hop.address is not None else None
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if hop.scheme == "https" else "ws"
            else:
                scope["scheme"] = hop.scheme
        await self.app(scope, receive, send)


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    response = JSONResponse({"error": code, "message": message}, status_code=status)
    response.headers["Connection"] = "close"  # the unread rest of the request is not parsed
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


class _TooLarge(Exception):
    pass


class RequestLimits:
    """Concurrency, body size and body time for every HTTP request of one worker."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.body_timeout_s = settings.body_timeout_s
        self.max_requests = settings.max_http_requests
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        has_body = "content-length" in headers or "transfer-encoding" in headers
        if scope["path"] in PROBES and not has_body:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_requests:
            process_metrics().http_refused.labels("busy").inc()
            await _refusal(503, "busy", "the server is busy; try again")(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self._serve(scope, receive, send, headers, has_body)
        finally:
            self.in_flight -= 1

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, has_body: bool
    ) -> None:
        if not has_body:
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(scope, receive, send)
            return
        body: bytes | None = None
        try:
            with anyio.move_on_after(self.body_timeout_s) as deadline:
                body = await self._read(receive)
        except _TooLarge:
            await self._too_large(scope, receive, send)
            return
        if deadline.cancelled_caught:
            process_metrics().http_refused.labels("body_timeout").inc()
            refusal = _refusal(408, "timeout", "the request body took too long")
            await refusal(scope, receive, send)
            return
        if body is not None:  # None: the client went away mid-body; nobody to answer
            await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        process_metrics().http_refused.labels("too_large").inc()
        message = f"the request body is over {self.max_body} bytes"
        await _refusal(413, "too_large", message)(scope, receive, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body; None if the client went away first; _TooLarge as soon as it passes
        the cap."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then waits for the disconnect."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay
