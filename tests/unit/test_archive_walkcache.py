"""The layer writer's walk cache: what it remembers never outlives a change on the way.

Each case changes a directory or symlink that a remembered walk went
through, then writes through the same path again.  Every layer is applied
twice, with the cache and with a cache that remembers nothing, and the two
trees (or errors) must be the same; the named cases also check where things
landed.  A seeded random mix of such changes checks the same equivalence.
"""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest
from layertar import Layer, apply, can_mknod_whiteout, can_user_xattr, open_fds, skip_unless

from storage import _writer
from storage.inroot import DirCache, Root
from storage.errors import LayerError, UnsafeEntryError


class _NoCache(DirCache):
    """Walks from the root every time, as the writer did before it had a cache."""

    def __init__(self, root: Root, size: int = 0) -> None:
        super().__init__(root, size=0)


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, "user.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _tree(dest: Path) -> dict[str, tuple[str, bytes | str | int]]:
    out: dict[str, tuple[str, bytes | str | int]] = {}
    for top, dirs, files in os.walk(dest):
        for name in dirs + files:
            p = Path(top) / name
            rel = str(p.relative_to(dest))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
                if _opaque(p):
                    out[rel + "/(opaque)"] = ("xattr", "y")
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", p.read_bytes())
            else:
                out[rel] = ("node", st.st_rdev)
    return out


def _outcome(dest: Path, layer: Layer | bytes, fmt: str, lower: dict[str, bytes] | None) -> object:
    dest.mkdir(parents=True)
    for rel, data in (lower or {}).items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(data)
    try:
        apply(dest, layer, fmt)  # type: ignore[arg-type]
    except LayerError as e:
        return (type(e).__name__, str(e))
    return _tree(dest)


def same_as_uncached(
    tmp_path: Path, layer: Layer | bytes, fmt: str = "vfs", lower: dict[str, bytes] | None = None
) -> object:
    """Apply with and without the cache; assert the same result and return it."""
    data = layer.bytes() if isinstance(layer, Layer) else layer
    cached = _outcome(tmp_path / "cached", data, fmt, lower)
    saved = _writer.DirCache
    _writer.DirCache = _NoCache  # type: ignore[misc]
    try:
        plain = _outcome(tmp_path / "plain", data, fmt, lower)
    finally:
        _writer.DirCache = saved  # type: ignore[misc]
    assert cached == plain
    return cached


def test_directory_replaced_by_symlink_after_its_walk_was_remembered(tmp_path: Path) -> None:
    # a/b is remembered while f1 is written; then "a" becomes a symlink to x.
    layer = Layer().dir("x").dir("x/b").file("a/b/f1", b"1").symlink("a", "x").file("a/b/f2", b"2")
    tree = same_as_uncached(tmp_path, layer)
    assert isinstance(tree, dict)
    assert tree["a"] == ("link", "x")
    assert tree["x/b/f2"] == ("file", b"2")
    assert "x/b/f1" not in tree  # f1 went away with the old directory a


def test_symlink_replaced_by_directory_after_a_walk_followed_it(tmp_path: Path) -> None:
    layer = Layer().dir("t").symlink("l", "t").file("l/f1", b"1").dir("l").file("l/f2", b"2")
    tree = same_as_uncached(tmp_path, layer)
    assert isinstance(tree, dict)
    assert tree["l"][0] == "dir"
    assert tree["l/f2"] == ("file", b"2")
    assert tree["t/f1"] == ("file", b"1")
    assert "t/f2" not in tree


def test_symlink_replaced_by_another_symlink(tmp_path: Path) -> None:
    layer = Layer().dir("t1").dir("t2").symlink("l", "t1").file("l/f1").symlink("l", "/t2").file("l/f2")
    tree = same_as_uncached(tmp_path, layer)
    assert isinstance(tree, dict)
    assert "t1/f1" in tree and "t2/f2" in tree and "t1/f2" not in tree


def test_remembered_directory_replaced_by_a_file_is_not_written_into(tmp_path: Path) -> None:
    layer = Layer().dir("d").file("d/x").file("d", b"file now").file("d/y")
    result = same_as_uncached(tmp_path, layer)
    assert isinstance(result, tuple) and "not a directory" in result[1]


def test_remembered_directory_replaced_by_a_hardlink(tmp_path: Path) -> None:
    layer = Layer().file("f", b"f").dir("d").file("d/x").hardlink("d", "f").file("d/y")
    result = same_as_uncached(tmp_path, layer)
    assert isinstance(result, tuple) and "not a directory" in result[1]


def test_vfs_whiteout_of_a_remembered_directory(tmp_path: Path) -> None:
    layer = Layer().dir("d").dir("d/sub").file("d/sub/f", b"f").file("d/.wh.sub").file("d/sub/g", b"g")
    tree = same_as_uncached(tmp_path, layer)
    assert isinstance(tree, dict)
    assert tree["d/sub/g"] == ("file", b"g")
    assert "d/sub/f" not in tree
    assert tree["d/sub"] == ("dir", 0o755)  # made again as an implicit parent


def test_vfs_whiteout_of_a_remembered_symlink(tmp_path: Path) -> None:
    layer = Layer().dir("t").symlink("l", "t").file("l/f").file(".wh.l").file("l/g")
    tree = same_as_uncached(tmp_path, layer)
    assert isinstance(tree, dict)
    assert tree["l"][0] == "dir" and "l/g" in tree and "t/g" not in tree


def test_vfs_opaque_prunes_a_remembered_lower_directory(tmp_path: Path) -> None:
    # d/lower comes from the lower layer: the opaque marker removes it whole,
    # after a walk into it was remembered.
    layer = Layer().file("d/lower/a", b"a").file("d/.wh..wh..opq").file("d/lower/b", b"b")
    tree = same_as_uncached(tmp_path, layer, lower={"d/lower/z": b"z"})
    assert isinstance(tree, dict)
    assert tree["d/lower/b"] == ("file", b"b")
    assert "d/lower/z" not in tree and "d/lower/a" not in tree


def test_walk_continued_from_a_remembered_prefix_still_counts_its_symlinks(tmp_path: Path) -> None:
    # 30 links to reach t are remembered with the walk to "c0"; 15 more under
    # it make 45, past the limit of 40, exactly as one walk from the root would.
    layer = Layer()
    for i in range(30):
        layer.symlink(f"c{i}", f"c{i + 1}" if i < 29 else "t")
    layer.dir("t").dir("t/end")
    for i in range(15):
        layer.symlink(f"t/u{i}", f"u{i + 1}" if i < 14 else "end")
    layer.file("c0/f").file("c0/u0/g")
    with pytest.raises(UnsafeEntryError, match="symbolic links"):
        apply(tmp_path / "r", layer)
    result = same_as_uncached(tmp_path, layer)
    assert isinstance(result, tuple) and "symbolic links" in result[1]


def test_more_directories_than_the_cache_holds(tmp_path: Path) -> None:
    layer = Layer()
    for rnd in range(2):
        for i in range(150):
            layer.file(f"top/d{i}/sub/f{rnd}", b"%d" % i)
    before = open_fds()
    tree = same_as_uncached(tmp_path, layer)
    assert open_fds() == before
    assert isinstance(tree, dict)
    assert tree["top/d149/sub/f1"] == ("file", b"149")
    assert len([k for k in tree if "/f" in k]) == 300


def _random_layer(rng: random.Random) -> Layer:
    """Directories, symlinks (relative, absolute, climbing) and files over a few names,
    with some entries replacing a directory or symlink, whiteouts and hardlinks."""
    dirs, leaves = ["a", "b", "c"], ["f", "g"]
    files: list[str] = []
    layer = Layer()

    def some_dir(most: int) -> str:
        return "/".join(rng.choice(dirs) for _ in range(rng.randint(1, most)))

    for _ in range(rng.randint(5, 40)):
        kind = rng.random()
        if kind < 0.35:
            path = f"{some_dir(3)}/{rng.choice(leaves)}"
            layer.file(path, path.encode())
            files.append(path)
        elif kind < 0.6:
            layer.dir(some_dir(3))
        elif kind < 0.72:
            target = "/".join([".."] * rng.randint(0, 3) + [some_dir(2)])
            layer.symlink(some_dir(3), ("/" + target) if rng.random() < 0.3 else target)
        elif kind < 0.82:
            where = some_dir(2)
            marker = ".wh..wh..opq" if rng.random() < 0.3 else f".wh.{rng.choice(dirs + leaves)}"
            layer.file(f"{where}/{marker}")
        elif kind < 0.88:
            layer.file(some_dir(3), b"replaces whatever was there")
        elif files:
            layer.hardlink(f"{some_dir(2)}/{rng.choice(leaves)}", rng.choice(files))
    return layer


def test_overlay_whiteout_and_opaque_in_a_remembered_directory(tmp_path: Path) -> None:
    skip_unless(can_mknod_whiteout(tmp_path))
    skip_unless(can_user_xattr(tmp_path))
    layer = Layer().file("d/sub/f", b"f").file("d/sub/.wh.old").file("d/sub/.wh..wh..opq").file("d/sub/g", b"g")
    tree = same_as_uncached(tmp_path, layer, "overlay")
    assert isinstance(tree, dict)
    assert tree["d/sub/f"] == ("file", b"f") and tree["d/sub/g"] == ("file", b"g")
    assert os.getxattr(tmp_path / "cached" / "d" / "sub", "user.overlay.opaque") == b"y"
    assert stat.S_ISCHR(os.lstat(tmp_path / "cached" / "d" / "sub" / "old").st_mode)


@pytest.mark.parametrize("seed", range(40))
def test_random_layers_land_as_without_the_cache(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(10):
        same_as_uncached(tmp_path / str(i), _random_layer(rng), lower={"a/b/c": b"lower", "c/x": b"x"})


@pytest.mark.parametrize("seed", range(10))
def test_random_layers_land_as_without_the_cache_overlay(tmp_path: Path, seed: int) -> None:
    skip_unless(can_mknod_whiteout(tmp_path))
    skip_unless(can_user_xattr(tmp_path))
    rng = random.Random(1000 + seed)
    for i in range(10):
        same_as_uncached(tmp_path / str(i), _random_layer(rng), "overlay")
