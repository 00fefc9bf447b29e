#!/usr/bin/env python3
"""Write podpy's bytecode pack: every module of podpy, storage and rootless as installed in a
site-packages directory, compiled by the interpreter that runs this script (the one that
will run podpy: the pack carries its bytecode magic), into SITE/podpy/_modules.pack.

    python3 packaging/build_pack.py SITE_PACKAGES

podpy/__init__.py imports those modules from the pack while each source file keeps the
size and modification time recorded here; a reinstall that changes a file makes that module
come from the ordinary import again until the pack is rebuilt.

Layout: b"podpypk3", the 4-byte bytecode magic, the index's length (4 bytes, little-endian),
the length of the modules' code after it (8 bytes), the index, then each module's marshalled
code object; offsets count from the end of the index. The index is one marshalled tuple that
every command reads at its start, made of three flat values rather than a record per module
(some 0.3 ms less to read): the module names, one a line; a table of RECORD bytes per module,
in the names' order (is a package, source mtime in ns, source size, offset, length; little-
endian); and, one a line in the same order, the names' numbers of the pack's modules each
imports when it is executed, comma-separated. A module's file is where its name says
(a/b.py, or a/b/__init__.py for a package) under SITE.

A module's `from __future__ import` statements become the compiler flags they stand for: the
pack's code does not import the __future__ module at run time (the ordinary import's does,
for one more file found and loaded by every command), and binds no name for the feature.

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
MAGIC = b"podpypk3"
# a module's record in the index's table: is a package (1 byte), its source's mtime in ns (8,
# signed), its size (4), the offset (4) and length (4) of its code
RECORD = 21


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


def without_future_imports(tree: ast.Module) -> int:
    """Take the module's `from __future__ import` statements out of tree; the compiler flags
    that they turn on."""
    import __future__

    flags = 0
    body = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                flags |= getattr(__future__, alias.name).compiler_flag
            continue
        body.append(node)
    tree.body = body
    return flags


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
        if rel != name.replace(".", "/") + ("/__init__.py" if is_pkg else ".py"):
            raise SystemExit(f"build_pack: {rel}: the index finds a module's file by its name alone")
        st = os.stat(path)
        with open(path, "rb") as f:
            source = f.read()
        tree = ast.parse(source, path)
        imports = imported_at_load(tree, name, is_pkg)   # before the tree is made lean
        if lean(name):
            tree = _Lean().visit(tree)
        futures = without_future_imports(tree)
        blob = marshal.dumps(compile(tree, path, "exec", flags=futures, dont_inherit=True, optimize=0))
        entries[name] = [is_pkg, rel, st.st_mtime_ns, st.st_size, offset, len(blob), imports]
        blobs.append(blob)
        offset += len(blob)
    names = list(entries)
    number = {name: i for i, name in enumerate(names)}
    table = bytearray()
    deps = []
    for name, (is_pkg, _rel, mtime, size, start, length, imports) in entries.items():
        table += (bytes([is_pkg]) + mtime.to_bytes(8, "little", signed=True) + size.to_bytes(4, "little")
                  + start.to_bytes(4, "little") + length.to_bytes(4, "little"))
        deps.append(",".join(str(number[d]) for d in dict.fromkeys(imports) if d in entries and d != name))
    head = marshal.dumps(("\n".join(names), bytes(table), "\n".join(deps)))
    target = os.path.join(site, "podpy", PACK)
    tmp = f"{target}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(MAGIC + MAGIC_NUMBER + len(head).to_bytes(4, "little") + offset.to_bytes(8, "little") + head)
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return len(names), os.path.getsize(target)


def read_index(data: bytes) -> dict[str, tuple]:  # type: ignore[type-arg]
    """A pack's index as module name -> (is package, path relative to SITE, source mtime in
    ns, source size, offset, length, the names it imports when it is executed)."""
    size = int.from_bytes(data[12:16], "little")
    names_text, table, deps_text = marshal.loads(data[24:24 + size])
    names = names_text.split("\n")
    index = {}
    for i, (name, deps) in enumerate(zip(names, deps_text.split("\n"))):
        rec = table[i * RECORD:(i + 1) * RECORD]
        is_pkg = rec[0] == 1
        rel = name.replace(".", "/") + ("/__init__.py" if is_pkg else ".py")
        index[name] = (is_pkg, rel, int.from_bytes(rec[1:9], "little", signed=True),
                       int.from_bytes(rec[9:13], "little"), int.from_bytes(rec[13:17], "little"),
                       int.from_bytes(rec[17:21], "little"), tuple(names[int(n)] for n in deps.split(",") if n))
    return index


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
