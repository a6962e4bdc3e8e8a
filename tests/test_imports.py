"""The import structure: pure cores import no I/O stack, and nothing imports in a circle.

Two kinds of check. The moderation core is probed in a subprocess (what importing it really
loads). The circles are found by reading every project module's `import` statements with `ast`:
module to module and package to package, with no way around it -- an import of a project module
under `if TYPE_CHECKING:` or inside a function (the usual ways to hide a circle) fails too.
"""

from __future__ import annotations

import ast
import gc
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "rooms", "moderation", "casework")
# The pure core is the whole folder: a module added to moderation/ is checked like the others.
CORE_MODULES = tuple(
    sorted(
        "moderation" if path.stem == "__init__" else f"moderation.{path.stem}"
        for path in (REPOSITORY / "moderation").glob("*.py")
        if path.stem != "__main__"
    )
)
FORBIDDEN = ("asyncio", "redis", "starlette", "anyio", "logging", "socket", "uvicorn")
# Which packages each package may import (the arrows of the layout; no two point at each other).
ALLOWED_PACKAGE_IMPORTS = {
    "moderation": set(),
    "rooms": {"moderation"},
    "casework": {"rooms", "moderation"},
    "server": {"rooms", "moderation", "casework"},
}

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


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_other_harbor_package(module: str) -> None:
    """the moderation core stands alone: importing it loads no rooms, casework or server."""
    loaded = _imported_by(module)
    others = set(PACKAGES) - {"moderation"}
    offending = sorted(name for name in loaded if name.split(".")[0] in others)
    assert offending == []


def test_probe_detects_a_forbidden_import() -> None:
    """the probe itself sees asyncio when a module does import it (the check can fail)."""
    assert "asyncio" in _imported_by("asyncio")


# --- the import graph, read from the source ---------------------------------------------------


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPOSITORY).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((REPOSITORY / package).rglob("*.py"))
    }


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: str, path: Path, node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        source = _resolve(module, path.stem == "__init__", node)
        yield source
        for alias in node.names:  # `from server import endpoint` imports a module
            yield f"{source}.{alias.name}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _hidden_imports(tree: ast.Module) -> Iterator[ast.stmt]:
    """Imports under `if TYPE_CHECKING:` and imports inside functions."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))


def import_graph() -> dict[str, set[str]]:
    """Each project module -> the project modules it imports (anywhere in the file)."""
    # Garbage left by earlier tests is collected first: a ResourceWarning raised (as an error,
    # by this suite's filter) from a __del__ in the middle of ``compile`` once corrupted
    # CPython 3.11's AST recursion counter ("AST constructor recursion depth mismatch").
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            target
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _targets(module, path, node)
        }
        graph[module] = {name for name in imported if name in modules and name != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in `graph` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_module_imports_another_in_a_circle() -> None:
    """no chain of imports between project modules comes back to where it started."""
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or ())


def test_no_package_imports_another_in_a_circle() -> None:
    """packages import each other only along the layout's arrows, so never in a circle."""
    seen: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for module, targets in import_graph().items():
        seen[module.split(".")[0]] |= {t.split(".")[0] for t in targets} - {module.split(".")[0]}
    extra = {p: sorted(seen[p] - ALLOWED_PACKAGE_IMPORTS[p]) for p in PACKAGES}
    assert all(not names for names in extra.values()), extra
    assert find_cycle(seen) is None


def test_no_project_import_is_hidden_from_the_walk() -> None:
    """no project module is imported under TYPE_CHECKING or inside a function, the usual ways
    to dodge a circle (imports of third-party modules there are fine: lazy, optional)."""
    modules = project_modules()
    hidden = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _hidden_imports(tree):
            targets = set(_targets(module, path, node))
            if targets & set(modules) or any(t.split(".")[0] in PACKAGES for t in targets):
                hidden.append(f"{module}:{node.lineno}")
    assert hidden == []


def test_the_walk_finds_a_cycle_when_there_is_one() -> None:
    """the cycle finder is not vacuous: it reports a planted circle, and none in a chain."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    graph = import_graph()
    assert "moderation.policy" in graph["rooms.catalog"]  # a real edge is seen
    assert "server.closecodes" in graph["server.endpoint"]  # relative imports resolved
