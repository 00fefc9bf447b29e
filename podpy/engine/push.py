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
from dataclasses import dataclass
from typing import Any, Callable, Optional

from storage import reference

from ..errors import InvalidArgument, PodpyError, translate
from .imagestore import lookup
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .pull import Progress

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
               "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}


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


def _export_in_ns(dirs: tuple[str, Optional[str]], path: str, compression: str, tar_split: Optional[str] = None,
                  diff_id: Optional[str] = None) -> tuple[str, str, int]:
    from storage.export import export_to_file

    layer_dir, parent_dir = dirs
    return export_to_file(layer_dir, path, compression, parent_dir, tar_split, diff_id)


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
    from ..registry.conf import load
    from .pull import Endpoint, PullOptions, _client, given_credentials

    if o.compression not in LAYER_TYPES:
        raise InvalidArgument(f"invalid --compression-format {o.compression!r}: use gzip or zstd")
    image = lookup(rt, o.image)
    dest_name = o.destination or o.image
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
    reconcile(rt)
    try:
        with rt.store.temporary("push") as stage:
            report("Getting image source signatures")
            blobs = []
            for i in range(len(image.layers)):
                path = os.path.join(stage.path, f"layer{i}")
                dirs = rt.store.layer_export_dirs(image, i)
                # A pulled or loaded layer is sent as the very tar it came as (its tar-split
                # record), so the image keeps its diff ids and its id.
                lid = image.layers[i]
                exported = rt.store.in_userns(_export_in_ns, dirs, path, o.compression, rt.store.tar_split(lid),
                                              rt.store.layer_diff_id(lid))
                blobs.append((path, *exported))
            config_raw = _config_for(rt, image, [b[1] for b in blobs])
            config_digest = "sha256:" + hashlib.sha256(config_raw).hexdigest()
            mount_from = _same_registry_repo(image.names, dest)
            with _client(ep, popts) as client:
                for path, _diff, digest, size in blobs:
                    short = digest.split(":", 1)[1][:12]
                    with open(path, "rb") as f:
                        body = _Metered(f, short, size, progress) if progress else f
                        how = client.upload_blob(dest.path, digest, size, body, mount_from=mount_from)
                    report(f"Copying blob {short}" + (" skipped: already exists" if how == "exists" else ""))
                client.upload_blob(dest.path, config_digest, len(config_raw), io.BytesIO(config_raw))
                report(f"Copying config {config_digest.split(':', 1)[1][:12]}")
                manifest = {
                    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_raw)},
                    "layers": [{"mediaType": LAYER_TYPES[o.compression], "digest": d, "size": s}
                               for _p, _diff, d, s in blobs],
                }
                raw = json.dumps(manifest, separators=(",", ":")).encode()
                report("Writing manifest to image destination")
                return str(client.put_manifest(dest.path, dest.digest or dest.tag or "latest", raw, OCI_MANIFEST))
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _config_for(rt: Runtime, image: Any, diff_ids: list[str]) -> bytes:
    """The image's config bytes as stored when the layers export to the same diff ids; otherwise
    the same config with the exported layers' diff ids."""
    from storage import images as img

    raw = img.config_text(rt.db.conn, image.id).encode()
    config = json.loads(raw)
    if list((config.get("rootfs") or {}).get("diff_ids") or []) == diff_ids:
        return raw
    config.setdefault("rootfs", {"type": "layers"})["diff_ids"] = diff_ids
    return json.dumps(config, separators=(",", ":")).encode()


def _same_registry_repo(names: tuple[str, ...], dest: reference.Reference) -> Optional[str]:
    for n in names:
        try:
            r = reference.parse(n)
        except Exception:  # noqa: BLE001
            continue
        if r.domain == dest.domain and r.path != dest.path:
            return r.path
    return None
