"""COPY's destination rules and confinement, on a plain directory standing for the container's
root (the build runs the same code in the user namespace); and the clean-up of mount points."""

import os

import pytest

from podpy.imagebuild.context import Context
from podpy.imagebuild.copy import CopyJob, copy_into, is_archive
from podpy.imagebuild.ignore import Matcher
from podpy.imagebuild.working import _drop_created
from podpy.errors import InvalidArgument

ROOT = os.geteuid() == 0


@pytest.fixture
def dirs(tmp_path):
    ctx, root = tmp_path / "ctx", tmp_path / "root"
    (ctx / "dir" / "sub").mkdir(parents=True)
    (ctx / "dir" / "a").write_text("a")
    (ctx / "dir" / "sub" / "b").write_text("b")
    (ctx / "dir" / "skip.log").write_text("s")
    (ctx / "f").write_text("f")
    (root / "usr" / "lib").mkdir(parents=True)
    os.symlink("usr/lib", root / "lib")
    os.symlink("/etc", root / "escape")
    return ctx, root


def run(ctx, root, src, dest, **kw):
    c = Context(str(ctx), Matcher(["**/*.log"]))
    tops = [t for s in src for t in c.sources(s, "COPY")]
    job = CopyJob("COPY", tops, os.path.normpath(dest) if dest != "/" else "/",
                  dest.endswith("/"), matcher=c.matcher, **kw)
    copy_into(str(root), job)


def test_file_to_a_path_and_into_a_directory(dirs):
    ctx, root = dirs
    run(ctx, root, ["f"], "/new/name")
    assert (root / "new" / "name").read_text() == "f"
    run(ctx, root, ["f"], "/usr/")
    assert (root / "usr" / "f").read_text() == "f"
    run(ctx, root, ["f"], "/usr")          # an existing directory: into it
    assert (root / "usr" / "f").is_file()


def test_directory_contents_and_ignore_patterns(dirs):
    ctx, root = dirs
    run(ctx, root, ["dir"], "/copied")
    assert sorted(os.listdir(root / "copied")) == ["a", "sub"]
    assert (root / "copied" / "sub" / "b").read_text() == "b"


def test_symlinks_in_the_destination_stay_inside_the_root(dirs):
    ctx, root = dirs
    run(ctx, root, ["f"], "/lib/")               # /lib -> usr/lib: followed
    assert (root / "usr" / "lib" / "f").is_file() and (root / "lib").is_symlink()
    run(ctx, root, ["f"], "/escape/")            # /escape -> /etc: the root's etc, not the host's
    assert (root / "etc" / "f").is_file()


def test_several_sources_need_a_directory(dirs):
    ctx, root = dirs
    with pytest.raises(InvalidArgument, match="must be a directory and end with a /"):
        run(ctx, root, ["f", "dir"], "/x")


def test_a_file_does_not_replace_a_directory_with_content(dirs):
    ctx, root = dirs
    (ctx / "clash").mkdir()
    (ctx / "clash" / "full").write_text("a file")
    (root / "full").mkdir()
    (root / "full" / "x").write_text("x")
    with pytest.raises(InvalidArgument, match="cannot replace the directory full with a file"):
        run(ctx, root, ["clash"], "/")


def test_chown_and_chmod(dirs):
    ctx, root = dirs
    run(ctx, root, ["dir"], "/o", uid=7, gid=8, chmod=0o600)
    st = os.stat(root / "o" / "a")
    assert oct(st.st_mode & 0o777) == oct(0o600)
    if ROOT:
        assert (st.st_uid, st.st_gid) == (7, 8)


def test_hard_links_within_a_directory_source_stay_links(dirs):
    ctx, root = dirs
    os.link(ctx / "dir" / "a", ctx / "dir" / "sub" / "a2")
    os.link(ctx / "dir" / "a", ctx / "dir" / "a3")
    run(ctx, root, ["dir"], "/h")
    first = os.stat(root / "h" / "a")
    assert first.st_nlink == 3
    for other in ("sub/a2", "a3"):
        assert os.stat(root / "h" / other).st_ino == first.st_ino
    run(ctx, root, ["dir/a", "dir/a3"], "/two/")    # separate sources: separate files
    assert os.stat(root / "two" / "a").st_nlink == 1


def test_hard_links_change_the_digest(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).write_text("same")
    c = Context(str(tmp_path), Matcher([]))
    before = c.digest(c.sources(".", "COPY"))
    os.unlink(tmp_path / "b")
    os.link(tmp_path / "a", tmp_path / "b")
    assert c.digest(c.sources(".", "COPY")) != before


def test_is_archive(tmp_path):
    import tarfile

    plain = tmp_path / "x.txt"
    plain.write_text("not a tar")
    arch = tmp_path / "a.tar"
    with tarfile.open(arch, "w") as tf:
        tf.add(plain, "x.txt")
    gz = tmp_path / "a.tgz"
    with tarfile.open(gz, "w:gz") as tf:
        tf.add(plain, "x.txt")
    assert is_archive(str(arch)) and is_archive(str(gz)) and not is_archive(str(plain))


def test_mount_points_the_runtime_made_are_dropped(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (upper / "etc").mkdir(parents=True)
    os.chmod(upper / "etc", os.stat(lower / "etc").st_mode & 0o7777)
    (upper / "etc" / "hostname").write_text("")
    (upper / "proc").mkdir()
    (upper / "run" / "secrets").mkdir(parents=True)
    (upper / "run" / "secrets" / "tok").write_text("")
    (upper / "kept").mkdir()
    (upper / "kept" / "file").write_text("written by the step")
    _drop_created(str(upper), ["etc/hostname", "proc", "run/secrets/tok", "run/secrets", "run"], [str(lower)])
    assert sorted(os.listdir(upper)) == ["kept"]
