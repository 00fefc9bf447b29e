#!/usr/bin/env python3
"""List the functions of podpy, storage and rootless that a foreground `run` calls, for
packaging/build_pack.py, which packs every other function's code to be unmarshalled on its
first call (see build_pack's docstring): packaging/hot_functions.txt.

Run it as an unprivileged user with subordinate ids (the test user works), from a checkout:

    python3 packaging/hot_functions.py --image-tar /opt/podpy/images/busybox.tar

It runs `run --rm --network none IMAGE true` and `run --rm IMAGE true` (after a first run
of each that the list does not count: it imports and creates what a store's first run does)
through podpy's main in this interpreter under a profile hook, in the host process and in
every process forked from it (stage 1, the container's init), and writes the functions they
entered, one `module:qualified name` a line. The code of the checkout is what it lists, so
rerun it when the run's path changes: a function missing from the list still works, only its
first call in a command costs a little more (and the run's unmarshalling a little less).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIST = os.path.join(ROOT, "packaging", "hot_functions.txt")
PACKAGES = ("podpy", "storage", "rootless")
RUNS = (("run", "--rm", "--network", "none", "IMAGE", "true"), ("run", "--rm", "IMAGE", "true"))

# The child: podpy's main under a profile hook that appends every Python function it enters
# for the first time to OUT (one descriptor, kept open through the container's set-up, which
# closes the others before its exec; the exec closes it), here and in every process forked
# from here.
CHILD = r"""
import sys
out, root = sys.argv[1], sys.argv[2]
sys.argv[:] = ["podpy", *sys.argv[3:]]
sys.path.insert(0, root)
import posix
fd = posix.open(out, posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND | posix.O_CLOEXEC, 0o600)
seen = set()

def hook(frame, event, arg, seen=seen):
    if event == "call" and frame.f_code.co_flags & 1:   # a function's (CO_OPTIMIZED), not a class body's
        code = frame.f_code
        key = (code.co_filename, code.co_qualname)
        if key not in seen:
            seen.add(key)
            try:
                posix.write(fd, f"{key[0]}\t{key[1]}\n".encode())
            except OSError:
                pass

from podpy.lightos import install
install()
import os
closerange = os.closerange

def closerange_but_ours(low, high):
    if low <= fd < high:
        closerange(low, fd)
        closerange(fd + 1, high)
    else:
        closerange(low, high)

os.closerange = closerange_but_ours
sys.setprofile(hook)
from podpy.__main__ import main
main()
"""


def module_of(path: str) -> str | None:
    rel = os.path.relpath(path, ROOT)
    if not rel.endswith(".py") or rel.split(os.sep)[0] not in PACKAGES:
        return None
    rel = rel[:-3]
    if rel.endswith(os.sep + "__init__"):
        rel = rel[: -len("__init__") - 1]
    return rel.replace(os.sep, ".")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-tar", required=True, help="a rootfs tarball (busybox)")
    ap.add_argument("--output", default=LIST)
    args = ap.parse_args()
    found: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="podpy-hot-") as tmp:
        env = dict(os.environ, XDG_DATA_HOME=f"{tmp}/data", XDG_CONFIG_HOME=f"{tmp}/config")
        podpy = [sys.executable, "-c", CHILD]
        subprocess.run(podpy + [f"{tmp}/none", ROOT, "import", args.image_tar, "hot"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        for argv in RUNS:
            argv = tuple("hot" if a == "IMAGE" else a for a in argv)
            subprocess.run(podpy + [f"{tmp}/warm", ROOT, *argv], env=env, check=True)
            subprocess.run(podpy + [f"{tmp}/seen", ROOT, *argv], env=env, check=True)
        with open(f"{tmp}/seen") as f:
            for line in f:
                path, _, qualname = line.rstrip("\n").partition("\t")
                module = module_of(path)
                if module is not None and "<" not in qualname:   # nested ones are made at each call
                    found.add(f"{module}:{qualname}")
        subprocess.run(podpy + [f"{tmp}/none", ROOT, "unshare", "rm", "-rf", f"{tmp}/data"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(args.output, "w") as f:
        f.write("# functions a foreground run calls: packaging/hot_functions.py writes this list\n")
        f.write("".join(f"{name}\n" for name in sorted(found)))
    print(f"{len(found)} functions: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
