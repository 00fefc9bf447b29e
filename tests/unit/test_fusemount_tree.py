"""The merged view a mount serves: layers stacked as overlayfs stacks them (whiteouts, opaque
directories, hard links), the index built once, and a container's writable layer looked up
live above it. No FUSE here: the view's answers are what the file system returns."""

import os
import stat

import pytest

from storage.fusemount.fs import MountFS
from storage.fusemount.tree import MergedTree
from storage.fusemount.upper import UpperView


def write(path, text="x", mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def char_whiteout(path):
    """An overlay whiteout (char 0/0); skips the test where this user cannot make one."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    except PermissionError:
        pytest.skip("cannot make a 0/0 character device here (not root, no user namespace)")


def mark_opaque(path):
    try:
        os.setxattr(path, "user.overlay.opaque", b"y")
    except OSError as exc:
        pytest.skip(f"user xattrs unsupported here: {exc}")


@pytest.fixture
def layers(tmp_path):
    """Three layers: a base, one that deletes and replaces, one on top of that."""
    l0, l1, l2 = (str(tmp_path / n) for n in ("l0", "l1", "l2"))
    write(f"{l0}/etc/passwd", "root:x:0:0\n")
    write(f"{l0}/etc/gone", "deleted above\n")
    write(f"{l0}/etc/kept", "kept\n")
    write(f"{l0}/opaque/old1", "hidden by an opaque dir\n")
    write(f"{l0}/opaque/old2")
    write(f"{l0}/marker/old", "hidden by .wh..wh..opq\n")
    write(f"{l0}/tree/a/b/c", "under a deleted directory\n")
    write(f"{l0}/shadowed", "a file a directory replaces\n")
    os.symlink("passwd", f"{l0}/etc/link")
    write(f"{l1}/etc/.wh.gone", "")
    write(f"{l1}/etc/passwd", "root:x:0:0\nbob:x:1000:1000\n", mode=0o600)
    os.makedirs(f"{l1}/opaque")
    mark_opaque(f"{l1}/opaque")
    write(f"{l1}/opaque/new", "only this\n")
    write(f"{l1}/marker/.wh..wh..opq", "")
    write(f"{l1}/marker/fresh", "fresh\n")
    write(f"{l1}/.wh.tree", "")
    os.makedirs(f"{l1}/shadowed")
    write(f"{l1}/shadowed/inside")
    write(f"{l2}/etc/.wh.kept", "")
    write(f"{l2}/etc/kept", "made again in the same layer\n")
    write(f"{l1}/hard/one", "linked\n")
    os.link(f"{l1}/hard/one", f"{l1}/hard/two")
    os.link(f"{l1}/hard/one", f"{l1}/hard/three")
    write(f"{l2}/hard/.wh.three", "")   # one name of three goes in the layer above
    return [l0, l1, l2]


def names(tree, path):
    return sorted(tree.listdir(tree.get(path)))


def test_upper_layers_replace_and_whiteouts_hide(layers):
    tree = MergedTree(layers)
    assert names(tree, "/etc") == ["kept", "link", "passwd"]
    assert tree.get("/etc/gone") is None
    passwd = tree.get("/etc/passwd")
    assert passwd.host == f"{layers[1]}/etc/passwd"
    assert stat.S_IMODE(passwd.st.st_mode) == 0o600
    assert tree.get("/etc/kept").host == f"{layers[2]}/etc/kept"   # a whiteout, then the name made again
    assert stat.S_ISLNK(tree.get("/etc/link").st.st_mode)
    assert tree.get("/tree") is None and tree.get("/tree/a/b/c") is None


def test_opaque_directories_hide_everything_below(layers):
    tree = MergedTree(layers)
    assert names(tree, "/opaque") == ["new"]          # by xattr
    assert names(tree, "/marker") == ["fresh"]        # by .wh..wh..opq, never shown itself
    assert tree.get("/opaque/old1") is None and tree.get("/marker/.wh..wh..opq") is None


def test_a_directory_over_a_file_replaces_it(layers):
    tree = MergedTree(layers)
    assert tree.get("/shadowed").is_dir and names(tree, "/shadowed") == ["inside"]


def test_link_counts_are_those_of_the_merged_view(layers):
    tree = MergedTree(layers)
    assert names(tree, "/hard") == ["one", "two"]
    one, two = tree.get("/hard/one"), tree.get("/hard/two")
    assert one.st.st_nlink == 3   # on disk
    assert (one.st.st_ino, one.nlink) == (two.st.st_ino, 2)
    assert tree.get("/etc/passwd").nlink == 1
    root = tree.get("/")
    subdirs = sum(1 for kind, _ in tree.listdir(root).values() if kind == stat.S_IFDIR)
    assert root.nlink == 2 + subdirs


def test_char_device_whiteouts(tmp_path):
    l0, l1 = str(tmp_path / "l0"), str(tmp_path / "l1")
    write(f"{l0}/a/file")
    write(f"{l0}/a/dir/inner")
    char_whiteout(f"{l1}/a/file")
    char_whiteout(f"{l1}/a/dir")
    tree = MergedTree([l0, l1])
    assert names(tree, "/a") == []
    assert tree.get("/a/dir/inner") is None


def test_a_deep_layer_does_not_exhaust_the_stack(tmp_path):
    deep = str(tmp_path / "l0")
    path = deep
    os.mkdir(path)
    for _ in range(1100):   # deeper than Python's recursion limit
        path += "/d"
        os.mkdir(path)
    write(path + "/leaf", "bottom\n")
    try:
        tree = MergedTree([deep])
        assert tree.get("/d" * 1100 + "/leaf") is not None
    finally:
        # shutil.rmtree (pytest's clean-up) recurses as deep as the tree: undo it here
        os.remove(path + "/leaf")
        while path != deep:
            os.rmdir(path)
            path = os.path.dirname(path)


def read(view, path):
    fd = view.open(view.lookup(path))
    try:
        return os.read(fd, 1 << 16).decode()
    finally:
        os.close(fd)


def test_the_writable_layer_is_looked_up_live(layers, tmp_path):
    upper = str(tmp_path / "upper")
    os.makedirs(upper)
    view = UpperView(MergedTree(layers), upper)
    assert view.lookup("/etc/passwd").host == f"{layers[1]}/etc/passwd"   # the image's, indexed
    write(f"{upper}/etc/passwd", "changed\n")
    write(f"{upper}/etc/.wh.kept", "")
    write(f"{upper}/new/file", "new\n")
    assert read(view, "/etc/passwd") == "changed\n"
    assert view.lookup("/etc/kept") is None
    assert sorted(view.listdir(view.lookup("/etc"))) == ["link", "passwd"]
    assert read(view, "/new/file") == "new\n"
    assert "new" in view.listdir(view.lookup("/"))
    assert view.readlink(view.lookup("/etc/link")) == "passwd"
    os.symlink("../etc/passwd", f"{upper}/new/link")
    assert view.readlink(view.lookup("/new/link")) == "../etc/passwd"
    # an opaque directory of the writable layer hides the image's below it
    os.makedirs(f"{upper}/opaque")
    mark_opaque(f"{upper}/opaque")
    write(f"{upper}/opaque/mine")
    assert sorted(view.listdir(view.lookup("/opaque"))) == ["mine"]
    assert view.lookup("/opaque/new") is None
    assert "user.overlay.opaque" in view.listxattr(view.lookup("/opaque"))
    # a file of the writable layer where the image has a directory
    write(f"{upper}/hard", "a file now\n")
    assert not view.lookup("/hard").is_dir and view.lookup("/hard/one") is None


def test_the_writable_layer_never_leads_out_of_itself(layers, tmp_path):
    """The container turns a directory into a symlink to the host's files between a lookup
    and the read that follows it: the read fails rather than reaching the host."""
    upper, outside = str(tmp_path / "upper"), str(tmp_path / "outside")
    write(f"{upper}/d/f", "in the layer\n")
    write(f"{outside}/f", "a host file\n")
    view = UpperView(MergedTree(layers), upper)
    entry, directory = view.lookup("/d/f"), view.lookup("/d")
    assert read(view, "/d/f") == "in the layer\n" and "f" in view.listdir(directory)
    os.remove(f"{upper}/d/f")
    os.rmdir(f"{upper}/d")
    os.symlink(outside, f"{upper}/d")
    with pytest.raises(OSError):
        view.open(entry)
    assert "f" not in view.listdir(directory)
    assert view.lookup("/d/f") is None           # a symlink is no directory to look into
    assert not view.lookup("/d").is_dir


def test_the_file_system_answers_from_the_view(layers, tmp_path):
    fs = MountFS(MergedTree(layers), live=False)
    attrs = fs.getattr("/etc/passwd")
    assert stat.S_IMODE(attrs["st_mode"]) == 0o600 and attrs["st_nlink"] == 1
    assert fs.readlink("/etc/link") == "passwd"
    listed = fs.readdir("/etc", 0)
    assert listed[:2] == [".", ".."] and sorted(e[0] for e in listed[2:]) == ["kept", "link", "passwd"]
    assert all(e[1]["st_ino"] for e in listed[2:])   # an inode of 0 would hide the entry
    plus = {name: (attrs, whole) for name, attrs, whole in fs.readdir_plus("/etc")}
    assert plus["passwd"] == (fs.getattr("/etc/passwd"), True) and not plus["."][1]
    fd = fs._fd("/etc/passwd", 0)
    assert os.pread(fd, 100, 0) == b"root:x:0:0\nbob:x:1000:1000\n"
    assert fs.read("/etc/passwd", 4, 5, 0) == b"x:0:"
    with pytest.raises(OSError) as err:
        fs.getattr("/etc/gone")
    assert err.value.errno == 2
    with pytest.raises(OSError):
        fs.open("/etc/passwd", os.O_RDONLY)   # an image's files are opened when read (ENOSYS)
    live = MountFS(UpperView(MergedTree(layers), str(tmp_path)), live=True)
    with pytest.raises(OSError) as err:
        live.open("/etc/passwd", os.O_WRONLY)
    assert err.value.errno == 30   # EROFS
    fh = live.open("/etc/passwd", os.O_RDONLY)
    assert live.read("/etc/passwd", 4, 0, fh) == b"root"
    live.release("/etc/passwd", fh)


def test_overlay_xattrs_are_not_shown(layers):
    fs = MountFS(MergedTree(layers), live=False)
    assert "user.overlay.opaque" not in fs.listxattr("/opaque")
    with pytest.raises(OSError):
        fs.getxattr("/opaque", "user.overlay.opaque")
