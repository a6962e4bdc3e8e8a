"""A first run that explains itself (issue #18, finding 9): the README's commands work as
written, and `harbor serve` says where the page is, where data is kept and -- once, after the
server is ready, only while no moderator exists -- the one-time sign-in link."""

from __future__ import annotations

import re
from pathlib import Path

from server.banner import command_name, data_line, site_url
from server.settings import Settings
from tests.conftest import HarborFactory
from tests.harness import REPO, add_moderator_account

READY = "Harbor is ready: open "


def test_the_banner_comes_after_uvicorn_listens_and_shows_the_link_once(
    harbor: HarborFactory,
) -> None:
    worker = harbor(terminal=True)
    worker.wait_for_output(r"/mod/#link=[\w-]+")
    log = worker.log()
    listening = log.index("Uvicorn running on")
    ready = log.index(READY + worker.http + "/ in a browser.")
    link = log.index("/mod/#link=")
    assert listening < ready < link, log
    assert log.count("#link=") == 1, log
    data_dir = worker.workdir / "data"
    assert f"Data: {data_dir} (moderator accounts, flags and the audit log in SQLite" in log
    assert "Rooms and messages live in memory only" in log


def test_off_a_terminal_the_banner_has_no_link_and_names_the_command_to_add_one(
    harbor: HarborFactory, tmp_path: Path
) -> None:
    worker = harbor()
    worker.wait_for_output(re.escape(READY))
    log = worker.log()
    assert "#link=" not in log
    assert "No moderator yet: add one with `harbor moderators add NAME`" in log
    assert "Data: " in log


def test_with_a_moderator_the_terminal_gets_no_link(harbor: HarborFactory, tmp_path: Path) -> None:
    data = tmp_path / "data-with-moderator"
    add_moderator_account("alice", "a long enough password", HARBOR_DATA_DIR=str(data))
    worker = harbor(terminal=True, HARBOR_DATA_DIR=str(data))
    worker.wait_for_output(re.escape(READY))
    worker.wait_for_output("Moderators sign in at")
    assert "#link=" not in worker.log()


def test_the_command_is_named_as_it_was_run() -> None:
    cwd = Path("/srv/harbor")
    assert command_name(".venv/bin/harbor", cwd) == ".venv/bin/harbor"
    assert command_name("/srv/harbor/.venv/bin/harbor", cwd) == ".venv/bin/harbor"
    assert command_name("/opt/venv/bin/harbor", cwd) == "/opt/venv/bin/harbor"
    assert command_name("harbor", cwd) == "harbor"  # on PATH: an active venv or an install
    assert command_name("/srv/harbor/server/__main__.py", cwd) == "harbor"


def test_the_data_line_never_shows_a_redis_password() -> None:
    settings = Settings.from_env(
        {"REDIS_URL": "redis://:hunter2@redis.internal:6380/2", "HARBOR_SECRET": "s" * 32}
    )
    line = data_line(settings, Path("/srv"))
    assert "redis.internal:6380/2" in line and "hunter2" not in line
    cluster = Settings.from_env(
        {"REDIS_URL": "redis+cluster://:hunter2@10.0.0.1:7000,10.0.0.2:7000",
         "HARBOR_SECRET": "s" * 32}
    )  # fmt: skip
    on_cluster = data_line(cluster, Path("/srv"))
    assert "Redis Cluster seeded at 10.0.0.1:7000 and 1 more" in on_cluster
    assert "hunter2" not in on_cluster
    embedded = data_line(Settings.from_env({}), Path("/srv/harbor"))
    assert embedded.startswith("Data: /srv/harbor/var ")
    assert site_url("0.0.0.0", 8080) == "http://127.0.0.1:8080/"


def test_the_readmes_commands_name_the_venvs_harbor() -> None:
    """Without an activated venv a bare `harbor` is not found: every command names
    `.venv/bin/harbor` (or runs through `bash`)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines() if "harbor " in line]
    assert commands, "no harbor commands found in the README"
    for line in commands:
        for use in re.finditer(r"(\S*)harbor (serve|moderators|check|moderation)", line):
            assert use.group(1).endswith(".venv/bin/"), line
