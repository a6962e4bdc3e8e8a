"""Nothing moderator-only is reachable without a moderator session."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import Route

from server.casebook_api import ROUTES as CASEBOOK_ROUTES
from server.moderator_api import ROUTES as QUEUE_ROUTES
from tests.conftest import HarborFactory
from tests.harness import Client, HarborProcess, seconds

ACTIONS = ["claim", "release", "resolve", "escalate", "hide", "release-held", "warn", "mute",
           "ban", "checkin"]  # fmt: skip
ROUTES = [*QUEUE_ROUTES, *CASEBOOK_ROUTES]
PUBLIC = {("/mod/api/session", "POST"), ("/mod/api/link", "POST"), ("/mod/api/me", "GET")}


def concrete(path: str) -> list[str]:
    if "{action}" in path:
        return [path.replace("{flag_id}", "f0").replace("{action}", a) for a in ACTIONS]
    return [re.sub(r"\{[^}]+\}", "x", path)]


def moderator_routes() -> list[tuple[str, str]]:
    walked = []
    for route in ROUTES:
        assert isinstance(route, Route)
        for method in sorted(route.methods or ()):
            if method == "HEAD" or (route.path, method) in PUBLIC:
                continue
            walked += [(method, path) for path in concrete(route.path)]
    return walked


@pytest.fixture
def worker(harbor: HarborFactory) -> HarborProcess:
    return harbor()


async def test_every_moderator_route_refuses_without_a_session(worker: HarborProcess) -> None:
    walked = moderator_routes()
    assert len(walked) >= 22
    async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as http:
        for method, path in walked:
            response = await http.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            forged = await http.request(
                method, path, json={}, headers={"Cookie": "harbor_mod=not-a-session"}
            )
            assert forged.status_code == 401, (method, path)
        signed_out = await http.get("/mod/api/me")
        assert signed_out.status_code == 200 and signed_out.json() == {"name": None, "role": None}


async def test_a_moderator_hello_without_a_session_is_closed(worker: HarborProcess) -> None:
    client = await Client.connect(worker.ws, additional_headers={"Cookie": "harbor_mod=forged"})
    await client.send({"type": "hello", "moderator": True})
    with pytest.raises(Exception, match="1008"):
        await client.recv(within=10)


async def test_repeated_wrong_passwords_are_throttled(worker: HarborProcess) -> None:
    async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as http:
        codes = [
            (await http.post("/mod/api/session", json={"name": "x", "password": "no"})).status_code
            for _ in range(8)
        ]
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429] * 3


async def test_cross_site_writes_are_refused(worker: HarborProcess) -> None:
    async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as http:
        response = await http.post(
            "/mod/api/session",
            json={"name": "x", "password": "y"},
            headers={"Origin": "https://evil.example.com"},
        )
    assert response.status_code == 403


async def test_the_one_time_link_signs_in_once(harbor: HarborFactory) -> None:
    worker = harbor(terminal=True)  # the link is shown on a terminal only
    token = worker.wait_for_output(r"/mod/#link=([\w-]+)").group(1)
    async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as http:
        first = await http.post("/mod/api/link", json={"token": token})
        assert first.status_code == 200
        assert "httponly" in first.headers["set-cookie"].lower()
        assert "samesite=strict" in first.headers["set-cookie"].lower()
        assert (await http.get("/mod/api/me")).json() == {"name": "volunteer", "role": "admin"}
        async with httpx.AsyncClient(base_url=worker.http, timeout=seconds(10)) as other:
            again = await other.post("/mod/api/link", json={"token": token})
            assert again.status_code == 403
