"""storage.inroot's path-level resolver: symlinks followed inside the root only, missing names kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.inroot import make_dirs, resolve


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "hosts").write_text("x")
    os.symlink("/etc", r / "abs")
    os.symlink("../../etc", r / "up")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    os.symlink("/etc/hosts", r / "h")
    os.symlink("../../../../", r / "out")
    return r


def test_symlinks_resolve_inside_the_root(root: Path) -> None:
    assert resolve(str(root), "/abs/hosts") == str(root / "etc" / "hosts")
    assert resolve(str(root), "/up/hosts") == str(root / "etc" / "hosts")
    assert resolve(str(root), "/../../x") == str(root / "x")
    assert resolve(str(root), "/out/etc/new/../x") == str(root / "etc" / "x")
    assert resolve(str(root), "/") == str(root)


def test_a_final_symlink_is_followed_only_when_asked(root: Path) -> None:
    assert resolve(str(root), "/h") == str(root / "etc" / "hosts")
    assert resolve(str(root), "/h", follow_last=False) == str(root / "h")


def test_loops_and_files_on_the_way_are_errors(root: Path) -> None:
    with pytest.raises(OSError, match="too many levels"):
        resolve(str(root), "/loop1/x")
    with pytest.raises(NotADirectoryError):
        resolve(str(root), "/etc/hosts/x")


def test_make_dirs_follows_links_inside_and_tells_what_it_made(root: Path) -> None:
    made: list[bytes] = []
    host = make_dirs(str(root), "/abs/a/b", lambda parent, name, path: made.append(b"/".join(path)))
    assert host == str(root / "etc" / "a" / "b") and (root / "etc" / "a" / "b").is_dir()
    assert made == [b"etc/a", b"etc/a/b"]
