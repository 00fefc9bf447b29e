"""Work in progress under a store's tmp/: a staging directory and the lock its writer holds.

    tmp/<kind>-<random>        the directory a command writes (a layer being applied, the
                               claims of the layers it installs, an image being removed)
    tmp/<kind>-<random>.lock   held (flock) by the writer for as long as it works
    tmp/trash-<random>         garbage being removed (`discard`): its remover holds a flock
                               on the directory itself until it is gone

A directory whose lock nobody holds was left by a killed command: `abandoned` finds them,
and the store settles what their intent files say (intents.py) before removing them.

Only the command itself holds the lock. A flock belongs to the open file, which a forked
child shares: a helper forked while the lock is held (one in the container's namespaces,
unpacking a `cp`) would otherwise hold it after the command was killed, for as long as the
helper takes to die (the unmount of its root file system may wait for a sync of the whole
file system), and the next commands would take the directory for work still in progress.
So a forked child drops its copies of the held locks' descriptors at once (`_forked`).
"""

from __future__ import annotations

import fcntl
import os

from .fsutil import remove_tree

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional


_held: set[Staging] = set()   # the stagings whose lock this process holds


def _forked() -> None:
    """In a child just forked: its copies of the held locks' descriptors closed (the lock
    stays the parent's, held by the parent's descriptor), and the stagings left alone."""
    for stage in _held:
        try:
            os.close(stage._lock_fd)
        except OSError:
            pass
        stage._lock_fd = -1
    _held.clear()


os.register_at_fork(after_in_child=_forked)


class Staging:
    """A directory under tmp/ that is being written, guarded by a held lock."""

    def __init__(self, root: str, kind: str) -> None:
        tmp = os.path.join(root, "tmp")
        os.makedirs(tmp, mode=0o700, exist_ok=True)
        name = f"{kind}-{os.urandom(8).hex()}"
        self.path = os.path.join(tmp, name)
        self.lock_path = self.path + ".lock"
        while True:
            self._lock_fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            # collect_garbage may have removed a lone lock between our open and flock: then
            # ours is not the one on disk, and another one is made.
            try:
                if os.stat(self.lock_path).st_ino == os.fstat(self._lock_fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(self._lock_fd)
        _held.add(self)
        os.mkdir(self.path, 0o755)

    def release(self) -> None:
        _held.discard(self)
        if self._lock_fd >= 0:
            try:
                os.unlink(self.lock_path)
            except FileNotFoundError:
                pass
            os.close(self._lock_fd)
            self._lock_fd = -1


def remove_lone_lock(lock: str) -> None:
    """A lock without its staging directory: its writer was killed before making the directory
    or after removing it. Removed unless a writer holds it (about to make the directory)."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(lock)
    except OSError:
        pass
    finally:
        os.close(fd)


class Abandoned:
    """A staging directory whose writer is gone, its lock held by us (fd) while it is dealt with."""

    def __init__(self, path: str, fd: Optional[int], lock: str) -> None:
        self.path, self.fd, self.lock = path, fd, lock

    def drop_lock(self) -> None:
        """The directory is gone: its lock goes too."""
        try:
            os.unlink(self.lock)
        except FileNotFoundError:
            pass
        self.keep()

    def keep(self) -> None:
        """Left for a later command: our hold on its lock ends."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def abandoned(tmp: str) -> list[Abandoned]:
    """The staging directories under tmp whose writer is gone (no lock, or one nobody holds:
    we hold it then); lone locks are removed on the way."""
    try:
        names = os.listdir(tmp)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if name.endswith(".lock"):
            if name[:-5] not in names:
                remove_lone_lock(os.path.join(tmp, name))
            continue
        lock = os.path.join(tmp, name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            if name.startswith(TRASH):
                # garbage whose remover holds the directory's own lock while it works
                try:
                    fd = os.open(os.path.join(tmp, name), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
                except OSError:
                    continue   # gone meanwhile
            else:
                found.append(Abandoned(os.path.join(tmp, name), None, lock))
                continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        found.append(Abandoned(os.path.join(tmp, name), fd, lock))
    return found


TRASH = "trash-"


def discard(path: str, root: str, *others: str) -> Optional[Callable[[], None]]:
    """A directory that takes time to remove (a container's, at the end of a `run --rm`),
    moved at once under root's tmp/ as garbage and locked there while it goes; the removal
    itself is returned, for the caller to run once it has told whoever waits that the
    directory is gone (a file system mounted with `discard` makes each freed block a
    synchronous request to the disk: a millisecond or two for an empty container). Killed
    before the end, the remover leaves it to the next command's garbage collection. None:
    nothing left to do (the path was not there, or could not be moved and was removed here).

    others: directories that go with it (the container's runtime directory) when they are on
    the same file system, moved into the garbage with it; one that is not (a runtime directory
    on tmpfs, where removing is cheap) or that is gone already is left to its owner."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:
        remove_tree(path)   # not a directory
        return None
    tmp = os.path.join(root, "tmp")
    dest = os.path.join(tmp, TRASH + os.urandom(8).hex())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.rename(path, dest)
        except FileNotFoundError:
            os.makedirs(tmp, mode=0o700, exist_ok=True)
            os.rename(path, dest)
    except OSError:
        os.close(fd)
        remove_tree(path)
        return None
    for i, other in enumerate(others):
        try:
            os.rename(other, os.path.join(dest, f"{TRASH}{i}"))
        except OSError:
            pass

    def remove() -> None:
        try:
            remove_tree(dest)
        finally:
            os.close(fd)

    return remove
