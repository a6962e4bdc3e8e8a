"""The learned stage is trained from data in this repository by one command, reproducibly:
``python -m training --check`` retrains from corpus/build and must write exactly the committed
moderation/lexicon/model.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_training_reproduces_the_committed_model() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "training", "--check"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=590,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the committed model is reproduced" in result.stderr
