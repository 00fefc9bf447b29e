"""A container monitor's side of systemd's notify protocol: the socket a container sends its
readiness to, and the messages passed on to the service manager (a few C-written modules
only, as everything the monitor imports)."""

from __future__ import annotations

import _socket
import os

from rootless import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def tell(target: str, main_pid: int, lines: list[bytes]) -> None:
    """Send lines to the service manager's socket (target: $NOTIFY_SOCKET, an abstract one
    too), naming main_pid as the service's main process."""
    if not target:
        return
    message = b"MAINPID=%d\n" % main_pid + b"".join(line + b"\n" for line in lines)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect("\0" + target[1:] if target.startswith("@") else target)
        sock.send(message)
    except OSError:
        pass   # no manager listens: nothing to tell
    finally:
        sock.close()


def notify_socket(path: str) -> Any:
    """The datagram socket a container sends its readiness to (made anew, writable by any of
    its users); a long path is reached through its directory's /proc/self/fd entry."""
    directory, name = os.path.split(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
    where, dirfd = sync._address(directory, name)
    try:
        sock.bind(where)
    except OSError:
        sock.close()
        raise
    finally:
        if dirfd >= 0:
            os.close(dirfd)
    os.chmod(path, 0o777)
    return sock
