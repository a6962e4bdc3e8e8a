"""server.settings: every tunable read from the environment, validated with plain-words errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import ConfigError, Secret, Settings

REDIS = {"REDIS_URL": "redis://cache:6379/0", "HARBOR_SECRET": "s3cret-value-for-tests"}


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    """from_env({}) is a single embedded worker on 127.0.0.1:8000 with the dataclass defaults."""
    settings = Settings.from_env({})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.redis_url is None
    assert not settings.uses_redis
    assert settings.workers == 1
    assert settings.rooms_file is None
    assert settings.data_dir == Path("var")
    assert settings.max_frame_bytes == 16 * 1024
    assert settings.max_text_chars == 2000
    assert settings.send_rate_per_10s == 20
    assert settings.send_burst == 5
    assert settings.max_rooms_per_connection == 10
    assert settings.hello_timeout_s == 10.0
    assert settings.outbox_bytes == 256 * 1024
    assert settings.join_buffer_messages == 1000
    assert settings.history_len == 200
    assert settings.history_max_age_s == 24 * 3600
    assert settings.join_history_messages == 50
    assert settings.client_ids_remembered == 64
    assert settings.presence_interval_s == 1.0
    assert settings.presence_ttl_s == 15.0
    assert settings.ping_interval_s == 20.0
    assert settings.ping_timeout_s == 20.0
    assert settings.allowed_origins == ()
    assert settings.shutdown_grace_s == 10.0
    assert settings.log_format == "text"
    assert settings.log_level == "info"
    assert settings.struggling_cooldown_s == 120.0
    assert Settings.from_env({"HARBOR_STRUGGLING_COOLDOWN_S": "30"}).struggling_cooldown_s == 30


def test_without_a_secret_one_is_generated_per_process() -> None:
    """No HARBOR_SECRET (embedded broker): a random 256-bit hex secret, flagged as generated."""
    first, second = Settings.from_env({}), Settings.from_env({})
    assert first.secret_generated
    assert len(first.secret.value) == 64
    int(first.secret.value, 16)
    assert first.secret.value != second.secret.value


def test_a_given_secret_is_used_as_is() -> None:
    """HARBOR_SECRET becomes the secret and is not flagged as generated."""
    settings = Settings.from_env({"HARBOR_SECRET": "abc"})
    assert settings.secret.value == "abc"
    assert not settings.secret_generated


def test_port_is_read_from_port_then_harbor_port() -> None:
    """PORT (as platforms set it) wins over HARBOR_PORT, which wins over the default."""
    assert Settings.from_env({"HARBOR_PORT": "9001"}).port == 9001
    assert Settings.from_env({"PORT": "9002"}).port == 9002
    assert Settings.from_env({"PORT": "9002", "HARBOR_PORT": "9001"}).port == 9002
    assert Settings.from_env({"PORT": "0"}).port == 0


def test_redis_url_is_read_and_harbor_redis_url_takes_precedence() -> None:
    """REDIS_URL enables Redis; HARBOR_REDIS_URL overrides it when both are set."""
    settings = Settings.from_env(REDIS)
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.uses_redis
    both = Settings.from_env({**REDIS, "HARBOR_REDIS_URL": "rediss://primary:6380/1"})
    assert both.redis_url == "rediss://primary:6380/1"
    only_harbor = Settings.from_env({"HARBOR_REDIS_URL": "redis://h:1", "HARBOR_SECRET": "k"})
    assert only_harbor.redis_url == "redis://h:1"


def test_web_concurrency_sets_the_worker_count_with_redis() -> None:
    """WEB_CONCURRENCY is the number of workers when rooms are shared through Redis."""
    assert Settings.from_env({**REDIS, "WEB_CONCURRENCY": "4"}).workers == 4
    assert Settings.from_env({"WEB_CONCURRENCY": "1"}).workers == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://a.org,https://b.org", ("https://a.org", "https://b.org")),
        ("https://a.org https://b.org", ("https://a.org", "https://b.org")),
        (
            " https://a.org ,  https://b.org,,https://c.org ",
            ("https://a.org", "https://b.org", "https://c.org"),
        ),
        ("*", ("*",)),
        ("", ()),
    ],
)
def test_allowed_origins_are_split_on_commas_and_spaces(
    raw: str, expected: tuple[str, ...]
) -> None:
    """HARBOR_ALLOWED_ORIGINS accepts comma- and/or space-separated origins, ignoring empties."""
    assert Settings.from_env({"HARBOR_ALLOWED_ORIGINS": raw}).allowed_origins == expected


def test_each_harbor_variable_overrides_its_setting() -> None:
    """Every HARBOR_* variable sets its own field, with numbers parsed."""
    settings = Settings.from_env(
        {
            "HARBOR_HOST": "0.0.0.0",
            "HARBOR_ROOMS": "/etc/harbor/rooms.json",
            "HARBOR_DATA_DIR": "/srv/harbor",
            "HARBOR_MAX_FRAME_BYTES": "256",
            "HARBOR_MAX_TEXT_CHARS": "500",
            "HARBOR_SEND_RATE_PER_10S": "7",
            "HARBOR_SEND_BURST": "2",
            "HARBOR_MAX_ROOMS_PER_CONNECTION": "3",
            "HARBOR_HELLO_TIMEOUT_S": "2.5",
            "HARBOR_OUTBOX_BYTES": "4096",
            "HARBOR_JOIN_BUFFER_MESSAGES": "9",
            "HARBOR_HISTORY_LEN": "30",
            "HARBOR_HISTORY_MAX_AGE_S": "60",
            "HARBOR_JOIN_HISTORY_MESSAGES": "0",
            "HARBOR_CLIENT_IDS_REMEMBERED": "8",
            "HARBOR_PRESENCE_INTERVAL_S": "0.5",
            "HARBOR_PRESENCE_TTL_S": "1.5",
            "HARBOR_PING_INTERVAL_S": "5",
            "HARBOR_PING_TIMEOUT_S": "6",
            "HARBOR_SHUTDOWN_GRACE_S": "0.25",
            "HARBOR_LOG_FORMAT": "JSON",
            "HARBOR_LOG_LEVEL": "Debug",
        }
    )
    assert settings.host == "0.0.0.0"
    assert settings.rooms_file == Path("/etc/harbor/rooms.json")
    assert settings.data_dir == Path("/srv/harbor")
    assert settings.max_frame_bytes == 256
    assert settings.max_text_chars == 500
    assert settings.send_rate_per_10s == 7
    assert settings.send_burst == 2
    assert settings.max_rooms_per_connection == 3
    assert settings.hello_timeout_s == 2.5
    assert settings.outbox_bytes == 4096
    assert settings.join_buffer_messages == 9
    assert settings.history_len == 30
    assert settings.history_max_age_s == 60
    assert settings.join_history_messages == 0
    assert settings.client_ids_remembered == 8
    assert settings.presence_interval_s == 0.5
    assert settings.presence_ttl_s == 1.5
    assert settings.ping_interval_s == 5.0
    assert settings.ping_timeout_s == 6.0
    assert settings.shutdown_grace_s == 0.25
    assert settings.log_format == "json"
    assert settings.log_level == "debug"


def test_blank_values_fall_back_to_defaults() -> None:
    """A variable set to whitespace counts as unset."""
    settings = Settings.from_env(
        {"PORT": "  ", "HARBOR_MAX_TEXT_CHARS": "", "REDIS_URL": " ", "HARBOR_LOG_FORMAT": " "}
    )
    assert settings.port == 8000
    assert settings.max_text_chars == 2000
    assert settings.redis_url is None
    assert settings.log_format == "text"


def test_values_are_stripped_of_surrounding_whitespace() -> None:
    """Numbers and URLs with stray spaces (from .env files) are read correctly."""
    settings = Settings.from_env({"PORT": " 8080 ", "HARBOR_PRESENCE_TTL_S": " 20 "})
    assert settings.port == 8080
    assert settings.presence_ttl_s == 20.0


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"REDIS_URL": "redis://cache:6379"}, "HARBOR_SECRET"),
        ({"HARBOR_REDIS_URL": "redis://cache:6379"}, "HARBOR_SECRET"),
        ({"WEB_CONCURRENCY": "2"}, "WEB_CONCURRENCY"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "-1"}, "PORT"),
        ({"HARBOR_PORT": "80.5"}, "HARBOR_PORT"),
        ({"HARBOR_MAX_FRAME_BYTES": "255"}, "HARBOR_MAX_FRAME_BYTES"),
        ({"HARBOR_MAX_FRAME_BYTES": "16k"}, "HARBOR_MAX_FRAME_BYTES"),
        ({"HARBOR_MAX_TEXT_CHARS": "0"}, "HARBOR_MAX_TEXT_CHARS"),
        ({"HARBOR_SEND_RATE_PER_10S": "0"}, "HARBOR_SEND_RATE_PER_10S"),
        ({"HARBOR_SEND_BURST": "0"}, "HARBOR_SEND_BURST"),
        ({"HARBOR_MAX_ROOMS_PER_CONNECTION": "0"}, "HARBOR_MAX_ROOMS_PER_CONNECTION"),
        ({"HARBOR_OUTBOX_BYTES": "4095"}, "HARBOR_OUTBOX_BYTES"),
        ({"HARBOR_JOIN_BUFFER_MESSAGES": "0"}, "HARBOR_JOIN_BUFFER_MESSAGES"),
        ({"HARBOR_HISTORY_LEN": "0"}, "HARBOR_HISTORY_LEN"),
        ({"HARBOR_REPLICA_ACK_TIMEOUT_MS": "-1"}, "HARBOR_REPLICA_ACK_TIMEOUT_MS"),
        ({"HARBOR_REPLICA_ACK_TIMEOUT_MS": "60000"}, "HARBOR_REPLICA_ACK_TIMEOUT_MS"),
        ({"HARBOR_HISTORY_MAX_AGE_S": "0"}, "HARBOR_HISTORY_MAX_AGE_S"),
        ({"HARBOR_JOIN_HISTORY_MESSAGES": "-1"}, "HARBOR_JOIN_HISTORY_MESSAGES"),
        ({"HARBOR_CLIENT_IDS_REMEMBERED": "0"}, "HARBOR_CLIENT_IDS_REMEMBERED"),
        ({"HARBOR_HELLO_TIMEOUT_S": "0"}, "HARBOR_HELLO_TIMEOUT_S"),
        ({"HARBOR_HELLO_TIMEOUT_S": "-3"}, "HARBOR_HELLO_TIMEOUT_S"),
        ({"HARBOR_HELLO_TIMEOUT_S": "soon"}, "HARBOR_HELLO_TIMEOUT_S"),
        ({"HARBOR_PING_INTERVAL_S": "0"}, "HARBOR_PING_INTERVAL_S"),
        ({"HARBOR_PING_TIMEOUT_S": "x"}, "HARBOR_PING_TIMEOUT_S"),
        ({"HARBOR_SHUTDOWN_GRACE_S": "-0.1"}, "HARBOR_SHUTDOWN_GRACE_S"),
        ({"HARBOR_PRESENCE_INTERVAL_S": "0"}, "HARBOR_PRESENCE_INTERVAL_S"),
        ({"HARBOR_LOG_FORMAT": "xml"}, "HARBOR_LOG_FORMAT"),
        ({"HARBOR_LOG_LEVEL": "verbose"}, "HARBOR_LOG_LEVEL"),
        ({"HARBOR_PRESENCE_TTL_S": "2"}, "HARBOR_PRESENCE_TTL_S"),  # default interval 1 s
        (
            {"HARBOR_PRESENCE_INTERVAL_S": "5", "HARBOR_PRESENCE_TTL_S": "10"},
            "HARBOR_PRESENCE_TTL_S",
        ),
        (
            {"HARBOR_PRESENCE_INTERVAL_S": "5", "HARBOR_PRESENCE_TTL_S": "6"},
            "HARBOR_PRESENCE_TTL_S",
        ),
    ],
)
def test_a_bad_configuration_raises_config_error_naming_the_variable(
    env: dict[str, str], names: str
) -> None:
    """Missing, malformed or inconsistent settings raise ConfigError naming the variable."""
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_minimum_values_themselves_are_accepted() -> None:
    """Each lower bound is inclusive (the limits are not off by one)."""
    settings = Settings.from_env(
        {
            "HARBOR_MAX_FRAME_BYTES": "256",
            "HARBOR_OUTBOX_BYTES": "4096",
            "HARBOR_SEND_BURST": "1",
            "HARBOR_JOIN_HISTORY_MESSAGES": "0",
        }
    )
    assert (settings.max_frame_bytes, settings.outbox_bytes) == (256, 4096)
    assert (settings.send_burst, settings.join_history_messages) == (1, 0)


def test_presence_ttl_just_above_twice_the_interval_is_accepted() -> None:
    """The TTL must exceed 2x the interval; any larger value is fine."""
    settings = Settings.from_env(
        {"HARBOR_PRESENCE_INTERVAL_S": "5", "HARBOR_PRESENCE_TTL_S": "10.01"}
    )
    assert settings.presence_ttl_s == 10.01


def test_config_error_is_a_value_error() -> None:
    """Callers catching ValueError also catch configuration errors."""
    assert issubclass(ConfigError, ValueError)


def test_the_secret_never_appears_in_a_repr() -> None:
    """repr/str of the secret and of the whole settings hide the secret's value."""
    settings = Settings.from_env(REDIS)
    value = "s3cret-value-for-tests"
    assert settings.secret.value == value
    assert value not in repr(settings.secret)
    assert value not in str(settings.secret)
    assert value not in repr(settings)
    assert value not in f"{settings.secret}"
    generated = Settings.from_env({})
    assert generated.secret.value not in repr(generated)


def test_a_secret_is_truthy_only_when_not_empty() -> None:
    """Secret('') is falsy, any other Secret is truthy."""
    assert not Secret("")
    assert Secret("x")
