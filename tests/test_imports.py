"""The moderation core stays sans-I/O: importing it pulls in no event loop, broker or web stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CORE_MODULES = (
    "moderation",
    "moderation.normalize",
    "moderation.lexicon",
    "moderation.classifier",
    "moderation.policy",
    "moderation.verdict",
    "moderation.pipeline",
    "moderation.scan",
)
FORBIDDEN = ("asyncio", "redis", "starlette", "anyio", "logging", "socket", "uvicorn")
REPOSITORY = Path(__file__).resolve().parents[1]

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def _imported_by(module: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPOSITORY,
    )
    loaded: list[str] = json.loads(result.stdout)
    return set(loaded)


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_io_stack(module: str) -> None:
    """importing a moderation core module loads none of asyncio, redis, starlette, anyio."""
    loaded = _imported_by(module)
    assert module in loaded
    offending = sorted(name for name in loaded if name.split(".")[0] in FORBIDDEN)
    assert offending == []


def test_probe_detects_a_forbidden_import() -> None:
    """the probe itself sees asyncio when a module does import it (the check can fail)."""
    assert "asyncio" in _imported_by("asyncio")
