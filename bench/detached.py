#!/usr/bin/env python3
"""Detached containers: many at once, and what their helpers cost while idle, podpy beside podman.

Run it as an unprivileged user with subordinate ids (the test user works):

    python3 bench/detached.py --image-tar /opt/podpy/images/busybox.tar

1. Wall time for N concurrent `run -d --network none IMAGE sleep 60` until every
   command has returned (each returns once its container runs), and how many
   failed. Target: podpy at most 0.5 x podman.
2. Median wall time of `exec CONTAINER true` into a running container. Target:
   podpy at most 0.5 x podman.
3. Idle memory of the helpers each tool keeps for 1 and for 10 detached `sleep`
   containers on the default network: the summed PSS of every new process of
   the user that is not inside a container (podpy: its monitor and slirp4netns;
   podman: conmon, its pause process, slirp4netns, ...). Target at 10
   containers: no more than podman.

Both tools get a fresh store in a temporary directory and the same image.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_latency import podman_env  # noqa: E402


def run(argv: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(argv, env=env, capture_output=True, text=True)
    if check and res.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()[-400:]}")
    return res


def concurrent_runs(cmd: list[str], env: dict[str, str], image: str, count: int) -> tuple[float, int]:
    argv = cmd + ["run", "-d", "--network", "none", image, "sleep", "60"]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        codes = list(pool.map(lambda _: subprocess.run(argv, env=env, capture_output=True).returncode,
                              range(count)))
    return time.perf_counter() - start, sum(1 for c in codes if c != 0)


def exec_latency(cmd: list[str], env: dict[str, str], image: str, runs: int = 15) -> float:
    import statistics

    run(cmd + ["run", "-d", "--name", "bench-exec", "--network", "none", image, "sleep", "120"], env)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(cmd + ["exec", "bench-exec", "true"], env)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def my_processes() -> set[int]:
    uid = os.getuid()
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    out.add(int(entry))
            except OSError:
                pass
    return out


def in_container(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return len(line.split()) > 2
    except OSError:
        pass
    return False


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def name_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def helper_memory(cmd: list[str], env: dict[str, str], image: str, count: int,
                  before: set[int]) -> tuple[float, dict[str, list[int]]]:
    """Summed PSS (MB) of the user's processes that are not in a container and were not there
    before the benchmark began (so podman's pause process counts), with count containers."""
    for _ in range(count):
        run(cmd + ["run", "-d", image, "sleep", "120"], env)
    time.sleep(2.0)   # let short-lived set-up processes finish
    helpers = [p for p in my_processes() - before if not in_container(p)]
    by_name: dict[str, list[int]] = {}
    total = 0
    for pid in helpers:
        kb = pss_kb(pid)
        total += kb
        entry = by_name.setdefault(name_of(pid), [0, 0])
        entry[0] += 1
        entry[1] += kb
    return total / 1024, by_name


def cleanup(cmd: list[str], env: dict[str, str], podman: bool) -> None:
    run(cmd + ["rm", "-fa"] + (["-t", "0"] if podman else []), env, check=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:   # until podpy's monitor and the clean-ups it ran have left too
        lines = [_cmdline(p) for p in my_processes()]
        if not any(b"podpy.monitor" in c or b"cleanup" in c for c in lines):
            break
        time.sleep(0.1)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-tar", required=True, help="a rootfs tarball (busybox)")
    ap.add_argument("--podpy", default=shutil.which("podpy") or "podpy", help="podpy command")
    ap.add_argument("--count", type=int, default=100, help="containers started at once")
    args = ap.parse_args()
    podpy = args.podpy.split()
    podman = shutil.which("podman")
    baseline = my_processes()
    with tempfile.TemporaryDirectory(prefix="podpy-bench-") as tmp:
        home = Path(tmp)
        run_dir = home / "xdg-run"
        run_dir.mkdir(mode=0o700)
        env = dict(os.environ, XDG_DATA_HOME=str(home / "podpy-data"), XDG_CONFIG_HOME=str(home / "podpy-cfg"),
                   XDG_RUNTIME_DIR=str(run_dir))
        tools = [("podpy", podpy, env, "localhost/bench")]
        if podman:
            tools.append(("podman", [podman], podman_env(home / "podman"), "localhost/bench"))
        results: dict[str, dict[str, object]] = {}
        try:
            for label, cmd, e, image in tools:
                # each tool's set-up right before its runs: podman's pause process, made by its
                # first command, must not count against podpy
                run(cmd + ["import", args.image_tar, image], e)
                wall, failed = concurrent_runs(cmd, e, image, args.count)
                cleanup(cmd, e, label == "podman")
                exec_ms = exec_latency(cmd, e, image)
                cleanup(cmd, e, label == "podman")
                one, _ = helper_memory(cmd, e, image, 1, baseline)
                cleanup(cmd, e, label == "podman")
                ten, names = helper_memory(cmd, e, image, 10, baseline)
                cleanup(cmd, e, label == "podman")
                results[label] = {"wall": wall, "failed": failed, "one": one, "ten": ten, "names": names,
                                  "exec": exec_ms}
        finally:
            for label, cmd, e, _image in tools:
                cleanup(cmd, e, label == "podman")
            if podman:
                run([podman, "system", "reset", "--force"], tools[-1][2], check=False)
            run(podpy + ["unshare", "rm", "-rf", str(home / "podpy-data")], env, check=False)
    print(f"{args.count} concurrent run -d --network none IMAGE sleep 60 (wall seconds, failures)")
    for label, r in results.items():
        print(f"  {label:7} {r['wall']:7.2f} s  {r['failed']} failed")
    if "podman" in results:
        print(f"  ratio   {results['podpy']['wall'] / results['podman']['wall']:7.2f} (target <= 0.50)")
    print("exec CONTAINER true (median ms of 15)")
    for label, r in results.items():
        print(f"  {label:7} {r['exec']:7.1f} ms")
    if "podman" in results:
        print(f"  ratio   {results['podpy']['exec'] / results['podman']['exec']:7.2f} (target <= 0.50)")
    print("idle helper memory, default network (summed PSS, MB): 1 container, 10 containers;"
          " processes at 10 (count, MB)")
    for label, r in results.items():
        names = ", ".join(f"{n} x{c} {kb / 1024:.1f}"
                          for n, (c, kb) in sorted(r["names"].items()))  # type: ignore[union-attr]
        print(f"  {label:7} {r['one']:6.1f} {r['ten']:6.1f}   ({names})")
    if "podman" in results:
        print(f"  ratio at 10: {results['podpy']['ten'] / results['podman']['ten']:.2f} (target <= 1.00)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
