"""save and load: docker-archive and oci-archive, round trips, pipes, and archives skopeo reads and writes."""

import json
import shutil
import subprocess

import pytest

from registry import oci_layout


@pytest.fixture
def source(new_podpy, image_tar):
    """A store holding busybox (localhost/busybox:latest)."""
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    return p


def _ok(p, name):
    return p("run", "--rm", "--network", "none", name, "echo", "ok").stdout


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_save_to_file_and_load_into_fresh_store(source, new_podpy, tmp_path, fmt):
    out = tmp_path / "busybox.tar"
    source("save", "--format", fmt, "-o", out, "busybox")
    assert out.is_file() and not list(tmp_path.glob("busybox.tar.tmp-*"))
    q = new_podpy()
    res = q("load", "-i", out)
    assert res.stdout == "Loaded image: localhost/busybox:latest\n"
    image_id = q("images", "-q", "--no-trunc").stdout.strip()
    assert len(image_id) == 71 and image_id.startswith("sha256:")
    assert _ok(q, "busybox") == "ok\n"
    # Loading again reuses every layer.
    again = q("load", "-i", out)
    assert "skipped: already exists" in again.stderr
    assert q("images", "-q", "--no-trunc").stdout.strip() == image_id


def test_save_to_stdout_and_load_from_stdin(source, new_podpy):
    q = new_podpy()
    saver = subprocess.Popen(source.command("save", "busybox"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=source.environ())
    loader = subprocess.run(q.command("load", "-q"), stdin=saver.stdout, capture_output=True, text=True,
                            env=q.environ(), timeout=300)
    saver.stdout.close()
    with saver.stderr:
        errors = saver.stderr.read()
    assert saver.wait(timeout=60) == 0, errors
    assert loader.returncode == 0, loader.stderr
    assert loader.stdout == "Loaded image: localhost/busybox:latest\n"
    assert _ok(q, "busybox") == "ok\n"


def test_skopeo_reads_the_archives(source, tmp_path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (packaging/setup.sh test installs it)")
    for fmt in ("docker-archive", "oci-archive"):
        out = tmp_path / f"{fmt}.tar"
        source("save", "-q", "--format", fmt, "-o", out, "busybox")
        res = subprocess.run(["skopeo", "inspect", f"{fmt}:{out}"], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, f"skopeo inspect {fmt}: {res.stderr}"
        assert '"Layers"' in res.stdout


def test_load_what_skopeo_writes(new_podpy, image_tar, tmp_path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (packaging/setup.sh test installs it)")
    oci_layout(tmp_path / "layout", [image_tar.read_bytes()], ["sh"])
    archive = tmp_path / "fromskopeo.tar"
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{tmp_path / 'layout'}:latest",
                    f"docker-archive:{archive}:localhost/fromskopeo:latest"],
                   check=True, capture_output=True, timeout=120)
    p = new_podpy()
    assert p("load", "-i", archive).stdout == "Loaded image: localhost/fromskopeo:latest\n"
    assert _ok(p, "localhost/fromskopeo") == "ok\n"


def test_load_garbage_keeps_nothing(new_podpy, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar archive\n" * 100)
    p = new_podpy()
    res = p("load", "-i", junk, check=False)
    assert res.returncode == 125
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.stderr
    assert p("images", "-q").stdout == ""


def test_save_refuses_a_terminal_and_unknown_images(source, tmp_path):
    res = source("save", "-o", tmp_path / "x.tar", "nosuchimage", check=False)
    assert res.returncode == 125 and not (tmp_path / "x.tar").exists()


def test_several_images_in_one_archive_with_m(source, new_podpy, tmp_path):
    from registry import tar_of

    (tmp_path / "tiny.tar").write_bytes(tar_of({"hello": b"hi\n"}))
    source("import", tmp_path / "tiny.tar", "tiny", "--change", "CMD [\"/hello\"]")
    source("tag", "busybox", "other:1")
    out = tmp_path / "many.tar"
    source("save", "-q", "-m", "-o", out, "busybox", "tiny", "other:1")
    q = new_podpy()
    loaded = q("load", "-q", "-i", out).stdout.splitlines()
    assert sorted(loaded) == ["Loaded image: localhost/busybox:latest", "Loaded image: localhost/other:1",
                              "Loaded image: localhost/tiny:latest"]
    images = json.loads(q("images", "--format", "json").stdout)
    assert len(images) == 2  # busybox and other:1 are one image
    by_names = {tuple(sorted(i["Names"])): i for i in images}
    assert ("localhost/busybox:latest", "localhost/other:1") in by_names
    assert _ok(q, "other:1") == "ok\n"
    if shutil.which("skopeo") is not None:
        res = subprocess.run(["skopeo", "inspect", f"docker-archive:{out}:localhost/tiny:latest"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and '"Layers"' in res.stdout, res.stderr
