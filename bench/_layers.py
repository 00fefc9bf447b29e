"""Generated image layers for the benchmarks: files half text-like (compressible), half random."""

from __future__ import annotations

import io
import random
import tarfile


def generated_layer(seed: int, megabytes: int, delete: str = "") -> bytes:
    """A layer of files, half text-like, half random (as bench/pull.py makes them); with
    delete, also a whiteout of that path."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(4000)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        total, n = 0, 0
        while total < megabytes << 20:
            size = rng.choice((4096, 65536, 1 << 20))
            if n % 2:
                data = rng.randbytes(size)
            else:
                data = b" ".join(rng.choice(words) for _ in range(size // 6))[:size]
            info = tarfile.TarInfo(f"data{seed}/d{n % 50}/f{n}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
            total += len(data)
            n += 1
        if delete:
            head, _, name = delete.rpartition("/")
            tf.addfile(tarfile.TarInfo(f"{head}/.wh.{name}" if head else f".wh.{name}"))
    return buf.getvalue()
