"""`manifest push`: a list and (with --all, the default) its images to a registry.

Order: every instance first, each by its digest (a registry rejects a list naming manifests it
does not have), then the list under the destination's tag. An instance added from local storage
is pushed as `push` pushes an image: its layers are exported and compressed anew, so it gets a
new digest and size, which the pushed list records. One added from a registry is copied from
there: blobs the destination lacks are mounted (same registry) or streamed across, and its
manifest is sent byte for byte, keeping its digest, unless --format asks for the other
manifest type, when it is rewritten (same blobs, new media types, new digest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..errors import InvalidArgument, PodpyError, translate
from .context import Runtime
from .manifeststore import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, entry, load, local_by_digest
from .reconcile import reconcile

FORMATS = {"oci": OCI_INDEX, "v2s2": DOCKER_LIST}

_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
_OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
_DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class ManifestPushOptions:
    destination: Optional[str] = None   # default: the list's own name
    all: bool = True
    format: Optional[str] = None        # "oci" or "v2s2"; default: as the instances are
    compression: str = "gzip"
    rm: bool = False
    tls_verify: Optional[bool] = None
    creds: Optional[str] = None
    cert_dir: Optional[str] = None
    auth_file: Optional[str] = None
    digest_file: Optional[str] = None
    sign_by: Optional[str] = None       # --sign-by: sign the list (and with --all its images) with this key
    sigstore_key: Optional[str] = None  # --sign-by-sigstore-private-key: the same with a sigstore key file
    sign_passphrase: Optional[str] = None   # that key's passphrase (or the GPG key's)


def push_list(rt: Runtime, name: str, o: ManifestPushOptions, report: Callable[[str], None]) -> str:
    """Push the list name is; the pushed list's digest."""
    from .pull import _client
    from .push import LAYER_TYPES, target

    if o.format is not None and o.format not in FORMATS:
        raise InvalidArgument(f"invalid --format {o.format!r}: use oci or v2s2")
    if o.compression not in LAYER_TYPES:
        raise InvalidArgument(f"invalid --compression-format {o.compression!r}: use gzip or zstd")
    if o.format == "v2s2" and o.compression == "zstd":
        raise InvalidArgument("--format v2s2 cannot carry zstd layers: use --compression-format gzip or --format oci")
    image, ml = load(rt, name)
    dest_name = o.destination or (image.names[0] if image.names else name)
    if dest_name.startswith("docker://"):
        dest_name = dest_name[len("docker://"):]
    dest, ep, popts = target(rt, dest_name, o)
    if o.sign_by is not None:
        from .signing import check_key

        check_key(o.sign_by, o.sign_passphrase)
    sigstore_key = None
    if o.sigstore_key is not None:
        from .sigstoresign import prepare

        sigstore_key = prepare(dest, o.sigstore_key, o.sign_passphrase or "")
    reconcile(rt)
    try:
        with _client(ep, popts) as client:
            entries = list(ml.entries)
            if o.all:
                entries = _push_instances(rt, client, dest.path, ml, o, report)
            list_type = FORMATS[o.format] if o.format else (
                OCI_INDEX if any(e["mediaType"] == OCI_MANIFEST for e in entries) else DOCKER_LIST)
            doc = {"schemaVersion": 2, "mediaType": list_type,
                   "manifests": [_wire_entry(e) for e in entries]}
            raw = json.dumps(doc, separators=(",", ":")).encode()
            report("Writing manifest list to image destination")
            digest = str(client.put_manifest(dest.path, dest.digest or dest.tag or "latest", raw, list_type))
            instances = [str(e["digest"]) for e in entries] if o.all else []
            if sigstore_key is not None:
                from .sigstoresign import sign_pushed as sigstore_sign

                sigstore_sign(client, dest, [digest, *instances], sigstore_key, report)
        if o.sign_by is not None:
            from .signing import sign_pushed

            sign_pushed(dest, [digest, *instances], o.sign_by, report, passphrase=o.sign_passphrase)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    if o.digest_file:
        with open(o.digest_file, "w") as f:
            f.write(digest)
    if o.rm:
        rt.store.delete_image(image.id, False)
    return digest


def _wire_entry(e: dict[str, Any]) -> dict[str, Any]:
    """An entry in the order a pushed list has its keys."""
    out = {"mediaType": e["mediaType"], "digest": e["digest"], "size": e["size"]}
    out.update({k: e[k] for k in ("platform", "annotations") if e.get(k)})
    return out


def _push_instances(rt: Runtime, client: Any, repo: str, ml: Any, o: ManifestPushOptions,
                    report: Callable[[str], None]) -> list[dict[str, Any]]:
    from .push import upload_image

    n = len(ml.entries)
    report("Getting image list signatures")
    report(f"Copying {n} of {n} images in list")
    out = []
    for i, e in enumerate(ml.entries):
        report(f"Copying image {e['digest']} ({i + 1}/{n})")
        source = ml.sources.get(e["digest"])
        if source is not None:
            raw, media_type, digest = _copy_remote(client, repo, source, e["digest"], o, report)
        else:
            local = local_by_digest(rt, e["digest"])
            if local is None:
                raise PodpyError(f"instance {e['digest']} of the list is not in local storage any more "
                                 "and came from no registry")
            fmt = o.format or ("v2s2" if e["mediaType"] == DOCKER_MANIFEST else "oci")
            raw, media_type, digest = upload_image(rt, local, client, repo, "", o.compression, report, fmt=fmt)
        out.append(entry(media_type, len(raw), digest, e.get("platform"), e.get("annotations")))
    return out


class _LazyBlob:
    """A blob reader opened on the first read: an upload that ends in a mount never opens it."""

    def __init__(self, open_: Callable[[], Any]) -> None:
        self._open, self._reader = open_, None

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        if self._reader is None:
            self._reader = self._open()
        return bytes(self._reader.read(n))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def _copy_remote(dest: Any, repo: str, source: dict[str, Any], digest: str, o: ManifestPushOptions,
                 report: Callable[[str], None]) -> tuple[bytes, str, str]:
    """Copy one registry image, by digest, from where it was added from into repo of dest."""
    from storage.transports.manifest import ImageManifest, parse_manifest

    from .pull import Endpoint, PullOptions, _client

    host, _, src_repo = source["ref"].partition("/")
    same = host == dest.registry
    popts = PullOptions(name=source["ref"], tls_verify=False if source.get("insecure") else None,
                        creds=o.creds if same else None, cert_dir=o.cert_dir, auth_file=o.auth_file)
    with _client(Endpoint(host, src_repo, bool(source.get("insecure")), False), popts) as src:
        raw, media_type, _ = src.get_manifest(src_repo, digest)
        parsed = parse_manifest(raw, media_type)
        if not isinstance(parsed, ImageManifest):
            raise PodpyError(f"instance {digest} from {source['ref']} is itself a list")
        report("Getting image source signatures")
        for desc in (*parsed.layers, parsed.config):
            reader = _LazyBlob(lambda d=desc: src.open_blob(src_repo, d.digest, d.size))
            try:
                how = dest.upload_blob(repo, desc.digest, desc.size, reader,
                                       mount_from=src_repo if same and src_repo != repo else None)
            finally:
                reader.close()
            what = "config" if desc is parsed.config else "blob"
            report(f"Copying {what} {desc.digest.split(':', 1)[1][:12]}"
                   + (" skipped: already exists" if how == "exists" else ""))
    raw, media_type = _convert(raw, parsed, o.format)
    report("Writing manifest to image destination")
    return raw, media_type, str(dest.put_manifest(repo, _digest(raw), raw, media_type))


def _digest(raw: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _convert(raw: bytes, parsed: Any, fmt: Optional[str]) -> tuple[bytes, str]:
    """The manifest in the type --format asks for (unchanged when it is that already)."""
    want = {"oci": OCI_MANIFEST, "v2s2": DOCKER_MANIFEST}.get(fmt or "", parsed.media_type)
    if want == parsed.media_type:
        return raw, parsed.media_type
    doc = json.loads(raw)
    if want == DOCKER_MANIFEST:
        config_type, layer_types = _DOCKER_CONFIG, {_OCI_GZIP: _DOCKER_GZIP, _DOCKER_GZIP: _DOCKER_GZIP}
    else:
        config_type, layer_types = _OCI_CONFIG, {_DOCKER_GZIP: _OCI_GZIP, _OCI_GZIP: _OCI_GZIP}
    doc["mediaType"] = want
    doc["config"]["mediaType"] = config_type
    for layer in doc["layers"]:
        if layer["mediaType"] not in layer_types:
            raise InvalidArgument(f"cannot write a {fmt} manifest with {layer['mediaType']} layers")
        layer["mediaType"] = layer_types[layer["mediaType"]]
    return json.dumps(doc, separators=(",", ":")).encode(), want
