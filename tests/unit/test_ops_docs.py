"""docs/operations.md, the Grafana dashboard and the alert rules checked against the code, so an
operator's documentation cannot drift from what Harbor reads and exports.

- The settings table lists exactly the environment variables `Settings.from_env` reads (seen by a
  recording mapping AND by reading its source), with each default equal to the code's.
- The metrics table lists exactly what a worker's /metrics exports, with the right types.
- The dashboard and the alerts reference only metrics in that table.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import json
import re
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from server.metrics import Metrics
from server.settings import ConfigError, Secret, Settings

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"
OPERATIONS = DOCS / "operations.md"
UNSET = "*(unset)*"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC_NAME = re.compile(r"\bharbor_[a-z0-9_]+\b")


def table(header: str) -> list[list[str]]:
    """The rows of the markdown table in operations.md whose first header cell is `header`."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in table_lines(header)
    ]


def table_lines(header: str) -> list[str]:
    """The body lines, as written, of the table in operations.md whose first header cell is
    `header`."""
    lines = OPERATIONS.read_text(encoding="utf-8").splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith(f"| {header} |")
    )  # StopIteration: the table is gone
    return list(itertools.takewhile(lambda line: line.startswith("|"), lines[start + 2 :]))


def code(cell: str) -> str:
    """The literal inside one `backticked` cell."""
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"expected a single `literal`, got {cell!r}"
    return match.group(1)


# Settings


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def variables_read() -> set[str]:
    """Every name from_env looks up, over environments that take each of its branches."""
    read: set[str] = set()
    for values in (
        {},
        {"REDIS_URL": "redis://127.0.0.1:6379/0", "HARBOR_SECRET": "s", "WEB_CONCURRENCY": "2"},
        {"HARBOR_REDIS_URL": "redis://127.0.0.1:6379/0", "HARBOR_SECRET": "s"},
    ):
        env = RecordingEnv(values)
        Settings.from_env(env)
        read |= env.read
    return read


def variables_in_source() -> set[str]:
    """Every string constant in from_env's source that looks like an environment variable name:
    catches a variable read only on a branch the recording environments never take."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Settings.from_env)))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+|PORT", node.value)
    }


def documented_settings() -> dict[str, str]:
    rows = table("Variable")
    names = [code(row[0]) for row in rows]
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert all(len(row) == 4 and row[2] and row[3] for row in rows), "every row: unit and why"
    return {code(row[0]): row[1] for row in rows}


def comparable(settings: Settings) -> Settings:
    """Settings without the per-process generated secret, which differs on every call."""
    return replace(settings, secret=Secret(""), secret_generated=False)


def test_the_settings_table_lists_exactly_the_variables_from_env_reads() -> None:
    read = variables_read()
    assert variables_in_source() == read
    assert set(documented_settings()) == read


def test_the_empty_environment_gives_the_dataclass_defaults() -> None:
    assert comparable(Settings.from_env({})) == Settings()


@pytest.mark.parametrize("name", sorted(documented_settings()))
def test_each_documented_default_is_the_code_default(name: str) -> None:
    cell = documented_settings()[name]
    if cell == UNSET:
        assert comparable(Settings.from_env({name: ""})) == Settings()
        return
    value = code(cell)
    assert comparable(Settings.from_env({name: value})) == Settings(), (
        f"{name}={value} (documented default) does not give Settings() defaults"
    )


@pytest.mark.parametrize(
    "name",
    [
        n
        for n, cell in sorted(documented_settings().items())
        if re.fullmatch(r"`[0-9]+(\.[0-9]+)?`", cell)
    ],
)
def test_each_numeric_default_is_not_vacuous(name: str) -> None:
    """The default check above must be able to fail: another value of the variable changes the
    settings (or is refused), so a wrong documented default would be caught."""
    doubled = float(code(documented_settings()[name])) * 2
    value = str(int(doubled)) if doubled.is_integer() else str(doubled)
    try:
        changed = comparable(Settings.from_env({name: value}))
    except ConfigError:
        return
    assert changed != Settings()


# Metrics


def documented_metrics() -> dict[str, str]:
    rows = table("Metric")
    metrics = {code(row[0]): row[1] for row in rows}
    assert len(metrics) == len(rows), "a metric is listed twice"
    return metrics


def exported_metrics() -> dict[str, str]:
    """What /metrics exposes, by name as it appears in the text format (counters with _total)."""
    exported = {}
    for family in Metrics().registry.collect():
        name = family.name + "_total" if family.type == "counter" else family.name
        exported[name] = family.type
    return exported


def test_the_metrics_table_matches_what_a_worker_exports() -> None:
    assert documented_metrics() == exported_metrics()


def test_the_metrics_table_names_each_metrics_labels() -> None:
    """The labels column is what a query may group by: a label added, renamed or dropped in
    server/metrics.py must show here too. (Label names are read from each metric object: a
    labelled series exports no sample until its first child exists.)"""
    # the first three cells: name, type, labels (an empty labels cell reads "| |", which
    # table() keeps joined to the description; the descriptions may hold "|" themselves)
    rows = [line.split("|")[1:4] for line in table_lines("Metric")]
    documented = {
        code(name.strip()): sorted(re.findall(r"`([^`]*)`", labels)) for name, _, labels in rows
    }
    exported: dict[str, list[str]] = {}
    for metric in vars(Metrics()).values():
        if isinstance(metric, MetricWrapperBase):
            suffix = "_total" if metric._type == "counter" else ""
            exported[metric._name + suffix] = sorted(metric._labelnames)
    assert documented == exported


def assert_documented(expressions: list[str], where: str) -> set[str]:
    documented = documented_metrics()
    used = set()
    for expression in expressions:
        for name in METRIC_NAME.findall(expression):
            base = name
            for suffix in HISTOGRAM_SUFFIXES:
                if name.endswith(suffix) and documented.get(name[: -len(suffix)]) == "histogram":
                    base = name[: -len(suffix)]
            assert base in documented, f"{where} uses {name}, not in operations.md's metrics"
            if documented[base] == "histogram":
                assert base != name, f"{where} uses histogram {name} without _bucket/_sum/_count"
            used.add(base)
    return used


# Grafana


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCS / "grafana-dashboard.json").read_text("utf-8"))
    return loaded


def panel_expressions(model: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in model["panels"] for t in p.get("targets", [])]


def test_the_dashboard_uses_a_prometheus_datasource_variable() -> None:
    model = dashboard()
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in model["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_the_dashboard_panels_are_laid_out_once_each() -> None:
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))


def test_the_dashboard_references_only_documented_metrics() -> None:
    model = dashboard()
    queries = [v["definition"] for v in model["templating"]["list"] if "definition" in v]
    used = assert_documented(panel_expressions(model) + queries, "grafana-dashboard.json")
    # The people waiting come first on the dashboard: these must never fall off it.
    assert {
        "harbor_oldest_open_flag_seconds",
        "harbor_flags_open",
        "harbor_moderators_on_duty",
        "harbor_broker_ready",
        # Time to a human (#19): how long people waited for a claim and for a volunteer's words.
        "harbor_time_to_claim_seconds",
        "harbor_time_to_first_words_seconds",
        "harbor_backup_calls_total",
    } <= used


# Alerts


@dataclass
class _Line:
    indent: int
    text: str
    number: int


def parse_simple_yaml(source: str) -> Any:
    """The YAML subset the alerts file keeps to (PyYAML is not a Harbor dependency): nested
    mappings, lists of mappings, plain or single- or double-quoted one-line scalars, full-line
    comments. Anything else is an error, so the file stays this simple."""
    lines = []
    for number, raw in enumerate(source.splitlines(), 1):
        if "\t" in raw:
            raise ValueError(f"line {number}: tab")
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            lines.append(_Line(len(raw) - len(raw.lstrip(" ")), stripped, number))
    value, end = _block(lines, 0, 0)
    if end != len(lines):
        raise ValueError(f"line {lines[end].number}: unexpected indentation")
    return value


def _block(lines: list[_Line], i: int, indent: int) -> tuple[Any, int]:
    if lines[i].indent != indent:
        raise ValueError(f"line {lines[i].number}: expected indentation {indent}")
    if lines[i].text.startswith("- "):
        items = []
        while i < len(lines) and lines[i].indent == indent and lines[i].text.startswith("- "):
            first = lines[i]
            lines[i] = _Line(indent + 2, first.text[2:], first.number)
            item, i = _mapping(lines, i, indent + 2)
            items.append(item)
        return items, i
    return _mapping(lines, i, indent)


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i].indent == indent and not lines[i].text.startswith("- "):
        line = lines[i]
        match = re.fullmatch(r"([A-Za-z_][\w-]*):(?: (.*))?", line.text)
        if match is None or match.group(1) in mapping:
            raise ValueError(f"line {line.number}: expected a new 'key: value'")
        key, rest = match.group(1), match.group(2)
        i += 1
        if rest:
            mapping[key] = _scalar(rest, line.number)
        elif i < len(lines) and lines[i].indent > indent:
            mapping[key], i = _block(lines, i, lines[i].indent)
        else:
            raise ValueError(f"line {line.number}: {key} has no value")
    if i < len(lines) and lines[i].indent > indent:
        raise ValueError(f"line {lines[i].number}: unexpected indentation")
    return mapping, i


def _scalar(text: str, number: int) -> str:
    if text.startswith("'"):
        if not (len(text) > 1 and text.endswith("'")) or "'" in text[1:-1].replace("''", ""):
            raise ValueError(f"line {number}: bad single-quoted string")
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        value = json.loads(text)
        if not isinstance(value, str):
            raise ValueError(f"line {number}: bad double-quoted string")
        return value
    if text[0] in "{[&*!|>%@`" or ": " in text or " #" in text:
        raise ValueError(f"line {number}: quote this value")
    return text


def alert_rules() -> list[dict[str, Any]]:
    source = (DOCS / "prometheus-alerts.yml").read_text(encoding="utf-8")
    parsed = parse_simple_yaml(source)
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        pass
    else:  # where PyYAML happens to be installed, it must read the file the same way
        assert yaml.safe_load(source) == parsed
    rules: list[dict[str, Any]] = [rule for g in parsed["groups"] for rule in g["rules"]]
    return rules


def test_the_simple_yaml_reader_refuses_what_it_does_not_understand() -> None:
    assert parse_simple_yaml("a:\n  - b: 'it''s'\n    c: x\n") == {"a": [{"b": "it's", "c": "x"}]}
    for bad in ("a: {b: 1}\n", "a:\n  b: 1\n   c: 2\n", "a: 1\na: 2\n", "a: 'x\n", "a:\n"):
        with pytest.raises(ValueError):
            parse_simple_yaml(bad)


def test_every_alert_is_complete() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("page", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert rule["expr"].count("{") == rule["expr"].count("}"), rule["alert"]


def test_the_alerts_reference_only_documented_metrics() -> None:
    assert_documented([rule["expr"] for rule in alert_rules()], "prometheus-alerts.yml")


def rule_matching(*fragments: str) -> dict[str, Any]:
    found = [r for r in alert_rules() if all(f in r["expr"] for f in fragments)]
    assert len(found) == 1, f"expected one alert with {fragments}"
    return found[0]


def test_the_alerts_cover_what_needs_a_human_now() -> None:
    imminent = rule_matching('harbor_oldest_open_flag_seconds{job="harbor",severity="imminent"}')
    assert imminent["expr"].endswith("> 120") and imminent["labels"]["severity"] == "page"
    no_one = rule_matching("harbor_moderators_on_duty", "harbor_flags_open")
    assert no_one["labels"]["severity"] == "page"
    deaf = rule_matching('harbor_broker_ready{job="harbor"} == 0')
    assert deaf["for"] == "1m"
    redis_down = rule_matching('max(harbor_broker_ready{job="harbor"}) == 0')
    assert redis_down["labels"]["severity"] == "page"
    rule_matching("harbor_slow_members_dropped_total")
    rule_matching('recovered="false"')
    rule_matching("harbor_redis_reconnects_total")
    rule_matching('harbor_meeting_sweeps_total{job="harbor",result="failed"}')
