#!/usr/bin/env python3
"""Cold pull of a ~300 MB, 4-layer image from a local registry: podpy beside podman, same run.

Run as an unprivileged user with subordinate ids, with Debian's docker-registry
and skopeo installed (packaging/setup.sh test installs them):

    python3 bench/pull.py --image-tar /opt/podpy/images/busybox.tar

The image is made here: a base root file system plus three layers of
generated files (text that compresses, and incompressible data), pushed with
skopeo once with gzip layers and once with zstd layers. The base is the busybox
image, or with --base-tar a Debian minbase made by
packaging/make-minbase-image.sh (as root) -- thousands of real files:

    sudo bash packaging/make-minbase-image.sh /tmp/minbase.tar
    python3 bench/pull.py --image-tar /opt/podpy/images/busybox.tar --base-tar /tmp/minbase.tar

Each run pulls into a fresh, empty store, which is removed after; runs
alternate podpy and podman and the gzip and zstd images. The push is checked
to have kept the zstd layers zstd. Target: podpy at most 0.8 x podman's time.

--compare CMD pulls with a second podpy command too (another tree, e.g.
"env PYTHONPATH=/path/to/tree podpy"), in the same run and turn order, and
prints its own row: a change is judged against the same machine load.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "system"))
from registry import LocalRegistry, oci_layout, push  # noqa: E402

from _layers import generated_layer  # noqa: E402


# Linux carries a process's peak RSS across exec, so a command started straight from this
# (large) process would report our peak. A small python forks it instead and reports the
# peak of that child and everything it waited for.
_MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak resident MB among the command's processes)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _MEASURE, peak.name, *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed: {proc.stderr.decode().strip()[-500:]}")
        return wall, int(peak.read() or 0) / 1024


def pull_podpy(podpy: str, work: Path, name: str, comp: str, i: int) -> tuple[float, float]:
    """One cold pull into a new store, which is removed after."""
    store = work / f"podpy-{comp}-{i}"
    env = dict(os.environ, XDG_DATA_HOME=str(store), XDG_CONFIG_HOME=str(store / "cfg"))
    result = timed(podpy.split() + ["pull", "-q", "--tls-verify=false", name], env)
    subprocess.run(podpy.split() + ["unshare", "rm", "-rf", str(store)], env=env)
    return result


def pull_podman(podman: str, work: Path, name: str, comp: str, i: int) -> tuple[float, float]:
    """One cold pull into a new podman store (overlay, as podpy), which is removed after."""
    pstore = work / f"podman-{comp}-{i}"
    (pstore / "cfg" / "containers").mkdir(parents=True)
    (pstore / "cfg" / "containers" / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{pstore}/g"\nrunroot = "{pstore}/r"\n')
    (pstore / "cfg" / "containers" / "containers.conf").write_text(
        '[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n')
    penv = dict(os.environ, XDG_CONFIG_HOME=str(pstore / "cfg"))
    result = timed([podman, "pull", "-q", "--tls-verify=false", name], penv)
    # podman keeps its overlay mounted in its pause namespace: let it clean up.
    subprocess.run([podman, "system", "reset", "--force"], env=penv,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return result


def layer_types(host: str, repo: str) -> list[str]:
    """The media types of an image's layers as the registry serves them."""
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/latest",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as reply:
        return [layer["mediaType"] for layer in json.load(reply)["layers"]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-tar", required=True)
    ap.add_argument("--podpy", default=shutil.which("podpy") or "podpy")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--megabytes", type=int, default=95, help="size of each generated layer")
    ap.add_argument("--base-tar", help="the first layer: a root file system tarball (default: --image-tar)")
    ap.add_argument("--each", action="store_true", help="also print every pull's time as it ends")
    ap.add_argument("--compare", help="a second podpy command to pull with in the same run (row podpy-b)")
    args = ap.parse_args()
    podman = shutil.which("podman")
    with tempfile.TemporaryDirectory(prefix="podpy-pull-bench-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        (work / "registry").mkdir()
        reg = LocalRegistry(work / "registry")
        try:
            base = Path(args.base_tar or args.image_tar).read_bytes()
            layers = [base] + [generated_layer(i, args.megabytes) for i in range(1, 4)]
            size = sum(len(t) for t in layers) / 1e6
            for comp in ("gzip", "zstd"):
                oci_layout(work / comp, layers, ["sh"], compression=comp)
                push(work / comp, f"{reg.host}/bench/{comp}:latest")
                served = layer_types(reg.host, f"bench/{comp}")
                if any(not t.endswith(f"tar+{comp}") for t in served):
                    sys.exit(f"the registry serves the {comp} image with layers {served}")
            with tarfile.open(fileobj=io.BytesIO(base)) as tf:
                files = sum(1 for _ in tf)
            print(f"image: 4 layers, {size:.0f} MB uncompressed (base: {len(base) / 1e6:.0f} MB, {files} entries); "
                  f"median of {args.runs} cold pulls")
            print("(peak MB: the largest resident set among the command's processes; run with a larger\n"
                  " --megabytes to see that it does not grow with the layers)")
            print(f"{'layers':8} {'podpy s':>8} {'podman s':>9} {'ratio':>6} {'podpy peak MB':>14} "
                  f"{'podman peak MB':>15}")
            times: dict[tuple[str, str], list[float]] = {}
            peaks: dict[tuple[str, str], list[float]] = {}
            # Deleting a store leaves the file system slower to make new files
            # for a while (ext4 without a journal skips inodes freed in the last
            # minute or more, one by one), so every pull pays for the stores
            # removed just before it. Rows interleave and the two tools take
            # turns going first, so neither a row nor a tool always pulls right
            # after the bigger cleanups.
            for i in range(args.runs):
                for comp in ("gzip", "zstd"):
                    name = f"{reg.host}/bench/{comp}:latest"
                    tools = ["podpy"] + (["podpy-b"] if args.compare else []) + (["podman"] if podman else [])
                    for tool in tools if i % 2 == 0 else tools[::-1]:
                        if tool == "podman":
                            wall, peak = pull_podman(podman, work, name, comp, i)
                        else:
                            command = args.podpy if tool == "podpy" else args.compare
                            wall, peak = pull_podpy(command, work, name, f"{comp}-{tool}", i)
                        times.setdefault((tool, comp), []).append(wall)
                        if args.each:
                            print(f"  run {i + 1} {comp} {tool}: {wall:.2f} s", flush=True)
                        peaks.setdefault((tool, comp), []).append(peak)
            for comp in ("gzip", "zstd"):
                for tool in ("podpy", "podpy-b") if args.compare else ("podpy",):
                    row = comp if tool == "podpy" else f"{comp} (b)"
                    a, am = statistics.median(times[(tool, comp)]), max(peaks[(tool, comp)])
                    if podman:
                        b, bm = statistics.median(times[("podman", comp)]), max(peaks[("podman", comp)])
                        print(f"{row:8} {a:8.2f} {b:9.2f} {a / b:6.2f} {am:14.0f} {bm:15.0f}")
                    else:
                        print(f"{row:8} {a:8.2f} {'-':>9} {'-':>6} {am:14.0f} {'-':>15}   (podman not installed)")
        finally:
            reg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
