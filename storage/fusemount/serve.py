"""The serving process of one mount: `python -c "from storage.fusemount.serve import main; main()" JOB`.

JOB is JSON: {"fuse_fd": the /dev/fuse descriptor fusermount3 mounted, "mountpoint": where
(shown in the process's command line and its messages), "status_fd": where "ok" or
"error: WHY" is written once, "layers": the image's layer directories (bottom first),
"upper": a container's writable layer or null}. The engine starts it in the user's user namespace, in a session of its
own; it builds the index, answers the kernel until the mount goes (`fusermount3 -u`: its
/dev/fuse then reports the end) or it is killed, and exits. It holds nothing that needs
cleaning up: the layers are only read.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

LIBFUSE3 = "libfuse3.so.3"


def _report(fd: int, text: str) -> None:
    try:
        os.write(fd, text.encode(errors="replace"))
        os.close(fd)
    except OSError:
        pass


def build_ops(job: dict[str, Any], on_ready: Optional[Any] = None) -> Any:
    """The file system of job (its index built): a MountFS."""
    from .fs import MountFS
    from .tree import MergedTree

    tree = MergedTree(job["layers"])
    view: Any = tree
    if job.get("upper"):
        from .upper import UpperView

        view = UpperView(tree, job["upper"])
    return MountFS(view, live=bool(job.get("upper")), on_ready=on_ready)


def serve(job: dict[str, Any]) -> int:
    status = int(job["status_fd"])
    try:
        ops = build_ops(job, on_ready=lambda: _report(status, "ok"))
        # libfuse 3 by its soname: mfusepy alone would look for libfuse 2 first.
        os.environ.setdefault("FUSE_LIBRARY_PATH", LIBFUSE3)
        import mfusepy
    except Exception as exc:  # noqa: BLE001 - reported to the command that mounts
        _report(status, f"error: {exc}")
        return 1
    try:
        # A mount point of the form /dev/fd/N tells libfuse the descriptor is mounted already.
        # One thread: on two CPUs the reader, the kernel and one server thread keep busy, and
        # libfuse's worker threads (handing requests over, taking turns at the GIL) cost
        # about twice the server's CPU time for the same reads.
        _fuse_class(mfusepy)(ops, f"/dev/fd/{int(job['fuse_fd'])}", foreground=True, fsname="podpy",
                             nothreads=True)
    except Exception as exc:  # noqa: BLE001
        _report(status, f"error: {exc}")
        print(f"podpy mount {job.get('mountpoint', '')}: {exc}", file=sys.stderr)
        return 1
    return 0


def _fuse_class(mfusepy: Any) -> Any:
    """mfusepy's FUSE, with directory listings that carry whole attributes when the kernel asks
    for them (READDIRPLUS): mfusepy fills in only each entry's type."""
    import ctypes

    fill_plus = 1 << 1     # FUSE_FILL_DIR_PLUS
    readdir_plus = 1 << 0  # FUSE_READDIR_PLUS

    class Fuse(mfusepy.FUSE):  # type: ignore[misc]
        listing: Optional[tuple[str, list[Any]]] = None

        def readdir_fuse_3(self, path: bytes, buf: Any, filler: Any, offset: int, fip: Any, flags: int) -> int:
            # Each entry with its offset (its place + 1), so that a listing larger than the
            # kernel's buffer goes on where it stopped; libfuse 3.14 sends an entry's whole
            # attributes only on this path (with offsets 0 it drops them).
            st = mfusepy.c_stat()
            where = path.decode(self.encoding, self.errors)
            if offset and self.listing is not None and self.listing[0] == where:
                entries = self.listing[1]   # the rest of the listing begun before
            else:
                entries = self.operations.readdir_plus(where)
                self.listing = (where, entries)
            for place in range(offset, len(entries)):
                name, attrs, whole = entries[place]
                ctypes.memset(ctypes.byref(st), 0, ctypes.sizeof(st))
                mfusepy.set_st_attrs(st, attrs, use_ns=True)
                plus = fill_plus if whole and flags & readdir_plus else 0
                if filler(buf, name.encode(self.encoding, self.errors), st, place + 1, plus) != 0:
                    break
            return 0

    return Fuse


def main() -> None:
    job = json.loads(sys.argv[1])
    os.chdir("/")
    sys.exit(serve(job))
