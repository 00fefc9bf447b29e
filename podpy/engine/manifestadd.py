"""What `manifest add` and `manifest create` put in a list: the instances an image reference names.

A reference is read as podman reads one, plus a local shortcut: `containers-storage:NAME` is an
image of this store, `docker://NAME` one in a registry, and so is a bare name with a registry in
it (`registry.example.com/app:1`); a short name, a `localhost/` name or an id is the local image
when there is one, and otherwise looked up in the search registries. A local image is added by its manifest digest
(the one `manifest push` finds it by again); a registry image by the manifest the registry
serves, and a list there by the entry for the wanted platform, or, with `--all`, by every
image entry it has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import InvalidArgument, NoSuchImage, PodpyError, translate
from .context import Runtime
from .manifeststore import OCI_MANIFEST, ManifestList, entry, find_image, is_list, platform_of_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


@dataclass(frozen=True)
class AddOptions:
    all: bool = False
    os: Optional[str] = None
    arch: Optional[str] = None
    variant: Optional[str] = None
    os_version: Optional[str] = None
    features: tuple[str, ...] = ()
    os_features: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    tls_verify: Optional[bool] = None
    creds: Optional[str] = None
    cert_dir: Optional[str] = None
    auth_file: Optional[str] = None


def override(e: dict[str, Any], o: AddOptions) -> dict[str, Any]:
    """The entry with the platform fields and annotations the options give."""
    plat = dict(e.get("platform") or {})
    for key, value in (("architecture", o.arch), ("os", o.os), ("variant", o.variant),
                       ("os.version", o.os_version)):
        if value:
            plat[key] = value
    if o.features:
        plat["features"] = list(o.features)
    if o.os_features:
        plat["os.features"] = list(o.os_features)
    notes = dict(e.get("annotations") or {})
    notes.update(o.annotations)
    return entry(e["mediaType"], e["size"], e["digest"], plat, notes)


def instances(rt: Runtime, ref: str, o: AddOptions) -> ManifestList:
    """The instances ref names, in a ManifestList of their own (entries and sources)."""
    if ref.startswith("containers-storage:"):
        return _local(rt, ref[len("containers-storage:"):], o)
    if ref.startswith("docker://"):
        return _remote(rt, ref[len("docker://"):], o)
    if "://" in ref:
        raise InvalidArgument(f"unsupported transport in {ref!r}: use docker:// or containers-storage:")
    if _names_registry(ref):
        return _remote(rt, ref, o)
    try:
        return _local(rt, ref, o)
    except NoSuchImage:
        if ref.startswith("localhost/") or ref.startswith("sha256:"):
            raise   # no registry to ask
        return _remote(rt, ref, o)


def _names_registry(ref: str) -> bool:
    """Whether ref names a registry to fetch from (not localhost, not a short name or an id)."""
    from storage import reference

    if reference.is_hex_id(ref):
        return False
    try:
        parsed = reference.parse(ref)
    except Exception:  # noqa: BLE001 - the lookups say what is wrong with it
        return False
    return bool(parsed.qualified and parsed.domain != reference.LOCAL_REGISTRY)


def _local(rt: Runtime, name: str, o: AddOptions) -> ManifestList:
    image = find_image(rt, name)
    if is_list(rt, image):
        raise InvalidArgument(f"{name}: is a manifest list; lists inside lists are not supported")
    if not image.manifest or not image.digest:
        raise PodpyError(f"{name}: the image has no manifest recorded to add to a list")
    media_type = json.loads(image.manifest).get("mediaType") or OCI_MANIFEST
    e = entry(media_type, len(image.manifest.encode()), image.digest, platform_of_config(image.config))
    return ManifestList(entries=[override(e, o)])


def _remote(rt: Runtime, name: str, o: AddOptions) -> ManifestList:
    """The instances of a registry's image or list; each recorded with where it came from."""
    from storage import reference
    from storage.transports.registry import ManifestUnknownError, RegistryError

    from ..registry.conf import load
    from .pull import PullOptions, given_credentials

    popts = PullOptions(name=name, tls_verify=o.tls_verify, creds=o.creds, cert_dir=o.cert_dir,
                        auth_file=o.auth_file)
    given_credentials(popts)
    conf = load(rt.cfg.config_dir)
    try:
        cands = reference.pull_candidates(name, conf.short_names())
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    errors = []
    for ref in cands:
        try:
            return _fetch(ref, popts, conf, o)
        except ManifestUnknownError as exc:
            errors.append(str(exc))
        except RegistryError as exc:
            if len(cands) == 1:
                raise translate(exc) from exc
            errors.append(str(exc))
    raise NoSuchImage(f"reading {name}: " + "; ".join(errors))


def _fetch(ref: Any, popts: Any, conf: Any, o: AddOptions) -> ManifestList:
    from storage.transports.manifest import ImageManifest, choose_platform, host_platform, parse_manifest

    from .pull import _client, endpoints

    ep = endpoints(ref, conf)[-1]   # the registry itself: a push copies from there
    insecure = ep.insecure or popts.tls_verify is False
    source = {"ref": f"{ep.host}/{ep.repository}", "insecure": insecure}
    out = ManifestList()
    with _client(ep, popts) as client:
        raw, media_type, digest = client.get_manifest(ep.repository, ref.digest or ref.tag or "latest")
        parsed = parse_manifest(raw, media_type)
        if isinstance(parsed, ImageManifest):
            with client.open_blob(ep.repository, parsed.config.digest, parsed.config.size) as blob:
                config = json.loads(blob.read())
            e = entry(parsed.media_type, len(raw), digest, platform_of_config(config))
            out.put(override(e, o), source)
            return out
        images = [d for d in parsed if d.media_type in (OCI_MANIFEST, "application/vnd.docker.distribution"
                                                                      ".manifest.v2+json")
                  and (d.annotations or {}).get("vnd.docker.reference.type") != "attestation-manifest"]
        if not o.all:
            host_os, host_arch, host_variant = host_platform()
            images = [choose_platform(images, o.os or host_os, o.arch or host_arch,
                                      o.variant if (o.variant or o.arch) else host_variant)]
        # With --all the platforms are the list's own; only the annotations are added to each.
        notes_only = AddOptions(annotations=o.annotations)
        for d in images:
            e = entry(d.media_type, d.size, d.digest, d.platform, d.annotations)
            out.put(override(e, notes_only if o.all else o), source)
    return out
