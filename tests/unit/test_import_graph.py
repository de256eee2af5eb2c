"""The import graph: no cycles between modules or between packages, the pure cores reach no
Faust, aiokafka, aiohttp or ONNX Runtime, directly or through another camguard module, and the
contract (streams/contract/) reaches neither those nor the worker; codegen and the gateway read
the contract, not the worker; only the CLI (streams/cli/) imports agents/, and no agent imports
the CLI.

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
    "streams.resilience.events_fold",
    "streams.resilience.health_changes",
    "streams.anonymize.frame_decisions",
    "streams.policy.webhook",
    "streams.commit_gate",
    "streams.policy.resolve",
    "streams.spool.book",
    "streams.anonymize.blur",
    "streams.anonymize.geometry",
    "streams.settings",
)
#: The Faust worker: its app, its views and its agents.
WORKER = ("streams.app", "streams.web", "agents")


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


def reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    """Every module and edge library ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return seen


def of_the_worker(module: str) -> bool:
    return any(module == w or module.startswith(w + ".") for w in WORKER)


def modules_under(folder: str) -> list[str]:
    """The camguard modules in ``folder`` (generated code and node_modules left out)."""
    return sorted(module_name(p) for p in sources() if p.is_relative_to(ROOT / folder))


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
    seen = reachable(core, graph())
    assert not seen & set(EDGE_LIBRARIES), sorted(seen & set(EDGE_LIBRARIES))


@pytest.mark.parametrize("module", modules_under("streams/contract"))
def test_the_contract_reaches_no_edge_library_nor_the_worker(module: str) -> None:
    seen = reachable(module, graph())
    assert not seen & set(EDGE_LIBRARIES), sorted(seen & set(EDGE_LIBRARIES))
    assert not [m for m in seen if of_the_worker(m)], sorted(filter(of_the_worker, seen))


@pytest.mark.parametrize("module", modules_under("codegen"))
def test_codegen_reads_the_contract_without_loading_the_worker(module: str) -> None:
    seen = reachable(module, graph())
    assert not seen & set(EDGE_LIBRARIES), sorted(seen & set(EDGE_LIBRARIES))
    assert not [m for m in seen if of_the_worker(m)], sorted(filter(of_the_worker, seen))


@pytest.mark.parametrize("module", modules_under("streams/gateway"))
def test_the_gateway_depends_on_the_contract_not_on_the_worker(module: str) -> None:
    seen = reachable(module, graph())
    assert not [m for m in seen if of_the_worker(m)], sorted(filter(of_the_worker, seen))
    assert not {m for m in seen if m == "faust" or m.startswith("faust.")}, (
        "the gateway loads Faust"
    )


def test_only_the_cli_reaches_into_agents_and_no_agent_imports_the_cli() -> None:
    edges = graph()
    into_agents = {
        source
        for source, targets in edges.items()
        if source.startswith("streams.") and any(t.startswith("agents") for t in targets)
    }
    assert {s for s in into_agents if not s.startswith("streams.cli")} == set()
    from_agents = {
        source
        for source, targets in edges.items()
        if source.startswith("agents") and any(t.startswith("streams.cli") for t in targets)
    }
    assert from_agents == set()


def test_agents_holds_no_command_line() -> None:
    # The camguard command lives in streams/cli/; agents/ holds the Faust agents and the worker.
    parsers = [
        name
        for name, path in ((module_name(p), p) for p in sources())
        if name.startswith("agents") and "argparse" in imports_of(path, name)
    ]
    assert parsers == []
