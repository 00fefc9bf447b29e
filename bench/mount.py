#!/usr/bin/env python3
"""Reading a large image through `podpy image mount`, beside reading its layer directories.

Run as an unprivileged user with subordinate ids (the test user works):

    python3 bench/mount.py --image-tar /opt/podpy/images/busybox.tar

The image is made here and loaded into a fresh store: a base root file system plus three
layers of generated files (~290 MB in all, files of 4 KB, 64 KB and 1 MB; the last layer
deletes a directory of the one below, so the mount has whiteouts to apply). The base is the
busybox image, or with --base-tar a Debian minbase made by packaging/make-minbase-image.sh
(as root) -- thousands of small real files:

    sudo bash packaging/make-minbase-image.sh /tmp/minbase.tar
    python3 bench/mount.py --image-tar /opt/podpy/images/busybox.tar --base-tar /tmp/minbase.tar

Each round times the same command on both sides, `tar -cf - -C DIR . | cat >/dev/null`:
on the store's layer directories one after the other (in `podpy unshare`, where every file
of them can be read; the time is taken inside), and on a fresh `podpy image mount` of the
image, as the user, with no namespace. The layers' files are in the page cache for both
(the first round warms them and is not counted); the mount's own cache starts empty each
round, as the image is mounted anew. Rounds alternate the two sides; the figures are
medians, the ratio (layer time / mount time: the mount's speed as a fraction of the layer
directories') is taken round by round. Target: at least 0.5.

Also printed: how long `image mount` takes (the index of the merged tree is built then),
a second read of the same mount (its pages cached by the kernel), and the serving
process's memory (PSS) after a read. Podman cannot be compared: rootless, it mounts only
inside `podman unshare`, where the user's own tools outside see nothing.
"""

from __future__ import annotations

import argparse
import hashlib
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
from pathlib import Path

from _layers import generated_layer

TARGET = 0.5
TAR = "tar -cf - -C {} . | cat >/dev/null"


def docker_archive(path: Path, layers: list[bytes], tag: str) -> None:
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag],
                            "Layers": [f"layer{i}.tar" for i in range(len(layers))]}]).encode()
    with tarfile.open(path, "w") as tf:
        for name, data in [("config.json", config), *((f"layer{i}.tar", l) for i, l in enumerate(layers)),
                           ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def run(argv: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def read_layers(podpy: list[str], env: dict[str, str], dirs: list[str]) -> float:
    """The layer directories read one after the other, timed inside the user namespace."""
    script = ("s=$(date +%s.%N); " + "; ".join(TAR.format(d) for d in dirs)
              + "; e=$(date +%s.%N); echo $s $e")
    start, end = run([*podpy, "unshare", "sh", "-c", script], env).split()[-2:]
    return float(end) - float(start)


def read_mount(path: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(["sh", "-c", TAR.format(path)], stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"reading {path} failed ({proc.returncode})")
    return time.perf_counter() - start


def server_pss(path: str) -> float:
    """MB of PSS of the process serving path."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
            if "storage.fusemount.serve" in cmd and path in cmd:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            return int(line.split()[1]) / 1024
        except OSError:
            continue
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-tar", required=True, help="a rootfs tarball (busybox): the base layer")
    ap.add_argument("--base-tar", help="a larger base instead (packaging/make-minbase-image.sh)")
    ap.add_argument("--podpy", default=shutil.which("podpy") or "podpy", help="podpy command")
    ap.add_argument("--megabytes", type=int, default=96, help="size of each generated layer")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--driver", help="storage driver of the store (default: podpy's choice)")
    args = ap.parse_args()
    podpy = args.podpy.split()

    with tempfile.TemporaryDirectory(prefix="podpy-bench-mount.") as tmp:
        home = Path(tmp)
        env = dict(os.environ, XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"))
        if args.driver:
            (home / "config" / "podpy").mkdir(parents=True)
            (home / "config" / "podpy" / "storage.conf").write_text(f'[storage]\ndriver = "{args.driver}"\n')
        base = Path(args.base_tar or args.image_tar).read_bytes()
        layers = [base, generated_layer(1, args.megabytes), generated_layer(2, args.megabytes),
                  generated_layer(3, args.megabytes, delete="data2/d7")]
        docker_archive(home / "image.tar", layers, "localhost/bench-mount:latest")
        try:
            run([*podpy, "load", "-q", "-i", str(home / "image.tar")], env)
            (home / "image.tar").unlink()
            lower = run([*podpy, "image", "inspect", "--format", "{{.GraphDriver.Data.LowerDir}}",
                         "bench-mount"], env).strip()
            dirs = list(reversed(lower.split(":")))
            driver = run([*podpy, "info", "--format", "{{.Store.GraphDriverName}}"], env).strip()
            native, mounted, again, mount_times, ratios, pss = [], [], [], [], [], []
            size = 0
            for i in range(args.rounds + 1):
                n = read_layers(podpy, env, dirs)
                start = time.perf_counter()
                path = run([*podpy, "image", "mount", "bench-mount"], env).strip()
                took = time.perf_counter() - start
                try:
                    m = read_mount(path)
                    a = read_mount(path)
                    if not size:
                        size = int(subprocess.run(["du", "-sb", path], capture_output=True, text=True
                                                  ).stdout.split()[0])
                    p = server_pss(path)
                finally:
                    run([*podpy, "image", "unmount", "bench-mount"], env)
                if i == 0:
                    continue   # warming the page cache
                native.append(n)
                mounted.append(m)
                again.append(a)
                mount_times.append(took)
                ratios.append(n / m)
                pss.append(p)
                print(f"round {i}: layer directories {n:.3f} s, mount {m:.3f} s (again {a:.3f} s), "
                      f"ratio {n / m:.2f}", flush=True)
        finally:
            subprocess.run([*podpy, "image", "unmount", "--all", "--force"], env=env, capture_output=True)
            subprocess.run([*podpy, "system", "reset", "-f"], env=env, capture_output=True)

    med = statistics.median
    mb = size / 1e6
    print(f"\nimage: {len(layers)} layers, {mb:.0f} MB through the mount, storage driver {driver}")
    print(f"tar | cat of the layer directories: {med(native):.3f} s ({mb / med(native):.0f} MB/s)")
    print(f"tar | cat of the mount:             {med(mounted):.3f} s ({mb / med(mounted):.0f} MB/s)")
    print(f"  the same mount read again:        {med(again):.3f} s (the kernel's page cache)")
    print(f"image mount (index built):          {med(mount_times):.3f} s; serving process PSS "
          f"{med(pss):.1f} MB")
    ratio = med(ratios)
    print(f"ratio (layer time / mount time, median of rounds): {ratio:.2f} "
          f"(target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
