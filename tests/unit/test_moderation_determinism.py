"""A verdict is a pure function of (text, lexicon, policy), in every process.

Server workers are separate processes, each with its own ``PYTHONHASHSEED``; if any part of a
verdict followed ``set``/``frozenset`` iteration order (which follows string hashing), two
workers could give different ``reasons`` or span orders for the same message. So the scan CLI
runs here in subprocesses under different hash seeds and must print byte-identical output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.test_moderation_golden import corpus_build, generated

REPOSITORY = Path(__file__).resolve().parents[2]
# "0" turns hash randomisation off; the others are arbitrary, fixed so a failure reproduces.
HASH_SEEDS = ("0", "1", "2", "12345", "4294967295")
# Lines where several rules fire together or spans coincide: the cases order can affect.
_MANY_SIGNALS = (
    "took like 6 pills and half a bottle of vodka, everything's spinning",
    "took 4 bars with wine and I can barely breathe, my lips are blue",
    "the rope is in the closet, wrote goodbye letters, this is it tonight",
    "he hit me again tonight, I'm hiding in the bathroom, about to use, the bag is in my hand",
    "call me at (614) 555-0133 or email someone@example.com, I live at 42 Maple Street apt 4",
)


def messages() -> list[str]:
    """A few thousand varied lines: generated mixes and edge cases, signal-heavy lines, and the
    team corpus's build part (where several rules often fire at once)."""
    return [*generated(400, seed=7), *_MANY_SIGNALS, *(text for _, text in corpus_build())]


def _scan(stdin: bytes, hash_seed: str) -> bytes:
    result = subprocess.run(
        [sys.executable, "-m", "moderation", "scan", "--format", "jsonl"],
        input=stdin,
        capture_output=True,
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        check=True,
        timeout=50,
    )
    return result.stdout


def test_scan_output_is_identical_under_different_hash_seeds() -> None:
    """every byte of every verdict is the same whatever the process's hash seed."""
    texts = messages()
    assert len(texts) >= 400
    stdin = "".join(json.dumps({"text": text}) + "\n" for text in texts).encode()
    outputs = {seed: _scan(stdin, seed) for seed in HASH_SEEDS}
    first = outputs[HASH_SEEDS[0]]
    assert len(first.splitlines()) == len(texts)
    for seed, output in outputs.items():
        differing = [
            (number, theirs, ours)
            for number, (theirs, ours) in enumerate(
                zip(first.splitlines(), output.splitlines(), strict=True), start=1
            )
            if theirs != ours
        ]
        assert not differing, f"PYTHONHASHSEED={seed} differs on lines {differing[:3]}"
