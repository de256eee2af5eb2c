"""The import graph: no cycles between modules or between packages, and the pure cores reach
no Faust, aiokafka, aiohttp or ONNX Runtime, directly or through another camguard module.

Read from the source with ``ast`` (every import counts, ``TYPE_CHECKING`` ones and imports
inside functions included): what a newcomer follows when reading the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("streams", "agents", "codegen", "common_schemas")
EDGE_LIBRARIES = ("faust", "mode", "aiokafka", "aiohttp", "onnxruntime")
CORES = (
    "streams.resilience.breaker",
    "streams.resilience.health",
    "streams.resilience.camera",
    "streams.policy.resolve",
    "streams.spool.book",
    "streams.anonymize.blur",
    "streams.anonymize.geometry",
    "streams.settings",
    "streams.contract",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "generated" not in path.parts and "node_modules" not in path.parts:
                yield path


def imports_of(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in sources()}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path, name):
            if imported in modules and imported != name:
                targets.add(imported)
            elif imported.split(".")[0] in EDGE_LIBRARIES:
                targets.add(imported.split(".")[0])
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    """``streams.resilience.breaker`` -> ``streams.resilience``; a top-level module of a
    package (``streams.app``) is its own node."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(graph()) == []


def test_no_two_packages_import_each_other() -> None:
    packages: dict[str, set[str]] = {}
    for source, targets in graph().items():
        mine = package_of(source)
        packages.setdefault(mine, set()).update(
            package_of(t) for t in targets if package_of(t) != mine and "." in t
        )
    assert cycles(packages) == []


@pytest.mark.parametrize("core", CORES)
def test_a_core_reaches_no_edge_library(core: str) -> None:
    edges = graph()
    seen, todo = set(), [core]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    assert not seen & set(EDGE_LIBRARIES), sorted(seen & set(EDGE_LIBRARIES))
