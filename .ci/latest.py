"""Helpers for `bash .ci/test --latest` (standard library only; runs in the venv under test).

python .ci/latest.py requirements   every dependency named in pyproject.toml, extras
                                    included, with its version range dropped
python .ci/latest.py compare        what is installed against requirements/dev.lock
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(\s*;[^\\]*)?")


def unbounded_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        named.extend(extra)
    names = []
    for requirement in named:
        match = _NAME.match(requirement.strip())
        if match is None:
            raise SystemExit(f"cannot read the requirement {requirement!r}")
        names.append(match.group(1) + (match.group(2) or ""))
    return sorted(set(names))


def locked() -> dict[str, tuple[str, bool]]:
    """Each locked package: its version, and whether it is for some platforms only."""
    pins = {}
    for line in (ROOT / "requirements" / "dev.lock").read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins[_canonical(match.group(1))] = (match.group(2), bool(match.group(3)))
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def compare() -> None:
    moved = []
    for name, (pinned, conditional) in sorted(locked().items()):
        try:
            installed = version(name)
        except PackageNotFoundError:
            if conditional:  # e.g. only on Windows, or only before Python 3.11.3
                continue
            installed = "(not installed)"
        if installed != pinned:
            moved.append((name, pinned, installed))
    if not moved:
        print("every package is at its locked version: the lock is the newest set")
        return
    width = max(len(name) for name, _, _ in moved)
    print(f"{'package':<{width}}  locked -> newest")
    for name, pinned, installed in moved:
        print(f"{name:<{width}}  {pinned} -> {installed}")


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "requirements":
        print("\n".join(unbounded_requirements()))
    elif command == "compare":
        compare()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
