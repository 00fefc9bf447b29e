"""Reading archives and layouts (names, choices, checks) and save's and push's flag checks, without a store."""

import hashlib
import io
import json
import tarfile

import pytest

from podpy.engine import sources
from podpy.engine.archive_io import check_save
from podpy.engine.entities import SaveOptions
from podpy.engine.push import PushOptions, check
from podpy.errors import InvalidArgument

CONFIG = json.dumps({"rootfs": {"type": "layers", "diff_ids": []}}).encode()


def _tar(path, files):
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _docker_archive(path, entries):
    files = {"c.json": CONFIG, "manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": tags, "Layers": []} for tags in entries]).encode()}
    _tar(path, files)


def _oci_files(annotations):
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + _sha(CONFIG)}, "layers": []}).encode()
    descs = [{"digest": "sha256:" + _sha(manifest), "size": len(manifest), **({"annotations": a} if a else {})}
             for a in annotations]
    return {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps({"manifests": descs}).encode(),
            f"blobs/sha256/{_sha(CONFIG)}": CONFIG, f"blobs/sha256/{_sha(manifest)}": manifest}


def test_docker_archive_choices(tmp_path):
    path = tmp_path / "a.tar"
    _docker_archive(path, [["localhost/a:1", "b"], ["localhost/c:2"]])
    with sources.Files(str(path)) as files:
        assert sources.kind_of(files) == "docker-archive"
        every = sources.docker_archive(files, every=True)
        assert [f.names for f in every] == [["localhost/a:1", "localhost/b:latest"], ["localhost/c:2"]]
        assert sources.docker_archive(files, index=1)[0].names == ["localhost/c:2"]
        assert sources.docker_archive(files, name="localhost/a:1")[0].names == ["localhost/a:1"]
        with pytest.raises(InvalidArgument, match="holds 2 images"):
            sources.docker_archive(files)
        with pytest.raises(InvalidArgument, match="no @5"):
            sources.docker_archive(files, index=5)
        # an unqualified name means docker.io, as podman reads it
        with pytest.raises(InvalidArgument, match='"docker.io/library/b:latest" not found'):
            sources.docker_archive(files, name="b")


def test_oci_archive_names_and_choice(tmp_path):
    path = tmp_path / "o.tar"
    _tar(path, _oci_files([{"org.opencontainers.image.ref.name": "localhost/app:1"}]))
    with sources.Files(str(path)) as files:
        assert sources.kind_of(files) == "oci-archive"
        assert sources.oci_layout(files)[0].names == ["localhost/app:1"]
        assert sources.oci_layout(files, "localhost/app:1")[0].names == ["localhost/app:1"]
        with pytest.raises(InvalidArgument, match="no image named 'nope'"):
            sources.oci_layout(files, "nope")
    # a bare ref.name names the image under localhost/, as podman names it
    _tar(path, _oci_files([{"org.opencontainers.image.ref.name": "mytag"}]))
    with sources.Files(str(path)) as files:
        assert sources.oci_layout(files)[0].names == ["localhost/mytag:latest"]


def test_oci_directory_is_named_after_its_path(tmp_path, monkeypatch):
    # a relative path: the name must not depend on where the test's temporary directory is
    # (a path with upper case in it makes no name)
    monkeypatch.chdir(tmp_path)
    layout = tmp_path / "layout"
    for name, data in _oci_files([None, {"org.opencontainers.image.ref.name": "t"}]).items():
        (layout / name).parent.mkdir(parents=True, exist_ok=True)
        (layout / name).write_bytes(data)
    with sources.Files("layout") as files:
        assert sources.kind_of(files) == "oci"
        found = sources.load_all(files)
        assert len(found) == 1  # one config: one image
        assert found[0].names == ["localhost/layout:latest"]
        with pytest.raises(InvalidArgument, match="holds 2 images"):
            sources.oci_layout(files)
    assert sources.local_name_for("/tmp/x/od") == "localhost/tmp/x/od:latest"
    assert sources.local_name_for("od") == "localhost/od:latest"
    assert sources.local_name_for("/tmp/Upper") is None


def test_dir_layout_has_no_name_and_checks_digests(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / _sha(CONFIG)).write_bytes(CONFIG)
    (d / "manifest.json").write_text(json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + _sha(CONFIG)},
                                                 "layers": []}))
    (d / "version").write_text("Directory Transport Version: 1.1\n")
    with sources.Files(str(d)) as files:
        assert sources.kind_of(files) == "dir"
        found = sources.dir_layout(files)
        assert found[0].names == [] and found[0].config == CONFIG
    (d / _sha(CONFIG)).write_bytes(CONFIG + b" ")
    with sources.Files(str(d)) as files, pytest.raises(InvalidArgument, match="does not match its digest"):
        sources.dir_layout(files)


def test_unsafe_member_names_are_refused(tmp_path):
    path = tmp_path / "evil.tar"
    _tar(path, {"c.json": CONFIG, "manifest.json": json.dumps(
        [{"Config": "../c.json", "RepoTags": [], "Layers": []}]).encode()})
    with sources.Files(str(path)) as files, pytest.raises(InvalidArgument, match="invalid member name"):
        sources.docker_archive(files)


def test_not_an_image(tmp_path):
    path = tmp_path / "junk.tar"
    _tar(path, {"hello": b"hi"})
    with sources.Files(str(path)) as files, pytest.raises(InvalidArgument, match="supported image formats"):
        sources.kind_of(files)


@pytest.mark.parametrize("opts,message", [
    (dict(format="tar"), "unsupported format"),
    (dict(compress=True), "--compress can only be set when --format is 'docker-dir'"),
    (dict(compress=True, format="oci-dir", output="x"), "--compress can only be set"),
    (dict(multi_image=True, format="oci-archive", names=["a", "b"]), "only docker-archive"),
    (dict(format="oci-dir"), "name it with -o"),
    (dict(names=[]), "at least one image"),
])
def test_save_flag_checks(opts, message):
    with pytest.raises(InvalidArgument, match=message):
        check_save(SaveOptions(**{"names": ["a"], **opts}))


def test_save_flag_checks_pass():
    check_save(SaveOptions(names=["a", "b"], multi_image=True))
    check_save(SaveOptions(names=["a"], format="docker-dir", output="d", compress=True))
    check_save(SaveOptions(names=["a"], format="oci-archive", uncompressed=True))


@pytest.mark.parametrize("opts,message", [
    (dict(format="bogus"), 'unknown format "bogus"'),
    (dict(format="v2s1"), "schema 1"),
    (dict(format="v2s2", compression="zstd"), "no zstd"),
    (dict(format="docker", compression="zstd"), "no zstd"),
    (dict(compression="xz"), "--compression-format"),
])
def test_push_flag_checks(opts, message):
    with pytest.raises(InvalidArgument, match=message):
        check(PushOptions(image="a", **opts))
    assert check(PushOptions(image="a", format="v2s2")).format == "v2s2"
    assert check(PushOptions(image="a", format="docker")).format == "v2s2"   # podman's other name


# ------------------------------------------------------------- writing layouts --

from podpy.engine import destinations as dst  # noqa: E402


def _entry(tmp_path, ref_name=None, tags=(), data=b"layer bytes"):
    blob = tmp_path / f"blob-{_sha(data)[:8]}"
    blob.write_bytes(data)
    digest = "sha256:" + _sha(data)
    return dst.Entry(image=None, tags=list(tags), ref_name=ref_name, config=CONFIG,
                     layers=[dst.Blob(str(blob), digest, digest, len(data), "none")])


def test_oci_dir_is_made_then_added_to(tmp_path):
    layout = tmp_path / "layout"
    dst.write_oci_dir(str(layout), [_entry(tmp_path)])
    dst.write_oci_dir(str(layout), [_entry(tmp_path, "second")])
    dst.write_oci_dir(str(layout), [_entry(tmp_path, "third", data=b"other")])
    index = json.loads((layout / "index.json").read_text())
    # the unnamed entry of the same manifest gave way to "second"; "third" was added
    assert [m.get("annotations", {}).get(dst.REF_NAME) for m in index["manifests"]] == ["second", "third"]
    with sources.Files(str(layout)) as files:
        assert [f.names for f in sources.oci_layout(files, every=True, name_as="x")] == [["x"]]
        assert sources.oci_layout(files, "third")


def test_directories_are_not_written_over_other_files(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine").write_text("keep")
    for write in (lambda: dst.write_oci_dir(str(taken), [_entry(tmp_path)]),
                  lambda: dst.write_docker_dir(str(taken), _entry(tmp_path))):
        with pytest.raises(InvalidArgument, match="not an empty directory"):
            write()
    assert [p.name for p in taken.iterdir()] == ["mine"]


def test_dir_image_replaces_a_dir_image_and_a_failure_leaves_the_old_one(tmp_path):
    target = tmp_path / "d"
    dst.write_docker_dir(str(target), _entry(tmp_path))
    before = sorted(p.name for p in target.iterdir())
    assert "version" in before and "manifest.json" in before
    broken = _entry(tmp_path, data=b"new")
    broken.layers[0].path = str(tmp_path / "missing")
    with pytest.raises(OSError):
        dst.write_docker_dir(str(target), broken)
    assert sorted(p.name for p in target.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name] == []
    dst.write_docker_dir(str(target), _entry(tmp_path, data=b"new"), oci=True)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["mediaType"] == dst.OCI_MANIFEST and manifest["layers"][0]["digest"] == "sha256:" + _sha(b"new")


def test_docker_archive_tags_and_shared_members(tmp_path):
    out = tmp_path / "a.tar"
    e1, e2 = _entry(tmp_path, tags=["localhost/a:1"]), _entry(tmp_path, tags=["localhost/b:2"])
    dst.write_tar_file(str(out), [e1, e2], "docker-archive")
    with tarfile.open(out) as tf:
        names = tf.getnames()
        manifest = json.load(tf.extractfile("manifest.json"))
    assert len(names) == len(set(names))  # a layer and a config two images share go in once
    assert [m["RepoTags"] for m in manifest] == [["localhost/a:1"], ["localhost/b:2"]]
    with sources.Files(str(out)) as files:
        assert [f.names for f in sources.docker_archive(files, every=True)] == [["localhost/a:1"], ["localhost/b:2"]]
