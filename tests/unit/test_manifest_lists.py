"""Manifest lists over a real store (no registry): create, add of a local image, annotate,
remove, exists, rm; and the pure parts of push (manifest conversion) and search (filters,
catalog pages)."""

from __future__ import annotations

import json

import pytest

from podpy.engine.images import ImageEngine
from podpy.engine.manifestadd import AddOptions
from podpy.engine.manifestpush import _convert
from podpy.engine.manifests import ManifestEngine
from podpy.engine.search import parse_filters
from podpy.errors import InvalidArgument, NameInUse, NoSuchImage, PodpyError
from storage.transports.manifest import parse_manifest


def _image(rt, name, arch="amd64", variant=None):
    config = {"architecture": arch, "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}
    if variant:
        config["variant"] = variant
    return rt.store.create_image(config, [], [name])


def test_create_add_annotate_remove_and_rm(rt):
    arm = _image(rt, "localhost/arm:latest", "arm64", "v8")
    eng = ManifestEngine(rt)
    list_id = eng.create("mylist", [], AddOptions())
    assert eng.inspect("mylist") == {"schemaVersion": 2,
                                     "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                                     "manifests": None}
    assert eng.add("mylist", "containers-storage:localhost/arm", AddOptions(annotations={"a": "b"})) == list_id
    [entry] = eng.inspect("mylist")["manifests"]
    assert list(entry) == ["mediaType", "size", "digest", "platform", "annotations"]
    assert entry["digest"] == arm.digest and entry["size"] == len(arm.manifest.encode())
    assert entry["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    eng.annotate("mylist", arm.digest, AddOptions(os_version="10", features=("sse4",), annotations={"c": "d"}))
    [entry] = eng.inspect("mylist")["manifests"]
    assert list(entry["platform"]) == ["architecture", "os", "os.version", "variant", "features"]
    assert entry["annotations"] == {"a": "b", "c": "d"}
    # adding the same image again replaces its entry
    eng.add("mylist", "localhost/arm", AddOptions(arch="riscv64"))
    [entry] = eng.inspect("mylist")["manifests"]
    assert entry["platform"]["architecture"] == "riscv64"
    assert eng.remove("mylist", arm.digest) == list_id
    assert eng.inspect("mylist")["manifests"] is None
    with pytest.raises(PodpyError, match="no instance matching digest"):
        eng.remove("mylist", arm.digest)
    assert eng.exists("mylist") and not eng.exists("nosuch")
    with pytest.raises(InvalidArgument, match="is not a manifest list"):
        eng.exists("localhost/arm")
    [rep] = eng.rm(["mylist"])
    assert rep.deleted == list_id and rep.untagged == ["localhost/mylist:latest"]
    [rep] = eng.rm(["localhost/arm"])
    assert isinstance(rep.error, InvalidArgument)
    assert ImageEngine(rt, print).exists("localhost/arm")


def test_create_that_fails_stores_nothing_and_names_are_not_taken_twice(rt):
    eng = ManifestEngine(rt)
    with pytest.raises(NoSuchImage):
        eng.create("half", ["containers-storage:localhost/nosuch"], AddOptions())
    assert not eng.exists("half")
    eng.create("once", [], AddOptions())
    with pytest.raises(NameInUse, match="already in use"):
        eng.create("once", [], AddOptions())
    _image(rt, "localhost/x:latest")
    eng.create("once", ["localhost/x"], AddOptions(), amend=True)
    assert len(eng.inspect("once")["manifests"]) == 1
    with pytest.raises(InvalidArgument, match="invalid image digest"):
        eng.annotate("once", "nope", AddOptions())


def test_a_list_is_an_image_rmi_removes(rt):
    eng = ManifestEngine(rt)
    list_id = eng.create("gone", [], AddOptions())
    images = ImageEngine(rt, print)
    assert [s.image.id for s in images.ls()] == [list_id]
    [rep] = images.rm(["gone"])
    assert rep.deleted == list_id and not eng.exists("gone")


def test_convert_rewrites_media_types_for_the_other_format():
    oci = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": "sha256:" + "a" * 64, "size": 2},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  "digest": "sha256:" + "b" * 64, "size": 3}]}).encode()
    parsed = parse_manifest(oci, "application/vnd.oci.image.manifest.v1+json")
    assert _convert(oci, parsed, None) == (oci, parsed.media_type)
    raw, media_type = _convert(oci, parsed, "v2s2")
    doc = json.loads(raw)
    assert media_type == doc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert doc["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert doc["layers"][0]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    back = parse_manifest(raw, media_type)
    assert json.loads(_convert(raw, back, "oci")[0]) == json.loads(oci)
    zstd = oci.replace(b"tar+gzip", b"tar+zstd")
    with pytest.raises(InvalidArgument, match="zstd"):
        _convert(zstd, parse_manifest(zstd, "application/vnd.oci.image.manifest.v1+json"), "v2s2")


def test_search_filters():
    f = parse_filters(("stars=3", "is-official=true"))
    assert f.keeps({"Stars": 3, "Official": "[OK]", "Automated": ""})
    assert not f.keeps({"Stars": 2, "Official": "[OK]", "Automated": ""})
    assert not f.keeps({"Stars": 5, "Official": "", "Automated": ""})
    assert parse_filters(("is-automated=false",)).keeps({"Stars": 0, "Official": "", "Automated": ""})
    for bad, message in (("bogus=1", 'invalid filter type "bogus=1"'), ("stars", "invalid filter type"),
                         ("stars=x", "stars filter"), ("is-official=maybe", "true or false")):
        with pytest.raises(InvalidArgument, match=message):
            parse_filters((bad,))


class _Reply:
    def __init__(self, body, link=None):
        self.status, self.body, self.url = 200, json.dumps(body).encode(), "http://r/v2/_catalog"
        self._link = link

    def header(self, name):
        return self._link if name == "Link" else None


class _Session:
    registry = "r"

    def __init__(self, pages):
        self.pages, self.paths = pages, []

    def fetch(self, request, repository, push=False):
        self.paths.append(request.path)
        return self.pages.pop(0)


def test_catalog_follows_next_links():
    from storage.transports.listing import catalog

    session = _Session([_Reply({"repositories": ["a", "b"]}, '</v2/_catalog?last=b&n=2>; rel="next"'),
                        _Reply({"repositories": ["c"]})])
    assert catalog(session) == ["a", "b", "c"]
    assert session.paths[1] == "/v2/_catalog?last=b&n=2"
