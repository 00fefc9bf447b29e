"""build --all-platforms and foreign platforms: the list platforms' names, the base images a
Containerfile's stages read, and which binfmt_misc handlers let this host run a RUN step."""

from __future__ import annotations

import pytest

from podpy.engine.imagestore import host_arch
from podpy.engine.listplatforms import normalize
from podpy.errors import InvalidArgument
from podpy.imagebuild import binfmt as runs
from podpy.imagebuild import platforms

# what Debian's qemu-user-static registers for aarch64 (its magic and mask, in binfmt_misc's words)
AARCH64 = ("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\noffset 0\n"
           "magic 7f454c460201010000000000000000000200b700\n"
           "mask ffffffffffffff00fffffffffffffffffeffffff\n")


def test_normalize_names_platforms_as_containerd_does():
    assert normalize({"os": "linux", "architecture": "amd64"}) == "linux/amd64"
    assert normalize({"os": "linux", "architecture": "arm64", "variant": "v8"}) == "linux/arm64"
    assert normalize({"os": "linux", "architecture": "aarch64"}) == "linux/arm64"
    assert normalize({"os": "linux", "architecture": "arm"}) == "linux/arm/v7"
    assert normalize({"os": "linux", "architecture": "arm", "variant": "v6"}) == "linux/arm/v6"
    assert normalize({"os": "unknown", "architecture": "unknown"}) is None    # buildkit's attestations
    assert normalize({}) is None


@pytest.fixture
def binfmt(tmp_path, monkeypatch):
    d = tmp_path / "binfmt_misc"
    d.mkdir()
    (d / "register").write_text("")
    (d / "status").write_text("enabled\n")
    monkeypatch.setattr(runs, "BINFMT", str(d))
    return d


@pytest.mark.skipif(host_arch() != "amd64", reason="the cases are an amd64 host's")
def test_what_an_amd64_host_lacks_for_each_platform(binfmt):
    assert runs.missing_for("linux", "amd64") is None
    assert runs.missing_for("linux", "386") is None      # the kernel's 32-bit compat
    assert "no binfmt_misc handler for arm64 binaries" in runs.missing_for("linux", "arm64")
    (binfmt / "qemu-aarch64").write_text(AARCH64.format(flags="P"))
    assert "registered without the F flag" in runs.missing_for("linux", "arm64")
    (binfmt / "qemu-aarch64").write_text(AARCH64.format(flags="POCF"))
    assert runs.missing_for("linux", "arm64") is None
    assert "no binfmt_misc handler for s390x" in runs.missing_for("linux", "s390x")
    (binfmt / "qemu-aarch64").write_text(AARCH64.format(flags="F").replace("enabled", "disabled"))
    assert runs.missing_for("linux", "arm64") is not None
    assert "linux binaries only" in runs.missing_for("windows", "amd64")


@pytest.mark.skipif(host_arch() != "amd64", reason="the cases are an amd64 host's")
def test_check_runnable_names_the_platform_and_what_is_missing(binfmt):
    runs.check_runnable({"os": "linux", "architecture": "amd64"})
    with pytest.raises(InvalidArgument) as info:
        runs.check_runnable({"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert str(info.value) == ("the platform linux/arm64/v8 cannot run on this linux/amd64 host (exec format "
                               "error): no binfmt_misc handler for arm64 binaries is registered (e.g. install "
                               "qemu-user-static)")


def test_base_images_skip_scratch_and_stages_and_expand_args(tmp_path, rt):
    from podpy.imagebuild.options import BuildOptions

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(
        "ARG BASE=reg.example/base:1\nFROM $BASE AS one\nFROM scratch\nCOPY --from=one / /\n"
        "FROM one\nFROM reg.example/other\nFROM replaced\n")
    o = BuildOptions(context=str(ctx), build_args=["BASE=reg.example/base:2"],
                     build_contexts=["replaced=docker-image://reg.example/third:3"])
    assert platforms.base_images(rt, o, lambda _line: None) == [
        "reg.example/base:2", "reg.example/other", "reg.example/third:3"]
    o = BuildOptions(context=str(ctx), from_="reg.example/first")
    assert platforms.base_images(rt, o, lambda _line: None)[0] == "reg.example/first"


def test_all_platforms_refuses_stdin_which_each_platform_would_read_again(rt):
    from podpy.imagebuild.options import BuildOptions

    for o in (BuildOptions(context="-"), BuildOptions(context=".", files=["-"])):
        with pytest.raises(InvalidArgument, match="--all-platforms with the Containerfile or the context on stdin"):
            platforms.all_platforms(rt, o, lambda _line: None)
