#!/usr/bin/env python3
"""`build` of a Debian-based Containerfile, uncached and then again with nothing changed:
podpy beside podman, same run.

Run as an unprivileged user with subordinate ids, on a Debian minbase root file system
made (as root) by packaging/make-minbase-image.sh:

    sudo bash packaging/make-minbase-image.sh /tmp/minbase.tar
    python3 bench/build.py --base-tar /tmp/minbase.tar

The context holds a tree of many small files (COPY), a RUN, and a 30 MB file (COPY). Each
run starts from a fresh store holding only the base image (imported, not timed), builds
once (uncached) and once more (cached: no RUN runs, nothing is copied). Runs alternate
podpy and podman. Targets: the cached rebuild at most 0.10 x podman's, the uncached build
no slower than podman's.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONTAINERFILE = """\
FROM localhost/bench-base
COPY small/ /opt/small/
RUN find /opt/small -type f | wc -l > /opt/count && echo "$(cat /opt/count) files"
COPY big.bin /opt/big.bin
CMD ["cat", "/opt/count"]
"""


def make_context(root: Path, files: int, big_mb: int) -> None:
    rng = random.Random(7)
    (root / "Containerfile").write_text(CONTAINERFILE)
    for i in range(files):
        d = root / "small" / f"d{i % 64:02d}" / f"s{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.txt").write_bytes(rng.randbytes(rng.randint(200, 8000)))
    (root / "big.bin").write_bytes(rng.randbytes(big_mb << 20))


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed: {proc.stderr.decode().strip()[-800:]}")
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-tar", required=True, help="a Debian root file system tarball")
    ap.add_argument("--podpy", default=shutil.which("podpy") or "podpy")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--files", type=int, default=4000, help="small files in the first COPY")
    ap.add_argument("--big-mb", type=int, default=30, help="size of the file in the second COPY")
    args = ap.parse_args()
    podman = shutil.which("podman")
    podpy = args.podpy.split()
    with tempfile.TemporaryDirectory(prefix="podpy-build-bench-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        context = work / "context"
        context.mkdir()
        make_context(context, args.files, args.big_mb)
        print(f"context: {args.files} small files and a {args.big_mb} MB file; base: {args.base_tar}; "
              f"median of {args.runs} runs, fresh stores")
        results: dict[str, dict[str, list[float]]] = {"podpy": {"uncached": [], "cached": []},
                                                        "podman": {"uncached": [], "cached": []}}
        for i in range(args.runs):
            store = work / f"podpy-{i}"
            env = dict(os.environ, XDG_DATA_HOME=str(store), XDG_CONFIG_HOME=str(store / "cfg"))
            subprocess.run(podpy + ["import", args.base_tar, "localhost/bench-base"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            results["podpy"]["uncached"].append(timed(podpy + ["build", "-t", "bench", str(context)], env))
            results["podpy"]["cached"].append(timed(podpy + ["build", "-t", "bench", str(context)], env))
            subprocess.run(podpy + ["unshare", "rm", "-rf", str(store)], env=env)
            if podman:
                pstore = work / f"podman-{i}"
                (pstore / "cfg" / "containers").mkdir(parents=True)
                (pstore / "cfg" / "containers" / "storage.conf").write_text(
                    f'[storage]\ndriver = "overlay"\ngraphroot = "{pstore}/g"\nrunroot = "{pstore}/r"\n')
                (pstore / "cfg" / "containers" / "containers.conf").write_text(
                    '[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n')
                penv = dict(os.environ, XDG_CONFIG_HOME=str(pstore / "cfg"))
                subprocess.run([podman, "import", args.base_tar, "localhost/bench-base"], env=penv, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                results["podman"]["uncached"].append(timed([podman, "build", "-t", "bench", str(context)], penv))
                results["podman"]["cached"].append(timed([podman, "build", "-t", "bench", str(context)], penv))
                subprocess.run([podman, "system", "reset", "--force"], env=penv,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"{'build':10} {'podpy s':>8} {'podman s':>9} {'ratio':>6}   target")
        for kind, target in (("uncached", "<= 1.00"), ("cached", "<= 0.10")):
            a = statistics.median(results["podpy"][kind])
            if results["podman"][kind]:
                b = statistics.median(results["podman"][kind])
                print(f"{kind:10} {a:8.2f} {b:9.2f} {a / b:6.2f}   {target}")
            else:
                print(f"{kind:10} {a:8.2f} {'-':>9} {'-':>6}   (podman not installed)")
        for tool in ("podpy", "podman"):
            for kind in ("uncached", "cached"):
                if results[tool][kind]:
                    print(f"  {tool} {kind}: " + " ".join(f"{t:.2f}" for t in results[tool][kind]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
