"""The library's layout: every module imports, no import cycle, subpackages depend down the data flow only.

Imports are read from the source with ``ast`` (function-level imports included), so a cycle that
only bites when some code path runs is caught too.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "phantom_lib"


def module_name(path: Path) -> str:
    """``phantom_lib/sim/market.py`` -> ``phantom_lib.sim.market``; ``__init__.py`` names its package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """The ``phantom_lib`` modules a file imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("phantom_lib")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("phantom_lib"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
    return {m for m in out if m in MODULES}


def graph() -> dict[str, set[str]]:
    """Module -> modules it needs loaded: each import and the packages above it that the importer
    is not itself inside (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        targets: set[str] = set()
        for target in imported(path):
            parts = target.split(".")
            targets |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)} - own
        edges[name] = targets - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def room(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to: ``phantom_lib.sim.market`` -> ``sim``."""
    return module.split(".")[1] if module.count(".") else "phantom_lib"


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_chain():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_no_import_cycle_between_modules():
    assert cycles(graph()) == []


def test_subpackages_depend_down_the_data_flow_only():
    rooms: dict[str, set[str]] = {}
    for module, targets in graph().items():
        rooms.setdefault(room(module), set()).update(room(t) for t in targets if room(t) != room(module))
    assert cycles(rooms) == [], rooms
    # the first stages never reach the later ones
    assert not rooms["data"] & {"sim", "study", "detection", "perf", "book"}
    assert not rooms["behaviour"] & {"sim", "study", "detection", "perf", "book"}
    assert not rooms["sim"] & {"study", "detection", "perf", "book"}


def test_the_study_engines_do_not_import_each_other_or_the_gym_adapter_from_jax():
    """The jax engine needs neither the SB3 engine nor the gymnasium adapter (what both engines share
    is in ``study.common``, the observation's spaces in ``sim.spaces``), and the SB3 engine never
    loads the jax one."""
    edges = graph()
    jax_modules = {m for m in edges if m.startswith("phantom_lib.study.jax")}
    sb3_modules = {m for m in edges if m.startswith("phantom_lib.study.sb3")}
    for module in jax_modules:
        reached = {t for t in edges[module] if t.startswith("phantom_lib.study.sb3") or t == "phantom_lib.sim.gym_env"}
        assert not reached, f"{module} imports {sorted(reached)}"
    for module in sb3_modules:
        reached = {t for t in edges[module] if t.startswith("phantom_lib.study.jax")}
        assert not reached, f"{module} imports {sorted(reached)}"
