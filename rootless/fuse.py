"""FUSE mounts on the host without privilege: fusermount3 (set-uid root) mounts and unmounts.

`fusermount` speaks libfuse's own protocol with fusermount3: it is started with a socket in
`_FUSE_COMMFD`, opens /dev/fuse, mounts it on the mount point (for this user only, nosuid,
nodev) and sends the descriptor back over the socket. Whoever holds that descriptor then
serves the mount, from any namespace: a server inside a user namespace can answer for a
mount that the host's mount namespace holds.
"""

from __future__ import annotations

import os
import socket

from .errors import RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

_PATH = ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin")


class FuseError(RuntimeFailure):
    pass


def fusermount_program() -> Optional[str]:
    for name in ("fusermount3", "fusermount"):
        for d in os.get_exec_path() + list(_PATH):
            path = os.path.join(d, name)
            if os.access(path, os.X_OK):
                return path
    return None


def _run(argv: list[str], env: dict[str, str], keep: Optional[int] = None) -> tuple[int, str]:
    """Run a helper; (exit code, its stderr)."""
    r, w = os.pipe()
    actions: list[tuple[int, ...]] = [(os.POSIX_SPAWN_DUP2, w, 2), (os.POSIX_SPAWN_CLOSE, r)]
    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    actions += [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1)]
    try:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    finally:
        os.close(w)
        os.close(null)
    with os.fdopen(r, "rb") as f:
        err = f.read().decode(errors="replace").strip()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


def fusermount(mountpoint: str, options: str) -> int:
    """Mount a FUSE file system at mountpoint; the /dev/fuse descriptor that serves it
    (close-on-exec). options: mount options, e.g. "ro,fsname=podpy,subtype=podpy"."""
    prog = fusermount_program()
    if prog is None:
        raise FuseError("fusermount3 is not installed (Debian: apt-get install fuse3)")
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        raise FuseError("/dev/fuse cannot be opened for reading and writing")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.set_inheritable(theirs.fileno(), True)
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "_FUSE_COMMFD": str(theirs.fileno())}
        # Started before reading the answer: fusermount3 sends the descriptor, then exits.
        r, w = os.pipe()
        null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        try:
            pid = os.posix_spawn(prog, [prog, "-o", options, "--", mountpoint], env,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                                               (os.POSIX_SPAWN_DUP2, w, 2), (os.POSIX_SPAWN_CLOSE, r)])
        finally:
            os.close(w)
            os.close(null)
        theirs.close()
        fds: list[int] = []
        try:
            _, fds, _, _ = socket.recv_fds(ours, 1, 1)
        except OSError:
            pass
        with os.fdopen(r, "rb") as f:
            err = f.read().decode(errors="replace").strip()
        _, status = os.waitpid(pid, 0)
    finally:
        ours.close()
        theirs.close()
    code = os.waitstatus_to_exitcode(status)
    if not fds:
        raise FuseError(f"mounting {mountpoint}: {err or f'fusermount3 exited with {code}'}")
    if code != 0:
        for fd in fds:
            os.close(fd)
        raise FuseError(f"mounting {mountpoint}: {err or f'fusermount3 exited with {code}'}")
    os.set_inheritable(fds[0], False)
    return fds[0]


def fuse_unmount(mountpoint: str, lazy: bool = True) -> Optional[str]:
    """Unmount a FUSE mount of this user's (lazily: a process working in it does not keep it
    from going); None when done or when nothing was mounted there, else why not."""
    prog = fusermount_program()
    if prog is None:
        return "fusermount3 is not installed (Debian: apt-get install fuse3)"
    argv = [prog, "-u", "-q"] + (["-z"] if lazy else []) + ["--", mountpoint]
    code, err = _run(argv, {"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    if code == 0 or not is_mounted(mountpoint):
        return None
    return err or f"fusermount3 -u exited with {code}"


def is_mounted(mountpoint: str) -> bool:
    """Whether something is mounted on mountpoint in this mount namespace."""
    # Not realpath(mountpoint): that would ask the mount's server, which may hang or be gone.
    target = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(mountpoint))),
                          os.path.basename(mountpoint))
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                fields = line.split(b" ", 5)
                if len(fields) > 4 and _unescape(fields[4]) == target:
                    return True
    except OSError:
        pass
    return False


def _unescape(field: bytes) -> str:
    """A mountinfo path: spaces, tabs, newlines and backslashes are octal escapes."""
    out = bytearray()
    i = 0
    while i < len(field):
        if field[i:i + 1] == b"\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(int(field[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return os.fsdecode(bytes(out))
