"""`push`: an image from the store to a registry as an OCI image.

Each layer is exported from its directory (in the user namespace, where every
file can be read) into a compressed file under the store's tmp/ (removed by the
next command if this one is killed), digests computed while writing. Blobs the
registry has are not sent again; one known in another repository of the same
registry is mounted from there. The export is reproducible, so an image whose
layers podpy made pushes with its own diff ids and keeps its id; an image whose
layers came from elsewhere gets a config with the exported layers' diff ids.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

from storage import reference

from ..errors import InvalidArgument, PodpyError, translate
from .imagestore import lookup
from .context import Runtime
from .reconcile import reconcile

from .layerexport import (DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST,
                          config_for as _config_for, export_in_ns as _export_in_ns)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .pull import Progress

LAYER_TYPES = {k: v for k, v in OCI_LAYER.items() if k != "none"}


@dataclass(frozen=True)
class PushOptions:
    image: str
    destination: Optional[str] = None
    compression: str = "gzip"
    tls_verify: Optional[bool] = None
    creds: Optional[str] = None
    cert_dir: Optional[str] = None
    auth_file: Optional[str] = None
    digest_file: Optional[str] = None   # where to write the manifest's digest too
    format: Optional[str] = None        # -f: oci or v2s2 (None: oci to a registry, as before)
    compress: bool = False              # --compress: gzip the layers written to a dir: directory
    sign_by: Optional[str] = None       # --sign-by: the GPG key to sign the pushed manifest with
    sigstore_key: Optional[str] = None  # --sign-by-sigstore-private-key: the encrypted key file's path
    sign_passphrase: Optional[str] = None   # the passphrase of that key (or of the GPG key)
    remove_signatures: bool = False     # --remove-signatures: leave the stored image's signatures behind


FORMATS = ("oci", "v2s2", "v2s1")


def check(o: PushOptions) -> PushOptions:
    """podman's checks of push's flags, before anything is looked up; the options to push with
    (`--format docker` is podman's other name for v2s2)."""
    if o.format == "docker":
        o = replace(o, format="v2s2")
    if o.compression not in LAYER_TYPES:
        raise InvalidArgument(f"invalid --compression-format {o.compression!r}: use gzip or zstd")
    if o.format is not None and o.format not in FORMATS:
        raise InvalidArgument(f'unknown format "{o.format}": use oci, v2s1 or v2s2')
    if o.format == "v2s1":
        raise InvalidArgument("--format v2s1: Docker schema 1 manifests are not available (they are "
                              "deprecated): use v2s2 or oci")
    if o.format == "v2s2" and o.compression == "zstd":
        raise InvalidArgument("--format v2s2 takes no zstd layers: use --compression-format gzip")
    return o


class _Metered:
    """A layer file whose reads advance a progress bar, made at the first read (a blob the
    registry has is never read: no bar); bytes sent again after a retry count once."""

    def __init__(self, f: Any, label: str, size: int, progress: Progress) -> None:
        self.f, self.label, self.size, self.progress = f, label, size, progress
        self.advance: Optional[Callable[[int], None]] = None
        self.done = 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if self.advance is None:
            self.advance = self.progress(self.label, self.size)
        end = self.f.tell()
        if end > self.done:
            self.advance(end - self.done)
            self.done = end
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()

    def seekable(self) -> bool:
        return True


def push(rt: Runtime, o: PushOptions, report: Callable[[str], None], progress: Optional[Progress] = None) -> str:
    """Push and return the manifest digest; progress(label, total) -> advance(n) shows each
    layer's upload as a pull shows its download."""
    from . import transports
    from .pull import _client

    o = check(o)
    image = lookup(rt, o.image)
    from .manifeststore import is_list

    if is_list(rt, image):
        raise InvalidArgument(f"{o.image} is a manifest list: push it with `podpy manifest push`")
    dest_name = o.destination or o.image
    t = transports.parse(dest_name)
    if t is not None and t.transport == "docker":
        dest_name = transports.registry_name(t)
    elif t is not None:  # docker-archive:, oci-archive:, oci:, dir:, containers-storage:
        if o.sign_by is not None or o.sigstore_key is not None:
            flag = "--sign-by" if o.sign_by is not None else "--sign-by-sigstore-private-key"
            raise InvalidArgument(f"{flag}: podpy signs images pushed to a registry only, not to {t.transport}:")
        return _push_to_files(rt, o, image, t, report)
    dest, ep, popts = target(rt, dest_name, o)
    if o.sign_by is not None:
        from .signing import check_key

        check_key(o.sign_by, o.sign_passphrase)
    sigstore_key = None
    if o.sigstore_key is not None:
        from .sigstoresign import prepare

        sigstore_key = prepare(dest, o.sigstore_key, o.sign_passphrase or "")
    from . import storedsigs

    stored = None if o.remove_signatures else storedsigs.load(rt, image)
    if stored is not None:
        storedsigs.check_push(stored, dest, o)
    reconcile(rt)
    try:
        with _client(ep, popts) as client:
            mount_from = _same_registry_repo(image.names, dest)
            if stored is not None:
                digest = storedsigs.upload_signed(
                    rt, image, stored, client, dest.path, dest.digest or dest.tag or "latest", report, mount_from,
                    lambda f, label, size: _Metered(f, label, size, progress) if progress else f)
                storedsigs.copy_signatures(client, dest, stored, report)
            else:
                _raw, _type, digest = upload_image(rt, image, client, dest.path,
                                                   dest.digest or dest.tag or "latest", o.compression, report,
                                                   fmt=o.format or "oci", mount_from=mount_from, progress=progress)
            if sigstore_key is not None:
                from .sigstoresign import sign_pushed as sigstore_sign

                sigstore_sign(client, dest, [digest], sigstore_key, report)
        if o.sign_by is not None:
            from .signing import sign_pushed

            sign_pushed(dest, [digest], o.sign_by, report, passphrase=o.sign_passphrase,
                        keep=stored is not None and bool(stored.simple))
        return digest
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def target(rt: Runtime, dest_name: str, o: Any) -> tuple[reference.Reference, Any, Any]:
    """Where a push goes: (the reference, the registry endpoint, the options to reach it with);
    o has the push's tls_verify, creds, cert_dir and auth_file."""
    from ..registry.conf import load
    from .pull import Endpoint, PullOptions, given_credentials

    try:
        dest = reference.parse(dest_name).with_default_tag()
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    if not dest.qualified or dest.domain == reference.LOCAL_REGISTRY:
        raise InvalidArgument(f"push destination {dest_name!r} names no registry (e.g. registry.example.com/app:1)")
    conf = load(rt.cfg.config_dir)
    entry = conf.find(dest.repository)
    if entry is not None and entry.blocked:
        raise InvalidArgument(f"registry {dest.domain} is blocked in registries.conf")
    ep = Endpoint(dest.domain, dest.path, bool(entry and entry.insecure), False)
    popts = PullOptions(name=dest_name, tls_verify=o.tls_verify, creds=o.creds, cert_dir=o.cert_dir,
                        auth_file=o.auth_file)
    given_credentials(popts)
    return dest, ep, popts


def upload_image(rt: Runtime, image: Any, client: Any, repo: str, ref: str, compression: str,
                 report: Callable[[str], None], fmt: str = "oci",
                 mount_from: Optional[str] = None, progress: Optional[Progress] = None) -> tuple[bytes, str, str]:
    """Send a stored image's layers, config and manifest (OCI, or Docker schema 2 with fmt
    "v2s2") to repo of client's registry, the manifest under ref (a tag or, with ref None, its
    own digest): (the manifest's bytes, its media type, its digest). progress shows each
    layer's upload, as push's does."""
    with rt.store.temporary("push") as stage:
        report("Getting image source signatures")
        blobs = []
        for i in range(len(image.layers)):
            path = os.path.join(stage.path, f"layer{i}")
            dirs = rt.store.layer_export_dirs(image, i)
            # A pulled or loaded layer is sent as the very tar it came as (its tar-split
            # record), so the image keeps its diff ids and its id.
            lid = image.layers[i]
            exported = rt.store.in_userns(_export_in_ns, dirs, path, compression, rt.store.tar_split(lid),
                                          rt.store.layer_diff_id(lid))
            blobs.append((path, *exported))
        config_raw = _config_for(rt, image, [b[1] for b in blobs])
        config_digest = "sha256:" + hashlib.sha256(config_raw).hexdigest()
        for path, _diff, digest, size in blobs:
            short = digest.split(":", 1)[1][:12]
            with open(path, "rb") as f:
                body = _Metered(f, short, size, progress) if progress else f
                how = client.upload_blob(repo, digest, size, body, mount_from=mount_from)
            report(f"Copying blob {short}" + (" skipped: already exists" if how == "exists" else ""))
        client.upload_blob(repo, config_digest, len(config_raw), io.BytesIO(config_raw))
        report(f"Copying config {config_digest.split(':', 1)[1][:12]}")
        if fmt == "v2s2":
            media_type, config_type, layer_type = DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER[compression]
        else:
            media_type, config_type, layer_type = OCI_MANIFEST, OCI_CONFIG, LAYER_TYPES[compression]
        manifest = {
            "schemaVersion": 2, "mediaType": media_type,
            "config": {"mediaType": config_type, "digest": config_digest, "size": len(config_raw)},
            "layers": [{"mediaType": layer_type, "digest": d, "size": s} for _p, _diff, d, s in blobs],
        }
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        report("Writing manifest to image destination")
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        return raw, media_type, str(client.put_manifest(repo, ref or digest, raw, media_type))


def _same_registry_repo(names: tuple[str, ...], dest: reference.Reference) -> Optional[str]:
    for n in names:
        try:
            r = reference.parse(n)
        except Exception:  # noqa: BLE001
            continue
        if r.domain == dest.domain and r.path != dest.path:
            return r.path
    return None


def _push_to_files(rt: Runtime, o: PushOptions, image: Any, t: Any, report: Callable[[str], None]) -> str:
    """push to an archive or a layout directory (or, containers-storage:NAME, a name in this
    store); the digest of the manifest written."""
    from . import destinations as dst
    from .imagestore import own_store

    if t.transport == "containers-storage":
        from .imagestore import tag

        own_store(rt, t)
        tag(rt, o.image, [t.name])
        return "sha256:" + image.id
    source_tags = _source_tags(rt, image, o.image)
    if t.transport == "docker-archive":
        if o.format == "oci":
            raise InvalidArgument("--format oci: a docker-archive holds Docker schema 2 images only")
        try:
            tags = ([reference.normalize_pull(t.name)] if t.name else []) + source_tags
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from exc
        compression, ref_name = "none", None
    elif t.transport in ("oci-archive", "oci"):
        tags, compression, ref_name = [], o.compression, t.name
    else:  # dir:
        tags, compression, ref_name = [], ("gzip" if o.compress else "none"), None
    reconcile(rt)
    try:
        with rt.store.temporary("push") as stage:
            entries = dst.export(rt, stage, [(image, list(dict.fromkeys(tags)), ref_name)], compression, report)
            entry = entries[0]
            if t.transport == "dir":
                dst.write_docker_dir(t.path, entry, oci=o.format == "oci")
                raw = dst.oci_manifest(entry) if o.format == "oci" else dst.docker_manifest(entry)
            elif t.transport == "oci":
                dst.write_oci_dir(t.path, entries)
                raw = dst.oci_manifest(entry)
            else:
                dst.write_tar_file(t.path, entries, t.transport)
                raw = dst.docker_manifest(entry) if t.transport == "docker-archive" else dst.oci_manifest(entry)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _source_tags(rt: Runtime, image: Any, name: str) -> list[str]:
    """The stored name the user pushed by (none when pushed by id)."""
    try:
        cands = reference.candidates(name, rt.cfg.short_names)
    except Exception:  # noqa: BLE001 - an id or id prefix is no reference
        return []
    return [c for c in cands if c in image.names and "@" not in c][:1]
