"""What the process a container execs starts with, found as runc and Go find it: the program
on PATH (`lookpath`) and HOME when the process is given none (`passwd_home`). Used by the
container's init after pivot_root, and by `podpy unshare`'s exec."""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def passwd_home(uid: int) -> str:
    """HOME of a process given none (or an empty one), as runc sets it: the home of the
    first entry of the container's /etc/passwd with the process's uid, else "/"."""
    try:
        with open("/etc/passwd", "rb") as f:
            for line in f:
                entry = line.rstrip(b"\n").split(b":")
                if len(entry) > 5 and entry[2] == str(uid).encode() and entry[5]:
                    return os.fsdecode(entry[5])
    except OSError:
        pass
    return "/"


def lookpath(name: str, path: Optional[str]) -> str:
    """Find name on PATH as Go's exec.LookPath does: directories we may not search
    are skipped (execvp would report their EACCES instead of "not found")."""
    if "/" in name:
        return name
    found_unexecutable = None
    for d in (path if path is not None else os.defpath).split(":"):
        cand = os.path.join(d or ".", name)
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            if os.access(cand, os.X_OK):
                return cand
            found_unexecutable = found_unexecutable or cand
    if found_unexecutable:
        return found_unexecutable  # execve reports EACCES: 126, as podman
    raise FileNotFoundError(errno.ENOENT, "not found in $PATH", name)
