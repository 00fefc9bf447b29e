"""ioctl(2) through fcntl, with named requests: terminals, namespace fds, network interfaces and
seccomp user notifications. No ctypes here: the monitor resizes terminals with it.

Each failure raises SyscallError("ioctl(NAME)", path, errno); the path is the caller's word
for what the fd is (empty when it has none).
"""

from __future__ import annotations

import _struct   # struct's C half (struct.py is a file more to load on every run)
import fcntl

from ..errors import SyscallError
from . import numbers as N

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union

_WINSIZE = _struct.Struct("HHHH")    # rows, columns, x and y pixels
_INT = _struct.Struct("i")
_IFREQ_FLAGS = _struct.Struct("16sH14x")   # struct ifreq: the name, then ifr_flags


def _ioctl(name: str, fd: int, request: int, arg: Union[int, bytes, bytearray] = 0, path: str = "",
           mutate: bool = False) -> Union[int, bytes]:
    try:
        if isinstance(arg, bytearray):
            return fcntl.ioctl(fd, request, arg, mutate)
        return fcntl.ioctl(fd, request, arg)
    except OSError as exc:
        raise SyscallError(f"ioctl({name})", path, exc.errno or 0) from None


def get_winsize(fd: int, path: str = "") -> tuple[int, int]:
    rows, cols, _, _ = _WINSIZE.unpack(_ioctl("TIOCGWINSZ", fd, N.TIOCGWINSZ, bytes(_WINSIZE.size), path))
    return rows, cols


def set_winsize(fd: int, rows: int, cols: int, path: str = "") -> None:
    if not (0 <= rows <= 0xFFFF and 0 <= cols <= 0xFFFF):
        raise ValueError(f"window size {rows}x{cols} out of range")
    _ioctl("TIOCSWINSZ", fd, N.TIOCSWINSZ, _WINSIZE.pack(rows, cols, 0, 0), path)


def unlockpt(fd: int, path: str = "/dev/ptmx") -> None:
    _ioctl("TIOCSPTLCK", fd, N.TIOCSPTLCK, _INT.pack(0), path)


def ptsname(fd: int, path: str = "/dev/ptmx") -> str:
    """The slave's path of a pty master opened in /dev (its number in /dev/pts)."""
    num = _INT.unpack(_ioctl("TIOCGPTN", fd, N.TIOCGPTN, _INT.pack(0), path))[0]   # type: ignore[arg-type]
    return f"/dev/pts/{num}"


def set_controlling_terminal(fd: int, path: str = "") -> None:
    _ioctl("TIOCSCTTY", fd, N.TIOCSCTTY, 0, path)


def ns_get_userns(fd: int, path: str = "") -> int:
    """A new fd (close-on-exec) of the user namespace that owns the namespace of fd."""
    return int(_ioctl("NS_GET_USERNS", fd, N.NS_GET_USERNS, 0, path))   # type: ignore[arg-type]


def ns_get_parent(fd: int, path: str = "") -> int:
    """A new fd (close-on-exec) of the parent of the user (or PID) namespace of fd."""
    return int(_ioctl("NS_GET_PARENT", fd, N.NS_GET_PARENT, 0, path))   # type: ignore[arg-type]


def interface_up(sock: int, name: str) -> None:
    """Set IFF_UP on the interface `name` of sock's network namespace (an AF_INET socket)."""
    req = _IFREQ_FLAGS.pack(name.encode(), 0)
    flags = _IFREQ_FLAGS.unpack(_ioctl("SIOCGIFFLAGS", sock, N.SIOCGIFFLAGS, req, name))[1]   # type: ignore[arg-type]
    _ioctl("SIOCSIFFLAGS", sock, N.SIOCSIFFLAGS, _IFREQ_FLAGS.pack(name.encode(), flags | N.IFF_UP), name)


def notif_recv(listener: int, buf: bytearray) -> None:
    """Fill buf (struct seccomp_notif) with the next reported call."""
    _ioctl("SECCOMP_IOCTL_NOTIF_RECV", listener, N.SECCOMP_IOCTL_NOTIF_RECV, buf, mutate=True)


def notif_send(listener: int, resp: bytes) -> None:
    _ioctl("SECCOMP_IOCTL_NOTIF_SEND", listener, N.SECCOMP_IOCTL_NOTIF_SEND, bytearray(resp), mutate=True)


def notif_id_valid(listener: int, nid: int) -> None:
    _ioctl("SECCOMP_IOCTL_NOTIF_ID_VALID", listener, N.SECCOMP_IOCTL_NOTIF_ID_VALID,
           bytearray(_struct.pack("=Q", nid)), mutate=True)


def notif_addfd(listener: int, addfd: bytes) -> None:
    _ioctl("SECCOMP_IOCTL_NOTIF_ADDFD", listener, N.SECCOMP_IOCTL_NOTIF_ADDFD, bytearray(addfd), mutate=True)
