#!/usr/bin/env python3
"""Median wall time of the Quadlet generator on 50 unit files, run as systemd runs it.

    python3 bench/quadlet.py [--podpy /opt/podpy/venv/bin/podpy] [--runs 15]

It writes 50 files (20 containers, each with a network and a volume of its own every
other one, 5 pods with a member each, some drop-ins), then runs the generator the way
systemd does: a program named podpy-user-generator (a link to podpy) with an output
directory, a new process each run. Target: at most 150 ms per run. With --podpy a zipapp
(podpy.pyz) the zipapp's own start (shiv's bootstrap) is printed beside it: every command of
the zipapp pays it.

podman 4.3.1 has no Quadlet, so there is nothing of podman's to compare with; for scale the
same run times `systemd-analyze --version` (the cost of starting one of systemd's own
tools) and a bare `python3 -S -c pass` (the floor of any Python program), and the
generator's own work without the interpreter's start (generate() in this process).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.150


def write_files(src: Path) -> int:
    files: dict[str, str] = {}
    for i in range(20):
        extra = f"Network=net{i // 2}.network\nVolume=vol{i // 2}.volume:/data\n" if i % 2 == 0 else ""
        files[f"web{i}.container"] = (f"[Unit]\nDescription=web {i}\n[Container]\nImage=localhost/busybox:latest\n"
                                      f"Exec=httpd -f -p 80\nPublishPort={8000 + i}:80\nEnvironment=N={i}\n"
                                      f"Label=app=web\n{extra}[Install]\nWantedBy=default.target\n")
    for i in range(10):
        files[f"net{i}.network"] = f"[Network]\nSubnet=10.89.{i}.0/24\n"
        files[f"vol{i}.volume"] = "[Volume]\nLabel=app=web\n"
    for i in range(5):
        files[f"pod{i}.pod"] = f"[Pod]\nPublishPort={9000 + i}:80\n"
    for i in range(5):
        files[f"member{i}.container"] = f"[Container]\nImage=localhost/busybox:latest\nPod=pod{i}.pod\nExec=sleep inf\n"
    for name, text in files.items():
        (src / name).write_text(text)
    (src / "container.d").mkdir()
    (src / "container.d" / "10-tz.conf").write_text("[Container]\nTimezone=UTC\n")
    return len(files)


def median_of(argv: list[str], env: dict[str, str], runs: int) -> float:
    return measure(argv, env, runs)[0]


def measure(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system) of runs of argv. On a shared
    machine the wall time includes waiting for a CPU; the CPU time does not."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode().strip()}")
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--podpy", default=shutil.which("podpy") or "podpy", help="the podpy program to link to")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    found = shutil.which(args.podpy)
    if found is None:
        sys.exit(f"{args.podpy}: not found (give the installed podpy or a podpy.pyz with --podpy)")
    args.podpy = os.path.abspath(found)
    # the output on a tmpfs, as systemd's generator directories are (/run/...)
    runtime = os.environ.get("XDG_RUNTIME_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    with tempfile.TemporaryDirectory(prefix="podpy-bench-quadlet-") as tmp, \
            tempfile.TemporaryDirectory(prefix="podpy-bench-quadlet-out-", dir=runtime) as outdir:
        src, out = Path(tmp) / "src", Path(outdir) / "out"
        src.mkdir()
        count = write_files(src)
        gen = Path(tmp) / "podpy-user-generator"
        gen.symlink_to(os.path.realpath(args.podpy))
        zipapp = args.podpy.endswith(".pyz")
        env = dict(os.environ, QUADLET_UNIT_DIRS=str(src))
        if not zipapp:      # the installed launcher, running this tree's podpy
            env["PYTHONPATH"] = str(REPO)
        argv = [str(gen), "-no-kmsg-log", str(out), str(out) + ".early", str(out) + ".late"]
        median_of(argv, env, 2)                       # warm the page cache
        generator, generator_cpu = measure(argv, env, args.runs)
        units = len(list(out.glob("*.service")))
        sys.path.insert(0, str(REPO))
        from podpy.quadlet.generator import generate

        inner = []
        for _ in range(args.runs):
            start = time.perf_counter()
            generate([str(src)], True, [args.podpy])
            inner.append(time.perf_counter() - start)
        python = median_of([sys.executable, "-S", "-c", "pass"], env, args.runs)
        floor = measure([os.path.realpath(args.podpy), "--version"], env, args.runs) if zipapp else None
        analyze = median_of(["systemd-analyze", "--version"], env, args.runs) if shutil.which("systemd-analyze") \
            else None
    print(f"quadlet generator, {count} files -> {units} units, median of {args.runs} runs")
    print(f"  podpy-user-generator (a process, as systemd runs it): {generator * 1000:7.1f} ms"
          f"   target <= {TARGET * 1000:.0f} ms: {'met' if generator <= TARGET else 'NOT met'}"
          f"   (CPU {generator_cpu * 1000:.1f} ms)")
    print(f"  generate() in this process (no interpreter start):   {statistics.median(inner) * 1000:7.1f} ms")
    print(f"  python3 -S -c pass (the floor of any Python program): {python * 1000:7.1f} ms")
    if floor is not None:
        print(f"  podpy.pyz --version (the zipapp's own start):         {floor[0] * 1000:7.1f} ms"
              f"   (CPU {floor[1] * 1000:.1f} ms)")
    if analyze is not None:
        print(f"  systemd-analyze --version (for scale):                {analyze * 1000:7.1f} ms"
              f"   generator / systemd-analyze = {generator / analyze:.2f}")
    print("  podman 4.3.1 has no Quadlet generator: no podman figure")
    return 0 if generator <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
