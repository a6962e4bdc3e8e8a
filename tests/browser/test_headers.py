"""Security and cache headers on every HTTP response (server/security.py)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from server.security import CONTENT_SECURITY_POLICY
from tests.conftest import HarborFactory


def _headers(url: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        headers = {k.lower(): v for k, v in error.headers.items()}
        error.close()
        return error.code, headers


@pytest.mark.parametrize(
    ("path", "status", "cache"),
    [
        ("/", 200, "no-cache"),
        ("/help/", 200, "no-cache"),
        ("/chat/app.js", 200, "public, max-age=300"),
        ("/shared/base.css", 200, "public, max-age=300"),
        ("/api/rooms", 200, "no-store"),
        ("/healthz", 200, "no-store"),
        ("/r/newcomers", 200, "no-cache"),
        ("/r/no-such-room", 404, "no-cache"),
        ("/no-such-page", 404, "no-cache"),  # the calm 404 page, HTML like the others
    ],
)
def test_every_response_carries_the_security_headers(
    harbor: HarborFactory, path: str, status: int, cache: str
) -> None:
    worker = harbor()
    code, headers = _headers(worker.http + path)
    assert code == status
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["permissions-policy"] == "camera=(), microphone=(), geolocation=()"
    assert headers["cache-control"] == cache


def test_help_without_a_slash_redirects_to_the_help_page(harbor: HarborFactory) -> None:
    worker = harbor()
    assert worker.get_text("/help").count("988") >= 1  # urllib follows the redirect


def test_pages_have_no_inline_script_or_style(harbor: HarborFactory) -> None:
    """The CSP forbids them; the browser tests would catch a violation, this says where."""
    worker = harbor()
    for path in ("/", "/help/"):
        html = worker.get_text(path)
        assert "style=" not in html
        assert "<style" not in html
        for chunk in html.split("<script")[1:]:
            assert chunk.lstrip().startswith('type="module" src="/'), chunk[:80]
