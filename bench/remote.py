#!/usr/bin/env python3
"""Remote connections: podpy's service and client beside podman's, over the libpod API.

Run it as an unprivileged user with subordinate ids (the test user works):

    python3 bench/remote.py --image-tar /opt/podpy/images/busybox.tar

Each line is a median wall time over --runs runs, both sides measured in the same run:
1. podman's own remote client, `ps` and `run --rm busybox true`, against podpy's service
   and against podman's (the service's share of the time).
2. `podpy --url ... ps` / `run --rm` against podpy's service, beside `podman --remote` against
   podman's (client and service together).
Target: podpy's side at most podman's (ratio <= 1).

Both tools get a fresh store in a temporary directory and the same image.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _podman import podman_env  # noqa: E402


def wait_for(path: str, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{what} did not start")
        time.sleep(0.05)
    time.sleep(0.2)


def median_of(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image-tar", default="/opt/podpy/images/busybox.tar")
    ap.add_argument("--podpy", default="podpy", help="the podpy command (default: podpy on PATH)")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    if shutil.which("podman") is None:
        sys.exit("podman is needed: this benchmark compares with it")
    podpy = args.podpy.split()
    work = Path(tempfile.mkdtemp(prefix="podpy-bench-remote-", dir="/tmp"))
    procs: list[subprocess.Popen] = []
    penv = dict(os.environ, XDG_DATA_HOME=str(work / "pd-data"), XDG_CONFIG_HOME=str(work / "pd-config"))
    menv = podman_env(work / "podman")
    try:
        subprocess.run(podpy + ["import", args.image_tar, "localhost/busybox"], env=penv, check=True,
                       capture_output=True)
        subprocess.run(["podman", "import", args.image_tar, "localhost/busybox"], env=menv, check=True,
                       capture_output=True)
        pd_sock, pm_sock = str(work / "podpy.sock"), str(work / "podman.sock")
        pd = subprocess.Popen(podpy + ["system", "service", "--time", "0", f"unix://{pd_sock}"], env=penv,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(pd)
        wait_for(pd_sock, pd, "podpy system service")
        pm = subprocess.Popen(["podman", "system", "service", "--time", "0", f"unix://{pm_sock}"], env=menv,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(pm)
        wait_for(pm_sock, pm, "podman system service")

        def line(what: str, mine: float, theirs: float) -> None:
            print(f"{what:<58} podpy {mine * 1000:8.1f} ms   podman {theirs * 1000:8.1f} ms   "
                  f"ratio {mine / theirs:.2f}")

        def podman_client(sock: str, *words: str) -> list[str]:
            return ["podman", "--remote", "--url", f"unix://{sock}", *words]

        run = ("run", "--rm", "localhost/busybox", "true")
        line("podman's client: ps (podpy's service | podman's)", median_of(podman_client(pd_sock, "ps"), menv,
                                                                           args.runs),
             median_of(podman_client(pm_sock, "ps"), menv, args.runs))
        line("podman's client: run --rm busybox true (podpy's | podman's)",
             median_of(podman_client(pd_sock, *run), menv, args.runs),
             median_of(podman_client(pm_sock, *run), menv, args.runs))
        line("podpy --url ps | podman --remote ps", median_of(podpy + ["--url", f"unix://{pd_sock}", "ps"], penv,
                                                              args.runs),
             median_of(podman_client(pm_sock, "ps"), menv, args.runs))
        line("podpy --url run --rm | podman --remote run --rm",
             median_of(podpy + ["--url", f"unix://{pd_sock}", *run], penv, args.runs),
             median_of(podman_client(pm_sock, *run), menv, args.runs))
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(podpy + ["rm", "-a", "-f"], env=penv, capture_output=True)
        subprocess.run(["podman", "rm", "-a", "-f"], env=menv, capture_output=True)
        subprocess.run(["podman", "unshare", "rm", "-rf", str(work / "podman")], env=menv, capture_output=True)
        subprocess.run(podpy + ["unshare", "rm", "-rf", str(work / "pd-data")], env=penv, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
