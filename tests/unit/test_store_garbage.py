"""The staging area's garbage collection: what a killed writer leaves is removed, what a live
writer holds is not."""

import fcntl
import os

from storage.staging import Staging
from storage.staging import remove_lone_lock as _remove_lone_lock


def test_a_lone_lock_nobody_holds_is_removed(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    lock = tmp / "layer-0123.lock"   # its writer was killed before making the directory
    lock.write_text("")
    _remove_lone_lock(str(lock))
    assert not lock.exists()


def test_a_held_lock_is_kept(tmp_path):
    stage = Staging(str(tmp_path), "layer")
    os.rmdir(stage.path)    # between the lock and the directory, as a writer can be
    _remove_lone_lock(stage.lock_path)
    assert os.path.exists(stage.lock_path)
    stage.release()
    assert not os.path.exists(stage.lock_path)


def test_a_writer_whose_lock_was_collected_makes_another(tmp_path, monkeypatch):
    # The collector removes the lock between the writer's open and its flock: the writer
    # notices (the file on disk is not the one it locked) and locks a new one.
    real_flock = fcntl.flock
    removed = []

    def flock(fd, op):
        if not removed and op == fcntl.LOCK_EX:
            path = os.readlink(f"/proc/self/fd/{fd}")
            os.unlink(path)
            removed.append(path)
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    stage = Staging(str(tmp_path), "layer")
    assert removed and os.path.exists(stage.lock_path) and os.path.isdir(stage.path)
    assert os.stat(stage.lock_path).st_ino == os.fstat(stage._lock_fd).st_ino
    stage.release()


def _container_dir(root):
    cdir = root / "containers" / "c0ffee"
    (cdir / "diff" / "etc").mkdir(parents=True)
    (cdir / "diff" / "etc" / "hostname").write_text("")
    (cdir / "work" / "work").mkdir(parents=True)
    return cdir


def test_discard_moves_the_directory_aside_at_once_and_removes_it_later(tmp_path):
    from storage.staging import TRASH, abandoned, discard

    cdir = _container_dir(tmp_path)
    remove = discard(str(cdir), str(tmp_path))
    assert not cdir.exists()                          # its name is free before the removal
    (trash,) = os.listdir(tmp_path / "tmp")
    assert trash.startswith(TRASH)
    assert abandoned(str(tmp_path / "tmp")) == []     # in progress: the collector leaves it
    remove()
    assert os.listdir(tmp_path / "tmp") == []


def test_discard_takes_other_directories_of_its_file_system_with_it(tmp_path):
    """A --rm run's runtime directory goes into its container's garbage (when it is on the same
    file system); one that is gone already, or cannot be moved there, is left alone."""
    from storage.staging import discard

    cdir = _container_dir(tmp_path)
    run_dir = tmp_path / "run" / "containers" / "c0ffee"
    run_dir.mkdir(parents=True)
    (run_dir / "hosts").write_text("127.0.0.1 localhost\n")
    remove = discard(str(cdir), str(tmp_path), str(run_dir), str(tmp_path / "run" / "gone"))
    assert not cdir.exists() and not run_dir.exists()
    (trash,) = os.listdir(tmp_path / "tmp")
    assert (tmp_path / "tmp" / trash / "diff").is_dir() and len(os.listdir(tmp_path / "tmp" / trash)) == 3
    remove()
    assert os.listdir(tmp_path / "tmp") == [] and os.listdir(tmp_path / "run" / "containers") == []


def test_discard_leaves_a_directory_it_cannot_move_to_its_owner(tmp_path, monkeypatch):
    """A runtime directory on another file system (tmpfs) stays for Container._release."""
    import errno

    from storage import staging

    cdir = _container_dir(tmp_path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    real_rename = os.rename

    def rename(src, dst):
        if src == str(run_dir):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(src, dst)

    monkeypatch.setattr(staging.os, "rename", rename)
    remove = staging.discard(str(cdir), str(tmp_path), str(run_dir))
    assert remove is not None and run_dir.is_dir() and not cdir.exists()
    remove()
    assert run_dir.is_dir()


def test_garbage_whose_remover_died_is_collected(tmp_path):
    """A remover killed before the end leaves its trash unlocked: the next command's
    collection takes it (and a second collector leaves what the first holds)."""
    from storage.staging import abandoned, discard

    cdir = _container_dir(tmp_path)
    pid = os.fork()
    if pid == 0:
        discard(str(cdir), str(tmp_path))
        os._exit(0)                                   # killed before its removal, say
    os.waitpid(pid, 0)
    (found,) = abandoned(str(tmp_path / "tmp"))
    assert os.path.isdir(found.path) and found.fd is not None
    assert abandoned(str(tmp_path / "tmp")) == []     # held by the first collector
    from storage.fsutil import remove_tree

    remove_tree(found.path)
    found.drop_lock()
    assert os.listdir(tmp_path / "tmp") == []


def test_discard_of_nothing_does_nothing(tmp_path):
    from storage.staging import discard

    assert discard(str(tmp_path / "containers" / "gone"), str(tmp_path)) is None
    assert not (tmp_path / "tmp").exists()


def test_remove_tree_takes_what_another_remover_takes_meanwhile(tmp_path, monkeypatch):
    """rm -rf's way: entries another process removes while this one works (a run's stage 1
    removing its trash while `system reset` removes the store) are not an error."""
    import subprocess

    from storage import fsutil

    top = tmp_path / "store"
    trash = top / "tmp" / "trash-1"
    for d in (trash / "diff" / "etc", trash / "work" / "work", top / "containers"):
        d.mkdir(parents=True)
    (top / "tmp" / "trash-1" / "diff" / "etc" / "hostname").write_text("")
    real = os.scandir

    def racing(fd):   # the remover lists a directory by its fd
        entries = list(real(fd))
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/tmp"):
            # the other remover, between listing and descending
            subprocess.run(["rm", "-rf", str(top / "tmp" / "trash-1")], check=True)
        return iter(entries)

    monkeypatch.setattr(fsutil.os, "scandir", racing)
    fsutil.remove_tree(str(top))
    assert not top.exists()


def test_discard_removes_at_once_what_it_cannot_move_aside(tmp_path):
    """Not a directory, or no tmp/ to move it into (here a file is in its way): removed on
    the spot, nothing left for later."""
    from storage.staging import discard

    single = tmp_path / "containers" / "file"
    single.parent.mkdir()
    single.write_text("x")
    assert discard(str(single), str(tmp_path)) is None and not single.exists()
    cdir = _container_dir(tmp_path)
    (tmp_path / "tmp").write_text("in the way")
    assert discard(str(cdir), str(tmp_path)) is None
    assert not cdir.exists() and (tmp_path / "tmp").read_text() == "in the way"


def _deep(top, levels, name="d" * 200):
    """A chain of directories levels deep below top, made by fds (its paths exceed PATH_MAX)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(levels):
        os.mkdir(name, dir_fd=fd)
        with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
            f.write("x")
        if i % 7 == 3:
            os.symlink("/", "up", dir_fd=fd)     # never followed
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        if i % 5 == 2:
            os.chmod(fd, 0o500)                  # its entries cannot be removed as it is
        os.close(fd)
        fd = child
    os.chmod(fd, 0)                              # nor read
    os.close(fd)


def test_remove_tree_takes_trees_deeper_than_path_max(tmp_path):
    """A layer's names may be near PATH_MAX below it (a container's deeper still): the remover
    works by directory fds, holds few of them, and does not recurse."""
    from storage.fsutil import remove_tree

    top = tmp_path / "layer"
    top.mkdir()
    _deep(str(top), 150)                         # some 30000 bytes of path, past the fds it keeps open
    (tmp_path / "keep").write_text("x")
    remove_tree(str(top))
    assert not top.exists() and (tmp_path / "keep").exists()
    top.mkdir()
    _deep(str(top), 2500, name="d")              # deeper than Python's recursion limit
    remove_tree(str(top))
    assert not top.exists()


def test_remove_tree_error_is_one_short_line(tmp_path, monkeypatch):
    from storage import fsutil

    top = tmp_path / "layer"
    top.mkdir()
    _deep(str(top), 40)
    real = os.rmdir

    def refuse(name, dir_fd=None):
        if dir_fd is not None:
            raise PermissionError(13, "Permission denied", name)
        return real(name)

    monkeypatch.setattr(fsutil.os, "rmdir", refuse)
    try:
        fsutil.remove_tree(str(top))
    except PermissionError as exc:
        assert str(exc.filename).startswith(str(top)) and len(str(exc.filename)) < 320
        assert "\n" not in str(exc)
    else:
        raise AssertionError("no error")
    monkeypatch.setattr(fsutil.os, "rmdir", real)
    fsutil.remove_tree(str(top))
    assert not top.exists()
