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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.unit.test_moderation_golden import corpus_build, generated

REPOSITORY = Path(__file__).resolve().parents[2]
# "0" turns hash randomisation off; the others are arbitrary, fixed so a failure reproduces.
HASH_SEEDS = ("0", "1", "2", "12345", "4294967295")
# One scan of messages() takes about 6 s of a core; under the suite's parallel workers a scan
# can take several times that, so this is a bound against a hung process, not a speed check.
SCAN_SECONDS = 200
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
        timeout=SCAN_SECONDS,
    )
    return result.stdout


@pytest.mark.timeout(SCAN_SECONDS + 60)
def test_scan_output_is_identical_under_different_hash_seeds() -> None:
    """every byte of every verdict is the same whatever the process's hash seed."""
    texts = messages()
    assert len(texts) >= 400
    stdin = "".join(json.dumps({"text": text}) + "\n" for text in texts).encode()
    # One after another the scans took about half the suite's 60 s limit on a quiet machine,
    # and a local run with four workers on two cores timed out. What holds on a busy machine
    # is the raised limit; running the scans side by side only shortens the wait where a core
    # is free (16 s instead of 30 here).
    with ThreadPoolExecutor(len(HASH_SEEDS)) as pool:
        scans = pool.map(lambda seed: _scan(stdin, seed), HASH_SEEDS)
        outputs = dict(zip(HASH_SEEDS, scans, strict=True))
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
