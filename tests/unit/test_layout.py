"""The code's structure, read from the source (nothing is imported): no import circles, imports
only downward (podpy -> storage, rootless; never back, never between those two), and container
state written only by the container state machine."""

import ast
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("podpy", "storage", "rootless")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def _graph() -> dict[str, set[str]]:
    """Every import statement at any depth (in functions, under TYPE_CHECKING): each is an arrow."""
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for t in targets:
                hit = _resolve(t, mods)
                if hit and hit != mod:
                    edges[mod].add(hit)
    return edges


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected sets of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    """No circle of imports in podpy/, storage/ or rootless/ (every module of a circle would
    have to be understood, and loaded, before any of them)."""
    circles = _circles(_graph())
    assert not circles, circles


def test_imports_go_only_downward():
    wrong = [(m, t) for m, ts in _graph().items() for t in ts
             if (m.split(".")[0] in ("storage", "rootless") and t.split(".")[0] != m.split(".")[0])]
    assert not wrong, wrong


def test_container_state_is_written_only_by_the_state_machine():
    """A row's state, owner and exit change in podpy/engine/container.py (and the table's own
    module, podpy/state.py): nowhere else updates, claims, adopts or deletes a container row."""
    allowed = {ROOT / "podpy/engine/container.py", ROOT / "podpy/state.py"}
    pattern = re.compile(r"\.state\.(update|claim|finish|delete|insert|rename|adopt)\(|"
                         r"(UPDATE|DELETE FROM|INSERT INTO) containers\b")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "podpy").rglob("*.py") if p not in allowed
             for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, found
