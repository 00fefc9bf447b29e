"""Ownership, xattr and timestamp metadata for entries extracted from a layer."""

from __future__ import annotations

import base64
import binascii
import errno
import os
import tarfile
import urllib.parse
from decimal import Decimal, InvalidOperation

from storage.inroot import show
from storage.errors import LayerError

# uid_t/gid_t are 32-bit and (uid_t)-1 means "leave unchanged" to chown(2),
# so a tar id of 4294967295 must not silently become a no-op.
_ID_MAX = 2**32 - 2
_NS_MAX = 2**63 - 1

# Xattrs that would let an image forge overlay whiteouts/opaque dirs or grant
# itself kernel trust are never applied.
_FORBIDDEN_USER_PREFIXES = ("user.overlay.", "user.fuseoverlayfs.")
# setxattr failures that only mean "this filesystem or this user cannot".
_XATTR_SOFT_ERRNOS = {
    errno.EPERM,
    errno.EACCES,
    errno.ENOTSUP,
    errno.EOPNOTSUPP,
    errno.EINVAL,
    errno.E2BIG,
    errno.ERANGE,
}

_SPECIAL_BITS = 0o6000  # setuid | setgid


def xattr_allowed(name: str) -> bool:
    """Whether an image may set this xattr on its files."""
    if name == "security.capability":
        return True
    return name.startswith("user.") and not name.startswith(_FORBIDDEN_USER_PREFIXES)


def tar_xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    """The permitted xattrs carried in an entry's PAX headers (SCHILY and LIBARCHIVE forms)."""
    found: list[tuple[str, bytes]] = []
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            name = key[len("SCHILY.xattr.") :]
            # tarfile decodes values as UTF-8 with surrogateescape; undo it to
            # get the original (often binary, e.g. capabilities) bytes.
            data = value.encode("utf-8", "surrogateescape")
        elif key.startswith("LIBARCHIVE.xattr."):
            name = urllib.parse.unquote(key[len("LIBARCHIVE.xattr.") :], errors="surrogateescape")
            try:
                data = base64.b64decode(value + "=" * (-len(value) % 4))
            except (binascii.Error, ValueError):
                continue
        else:
            continue
        if "\x00" not in name and xattr_allowed(name):
            found.append((name, data))
    return found


def set_xattrs(xattrs: list[tuple[str, bytes]], *, fd: int | None = None, dir_fd: int = -1, name: bytes = b"") -> None:
    """Apply xattrs best-effort, through fd or as dir_fd/name without following a symlink."""
    if not xattrs:
        return
    # os.setxattr has no dir_fd; the /proc magic link names exactly the
    # directory we hold open, so nothing on the way can be swapped.
    for key, value in xattrs:
        try:
            if fd is not None:
                os.setxattr(fd, key, value)
            else:
                os.setxattr(b"/proc/self/fd/%d/%s" % (dir_fd, name), key, value, follow_symlinks=False)
        except OSError as e:
            if e.errno not in _XATTR_SOFT_ERRNOS and e.errno != errno.ENOENT:
                raise


def _parse_ns(member: tarfile.TarInfo, key: str) -> int | None:
    # PAX times are decimal strings with up to nanosecond precision; tarfile's
    # float loses the last digits, so parse the text ourselves.
    text = member.pax_headers.get(key)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return int(value * 1_000_000_000)


def tar_times(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in nanoseconds, clamped to what utimensat can take."""
    mtime = _parse_ns(member, "mtime")
    if mtime is None:
        mtime = int(member.mtime) * 1_000_000_000
    atime = _parse_ns(member, "atime")
    if atime is None:
        atime = mtime
    return (max(-_NS_MAX, min(_NS_MAX, atime)), max(-_NS_MAX, min(_NS_MAX, mtime)))


def set_times(times: tuple[int, int], *, fd: int | None = None, dir_fd: int = -1, name: bytes = b"") -> None:
    """Set atime/mtime on fd, or on dir_fd/name without following a symlink."""
    if fd is not None:
        os.utime(fd, ns=times)
    else:
        os.utime(name, ns=times, dir_fd=dir_fd, follow_symlinks=False)


def final_mode(mode: int, owner_applied: bool) -> int:
    """The permission bits to set: setuid/setgid survive only on the intended owner."""
    mode &= 0o7777
    return mode if owner_applied else mode & ~_SPECIAL_BITS


class Ownership:
    """Applies tar uid/gid according to the "full" / "ignore_errors" / "none" policy."""

    def __init__(self, policy: str) -> None:
        self.policy = policy

    def apply(
        self, entry: str, uid: int, gid: int, *, fd: int | None = None, dir_fd: int = -1, name: bytes = b""
    ) -> bool:
        """Chown as the policy says; True when the entry ends up owned by uid:gid."""
        if self.policy != "none":
            try:
                if not (0 <= uid <= _ID_MAX and 0 <= gid <= _ID_MAX):
                    raise OSError(errno.EINVAL, "id out of range")
                if fd is not None:
                    os.fchown(fd, uid, gid)
                else:
                    os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
                return True
            except OSError as e:
                if self.policy == "full":
                    raise LayerError(
                        f'layer entry "{show(entry)}": cannot change owner to {uid}:{gid}: '
                        f"potentially insufficient UIDs or GIDs available in user namespace ({e.strerror})"
                    ) from e
        st = os.stat(fd) if fd is not None else os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return (st.st_uid, st.st_gid) == (uid, gid)
