#!/usr/bin/env python3
"""Median wall time of a pod of three containers, podpy beside podman, measured in the same run.

Run it as an unprivileged user with subordinate ids (the test user works):

    python3 bench/pods.py --image-tar /opt/podpy/images/busybox.tar

Two cases, each timed as a whole (every command of it, one after the other):

  pod     `pod create` and three `run -d --pod` of `sleep`, until the last one runs
  play    `kube play` of the YAML of such a pod (three containers), until it returns

After each timed round the pod is removed (`pod rm -f -t 0`, `kube down`), untimed.
Both tools get a fresh store in a temporary directory and the same image; runs
alternate podpy, podman, podpy, ... so drift in the machine's speed hits both alike;
each figure is the median of the runs, the ratio is taken pair by pair. Target:
podpy at most 0.5 x podman's time in both cases.
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

TARGET = 0.5
YAML = """apiVersion: v1
kind: Pod
metadata:
  name: benchpod
spec:
  containers:
{containers}"""
CONTAINER = """  - name: c{n}
    image: {image}
    command: ["/bin/sleep", "600"]
"""


def run(argv: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode().strip()}")


def timed(steps: list[list[str]], env: dict[str, str]) -> float:
    start = time.perf_counter()
    for argv in steps:
        run(argv, env)
    return time.perf_counter() - start


def cases(cmd: list[str], image: str, yaml_path: Path) -> dict[str, tuple[list[list[str]], list[list[str]]]]:
    """case -> (the timed steps, the untimed clean-up)."""
    pod = [cmd + ["pod", "create", "--name", "benchpod"]]
    pod += [cmd + ["run", "-d", "--pod", "benchpod", "--name", f"benchpod-c{n}", image, "sleep", "600"]
            for n in range(3)]
    return {
        "pod": (pod, [cmd + ["pod", "rm", "-f", "-t", "0", "benchpod"]]),
        "play": ([cmd + ["kube", "play", str(yaml_path)]], [cmd + ["kube", "down", str(yaml_path)]]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-tar", required=True, help="a rootfs tarball (busybox)")
    ap.add_argument("--podpy", default=shutil.which("podpy") or "podpy", help="podpy command")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    warn_uncached()
    podman = shutil.which("podman")
    if podman is None:
        sys.exit("podman is not installed: nothing to compare with")
    with tempfile.TemporaryDirectory(prefix="podpy-bench-") as tmp:
        home = Path(tmp)
        penv = dict(os.environ, XDG_DATA_HOME=str(home / "podpy-data"), XDG_CONFIG_HOME=str(home / "podpy-config"))
        menv = podman_env(home / "podman")
        run(args.podpy.split() + ["import", args.image_tar, "localhost/bench"], penv)
        run([podman, "import", args.image_tar, "localhost/bench"], menv)
        yaml_path = home / "pod.yaml"
        yaml_path.write_text(YAML.format(containers="".join(CONTAINER.format(n=n, image="localhost/bench")
                                                            for n in range(3))))
        tools = {"podpy": (cases(args.podpy.split(), "localhost/bench", yaml_path), penv),
                 "podman": (cases([podman], "localhost/bench", yaml_path), menv)}
        print(f"{'case':6} {'podpy ms':>9} {'podman ms':>10} {'ratio':>7} {'target':>7}   (median of {args.runs} runs)")
        worst = 0.0
        for case in ("pod", "play"):
            times: dict[str, list[float]] = {"podpy": [], "podman": []}
            for i in range(args.runs + 1):   # the first round warms both up, untimed
                for tool, (table, env) in tools.items():
                    steps, cleanup = table[case]
                    took = timed(steps, env)
                    for argv in cleanup:
                        run(argv, env)
                    if i:
                        times[tool].append(took)
            ratio = statistics.median(a / b for a, b in zip(times["podpy"], times["podman"]))
            worst = max(worst, ratio)
            print(f"{case:6} {1000 * statistics.median(times['podpy']):9.1f} "
                  f"{1000 * statistics.median(times['podman']):10.1f} {ratio:7.2f} {TARGET:7.2f}")
        return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
