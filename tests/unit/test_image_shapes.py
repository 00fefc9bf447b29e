"""Image documents of the wrong shape: refused where they come in, in one line, as podman refuses
them; and a stored config of the wrong shape (an older store's) read without breaking the rest."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from podpy.engine import sources
from podpy.engine.images import ImageEngine
from podpy.errors import InvalidArgument
from storage import shapes

GOOD = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"], "Labels": {"a": "b"}},
        "rootfs": {"type": "layers", "diff_ids": []}, "history": [{"created_by": "x"}]}


@pytest.mark.parametrize("over, message", [
    ({"config": "notadict"}, "cannot unmarshal string into field config of type object"),
    ({"config": [1]}, "cannot unmarshal array into field config of type object"),
    ({"history": "x"}, "cannot unmarshal string into field history of type []object"),
    ({"history": [1, "a"]}, "cannot unmarshal number into field history[0] of type object"),
    ({"config": {"Labels": "x"}}, "string into field config.Labels of type map[string]string"),
    ({"config": {"Labels": {"a": 1}}}, "number into field config.Labels.a of type string"),
    ({"rootfs": "zzz"}, "string into field rootfs of type object"),
    ({"rootfs": {"diff_ids": 5}}, "number into field rootfs.diff_ids of type []string"),
    ({"config": {"Entrypoint": "x"}}, "string into field config.Entrypoint of type []string"),
    ({"config": {"Cmd": "x"}}, "string into field config.Cmd of type []string"),
    ({"config": {"Healthcheck": {"Test": "x"}}}, "string into field config.Healthcheck.Test of type []string"),
    ({"config": {"ExposedPorts": ["80/tcp"]}}, "array into field config.ExposedPorts of type map[string]struct {}"),
    ({"architecture": 5}, "number into field architecture of type string"),
    ({"created": "yesterday"}, 'parsing time "yesterday" in field created'),
])
def test_a_config_of_the_wrong_shape_is_refused_in_one_line(over, message):
    with pytest.raises(shapes.ShapeError) as err:
        shapes.image_config(json.dumps({**GOOD, **over}).encode())
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("raw, message", [
    (b"[1,2,3]", "cannot unmarshal array into the document of type object"),
    (b"[" * 100000 + b"]" * 100000, "exceeded max depth"),
    (b"{x", "invalid image config: Expecting property name"),
])
def test_a_config_that_is_no_object_is_refused(raw, message):
    with pytest.raises(shapes.ShapeError, match=message.replace("[", r"\[")):
        shapes.image_config(raw)


def test_null_and_unknown_fields_pass_as_in_podman():
    doc = {**GOOD, "config": None, "history": [None, {"created": None}], "Size": -5, "x-own": [1, {"a": 2}]}
    assert shapes.image_config(json.dumps(doc).encode()) == doc


def test_readable_drops_what_a_reader_cannot_take():
    doc = {**GOOD, "config": {"Labels": [1], "Cmd": ["a", None], "Env": "x"}, "history": [1, None, {"created": 5}],
           "rootfs": "zzz", "os": None}
    view = shapes.readable(doc)
    assert view["config"] == {"Cmd": ["a", ""]} and view["history"] == [{}, {}, {}]
    assert "rootfs" not in view and "os" not in view and view["architecture"] == "amd64"
    assert shapes.readable(GOOD) == GOOD
    assert shapes.readable([1]) == {} and shapes.readable("x") == {}


def test_a_bad_stored_config_breaks_no_listing(rt):
    good = rt.store.create_image(GOOD, [], ["localhost/good:1"]).id
    with pytest.raises(shapes.ShapeError):
        rt.store.create_image({**GOOD, "config": "notadict"}, [], ["localhost/bad:1"])
    assert [i.id for i in rt.store.images()] == [good]   # nothing of it stored
    # As an older store may hold it: the row written without the check.
    bad_text = json.dumps({**GOOD, "config": "notadict", "history": "x", "rootfs": {"diff_ids": 5}})
    bad = hashlib.sha256(bad_text.encode()).hexdigest()
    with rt.db.write() as c:
        c.execute("INSERT INTO images (id, config, manifest, digest, layers, size, created) "
                  "VALUES (?, ?, NULL, NULL, '[]', 0, 0)", (bad, bad_text))
        c.execute("INSERT INTO image_names (name, image_id) VALUES ('localhost/bad:1', ?)", (bad,))
    engine = ImageEngine(rt, print)
    assert sorted(s.image.id for s in engine.ls()) == sorted([good, bad])
    assert len(engine.inspect(["localhost/bad:1", "localhost/good:1"])) == 2
    engine.history("localhost/bad:1")


# ------------------------------------------------------------------ archives --


def _tar(path, files):
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            if isinstance(data, tarfile.TarInfo):
                tf.addfile(data)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _load(path):
    with sources.Files(str(path)) as files:
        return sources.load_all(files)


def test_docker_archive_manifest_of_the_wrong_shape(tmp_path):
    path = tmp_path / "a.tar"
    config = json.dumps(GOOD).encode()
    _tar(path, {"c.json": config, "manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": {"a": 1}, "Layers": []}]).encode()})
    with pytest.raises(InvalidArgument, match=r"cannot unmarshal object into field \[0\].RepoTags of type \[\]string"):
        _load(path)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../etc/passwd"])
def test_a_member_that_links_out_of_the_archive_is_refused(tmp_path, kind, target):
    path = tmp_path / "a.tar"
    link = tarfile.TarInfo("c.json")
    link.type, link.linkname = kind, target
    _tar(path, {"c.json": link, "manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": ["localhost/a:1"], "Layers": []}]).encode()})
    with pytest.raises(InvalidArgument, match=f"'c.json' in {path} is a link to '{target}', which is no file"):
        _load(path)


def test_a_member_linking_to_another_member_is_read(tmp_path):
    path = tmp_path / "a.tar"
    link = tarfile.TarInfo("c.json")
    link.type, link.linkname = tarfile.SYMTYPE, "real.json"
    config = json.dumps(GOOD).encode()
    _tar(path, {"real.json": config, "c.json": link, "manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": ["localhost/a:1"], "Layers": []}]).encode()})
    assert _load(path)[0].config == config


def _oci(path, index=None, manifest=None):
    config = json.dumps(GOOD).encode()
    if manifest is None:
        manifest = json.dumps({"schemaVersion": 2, "config": {"digest": _sha(config)}, "layers": []}).encode()
    if index is None:
        index = json.dumps({"manifests": [{"digest": _sha(manifest)}]}).encode()
    _tar(path, {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index,
                f"blobs/sha256/{_sha(config)[7:]}": config, f"blobs/sha256/{_sha(manifest)[7:]}": manifest})


@pytest.mark.parametrize("index, manifest, message", [
    (b'{"manifests": 5}', None, "invalid index.json in .*: cannot unmarshal number into field manifests of type"),
    (None, b"[1,2]", "invalid manifest: cannot unmarshal array into the document of type object"),
    (None, b'{"config": "x", "layers": []}', "invalid manifest: cannot unmarshal string into field config of"),
    (None, b'{"config": {}, "layers": "abc"}', "invalid manifest: cannot unmarshal string into field layers of"),
    (None, b'{"config": {}, "layers": [null]}', "invalid digest None"),
])
def test_oci_documents_of_the_wrong_shape(tmp_path, index, manifest, message):
    path = tmp_path / "o.tar"
    if manifest is not None and index is None:
        index = json.dumps({"manifests": [{"digest": _sha(manifest)}]}).encode()
    _oci(path, index, manifest)
    with pytest.raises(InvalidArgument, match=message):
        _load(path)


def test_oci_annotations_not_a_map(tmp_path):
    path = tmp_path / "o.tar"
    _oci(path, index=json.dumps({"manifests": [{"digest": "sha256:" + "0" * 64, "annotations": ["x"]}]}).encode())
    with pytest.raises(InvalidArgument, match=r"field manifests\[0\].annotations of type map\[string\]string"):
        _load(path)
