"""Crafted layer tars and environment probes shared by the archive tests."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import uuid
from pathlib import Path
from typing import Any, Literal

import pytest

from storage.archive import ApplyOptions, ApplyResult, apply_layer


UID = os.getuid()
GID = os.getgid()


def real_root() -> bool:
    # Root inside a user namespace (uid_map other than the identity over all
    # ids) can neither mknod real devices, set trusted.* xattrs nor chown to
    # unmapped ids; the tests that need those need the real thing.
    try:
        with open("/proc/self/uid_map") as f:
            identity = f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        identity = False
    return os.geteuid() == 0 and identity


IS_ROOT = real_root()


# -- building crafted tars -------------------------------------------------------


def _info(name: str, kind: bytes, *, mode: int, uid: int | None, gid: int | None, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    # Default to our own ids so chown="full" works for unprivileged runs too.
    ti.uid = UID if uid is None else uid
    ti.gid = GID if gid is None else gid
    ti.mtime = mtime
    return ti


class Layer:
    """Collects tar members and renders them as bytes."""

    def __init__(self) -> None:
        self.members: list[tuple[tarfile.TarInfo, bytes | None]] = []

    def file(
        self,
        name: str,
        data: bytes = b"",
        *,
        mode: int = 0o644,
        uid: int | None = None,
        gid: int | None = None,
        mtime: int = 1_600_000_000,
        pax: dict[str, str] | None = None,
    ) -> Layer:
        ti = _info(name, tarfile.REGTYPE, mode=mode, uid=uid, gid=gid, mtime=mtime)
        ti.size = len(data)
        if pax:
            ti.pax_headers = dict(pax)
        self.members.append((ti, data))
        return self

    def dir(
        self, name: str, *, mode: int = 0o755, mtime: int = 1_500_000_000, uid: int | None = None,
        pax: dict[str, str] | None = None,
    ) -> Layer:
        ti = _info(name, tarfile.DIRTYPE, mode=mode, uid=uid, gid=None, mtime=mtime)
        if pax:
            ti.pax_headers = dict(pax)
        self.members.append((ti, None))
        return self

    def symlink(self, name: str, target: str, *, mtime: int = 1_400_000_000) -> Layer:
        ti = _info(name, tarfile.SYMTYPE, mode=0o777, uid=None, gid=None, mtime=mtime)
        ti.linkname = target
        self.members.append((ti, None))
        return self

    def hardlink(self, name: str, target: str) -> Layer:
        ti = _info(name, tarfile.LNKTYPE, mode=0o644, uid=None, gid=None, mtime=0)
        ti.linkname = target
        self.members.append((ti, None))
        return self

    def node(self, name: str, kind: bytes, major: int = 0, minor: int = 0, *, mode: int = 0o644) -> Layer:
        ti = _info(name, kind, mode=mode, uid=None, gid=None, mtime=1_300_000_000)
        ti.devmajor, ti.devminor = major, minor
        self.members.append((ti, None))
        return self

    def bytes(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for ti, data in self.members:
                tar.addfile(ti, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def apply(
    dest: Path,
    layer: Layer | bytes,
    fmt: Literal["overlay", "vfs"] = "vfs",
    **opts: Any,
) -> ApplyResult:
    dest.mkdir(parents=True, exist_ok=True)
    data = layer.bytes() if isinstance(layer, Layer) else layer
    return apply_layer(io.BytesIO(data), str(dest), ApplyOptions(whiteout_format=fmt, **opts))


def can_mknod_whiteout(where: Path) -> str | None:
    probe = where / f"probe-{uuid.uuid4().hex}"
    try:
        os.mknod(probe, stat.S_IFCHR, os.makedev(0, 0))
    except OSError as e:
        return f"cannot mknod a 0/0 character device here: {e.strerror}"
    probe.unlink()
    return None


def can_user_xattr(where: Path) -> str | None:
    probe = where / f"probe-{uuid.uuid4().hex}"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.podpy-probe", b"1")
    except OSError as e:
        return f"filesystem of {where} does not take user xattrs: {e.strerror}"
    finally:
        probe.unlink()
    return None


def skip_unless(reason: str | None) -> None:
    if reason is not None:
        print(f"SKIP: {reason}")
        pytest.skip(reason)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
