"""Roles (#19 item 6) against a real worker on Redis: `harbor moderators add NAME --role ROLE`,
every moderator route checking the role, and what a coordinator may change."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from casework.roles import Role
from server.app import create_app
from server.moderator_api import REQUIRED_ROLE
from server.settings import Settings
from tests.conftest import TEST_SECRET, HarborFactory
from tests.harness import HarborProcess, RedisProcess

from .test_abuse import moderators_cli
from .test_moderation_flow import PASSWORD, Moderator

# The routes anyone may call: signing in (by password or the one-time link) and "who am I".
OPEN_ROUTES = {("/mod/api/session", "POST"), ("/mod/api/link", "POST"), ("/mod/api/me", "GET")}


def add(redis: RedisProcess, name: str, *role: str) -> str:
    return moderators_cli(redis, "add", name, *role, "--password-stdin", password=PASSWORD)


@pytest.fixture
def worker(harbor: HarborFactory, redis_server: RedisProcess) -> HarborProcess:
    add(redis_server, "vera")  # no --role: a volunteer
    add(redis_server, "cole", "--role", "coordinator")
    add(redis_server, "ada", "--role", "admin")
    return harbor(redis_server)


async def moderator(worker: HarborProcess, name: str) -> Moderator:
    signed = Moderator(worker, name)
    await signed.sign_in()
    return signed


def test_every_moderator_route_names_the_role_it_needs(redis_server: RedisProcess) -> None:
    env = {"REDIS_URL": redis_server.url, "HARBOR_SECRET": TEST_SECRET}
    app = create_app(Settings.from_env(env))
    checked = 0
    for route in app.routes:
        if not isinstance(route, Route) or not route.path.startswith("/mod/api"):
            continue
        for method in route.methods or ():
            if method == "HEAD" or (route.path, method) in OPEN_ROUTES:
                continue
            assert isinstance(getattr(route.endpoint, REQUIRED_ROLE, None), Role), route.path
            checked += 1
    assert checked >= 17


def test_the_command_line_gives_roles_and_lists_them(redis_server: RedisProcess) -> None:
    assert "(volunteer)" in add(redis_server, "vera")
    assert "(admin)" in add(redis_server, "ada", "--role", "admin")
    assert "(admin)" in add(redis_server, "ada"), "a new password keeps the role"
    assert "now a coordinator" in moderators_cli(redis_server, "role", "vera", "coordinator")
    listed = moderators_cli(redis_server, "list").split()
    assert listed == ["ada", "admin", "vera", "coordinator"]


async def test_a_volunteer_is_refused_coordinator_routes_and_told_which_role(
    worker: HarborProcess,
) -> None:
    vera = await moderator(worker, "vera")
    assert (await vera.http.get("/mod/api/me")).json() == {"name": "vera", "role": "volunteer"}
    refused = await vera.http.get("/mod/api/accounts")
    assert refused.status_code == 403
    assert refused.json() == {"error": "role_required", "message": "only a coordinator can do this"}
    changed = await vera.http.post("/mod/api/accounts/cole/role", json={"role": "volunteer"})
    assert changed.status_code == 403
    assert (await vera.http.get("/mod/api/flags")).status_code == 200, "casework is hers"
    await vera.close()


async def test_a_coordinator_manages_volunteers_but_never_an_admin_or_themselves(
    worker: HarborProcess,
) -> None:
    cole = await moderator(worker, "cole")
    listed = (await cole.http.get("/mod/api/accounts")).json()["accounts"]
    assert [(a["name"], a["role"]) for a in listed] == [
        ("ada", "admin"),
        ("cole", "coordinator"),
        ("vera", "volunteer"),
    ]
    made = await cole.http.post("/mod/api/accounts/vera/role", json={"role": "coordinator"})
    assert made.json() == {"name": "vera", "role": "coordinator"}
    vera = await moderator(worker, "vera")
    assert (await vera.http.get("/mod/api/accounts")).status_code == 200, "from her next request"
    up = await cole.http.post("/mod/api/accounts/vera/role", json={"role": "admin"})
    assert up.status_code == 403
    down = await cole.http.post("/mod/api/accounts/ada/role", json={"role": "volunteer"})
    assert down.status_code == 403
    assert (await cole.http.post("/mod/api/accounts/ada/remove", json={})).status_code == 403
    own = await cole.http.post("/mod/api/accounts/cole/role", json={"role": "admin"})
    assert own.status_code == 409
    bad = await cole.http.post("/mod/api/accounts/vera/role", json={"role": "owner"})
    assert bad.status_code == 400
    assert (await cole.http.post("/mod/api/accounts/nobody/remove", json={})).status_code == 404
    audit = (await cole.http.get("/mod/api/audit")).json()["entries"]
    (changed,) = [e for e in audit if e["action"] == "role"]
    assert changed["action_text"] == "Changed the role of"
    assert (changed["subject"], changed["detail_text"]) == ("vera", "now a coordinator")
    await cole.close()
    await vera.close()


async def test_an_admin_makes_admins_and_a_removed_account_is_signed_out(
    worker: HarborProcess,
) -> None:
    ada = await moderator(worker, "ada")
    vera = await moderator(worker, "vera")
    made = await ada.http.post("/mod/api/accounts/cole/role", json={"role": "admin"})
    assert made.json() == {"name": "cole", "role": "admin"}
    assert (await ada.http.post("/mod/api/accounts/vera/remove", json={})).status_code == 200
    assert (await vera.http.get("/mod/api/flags")).status_code == 401
    await ada.close()
    await vera.close()
