#!/usr/bin/env python3
"""Median wall time of `run --rm IMAGE true`, podpy beside podman, measured in the same run.

Run it as an unprivileged user with subordinate ids (the test user works):

    python3 bench/run_latency.py --image-tar /opt/podpy/images/busybox.tar

Both tools get a fresh store in a temporary directory and the same image.
Runs alternate podpy, podman, podpy, ... so drift in the machine's speed hits
both alike; each figure is the median of the runs, and the ratio is taken pair
by pair. Targets: podpy at most 0.20 x podman with --network none, 0.30 x on the
default network (slirp4netns for both).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bytecode import warn_uncached
from _podman import podman_env


TARGETS = {"none": 0.20, "default": 0.30}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and exit code of one run (output discarded)."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode().strip()}")
    return wall, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-tar", required=True, help="a rootfs tarball (busybox)")
    ap.add_argument("--podpy", default=shutil.which("podpy") or "podpy", help="podpy command")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--networks", default="none,default", help="comma list: none, default")
    args = ap.parse_args()
    warn_uncached()
    podpy_cmd = args.podpy.split()
    podman = shutil.which("podman")
    with tempfile.TemporaryDirectory(prefix="podpy-bench-") as tmp:
        home = Path(tmp)
        penv = dict(os.environ, XDG_DATA_HOME=str(home / "podpy-data"), XDG_CONFIG_HOME=str(home / "podpy-config"))
        subprocess.run(podpy_cmd + ["import", args.image_tar, "bench"], env=penv, check=True,
                       stdout=subprocess.DEVNULL)
        menv = podman_env(home / "podman") if podman else {}
        if podman:
            subprocess.run([podman, "import", args.image_tar, "localhost/bench"], env=menv, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"{'network':10} {'podpy ms':>9} {'podman ms':>10} {'ratio':>7} {'target':>7}   (median of {args.runs} runs)")
        for net in args.networks.split(","):
            flag = ["--network", "none"] if net == "none" else []
            a_argv = podpy_cmd + ["run", "--rm", *flag, "bench", "true"]
            b_argv = [podman, "run", "--rm", *flag, "localhost/bench", "true"] if podman else None
            timed(a_argv, penv)  # warm-up
            if b_argv:
                timed(b_argv, menv)
            a_times, b_times, ratios = [], [], []
            for _ in range(args.runs):
                a = timed(a_argv, penv)[0]
                a_times.append(a)
                if b_argv:
                    b = timed(b_argv, menv)[0]
                    b_times.append(b)
                    ratios.append(a / b)
            a_med = statistics.median(a_times) * 1000
            if b_argv:
                ratio = statistics.median(ratios)
                target = TARGETS.get(net)
                verdict = "" if target is None else f"{'<=' if ratio <= target else '>'} {target:.2f}"
                print(f"{net:10} {a_med:9.1f} {statistics.median(b_times) * 1000:10.1f} "
                      f"{ratio:7.2f} {verdict:>7}")
            else:
                print(f"{net:10} {a_med:9.1f} {'-':>10} {'-':>7}   (podman not installed)")
        if podman:
            subprocess.run(["podman", "unshare", "rm", "-rf", str(home / "podman")], env=menv,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(podpy_cmd + ["unshare", "rm", "-rf", str(home / "podpy-data")], env=penv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
