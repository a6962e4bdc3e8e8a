"""`harbor check` as an operator runs it before a deploy: real redis-servers run each way it can be
misconfigured, one line per check, and an exit code a pipeline can gate on."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.check import redact_url
from tests.harness import REPO, RedisClusterProcesses, RedisProcess, free_port, wait_until

LONG_SECRET = "0123456789abcdef" * 4


class CheckRun:
    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.code = result.returncode
        self.output = result.stdout + result.stderr
        self.lines = result.stdout.splitlines()

    def line(self, subject: str) -> str:
        """The one line about `subject`; fails when there is none or more than one."""
        found = [line for line in self.lines if line.split(maxsplit=1)[1].startswith(subject + ":")]
        assert len(found) == 1, f"expected one {subject!r} line in:\n{self.output}"
        return found[0]

    def level(self, subject: str) -> str:
        return self.line(subject).split()[0]


def run_check(tmp_path: Path, **env: str) -> CheckRun:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HARBOR_")}
    for name in ("REDIS_URL", "WEB_CONCURRENCY", "PORT"):
        clean.pop(name, None)
    if "HARBOR_TEST_TIME_SCALE" in os.environ:
        clean["HARBOR_TEST_TIME_SCALE"] = os.environ["HARBOR_TEST_TIME_SCALE"]
    result = subprocess.run(
        [sys.executable, "-m", "server", "check"],
        cwd=REPO,
        env={**clean, "HARBOR_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return CheckRun(result)


def shared(url: str, **env: str) -> dict[str, str]:
    return {"REDIS_URL": url, "HARBOR_SECRET": LONG_SECRET, **env}


class ConfiguredRedis(RedisProcess):
    """A private redis-server started with extra arguments (persistence, passwords, TLS...)."""

    def __init__(self, workdir: Path, args: list[str], tls: bool = False) -> None:
        super().__init__(workdir)
        self.args = args
        self.tls = tls

    def start(self) -> ConfiguredRedis:
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = (
            ["--port", "0", "--tls-port", str(self.port)]
            if self.tls
            else ["--port", str(self.port)]
        )
        self.proc = subprocess.Popen(
            ["redis-server", *port, "--bind", "127.0.0.1", "--dir", str(self.workdir), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, 10, "redis-server to answer")
        return self

    def answers(self) -> bool:
        """Up when it answers PING with anything (+PONG, or -NOAUTH when it wants a password)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw:
                if not self.tls:
                    return _pings(raw)
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                with context.wrap_socket(raw) as tls:
                    return _pings(tls)
        except OSError:
            return False


def _pings(sock: socket.socket) -> bool:
    sock.sendall(b"PING\r\n")
    return sock.recv(16)[:1] in (b"+", b"-")


StartRedis = Callable[..., ConfiguredRedis]


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[StartRedis]:
    started: list[ConfiguredRedis] = []

    def start(*args: str, tls: bool = False) -> ConfiguredRedis:
        server = ConfiguredRedis(tmp_path / f"redis{len(started)}", list(args), tls)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def test_redis_without_persistence_passes_with_a_warning(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    run = run_check(tmp_path, **shared(redis_server.url))
    assert run.code == 0, run.output
    assert run.level("redis") == "ok"
    assert run.level("redis persistence") == "warning"
    assert "restart loses every open flag" in run.line("redis persistence")
    assert "appendonly yes" in run.line("redis persistence")


def test_append_only_redis_passes_every_check(tmp_path: Path, start_redis: StartRedis) -> None:
    redis = start_redis("--appendonly", "yes", "--save", "")
    run = run_check(tmp_path, **shared(redis.url))
    assert run.code == 0, run.output
    assert [line.split()[0] for line in run.lines] == ["ok"] * len(run.lines), run.output
    assert "appendfsync everysec" in run.line("redis persistence")
    assert "noeviction" in run.line("redis eviction")


def test_snapshots_only_are_a_warning_that_names_them(
    tmp_path: Path, start_redis: StartRedis
) -> None:
    redis = start_redis("--appendonly", "no", "--save", "900 1")
    run = run_check(tmp_path, **shared(redis.url))
    assert run.code == 0, run.output
    assert run.level("redis persistence") == "warning"
    assert 'only RDB snapshots (save "900 1")' in run.line("redis persistence")


def test_an_unreachable_redis_is_an_error(tmp_path: Path) -> None:
    run = run_check(tmp_path, **shared(f"redis://127.0.0.1:{free_port()}/0"))
    assert run.code == 1, run.output
    assert run.level("redis") == "error"
    assert "connection refused" in run.line("redis")
    assert "redis persistence" not in run.output  # nothing to ask a Redis we could not reach


def test_a_malformed_limit_is_an_error_by_name(tmp_path: Path) -> None:
    run = run_check(tmp_path, HARBOR_MAX_TEXT_CHARS="lots")
    assert run.code == 1, run.output
    assert run.level("settings") == "error"
    assert "HARBOR_MAX_TEXT_CHARS must be a whole number" in run.line("settings")
    assert run.level("lexicon") == "ok"  # what does not depend on settings is still checked


def test_redis_without_a_secret_is_an_error(tmp_path: Path, redis_server: RedisProcess) -> None:
    run = run_check(tmp_path, REDIS_URL=redis_server.url)
    assert run.code == 1, run.output
    assert "HARBOR_SECRET is required with Redis" in run.line("settings")


def test_the_embedded_default_passes_without_redis(tmp_path: Path) -> None:
    run = run_check(tmp_path)
    assert run.code == 0, run.output
    assert "embedded mode" in run.line("settings")
    assert run.level("data directory") == "ok"
    assert not (tmp_path / "data").exists()  # checking creates nothing


def test_an_unreadable_rooms_file_is_an_error(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.json"
    rooms.write_text('[{"id": "Bad Id", "title": "x"}]', encoding="utf-8")
    run = run_check(tmp_path, HARBOR_ROOMS=str(rooms))
    assert run.code == 1, run.output
    assert run.level("rooms") == "error"
    assert "lowercase letters" in run.line("rooms")


def test_an_empty_resources_file_is_an_error(tmp_path: Path) -> None:
    resources = tmp_path / "resources.json"
    resources.write_text("[]", encoding="utf-8")
    run = run_check(tmp_path, HARBOR_RESOURCES=str(resources))
    assert run.code == 1, run.output
    assert "the resources list is empty" in run.line("resources")


def test_an_evicting_redis_is_a_warning_naming_what_it_would_lose(
    tmp_path: Path, start_redis: StartRedis
) -> None:
    redis = start_redis("--appendonly", "yes", "--maxmemory", "100mb", "--maxmemory-policy",
                        "allkeys-lru")  # fmt: skip
    run = run_check(tmp_path, **shared(redis.url))
    assert run.code == 0, run.output
    assert run.level("redis eviction") == "warning"
    assert "open crisis flags" in run.line("redis eviction")
    assert "noeviction" in run.line("redis eviction")


def test_a_hidden_config_command_cannot_be_verified(
    tmp_path: Path, start_redis: StartRedis
) -> None:
    redis = start_redis("--rename-command", "CONFIG", "")
    run = run_check(tmp_path, **shared(redis.url))
    assert run.code == 0, run.output
    for subject in ("redis persistence", "redis eviction"):
        assert run.level(subject) == "warning"
        assert "couldn't verify" in run.line(subject)


def test_passwords_are_explained_and_never_printed(tmp_path: Path, start_redis: StartRedis) -> None:
    redis = start_redis("--appendonly", "yes", "--requirepass", "right-horse-battery")
    base = f"127.0.0.1:{redis.port}/0"

    missing = run_check(tmp_path, **shared(f"redis://{base}"))
    assert missing.code == 1
    assert "asks for a password and REDIS_URL has none" in missing.line("redis")

    wrong = run_check(tmp_path, **shared(f"redis://:wrong-staple@{base}"))
    assert wrong.code == 1
    assert "refused the user name or password" in wrong.line("redis")
    assert "wrong-staple" not in wrong.output

    right = run_check(tmp_path, **shared(f"redis://:right-horse-battery@{base}"))
    assert right.code == 0, right.output
    assert f"reached redis://:***@{base}" in right.line("redis")
    assert "right-horse-battery" not in right.output


def test_tls_certificates_are_explained(tmp_path: Path, start_redis: StartRedis) -> None:
    # The test command installs openssl when missing; without it this must fail, not skip.
    assert shutil.which("openssl"), "openssl is needed to make a test certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    redis = start_redis("--appendonly", "yes", "--tls-cert-file", str(cert), "--tls-key-file",
                        str(key), "--tls-auth-clients", "no", tls=True)  # fmt: skip
    base = f"127.0.0.1:{redis.port}/0"

    untrusted = run_check(tmp_path, **shared(f"rediss://{base}"))
    assert untrusted.code == 1
    assert "TLS certificate is not trusted" in untrusted.line("redis")
    assert "ssl_ca_certs" in untrusted.line("redis")

    plain = run_check(tmp_path, **shared(f"redis://{base}"))
    assert plain.code == 1
    assert "rediss://" in plain.line("redis")

    trusted = run_check(tmp_path, **shared(f"rediss://{base}?ssl_ca_certs={cert}"))
    assert trusted.code == 0, trusted.output
    assert trusted.level("redis") == "ok"


def test_a_cluster_node_named_as_one_redis_is_refused_with_the_cluster_url_to_use(
    tmp_path: Path, start_redis: StartRedis
) -> None:
    # The cluster bus defaults to port + 10000, which may be taken or past 65535: choose it.
    redis = start_redis("--cluster-enabled", "yes", "--cluster-port", str(free_port()))
    run = run_check(tmp_path, **shared(redis.url))
    assert run.code == 1, run.output
    assert "Redis Cluster node" in run.line("redis")
    assert "redis+cluster://" in run.line("redis")


def test_a_cluster_url_checks_slots_and_every_primary(
    tmp_path: Path, cluster: RedisClusterProcesses
) -> None:
    run = run_check(tmp_path, **shared(cluster.url))
    assert run.code == 0, run.output
    assert run.level("redis cluster") == "ok"
    assert "all 16384 slots served by 3 primaries" in run.line("redis cluster")
    nodes = [line for line in run.output.splitlines() if "redis node" in line]
    assert len(nodes) == 3 and all("sharded pub/sub available" in n for n in nodes), run.output
    assert "redis persistence" in run.output and "redis eviction" in run.output


def test_a_cluster_with_unserved_slots_is_an_error(
    tmp_path: Path, cluster: RedisClusterProcesses
) -> None:
    primary = cluster.primary_nodes()[0]
    served = [line for line in cluster.cli(primary, "cluster", "nodes").splitlines()
              if "myself" in line][0].split()[8]  # fmt: skip
    first, _, last = served.partition("-")
    cluster.cli(primary, "cluster", "delslots", first)
    try:
        run = run_check(tmp_path, **shared(f"redis+cluster://127.0.0.1:{primary.port}"))
    finally:
        cluster.cli(primary, "cluster", "addslots", first)
    assert run.code == 1, run.output
    assert run.level("redis cluster") == "error"
    assert "of 16384 slots are served" in run.line("redis cluster")
    assert last


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("rediss://user:p%40ss@host:6380/0", "rediss://user:***@host:6380/0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        (
            "rediss://host/0?ssl_ca_certs=/etc/ca.pem&ssl_password=pw",
            "rediss://host/0?ssl_ca_certs=/etc/ca.pem&ssl_password=***",
        ),
    ],
)
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
