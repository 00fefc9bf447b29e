"""Layer export: overlay whiteouts and opaque dirs become OCI entries; output is reproducible
and applies back to the same tree."""

import os
import stat
import tarfile

import pytest

from storage.archive import ApplyOptions, apply_layer
from storage.export import export_to_file


def _layer(root):
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "conf").write_text("x=1\n")
    os.link(root / "etc" / "conf", root / "etc" / "hard")
    os.symlink("conf", root / "etc" / "soft")
    (root / "opaque").mkdir()
    (root / "opaque" / "kept").write_text("k")
    os.setxattr(root / "opaque", "user.overlay.opaque", b"y")
    os.mknod(root / "etc" / "gone", stat.S_IFCHR | 0o600, 0)  # an overlay whiteout
    os.chmod(root / "etc" / "conf", 0o4755)


@pytest.fixture
def layer(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to create whiteout devices in a plain directory (runs as root in CI)")
    root = tmp_path / "layer"
    try:
        _layer(root)
    except OSError as exc:
        pytest.skip(f"file system lacks user xattrs or mknod: {exc}")
    return root


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_export_is_reproducible(layer, tmp_path, compression):
    a = export_to_file(str(layer), str(tmp_path / "a"), compression)
    b = export_to_file(str(layer), str(tmp_path / "b"), compression)
    assert a == b and a[2] == os.path.getsize(tmp_path / "a")


def test_export_translates_whiteouts_and_roundtrips(layer, tmp_path):
    diff_id, digest, _ = export_to_file(str(layer), str(tmp_path / "t.tar"), "none")
    assert diff_id == digest
    with tarfile.open(tmp_path / "t.tar") as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert "etc/.wh.gone" in members and "opaque/.wh..wh..opq" in members and "etc/gone" not in members
    assert members["etc/hard"].islnk() or members["etc/conf"].islnk()
    assert members["etc/soft"].linkname == "conf" and members["etc/conf"].mode & 0o4000
    dest = tmp_path / "applied"
    dest.mkdir()
    with open(tmp_path / "t.tar", "rb") as f:
        res = apply_layer(f, str(dest), ApplyOptions(whiteout_format="overlay"))
    assert res.diff_id == diff_id
    assert (dest / "etc" / "conf").read_text() == "x=1\n"
    assert os.stat(dest / "etc" / "conf").st_ino == os.stat(dest / "etc" / "hard").st_ino
    assert stat.S_ISCHR(os.lstat(dest / "etc" / "gone").st_mode)
    assert os.getxattr(dest / "opaque", "user.overlay.opaque") == b"y"


def test_full_tree_layer_exports_its_difference_to_the_parent(tmp_path):
    """vfs keeps each layer as a whole tree: its tar holds what changed, with whiteouts for what
    went, and applying parent tar + child tar (vfs style) gives the child's tree."""
    from storage.drivers.vfs import copy_tree

    parent = tmp_path / "parent"
    (parent / "etc").mkdir(parents=True)
    (parent / "etc" / "same").write_text("same")
    (parent / "etc" / "edit").write_text("old")
    (parent / "etc" / "gone").write_text("bye")
    (parent / "dir-gone" / "sub").mkdir(parents=True)
    (parent / "becomes-dir").write_text("file")
    os.symlink("same", parent / "etc" / "link")
    child = tmp_path / "child"
    copy_tree(str(parent), str(child))
    (child / "etc" / "edit").write_text("new content")
    (child / "etc" / "gone").unlink()
    (child / "etc" / "added").write_text("+")
    os.chmod(child / "etc" / "same", 0o600)  # metadata only
    import shutil

    shutil.rmtree(child / "dir-gone")
    (child / "becomes-dir").unlink()
    (child / "becomes-dir").mkdir()
    (child / "becomes-dir" / "inside").write_text("i")
    (child / "etc" / "link").unlink()
    os.symlink("edit", child / "etc" / "link")

    export_to_file(str(child), str(tmp_path / "d.tar"), "none", str(parent))
    with tarfile.open(tmp_path / "d.tar") as tf:
        names = [m.name for m in tf.getmembers()]
    assert set(names) == {"etc/.wh.gone", "etc/added", "etc/edit", "etc/link", "etc/same", ".wh.dir-gone",
                          "becomes-dir", "becomes-dir/inside"}
    # applied (vfs whiteouts) over a copy of the parent, it makes the child's tree
    dest = tmp_path / "applied"
    copy_tree(str(parent), str(dest))
    with open(tmp_path / "d.tar", "rb") as f:
        apply_layer(f, str(dest), ApplyOptions(whiteout_format="vfs"))
    # A directory that is not in the difference but whose entries changed (the root, etc) has a
    # new mtime in each tree, from when each was changed: not carried by a layer, made the same.
    for tree in (child, dest):
        for d in (tree, tree / "etc"):
            os.utime(d, ns=(1_700_000_000 * 10**9,) * 2)
    full = export_to_file(str(child), str(tmp_path / "full.tar"), "none")
    again = export_to_file(str(dest), str(tmp_path / "again.tar"), "none")
    assert again[0] == full[0]
