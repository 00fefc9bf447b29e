"""Manifest and index parsing, and choosing a platform from an index (storage.transports.manifest)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

import pytest

from storage.transports import manifest as m
from storage.transports.manifest import Descriptor, ImageManifest, choose_platform, parse_manifest
from storage.transports.registry import RegistryError


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def d(n: int) -> str:
    """A distinct, well-formed digest."""
    return sha(str(n).encode())


def image_doc(media_type: Optional[str] = m.OCI_MANIFEST,
              layer_type: str = "application/vnd.oci.image.layer.v1.tar+gzip",
              config_type: str = "application/vnd.oci.image.config.v1+json") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "config": {"mediaType": config_type, "digest": d(1), "size": 10},
        "layers": [{"mediaType": layer_type, "digest": d(2), "size": 20},
                   {"mediaType": layer_type, "digest": d(3), "size": 30}],
    }
    if media_type:
        doc["mediaType"] = media_type
    return doc


def entry(n: int, os: str, arch: str, variant: Optional[str] = None, media_type: str = m.OCI_MANIFEST,
          annotations: Optional[dict[str, str]] = None) -> dict[str, Any]:
    platform = {"os": os, "architecture": arch}
    if variant:
        platform["variant"] = variant
    e: dict[str, Any] = {"mediaType": media_type, "digest": d(n), "size": 100 + n, "platform": platform}
    if annotations:
        e["annotations"] = annotations
    return e


def index_raw(*entries: dict[str, Any], media_type: str = m.OCI_INDEX) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": list(entries)}).encode()


MULTI = index_raw(
    entry(10, "linux", "amd64"),
    entry(11, "linux", "arm64", "v8"),
    entry(12, "linux", "arm", "v7"),
    entry(13, "linux", "arm", "v6"),
    entry(14, "linux", "s390x"),
    entry(15, "windows", "amd64"),
    entry(16, "unknown", "unknown", annotations={"vnd.docker.reference.type": "attestation-manifest"}),
)


def entries(raw: bytes = MULTI) -> list[Descriptor]:
    parsed = parse_manifest(raw, m.OCI_INDEX)
    assert isinstance(parsed, list)
    return parsed


# -- image manifests -------------------------------------------------------------


@pytest.mark.parametrize("media_type,layer", [
    (m.OCI_MANIFEST, "application/vnd.oci.image.layer.v1.tar"),
    (m.OCI_MANIFEST, "application/vnd.oci.image.layer.v1.tar+gzip"),
    (m.OCI_MANIFEST, "application/vnd.oci.image.layer.v1.tar+zstd"),
    (m.DOCKER_MANIFEST, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
])
def test_image_manifest(media_type: str, layer: str) -> None:
    config = ("application/vnd.docker.container.image.v1+json" if media_type == m.DOCKER_MANIFEST
              else "application/vnd.oci.image.config.v1+json")
    raw = json.dumps(image_doc(media_type, layer, config)).encode()
    parsed = parse_manifest(raw, media_type)
    assert isinstance(parsed, ImageManifest)
    assert parsed.raw == raw and parsed.digest == sha(raw) and parsed.media_type == media_type
    assert parsed.config == Descriptor(config, d(1), 10)
    assert [(x.digest, x.size, x.media_type) for x in parsed.layers] == [(d(2), 20, layer), (d(3), 30, layer)]
    assert parsed.index_digest is None


def test_content_type_parameters_and_case_are_ignored() -> None:
    raw = json.dumps(image_doc()).encode()
    parsed = parse_manifest(raw, "Application/VND.oci.image.manifest.v1+json; charset=utf-8")
    assert isinstance(parsed, ImageManifest) and parsed.media_type == m.OCI_MANIFEST


@pytest.mark.parametrize("served", ["application/json", "", "text/plain"])
def test_generic_content_type_uses_the_document(served: str) -> None:
    raw = json.dumps(image_doc(m.DOCKER_MANIFEST)).encode()
    parsed = parse_manifest(raw, served)
    assert isinstance(parsed, ImageManifest) and parsed.media_type == m.DOCKER_MANIFEST
    # OCI allows leaving mediaType out: the shape decides.
    bare = parse_manifest(json.dumps(image_doc(None)).encode(), served)
    assert isinstance(bare, ImageManifest) and bare.media_type == m.OCI_MANIFEST
    listed = parse_manifest(json.dumps({"schemaVersion": 2, "manifests": []}).encode(), served)
    assert listed == []


@pytest.mark.parametrize("raw,media_type", [
    (json.dumps({"schemaVersion": 1, "name": "x", "tag": "latest", "fsLayers": []}).encode(), m.DOCKER_V1_SIGNED),
    (json.dumps({"schemaVersion": 1, "name": "x", "tag": "latest", "fsLayers": []}).encode(), m.DOCKER_V1),
    (json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode(), "application/json"),
    (json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode(), m.DOCKER_MANIFEST),
])
def test_schema1_is_refused(raw: bytes, media_type: str) -> None:
    with pytest.raises(RegistryError, match="schema 1 manifests are not supported"):
        parse_manifest(raw, media_type)


@pytest.mark.parametrize("raw,match", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"schemaVersion": 3, "layers": []}', "schemaVersion 3"),
    (b'{"schemaVersion": 2}', "no media type"),
])
def test_malformed(raw: bytes, match: str) -> None:
    with pytest.raises(RegistryError, match=match):
        parse_manifest(raw, "application/json")


def test_unknown_media_types() -> None:
    raw = json.dumps(image_doc(None)).encode()
    with pytest.raises(RegistryError, match="unsupported manifest media type application/vnd.example"):
        parse_manifest(raw, "application/vnd.example+json")
    doc = image_doc("application/vnd.oci.artifact.manifest.v1+json")
    with pytest.raises(RegistryError, match="unsupported manifest media type"):
        parse_manifest(json.dumps(doc).encode(), "application/json")


def test_index_served_as_image_is_refused() -> None:
    with pytest.raises(RegistryError, match="served as .* but declares"):
        parse_manifest(MULTI, m.OCI_MANIFEST)


def test_image_without_layers_is_malformed() -> None:
    doc = image_doc()
    del doc["layers"]
    with pytest.raises(RegistryError, match="without config and layers"):
        parse_manifest(json.dumps(doc).encode(), m.OCI_MANIFEST)


def test_artifact_config_is_refused() -> None:
    raw = json.dumps(image_doc(config_type="application/vnd.cncf.helm.config.v1+json")).encode()
    with pytest.raises(RegistryError, match="not a container image"):
        parse_manifest(raw, m.OCI_MANIFEST)


@pytest.mark.parametrize("layer", [
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
])
def test_foreign_layers_are_refused(layer: str) -> None:
    raw = json.dumps(image_doc(layer_type=layer)).encode()
    with pytest.raises(RegistryError, match="foreign .non-distributable. layer"):
        parse_manifest(raw, m.OCI_MANIFEST)


def test_unknown_layer_type_is_refused() -> None:
    raw = json.dumps(image_doc(layer_type="application/vnd.example.layer")).encode()
    with pytest.raises(RegistryError, match="unsupported layer media type application/vnd.example.layer"):
        parse_manifest(raw, m.OCI_MANIFEST)


@pytest.mark.parametrize("change,match", [
    ({"digest": None}, "has no digest"),
    ({"digest": "sha256:abc"}, "invalid digest"),
    ({"digest": "sha256:" + "A" * 64}, "invalid digest"),
    ({"digest": "sha512:" + "a" * 128}, "unsupported digest algorithm 'sha512'"),
    ({"size": True}, "no valid size"),
    ({"size": -1}, "no valid size"),
    ({"size": "10"}, "no valid size"),
    ({"mediaType": 5}, "no mediaType"),
    ({"platform": "linux"}, "malformed platform"),
    ({"annotations": {"a": 1}}, "malformed annotations"),
])
def test_malformed_descriptor(change: dict[str, Any], match: str) -> None:
    doc = image_doc()
    doc["layers"][1].update(change)
    with pytest.raises(RegistryError, match=match):
        parse_manifest(json.dumps(doc).encode(), m.OCI_MANIFEST)


# -- indexes and platforms ---------------------------------------------------------------


def test_index_entries() -> None:
    es = entries()
    assert len(es) == 7
    assert es[1] == Descriptor(m.OCI_MANIFEST, d(11), 111, {"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert es[6].annotations == {"vnd.docker.reference.type": "attestation-manifest"}


@pytest.mark.parametrize("os,arch,variant,expected", [
    ("linux", "amd64", None, 10),
    ("linux", "x86_64", None, 10),
    ("linux", "arm64", None, 11),
    ("linux", "arm64", "v8", 11),
    ("linux", "aarch64", None, 11),
    ("linux", "arm", "v7", 12),
    ("linux", "arm", None, 12),
    ("linux", "arm", "v6", 13),
    ("linux", "s390x", None, 14),
    ("windows", "amd64", None, 15),
])
def test_choose_platform(os: str, arch: str, variant: Optional[str], expected: int) -> None:
    assert choose_platform(entries(), os, arch, variant).digest == d(expected)


def test_arm64_without_variant_in_a_docker_list() -> None:
    raw = index_raw(entry(1, "linux", "amd64", media_type=m.DOCKER_MANIFEST),
                    entry(2, "linux", "arm64", media_type=m.DOCKER_MANIFEST), media_type=m.DOCKER_LIST)
    parsed = parse_manifest(raw, m.DOCKER_LIST)
    assert isinstance(parsed, list)
    assert choose_platform(parsed, "linux", "arm64", "v8").digest == d(2)
    assert choose_platform(parsed, "linux", "arm64", None).digest == d(2)


def test_compatible_variants_are_a_fallback() -> None:
    es = entries(index_raw(entry(1, "linux", "arm", "v6"), entry(2, "linux", "amd64", "v2"),
                           entry(3, "linux", "amd64", "v3")))
    assert choose_platform(es, "linux", "arm", "v7").digest == d(1)
    assert choose_platform(es, "linux", "amd64", "v4").digest == d(3)
    assert choose_platform(es, "linux", "amd64", "v2").digest == d(2)
    # A plain amd64 host cannot be assumed to run v2 code.
    with pytest.raises(RegistryError, match="platform linux/amd64 "):
        choose_platform(es, "linux", "amd64", None)


def test_no_match_lists_available_platforms() -> None:
    with pytest.raises(RegistryError) as info:
        choose_platform(entries(), "linux", "riscv64", None)
    message = str(info.value)
    assert "\n" not in message
    assert "platform linux/riscv64" in message
    assert ("available: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/s390x, windows/amd64"
            in message)
    assert "unknown" not in message  # attestations are not platforms
    with pytest.raises(RegistryError, match="platform linux/arm/v5"):
        choose_platform(entries(), "linux", "arm", "v5")


def test_nested_indexes_and_platformless_entries() -> None:
    nested = index_raw(entry(1, "linux", "amd64", media_type=m.OCI_INDEX))
    with pytest.raises(RegistryError, match="available: none"):
        choose_platform(entries(nested), "linux", "amd64", None)
    single = json.dumps({"schemaVersion": 2, "mediaType": m.OCI_INDEX,
                         "manifests": [{"mediaType": m.OCI_MANIFEST, "digest": d(1), "size": 1}]}).encode()
    assert choose_platform(entries(single), "linux", "amd64", None).digest == d(1)


def test_host_platform() -> None:
    os, arch, variant = m.host_platform()
    assert os == "linux" and arch and arch not in ("x86_64", "aarch64")
    assert variant in (None, "v5", "v6", "v7", "v8")
