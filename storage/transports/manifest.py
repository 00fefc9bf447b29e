"""Image manifests and indexes (OCI and Docker schema 2): parsing, validation, platform choice."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from storage.transports.errors import RegistryError

__all__ = [
    "ACCEPT_MANIFESTS", "DOCKER_LIST", "DOCKER_MANIFEST", "DOCKER_V1", "DOCKER_V1_SIGNED", "Descriptor",
    "ImageManifest", "OCI_INDEX", "OCI_MANIFEST", "choose_platform", "host_platform", "parse_manifest",
    "platform_name", "served_media_type", "sha256_digest", "valid_digest",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
SCHEMA1_TYPES = frozenset({DOCKER_V1, DOCKER_V1_SIGNED})

# Schema 1 is asked for too, only so that a registry holding nothing else
# answers with it and we can refuse it by name instead of with a 404.
ACCEPT_MANIFESTS = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST, DOCKER_V1_SIGNED, DOCKER_V1))

CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                          "application/vnd.docker.container.image.v1+json"})
LAYER_TYPES = frozenset({
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
})
# ocicrypt's encrypted layers (decrypted while pulled, with the keys of --decryption-key: ocicrypt.py)
ENCRYPTED_LAYER_TYPES = frozenset({
    "application/vnd.oci.image.layer.v1.tar+encrypted",
    "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
    "application/vnd.oci.image.layer.v1.tar+zstd+encrypted",
})
FOREIGN_LAYER_TYPES = frozenset({
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
})

# Registries and static file servers that do not know the manifest types
# label them with one of these; the document's own mediaType then decides.
_GENERIC_TYPES = frozenset({"", "application/json", "text/plain", "application/octet-stream",
                            "binary/octet-stream"})

# Only sha256 is accepted: it is what every reader here can verify, and the
# strict form keeps a digest safe to put in a URL path or a file name.
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

_ATTESTATION = "attestation-manifest"  # buildkit's provenance entries in an index


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: what it is, its digest and size (and for index entries, its platform)."""

    media_type: str
    digest: str
    size: int
    platform: Optional[dict[str, Any]] = None
    annotations: Optional[dict[str, str]] = None


@dataclass(frozen=True)
class ImageManifest:
    """One image's manifest, after any platform choice."""

    raw: bytes
    media_type: str
    digest: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    index_digest: Optional[str] = None


def sha256_digest(data: bytes) -> str:
    """The "sha256:<hex>" digest of data."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def valid_digest(digest: str) -> bool:
    """Whether digest is a sha256 digest in canonical (lower-case hex) form."""
    return bool(_DIGEST.fullmatch(digest))


def _descriptor(value: object, what: str) -> Descriptor:
    if not isinstance(value, dict):
        raise RegistryError(f"malformed manifest: {what} is not an object")
    media_type = value.get("mediaType")
    digest = value.get("digest")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise RegistryError(f"malformed manifest: {what} has no mediaType")
    if not isinstance(digest, str) or not digest:
        raise RegistryError(f"malformed manifest: {what} has no digest")
    if not valid_digest(digest):
        algorithm = digest.split(":", 1)[0] if ":" in digest else digest
        if algorithm != "sha256":
            raise RegistryError(f"unsupported digest algorithm {algorithm!r} in {what}")
        raise RegistryError(f"malformed manifest: {what} has an invalid digest")
    # bool is an int in Python but never a size in JSON.
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RegistryError(f"malformed manifest: {what} has no valid size")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise RegistryError(f"malformed manifest: {what} has a malformed platform")
    annotations = value.get("annotations")
    if annotations is not None and not (isinstance(annotations, dict)
                                        and all(isinstance(v, str) for v in annotations.values())):
        raise RegistryError(f"malformed manifest: {what} has malformed annotations")
    return Descriptor(media_type, digest, size, platform, annotations)


def _effective_type(doc: dict[str, Any], media_type: str) -> str:
    served = media_type.split(";", 1)[0].strip().lower()
    declared = doc.get("mediaType")
    declared = declared.strip().lower() if isinstance(declared, str) else ""
    if served in SCHEMA1_TYPES or declared in SCHEMA1_TYPES or doc.get("schemaVersion") == 1:
        raise RegistryError("Docker schema 1 manifests are not supported; "
                     "push the image again with a current client to convert it to schema 2 or OCI")
    if doc.get("schemaVersion") != 2:
        raise RegistryError(f"unsupported manifest schemaVersion {doc.get('schemaVersion')!r}")
    known = IMAGE_TYPES | INDEX_TYPES
    if served not in _GENERIC_TYPES:
        if served not in known:
            raise RegistryError(f"unsupported manifest media type {served}")
        if declared in known and (declared in INDEX_TYPES) != (served in INDEX_TYPES):
            # An index served as an image (or the reverse) could be read two
            # ways; refusing keeps the digest meaning one thing.
            raise RegistryError(f"manifest served as {served} but declares {declared}")
        return served
    if declared:
        if declared not in known:
            raise RegistryError(f"unsupported manifest media type {declared}")
        return declared
    # OCI allows omitting mediaType; the shape of the document tells.
    if "manifests" in doc and "layers" not in doc:
        return OCI_INDEX
    if "layers" in doc and "manifests" not in doc:
        return OCI_MANIFEST
    raise RegistryError("manifest has no media type and its content fits no known kind")


def served_media_type(raw: bytes, content_type: str) -> str:
    """A manifest's media type from its Content-Type, or from its own mediaType when the server was vague."""
    served = content_type.split(";", 1)[0].strip().lower()
    if served not in _GENERIC_TYPES:
        return served
    try:
        declared = json.loads(raw).get("mediaType")
    except (ValueError, AttributeError):  # bad JSON (or not an object): parse_manifest will say
        return served
    return declared if isinstance(declared, str) and declared else served


def parse_manifest(raw: bytes, media_type: str) -> ImageManifest | list[Descriptor]:
    """Parse manifest bytes served as media_type: an ImageManifest, or the entries of an index/list.

    Raises RegistryError (one line, no prefix) for malformed JSON, schema 1,
    unknown media types, artifacts that are not images and foreign layers.
    """
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RegistryError(f"manifest is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RegistryError("manifest is not a JSON object")
    kind = _effective_type(doc, media_type)
    if kind in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise RegistryError("malformed manifest list: no manifests array")
        return [_descriptor(e, f"manifest list entry {i}") for i, e in enumerate(entries)]
    if "config" not in doc or not isinstance(doc.get("layers"), list):
        raise RegistryError(f"malformed manifest: {kind} without config and layers")
    config = _descriptor(doc["config"], "config")
    if config.media_type not in CONFIG_TYPES:
        raise RegistryError(f"not a container image (config media type {config.media_type}); "
                     "artifacts cannot be pulled as images")
    layers = tuple(_descriptor(e, f"layer {i}") for i, e in enumerate(doc["layers"]))
    for layer in layers:
        if layer.media_type in FOREIGN_LAYER_TYPES:
            raise RegistryError(f"layer {layer.digest} is a foreign (non-distributable) layer ({layer.media_type}); "
                         "such images (usually Windows) cannot be pulled")
        if layer.media_type not in LAYER_TYPES and layer.media_type not in ENCRYPTED_LAYER_TYPES:
            raise RegistryError(f"unsupported layer media type {layer.media_type}")
    return ImageManifest(raw, kind, sha256_digest(raw), config, layers, None)


# -- platforms ---------------------------------------------------------------

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386",
                 "armhf": "arm", "armel": "arm", "armv7l": "arm", "armv6l": "arm", "armv5tel": "arm"}
_ARCH_VARIANT = {"armv7l": "v7", "armhf": "v7", "armv6l": "v6", "armv5tel": "v5", "armel": "v5"}
# Architectures whose variants are levels where a higher level runs the lower
# ones' code; an entry without a variant means the base level given here.
_LEVELS = {"amd64": (1, 4), "arm64": (8, 9), "arm": (5, 7)}
_DEFAULT_LEVEL = {"amd64": 1, "arm64": 8, "arm": 7}


def _normalize(arch: str, variant: Optional[str]) -> tuple[str, str]:
    arch = arch.strip().lower()
    variant = (variant or "").strip().lower() or _ARCH_VARIANT.get(arch, "")
    arch = _ARCH_ALIASES.get(arch, arch)
    if arch in _DEFAULT_LEVEL and not variant:
        variant = f"v{_DEFAULT_LEVEL[arch]}"
    if arch == "arm64" and variant == "8":
        variant = "v8"
    return arch, variant


def _acceptable_variants(arch: str, variant: str, asked: bool) -> list[str]:
    """Variants an image may have to run here, best first."""
    if arch in _LEVELS:
        low, _high = _LEVELS[arch]
        m = re.fullmatch(r"v(\d+)", variant)
        if m is None:
            return [variant]
        return [f"v{n}" for n in range(int(m.group(1)), low - 1, -1)]
    # Unknown architecture: the exact variant, else (when none was asked
    # for) any entry, preferring ones without a variant.
    return [variant] if asked else ["", "*"]


def platform_name(platform: Optional[dict[str, Any]]) -> str:
    """"os/arch[/variant]" of an index entry's platform ("unknown" when absent)."""
    if not platform:
        return "unknown"
    parts = [str(platform.get("os") or "unknown"), str(platform.get("architecture") or "unknown")]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)


def _is_image_entry(entry: Descriptor) -> bool:
    if entry.media_type not in IMAGE_TYPES:
        return False
    return (entry.annotations or {}).get("vnd.docker.reference.type") != _ATTESTATION


def choose_platform(entries: list[Descriptor], os: str, arch: str, variant: Optional[str]) -> Descriptor:
    """The index entry to pull for os/arch/variant; RegistryError naming the available ones if none fits."""
    images = [e for e in entries if _is_image_entry(e)]
    want_arch, want_variant = _normalize(arch, variant)
    want_os = os.strip().lower()
    for accepted in _acceptable_variants(want_arch, want_variant, bool(variant)):
        for entry in images:
            p = entry.platform or {}
            e_arch, e_variant = _normalize(str(p.get("architecture") or ""), str(p.get("variant") or ""))
            if str(p.get("os") or "").lower() == want_os and e_arch == want_arch \
                    and (accepted == "*" or e_variant == accepted):
                return entry
    # An index naming no platforms at all (allowed by OCI) with a single image
    # has nothing to choose between.
    if len(images) == 1 and not images[0].platform:
        return images[0]
    available = sorted({platform_name(e.platform) for e in images if e.platform})
    wanted = "/".join(x for x in (want_os, want_arch, variant or "") if x)
    raise RegistryError(f"no image in the manifest list for platform {wanted} "
                 f"(available: {', '.join(available) or 'none'})")


def host_platform() -> tuple[str, str, Optional[str]]:
    """(os, architecture, variant) of this machine in OCI terms: linux/amd64, linux/arm64/v8, ..."""
    import platform

    machine = platform.machine().lower()
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = _ARCH_VARIANT.get(machine)
    if arch == "arm64":
        variant = "v8"
    return "linux", arch, variant
