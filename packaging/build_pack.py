#!/usr/bin/env python3
"""Write podpy's bytecode pack: every module of podpy, storage and rootless as installed in a
site-packages directory, compiled by the interpreter that runs this script (the one that
will run podpy: the pack carries its bytecode magic), into SITE/podpy/_modules.pack.

    python3 packaging/build_pack.py SITE_PACKAGES

podpy/__init__.py imports those modules from the pack while each source file keeps the
size and modification time recorded here; a reinstall that changes a file makes that module
come from the ordinary import again until the pack is rebuilt.

Layout: b"podpypk2", the 4-byte bytecode magic, the index's length (4 bytes, little-endian),
the index (marshal: module name -> (is package, path relative to SITE, source mtime in ns,
source size, offset, length, the pack's modules it imports when it is executed)), then each
module's marshalled code object; offsets count from the end of the index.

Outside the command line's and the API's packages (whose functions' docstrings and annotations
typer and the API server read), a module is compiled lean: without its functions' and
classes' docstrings and its functions' annotations (_Lean).

A module's imports are read from its source: the import statements of its top level (also
inside top-level if, try and else blocks), not those under `if TYPE_CHECKING:` nor those in
functions or classes, which run later if ever. `podpy.preload` executes a module's imports
before it in that order.
"""

from __future__ import annotations

import argparse
import ast
import marshal
import os
import sys
from importlib.util import MAGIC_NUMBER

PACKAGES = ("podpy", "storage", "rootless")
PACK = "_modules.pack"


def modules(site: str):  # type: ignore[no-untyped-def]
    for top in PACKAGES:
        for directory, dirs, files in os.walk(os.path.join(site, top)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.join(directory, name)


def imported_at_load(tree: ast.Module, name: str, is_pkg: bool) -> list[str]:
    """The absolute names a module's top level imports (its import statements outside
    functions, classes and `if TYPE_CHECKING:` blocks), in order: for `from a.b import c`,
    a, a.b and a.b.c (the caller keeps those that are modules of the pack)."""
    package = name if is_pkg else name.rpartition(".")[0]
    found: list[str] = []

    def prefixes(dotted: str) -> None:
        parts = dotted.split(".")
        found.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    prefixes(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                prefixes(module)
                found.extend(f"{module}.{alias.name}" for alias in node.names)

    visit(tree.body)
    return found


# Modules whose functions' docstrings and annotations are read at run time: typer builds the
# command line's help and options from the CLI's functions, the API server names its
# handlers with their docstrings. Every other module is packed lean (_Lean).
KEEP_DOCS = ("podpy.cli", "podpy.api")


def lean(name: str) -> bool:
    return not any(name == top or name.startswith(top + ".") for top in KEEP_DOCS)


class _Lean(ast.NodeTransformer):
    """The pack's copy of a module without what only a reader of the source needs: the
    docstrings of its functions and classes and its functions' annotations (strings under
    `from __future__ import annotations`, made into a dict at every def). Some 10% less to
    unmarshal and fewer objects to make at import. The module's own docstring stays, and so
    do class-level annotations (the fields of option classes are read from them); line
    numbers are unchanged, so tracebacks point where the source does."""

    @staticmethod
    def _drop_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.copy_location(ast.Pass(), body[0])]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        self._drop_docstring(node)
        node.returns = None
        args = node.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                arg.annotation = None
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.generic_visit(node)
        self._drop_docstring(node)
        return node


def build(site: str) -> tuple[int, int]:
    """Write the pack; (modules, bytes)."""
    site = os.path.abspath(site)
    entries: dict[str, list] = {}  # type: ignore[type-arg]
    blobs: list[bytes] = []
    offset = 0
    for path in modules(site):
        rel = os.path.relpath(path, site)
        is_pkg = os.path.basename(path) == "__init__.py"
        name = (os.path.dirname(rel) if is_pkg else rel[:-3]).replace(os.sep, ".")
        st = os.stat(path)
        with open(path, "rb") as f:
            source = f.read()
        tree = ast.parse(source, path)
        code_tree = _Lean().visit(ast.parse(source, path)) if lean(name) else tree
        blob = marshal.dumps(compile(code_tree, path, "exec", dont_inherit=True, optimize=0))
        entries[name] = [is_pkg, rel, st.st_mtime_ns, st.st_size, offset, len(blob),
                         imported_at_load(tree, name, is_pkg)]
        blobs.append(blob)
        offset += len(blob)
    index = {}
    for name, entry in entries.items():
        deps = tuple(dict.fromkeys(d for d in entry[6] if d in entries and d != name))
        index[name] = (*entry[:6], deps)
    head = marshal.dumps(index)
    target = os.path.join(site, "podpy", PACK)
    tmp = f"{target}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(b"podpypk2" + MAGIC_NUMBER + len(head).to_bytes(4, "little") + head)
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return len(index), os.path.getsize(target)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", help="the site-packages directory podpy is installed in")
    args = ap.parse_args()
    if not os.path.isfile(os.path.join(args.site, "podpy", "__init__.py")):
        print(f"build_pack: no podpy in {args.site}", file=sys.stderr)
        return 1
    count, size = build(args.site)
    print(f"{count} modules, {size} bytes: {os.path.join(args.site, 'podpy', PACK)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
