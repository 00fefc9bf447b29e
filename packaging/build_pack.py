#!/usr/bin/env python3
"""Write podpy's bytecode pack: every module of podpy, storage and rootless as installed in a
site-packages directory, compiled by the interpreter that runs this script (the one that
will run podpy: the pack carries its bytecode magic), into SITE/podpy/_modules.pack.

    python3 packaging/build_pack.py SITE_PACKAGES

podpy/__init__.py imports those modules from the pack while each source file keeps the
size and modification time recorded here; a reinstall that changes a file makes that module
come from the ordinary import again until the pack is rebuilt.

Layout: b"podpypk1", the 4-byte bytecode magic, the index's length (4 bytes, little-endian),
the index (marshal: module name -> (is package, path relative to SITE, source mtime in ns,
source size, offset, length)), then each module's marshalled code object; offsets count
from the end of the index.
"""

from __future__ import annotations

import argparse
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


def build(site: str) -> tuple[int, int]:
    """Write the pack; (modules, bytes)."""
    site = os.path.abspath(site)
    index: dict[str, tuple[bool, str, int, int, int, int]] = {}
    blobs: list[bytes] = []
    offset = 0
    for path in modules(site):
        rel = os.path.relpath(path, site)
        is_pkg = os.path.basename(path) == "__init__.py"
        name = os.path.dirname(rel) if is_pkg else rel[:-3]
        st = os.stat(path)
        with open(path, "rb") as f:
            source = f.read()
        blob = marshal.dumps(compile(source, path, "exec", dont_inherit=True, optimize=0))
        index[name.replace(os.sep, ".")] = (is_pkg, rel, st.st_mtime_ns, st.st_size, offset, len(blob))
        blobs.append(blob)
        offset += len(blob)
    head = marshal.dumps(index)
    target = os.path.join(site, "podpy", PACK)
    tmp = f"{target}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(b"podpypk1" + MAGIC_NUMBER + len(head).to_bytes(4, "little") + head)
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
