"""uvicorn's httptools HTTP protocol with a header deadline and Harbor's keep-alive timeout.

uvicorn bounds only the idle time between two requests on a keep-alive connection, and resets
even that on every byte received; a connection that has not sent a whole request yet has no
bound at all. Measured: 500 clients each dripping one header byte every 5 s held 500 sockets
open indefinitely, and a connection that sends nothing is held forever. Here every request's
headers must be complete HARBOR_HEADER_TIMEOUT_S after its first byte (the first request's,
after the connection opens), in total, however the bytes trickle in; then the connection is
closed. The body has its own deadline in server/http_edge.py, where the ASGI app reads it.

`harbor serve` installs this class with `uvicorn.run(http=...)`; the settings come from the
lifespan state (the chat server's), as the chat transport gets them.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .metrics import process_metrics
from .settings import Settings


class _HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


def worker_settings(app_state: dict[str, Any]) -> Settings:
    """This worker's settings, from the lifespan state (uvicorn accepts connections only after
    the lifespan started); the defaults when Harbor's lifespan is not there."""
    chat: _HasSettings | None = app_state.get("chat")
    return chat.settings if chat is not None else Settings()


class HarborHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = worker_settings(self.app_state)
        self.timeout_keep_alive = settings.keep_alive_timeout_s  # type: ignore[assignment]
        self._header_timeout_s = settings.header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None
        # True from the end of one request until the next one's headers are complete.
        self._awaiting_headers = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._start_header_deadline()  # the first byte of a request after an idle spell
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True
        self._start_header_deadline()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._stop_header_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True  # the deadline starts with the next request's first byte

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_deadline()
        super().connection_lost(exc)

    def _start_header_deadline(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._header_timeout_s, self._headers_late)

    def _stop_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            process_metrics().http_refused.labels("header_timeout").inc()
            self.transport.close()
