"""Batch moderation of lines: plain text or JSON objects in, one JSON verdict per line out.

Used by ``python -m moderation scan`` and ``harbor moderation scan``. Each input line
gives exactly one output line, in order, so outputs can be joined back to inputs by position.
A bad line (not a JSON object, or ``text`` missing or not a string) yields an ``error``
object on its line and the run goes on. Fields other than ``text`` (such as ``id``) are
echoed back; the input text is not (``delivered_text`` shows what the room would see).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal, TextIO

from moderation.lexicon import Lexicon
from moderation.pipeline import moderate
from moderation.policy import DEFAULT_POLICY, RoomPolicy

Format = Literal["auto", "text", "jsonl"]


def scan_lines(
    lines: Iterable[str],
    lexicon: Lexicon,
    policy: RoomPolicy = DEFAULT_POLICY,
    input_format: Format = "auto",
) -> Iterator[dict[str, Any]]:
    """One result mapping per input line. In ``auto``, lines starting with ``{`` are JSON."""
    for number, line in enumerate(lines, start=1):
        content = line.rstrip("\r\n")
        as_json = input_format == "jsonl" or (
            input_format == "auto" and content.lstrip().startswith("{")
        )
        yield {"line": number, **_result(content, as_json, lexicon, policy)}


def scan(
    source: TextIO,
    sink: TextIO,
    lexicon: Lexicon,
    policy: RoomPolicy = DEFAULT_POLICY,
    input_format: Format = "auto",
) -> int:
    """Moderate every line of ``source`` into ``sink``; returns how many lines were errors."""
    errors = 0
    for result in scan_lines(source, lexicon, policy, input_format):
        errors += "error" in result
        sink.write(json.dumps(result, ensure_ascii=False) + "\n")
    return errors


def _result(content: str, as_json: bool, lexicon: Lexicon, policy: RoomPolicy) -> dict[str, Any]:
    if not as_json:
        return moderate(content, lexicon, policy).to_json()
    try:
        row = json.loads(content)
    except json.JSONDecodeError as error:
        return {"error": f"invalid JSON: {error.msg}"}
    if not isinstance(row, dict):
        return {"error": "a JSON line must be an object"}
    echoed = {key: value for key, value in row.items() if key != "text"}
    text = row.get("text")
    if not isinstance(text, str):
        return {**echoed, "error": "'text' must be a string"}
    return {**echoed, **moderate(text, lexicon, policy).to_json()}
