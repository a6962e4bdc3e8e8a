"""The scan CLI: one JSON verdict per input line, in order; bad lines get an error, not a crash."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from moderation import load_lexicon
from moderation.scan import scan, scan_lines

REPOSITORY = Path(__file__).resolve().parents[2]


def _run_cli(stdin: str, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = subprocess.run(
        [sys.executable, "-m", "moderation", "scan", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPOSITORY,
        check=False,
    )
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


def test_cli_scans_plain_and_json_lines_in_order() -> None:
    """plain lines and JSON objects each get a verdict; other fields are echoed back."""
    stdin = "\n".join(
        [
            "see you tonight",
            json.dumps({"id": "a1", "room": "opioids", "text": "i want to die"}),
            json.dumps({"id": 7, "text": "call me 555-0142"}),
        ]
    )
    code, rows = _run_cli(stdin + "\n")
    assert code == 0
    assert [row["line"] for row in rows] == [1, 2, 3]
    assert rows[0]["categories"] == [] and rows[0]["action"] == "deliver"
    assert rows[1]["id"] == "a1" and rows[1]["room"] == "opioids"
    assert rows[1]["categories"] == ["suicide"] and rows[1]["severity"] == "high"
    assert rows[2]["categories"] == ["pii"] and rows[2]["delivered_text"] == "call me [removed]"
    assert all(row["lexicon_version"] for row in rows)
    assert "text" not in rows[1]


def test_cli_reports_bad_lines_and_keeps_going() -> None:
    """invalid JSON, non-objects and missing or non-string text give errors on their lines."""
    stdin = '{"text": \n[1, 2]\n{"id": 3}\n{"id": 4, "text": 5}\n{"text": "ok then"}\n'
    code, rows = _run_cli(stdin, "--format", "jsonl")
    assert code == 1
    assert len(rows) == 5
    assert ["error" in row for row in rows] == [True, True, True, True, False]
    assert rows[2]["id"] == 3 and rows[3]["id"] == 4
    assert rows[4]["action"] == "deliver"


def test_cli_spans_are_offsets_into_the_original_line() -> None:
    """span offsets index the text as sent, including invisible characters."""
    text = "i w\u200ban\u200bt to d\u200bie"
    _, rows = _run_cli(json.dumps({"text": text}) + "\n")
    span = rows[0]["spans"][0]
    assert text[span["start"] : span["end"]] == "w\u200ban\u200bt to d\u200bie"


def test_cli_refuses_a_broken_lexicon(tmp_path: Path) -> None:
    """a missing lexicon directory is an error before any line is read."""
    result = subprocess.run(
        [sys.executable, "-m", "moderation", "scan", "--lexicon", str(tmp_path / "none")],
        input="hi\n",
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot load lexicon" in result.stderr
    assert result.stdout == ""


def test_scan_is_importable_for_other_entry_points() -> None:
    """the server CLI can call scan() with its own streams."""
    sink = io.StringIO()
    errors = scan(io.StringIO("hello\n{oops\n"), sink, load_lexicon())
    rows = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert errors == 1
    assert rows[0]["action"] == "deliver" and "error" in rows[1]


def test_plain_format_reads_braces_as_text() -> None:
    """with --format text, a line starting with '{' is a message, not JSON."""
    rows = list(scan_lines(["{hugs} to everyone"], load_lexicon(), input_format="text"))
    assert "error" not in rows[0]
