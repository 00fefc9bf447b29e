"""Tests for storage.archive.apply_layer: confinement, links, whiteouts, metadata."""

from __future__ import annotations

import errno
import os
import stat
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from layertar import (  # helper module beside this file
    IS_ROOT,
    UID,
    Layer,
    apply,
    can_mknod_whiteout,
    can_user_xattr,
    open_fds,
    skip_unless,
)

from storage.errors import LayerError, UnsafeEntryError


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(dest, outside): dest sits deep enough that "../.." would reach outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"host secret")
    dest = tmp_path / "a" / "b" / "root"
    dest.mkdir(parents=True)
    yield dest, outside
    # Whatever happened, outside must be exactly as it was.
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"host secret"


def in_dest(dest: Path, absolute: Path) -> Path:
    """Where an absolute host path lands when resolved inside dest."""
    return dest / str(absolute).lstrip("/")


# -- path confinement --------------------------------------------------------------


def test_dotdot_is_clamped_at_the_root(box: tuple[Path, Path]) -> None:
    dest, _ = box
    apply(dest, Layer().file("../../../../etc/podpy-x", b"1").file("a/../../b", b"2"))
    assert (dest / "etc" / "podpy-x").read_bytes() == b"1"
    assert (dest / "b").read_bytes() == b"2"
    assert not (dest.parent / "etc").exists()


def test_absolute_names_are_relative_to_dest(box: tuple[Path, Path]) -> None:
    dest, outside = box
    apply(dest, Layer().file(str(outside / "secret"), b"pwned").file("/etc/hostname", b"h"))
    assert in_dest(dest, outside / "secret").read_bytes() == b"pwned"
    assert (dest / "etc" / "hostname").read_bytes() == b"h"


def test_absolute_symlink_is_followed_inside_the_root(box: tuple[Path, Path]) -> None:
    dest, outside = box
    apply(dest, Layer().symlink("link", str(outside)).file("link/secret", b"pwned").file("link/new", b"n"))
    assert os.readlink(dest / "link") == str(outside)  # stored verbatim
    assert in_dest(dest, outside / "secret").read_bytes() == b"pwned"
    assert in_dest(dest, outside / "new").read_bytes() == b"n"


def test_symlink_to_etc_then_passwd_stays_in_dest(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    canary = f"podpy-canary-{uuid.uuid4().hex}"
    try:
        apply(dest, Layer().symlink("link", "/etc").file(f"link/{canary}", b"x").file("link/passwd", b"root::0:0::/:/bin/sh\n"))
        assert not os.path.lexists(f"/etc/{canary}")
    finally:
        if os.path.lexists(f"/etc/{canary}"):
            os.unlink(f"/etc/{canary}")
    assert (dest / "etc" / canary).read_bytes() == b"x"
    assert (dest / "etc" / "passwd").read_bytes() == b"root::0:0::/:/bin/sh\n"


def test_relative_symlink_climbing_out_is_clamped(box: tuple[Path, Path]) -> None:
    dest, _ = box
    layer = (
        Layer()
        .symlink("up", "../../..")
        .file("up/x", b"x")
        .dir("d")
        .symlink("d/up", "../../../../outside")
        .file("d/up/secret", b"pwned")
    )
    apply(dest, layer)
    assert (dest / "x").read_bytes() == b"x"
    assert (dest / "outside" / "secret").read_bytes() == b"pwned"


def test_directory_replaced_by_symlink_then_written_through(box: tuple[Path, Path]) -> None:
    dest, outside = box
    layer = (
        Layer()
        .dir("d")
        .file("d/f", b"f")
        .symlink("d", str(outside))
        .file("d/secret", b"pwned")
        .file("d/g", b"g")
    )
    apply(dest, layer)
    assert os.path.islink(dest / "d")
    assert in_dest(dest, outside / "secret").read_bytes() == b"pwned"
    assert in_dest(dest, outside / "g").read_bytes() == b"g"


def test_preexisting_symlink_in_lower_copy_is_resolved_in_root(box: tuple[Path, Path]) -> None:
    dest, outside = box
    os.symlink(str(outside), dest / "lowerlink")  # vfs: dest holds the parent's copy
    apply(dest, Layer().file("lowerlink/secret", b"pwned"))
    assert in_dest(dest, outside / "secret").read_bytes() == b"pwned"


def test_symlink_loop_is_unsafe(tmp_path: Path) -> None:
    with pytest.raises(UnsafeEntryError, match="symbolic links"):
        apply(tmp_path / "r", Layer().symlink("l1", "l2").symlink("l2", "/l1").file("l1/x", b""))


def test_final_symlink_is_replaced_not_followed(box: tuple[Path, Path]) -> None:
    dest, outside = box
    apply(dest, Layer().symlink("f", str(outside / "secret")).file("f", b"mine"))
    assert not os.path.islink(dest / "f")
    assert (dest / "f").read_bytes() == b"mine"


def test_non_directory_replaces_directory_tree_without_following(box: tuple[Path, Path]) -> None:
    dest, outside = box
    layer = Layer().dir("d").dir("d/sub").file("d/sub/x", b"x").symlink("d/out", str(outside)).file("d", b"now a file")
    apply(dest, layer)
    assert (dest / "d").read_bytes() == b"now a file"


def test_directory_entry_over_directory_keeps_children(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    apply(dest, Layer().dir("d", mode=0o755).file("d/x", b"x").dir("d", mode=0o700, mtime=1_000_000_000))
    assert (dest / "d" / "x").read_bytes() == b"x"
    st = os.stat(dest / "d")
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_mtime == 1_000_000_000


def test_intermediate_non_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="not a directory"):
        apply(tmp_path / "r", Layer().file("f", b"").file("f/x", b""))


def test_missing_parents_are_created_0755(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    os.chmod(tmp_path, 0o755)
    old = os.umask(0o077)
    try:
        apply(dest, Layer().file("a/b/c", b"c"))
    finally:
        os.umask(old)
    for d in (dest / "a", dest / "a" / "b"):
        st = os.stat(d)
        assert stat.S_IMODE(st.st_mode) == 0o755
        assert (st.st_uid, st.st_gid) == (os.stat(dest).st_uid, os.stat(dest).st_gid)


# -- hardlinks -----------------------------------------------------------------------


def test_hardlink_to_absolute_path_missing_in_layer_is_unsafe(box: tuple[Path, Path]) -> None:
    dest, outside = box
    with pytest.raises(UnsafeEntryError, match="does not exist"):
        apply(dest, Layer().hardlink("h", str(outside / "secret")))
    with pytest.raises(UnsafeEntryError, match="does not exist"):
        apply(dest, Layer().hardlink("h2", "/etc/passwd"))


def test_hardlink_to_absolute_path_present_in_layer_links_in_root(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    apply(dest, Layer().file("etc/passwd", b"layer").hardlink("h", "/etc/passwd"))
    assert os.stat(dest / "h").st_ino == os.stat(dest / "etc" / "passwd").st_ino
    assert os.stat("/etc/passwd").st_ino != os.stat(dest / "h").st_ino


def test_hardlink_with_dotdot_is_clamped(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    apply(dest, Layer().file("x", b"x").hardlink("d/h", "../../x"))
    assert os.stat(dest / "d" / "h").st_ino == os.stat(dest / "x").st_ino
    with pytest.raises(UnsafeEntryError):
        apply(tmp_path / "r2", Layer().hardlink("h", "../x"))


def test_hardlink_through_symlink_to_outside_is_unsafe(box: tuple[Path, Path]) -> None:
    dest, outside = box
    with pytest.raises(UnsafeEntryError, match="does not exist"):
        apply(dest, Layer().symlink("s", str(outside)).hardlink("h", "s/secret"))
    assert not os.path.lexists(dest / "h")


def test_hardlink_to_symlink_links_the_symlink_itself(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    apply(dest, Layer().symlink("s", "/etc/passwd").hardlink("h", "s"))
    assert os.path.islink(dest / "h")
    assert os.readlink(dest / "h") == "/etc/passwd"
    assert os.lstat(dest / "h").st_ino == os.lstat(dest / "s").st_ino


def test_hardlink_to_directory_is_unsafe(tmp_path: Path) -> None:
    with pytest.raises(UnsafeEntryError, match="directory"):
        apply(tmp_path / "r", Layer().dir("d").hardlink("h", "d"))


def test_hardlink_replaces_existing_entry_and_to_itself_is_harmless(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    apply(dest, Layer().file("x", b"x").file("h", b"old").hardlink("h", "x").hardlink("x", "x"))
    assert (dest / "h").read_bytes() == b"x"
    assert os.stat(dest / "x").st_nlink == 2


# -- whiteouts -----------------------------------------------------------------------


def _lower(dest: Path) -> None:
    """A parent layer's copy, as the vfs driver prepares it."""
    (dest / "dir" / "sub").mkdir(parents=True)
    (dest / "a").write_bytes(b"a")
    (dest / "dir" / "b").write_bytes(b"b")
    (dest / "dir" / "c").write_bytes(b"c")
    (dest / "dir" / "sub" / "old").write_bytes(b"old")
    (dest / "gone").mkdir()
    (dest / "gone" / "deep").write_bytes(b"")


def test_vfs_whiteouts_delete_lower_paths(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    dest.mkdir()
    _lower(dest)
    apply(dest, Layer().file(".wh.a").file("dir/.wh.b").file(".wh.gone").file("nope/.wh.x").file("dir/.wh..wh.plnk"))
    assert not (dest / "a").exists()
    assert not (dest / "dir" / "b").exists()
    assert not (dest / "gone").exists()
    assert (dest / "dir" / "c").read_bytes() == b"c"
    assert not (dest / "nope").exists()
    assert not (dest / "dir" / ".wh..wh.plnk").exists()
    assert not (dest / ".wh.a").exists()


def test_vfs_whiteout_through_symlink_stays_in_root(box: tuple[Path, Path]) -> None:
    dest, outside = box
    os.symlink(str(outside), dest / "link")
    in_dest(dest, outside).mkdir(parents=True)
    in_dest(dest, outside / "secret").write_bytes(b"")
    apply(dest, Layer().file("link/.wh.secret"))
    assert not in_dest(dest, outside / "secret").exists()


def test_vfs_opaque_keeps_only_this_layers_entries(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    dest.mkdir()
    _lower(dest)
    layer = (
        Layer()
        .file("dir/before", b"1")
        .dir("dir/sub")  # an existing lower directory, rewritten by this layer
        .file("dir/.wh..wh..opq")
        .file("dir/after", b"2")
        .file("other", b"3")
    )
    apply(dest, layer)
    assert sorted(os.listdir(dest / "dir")) == ["after", "before", "sub"]
    assert os.listdir(dest / "dir" / "sub") == []  # lower children hidden too
    assert (dest / "a").exists() and (dest / "other").exists()


def test_vfs_opaque_marker_first_then_entries(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    dest.mkdir()
    _lower(dest)
    apply(dest, Layer().file("dir/.wh..wh..opq").file("dir/sub/new", b"n"))
    assert sorted(os.listdir(dest / "dir")) == ["sub"]
    assert os.listdir(dest / "dir" / "sub") == ["new"]


def test_overlay_whiteout_becomes_char_device(tmp_path: Path) -> None:
    skip_unless(can_mknod_whiteout(tmp_path))
    dest = tmp_path / "r"
    apply(dest, Layer().file("x", b"x").file(".wh.x").file("d/.wh.y").file("d/.wh..wh.plnk"), "overlay")
    for path in (dest / "x", dest / "d" / "y"):
        st = os.lstat(path)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.listdir(dest / "d") == ["y"]


def test_overlay_opaque_sets_xattr(tmp_path: Path) -> None:
    skip_unless(can_user_xattr(tmp_path))
    dest = tmp_path / "r"
    apply(dest, Layer().dir("d").file("d/.wh..wh..opq").file("e/.wh..wh..opq"), "overlay")
    assert os.getxattr(dest / "d", "user.overlay.opaque") == b"y"
    assert os.getxattr(dest / "e", "user.overlay.opaque") == b"y"
    assert os.listdir(dest / "d") == []


def test_overlay_opaque_with_trusted_xattr_as_root(tmp_path: Path) -> None:
    if not IS_ROOT:
        skip_unless("trusted.* xattrs need real root")
    dest = tmp_path / "r"
    apply(dest, Layer().file("d/.wh..wh..opq"), "overlay", opaque_xattr="trusted.overlay.opaque")
    assert os.getxattr(dest / "d", "trusted.overlay.opaque") == b"y"


@pytest.mark.parametrize("name", [".wh.", "d/.wh.", ".wh..", "d/.wh...", "d/.wh../"])
def test_whiteout_without_target_is_unsafe(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeEntryError):
        apply(tmp_path / "r", Layer().file(name))


def test_forged_whiteout_devices_are_skipped(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    layer = Layer().node("fake", tarfile.CHRTYPE, 0, 0).node("null", tarfile.CHRTYPE, 1, 3).node("sda", tarfile.BLKTYPE, 8, 0)
    apply(dest, layer, "overlay")
    assert os.listdir(dest) == []
    # 0/0 is never created, even when devices are (mknod itself would work:
    # unprivileged whiteout creation is allowed since Linux 5.8).
    apply(dest, Layer().node("fake", tarfile.CHRTYPE, 0, 0), "overlay", create_devices=True)
    assert not os.path.lexists(dest / "fake")


def test_devices_created_when_allowed(tmp_path: Path) -> None:
    if not IS_ROOT:
        skip_unless("creating device nodes needs real root")
    dest = tmp_path / "r"
    apply(dest, Layer().node("null", tarfile.CHRTYPE, 1, 3, mode=0o666).node("sda", tarfile.BLKTYPE, 8, 0), create_devices=True)
    st = os.lstat(dest / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and stat.S_IMODE(st.st_mode) == 0o666
    assert stat.S_ISBLK(os.lstat(dest / "sda").st_mode)


# -- metadata ------------------------------------------------------------------------


def test_modes_and_times(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    layer = (
        Layer()
        .dir("./", mode=0o711, mtime=1_111_111_111)
        .dir("ro", mode=0o555, mtime=1_222_222_222)
        .file("ro/f", b"data", mode=0o640, mtime=1_333_333_333)
        .dir("ro/sub", mode=0o700, mtime=1_444_444_444)
        .file("ro/sub/g", b"", mode=0o755)
        .symlink("ro/l", "f", mtime=1_555_555_555)
        .node("ro/fifo", tarfile.FIFOTYPE, mode=0o620)
        .file("pax", b"", pax={"mtime": "1700000000.123456789", "atime": "1600000000.5"})
    )
    result = apply(dest, layer)
    assert result.size == 4
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o711
    assert os.stat(dest).st_mtime == 1_111_111_111
    ro = os.stat(dest / "ro")
    assert (stat.S_IMODE(ro.st_mode), ro.st_mtime) == (0o555, 1_222_222_222)
    f = os.stat(dest / "ro" / "f")
    assert (stat.S_IMODE(f.st_mode), f.st_mtime) == (0o640, 1_333_333_333)
    assert os.stat(dest / "ro" / "sub").st_mtime == 1_444_444_444
    assert os.lstat(dest / "ro" / "l").st_mtime == 1_555_555_555
    fifo = os.lstat(dest / "ro" / "fifo")
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o620
    p = os.stat(dest / "pax")
    assert p.st_mtime_ns == 1_700_000_000_123_456_789
    assert p.st_atime_ns == 1_600_000_000_500_000_000
    os.chmod(dest / "ro", 0o755)  # let pytest clean up as an unprivileged user


def test_root_entry_as_slash_sets_dest_metadata(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    apply(dest, Layer().dir("/", mode=0o750, mtime=1_000_000_001))
    st = os.stat(dest)
    assert (stat.S_IMODE(st.st_mode), st.st_mtime) == (0o750, 1_000_000_001)


def test_setuid_stripped_when_owner_not_applied(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    other = UID + 4242
    apply(dest, Layer().file("mine", mode=0o4755).file("theirs", mode=0o6755, uid=other), chown="none")
    assert stat.S_IMODE(os.stat(dest / "mine").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(dest / "theirs").st_mode) == 0o755
    assert os.stat(dest / "theirs").st_uid == UID


def test_ignore_errors_keeps_owner_and_strips_setuid(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    bad = 2**32 - 1  # (uid_t)-1 would mean "unchanged" to chown(2): must be refused
    apply(dest, Layer().file("f", mode=0o4755, uid=bad), chown="ignore_errors")
    st = os.stat(dest / "f")
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (UID, 0o755)


def test_full_chown_failure_names_entry_and_id(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r'"f": cannot change owner to 4294967295:.*insufficient UIDs or GIDs'):
        apply(tmp_path / "r", Layer().file("f", uid=2**32 - 1))


def test_full_chown_applies_ids_and_keeps_setuid(tmp_path: Path) -> None:
    if not IS_ROOT:
        skip_unless("chown to arbitrary ids needs root (or a user namespace)")
    dest = tmp_path / "r"
    apply(dest, Layer().file("f", mode=0o4755, uid=1234, gid=5678).dir("d", uid=4321).symlink("l", "f"))
    st = os.stat(dest / "f")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o4755)
    assert os.stat(dest / "d").st_uid == 4321


def test_xattrs_filtered(tmp_path: Path) -> None:
    skip_unless(can_user_xattr(tmp_path))
    dest = tmp_path / "r"
    pax = {
        "SCHILY.xattr.user.ok": "yes",
        "SCHILY.xattr.user.overlay.opaque": "y",
        "SCHILY.xattr.user.overlay.whiteout": "y",
        "SCHILY.xattr.user.fuseoverlayfs.x": "y",
        "SCHILY.xattr.trusted.overlay.opaque": "y",
        "SCHILY.xattr.security.selinux": "system_u:object_r:etc_t:s0",
        "LIBARCHIVE.xattr.user.b64": "aGk",
    }
    apply(dest, Layer().file("f", pax=pax).dir("d", pax=pax))
    for path in (dest / "f", dest / "d"):
        names = set(os.listxattr(path))
        assert "user.ok" in names and os.getxattr(path, "user.ok") == b"yes"
        assert os.getxattr(path, "user.b64") == b"hi"
        assert not names & {"user.overlay.opaque", "user.overlay.whiteout", "user.fuseoverlayfs.x"}
        if IS_ROOT:
            with pytest.raises(OSError) as info:
                os.getxattr(path, "trusted.overlay.opaque")
            assert info.value.errno == errno.ENODATA


# -- malformed entries ---------------------------------------------------------------


def test_nul_in_name_is_unsafe(tmp_path: Path) -> None:
    with pytest.raises(UnsafeEntryError, match="NUL"):
        apply(tmp_path / "r", Layer().file("x", pax={"path": "a\x00b"}))


def test_long_component_is_unsafe(tmp_path: Path) -> None:
    with pytest.raises(UnsafeEntryError, match="255"):
        apply(tmp_path / "r", Layer().file("d/" + "x" * 256))


def test_long_path_is_unsafe(tmp_path: Path) -> None:
    with pytest.raises(UnsafeEntryError, match="4096"):
        apply(tmp_path / "r", Layer().file("/".join(["y" * 200] * 21)))


@pytest.mark.parametrize("name", [".", "..", "/", "a/.."])
def test_file_naming_the_root_is_unsafe(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeEntryError, match="root"):
        apply(tmp_path / "r", Layer().file(name))


def test_empty_symlink_target_is_unsafe(tmp_path: Path) -> None:
    with pytest.raises(UnsafeEntryError, match="empty"):
        apply(tmp_path / "r", Layer().symlink("l", ""))


def test_error_message_escapes_control_characters(tmp_path: Path) -> None:
    with pytest.raises(UnsafeEntryError) as info:
        apply(tmp_path / "r", Layer().file("evil\n\x1b[2J" + "z" * 300))
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)


def test_no_fds_leak_on_success_or_error(box: tuple[Path, Path]) -> None:
    dest, outside = box
    before = open_fds()
    apply(dest, Layer().symlink("s", str(outside)).file("s/a/b/c", b"x").dir("d").file("d/.wh..wh..opq"))
    assert open_fds() == before
    with pytest.raises(UnsafeEntryError):
        apply(dest, Layer().file("d/e/f", b"").hardlink("h", "s/missing"))
    assert open_fds() == before
    with pytest.raises(LayerError):
        apply(dest, Layer().file("f", b"12345678").bytes()[:1100])
    assert open_fds() == before


def _old_gnu_sparse(real_size: int) -> bytes:
    """An old GNU sparse entry ('S') claiming real_size bytes: one data byte at the end, the
    rest a hole (as GNU tar writes it)."""
    info = tarfile.TarInfo("sparse")
    info.type, info.size, info.mtime = tarfile.GNUTYPE_SPARSE, 1, 1
    buf = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    buf[386:410] = tarfile.itn(real_size - 1, 12, tarfile.GNU_FORMAT) + tarfile.itn(1, 12, tarfile.GNU_FORMAT)
    buf[483:495] = tarfile.itn(real_size, 12, tarfile.GNU_FORMAT)
    buf[148:156] = b" " * 8
    buf[148:156] = ("%06o" % sum(buf[:512])).encode() + b"\0 "
    return bytes(buf[:512]) + b"Z" + b"\0" * 511 + b"\0" * 1024


def test_old_gnu_sparse_entries_are_refused_at_once(tmp_path: Path) -> None:
    """As podman 4.3.1 ("unhandled tar header type 83"); read as tarfile reads it, a header
    claiming 256 GiB of holes would keep the apply busy for minutes."""
    import time

    start = time.monotonic()
    with pytest.raises(UnsafeEntryError, match='layer entry "sparse": unhandled tar header type 83'):
        apply(tmp_path / "root", _old_gnu_sparse(256 << 30))
    assert time.monotonic() - start < 5
    assert not (tmp_path / "root" / "sparse").exists()


def test_pax_sparse_files_are_written_by_their_map(tmp_path: Path) -> None:
    """A pax sparse file (GNU.sparse 0.1) claiming 256 GiB: its data lands at the map's offsets,
    the rest is a hole, at once and without the space."""
    import io
    import time

    real = 256 << 30
    info = tarfile.TarInfo("big")
    info.size = 6   # the data the tar holds: "abc" at 1 MB, "yz\n"... at the end
    info.pax_headers = {"GNU.sparse.size": str(real), "GNU.sparse.numblocks": "2",
                        "GNU.sparse.map": f"{1 << 20},3,{real - 3},3"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b"abcxyz"))
        tar.addfile(tarfile.TarInfo("after"), io.BytesIO(b""))
    from storage.archive import ApplyOptions, apply_layer

    (tmp_path / "root").mkdir()
    start = time.monotonic()
    result = apply_layer(io.BytesIO(buf.getvalue()), str(tmp_path / "root"), ApplyOptions(whiteout_format="vfs"),
                         str(tmp_path / "split"))   # with the tar-split recorder reading along
    assert time.monotonic() - start < 5
    big = tmp_path / "root" / "big"
    st = big.stat()
    assert st.st_size == real and st.st_blocks * 512 < (1 << 24) and result.size == 6
    import hashlib

    assert result.diff_id == "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()   # every byte read
    with open(big, "rb") as f:
        f.seek(1 << 20)
        assert f.read(3) == b"abc"
        f.seek(real - 3)
        assert f.read() == b"xyz"
        f.seek(5)
        assert f.read(4) == b"\0" * 4
    assert (tmp_path / "root" / "after").exists()
