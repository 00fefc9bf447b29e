"""The platforms a registry's manifest list offers: what `build --all-platforms` builds for.

As buildah's rule: each base image name is resolved (short names through the search registries)
to a manifest list, and the platforms every one of them offers are built; an entry without a
usable platform (no os, "unknown", an attestation) counts for none. Only the manifests are read:
nothing is pulled here.
"""

from __future__ import annotations

from typing import Any, Optional

from storage import reference

from ..errors import InvalidArgument, PodpyError, translate
from .context import Runtime

# variants that are an architecture's baseline, which a platform's name leaves out (containerd's
# normalization): amd64 is amd64/v1, arm64 is arm64/v8; a plain arm is arm/v7
_BASELINE = {"amd64": "v1", "arm64": "v8"}
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386", "armhf": "arm"}


def normalize(platform: dict[str, Any]) -> Optional[str]:
    """"os/arch[/variant]" of an index entry's platform, or None when it names none usable."""
    os_ = str(platform.get("os") or "").lower()
    arch = str(platform.get("architecture") or "").lower()
    if os_ in ("", "unknown") or arch in ("", "unknown"):
        return None
    arch = _ARCH_ALIASES.get(arch, arch)
    variant = str(platform.get("variant") or "").lower()
    if arch == "arm64" and variant == "8":
        variant = "v8"
    if arch == "arm" and not variant:
        variant = "v7"
    if _BASELINE.get(arch) == variant:
        variant = ""
    return "/".join(p for p in (os_, arch, variant) if p)


def common_platforms(rt: Runtime, bases: list[str], opts: Any) -> list[str]:
    """The platforms all of bases' manifest lists offer, sorted; opts: the PullOptions whose
    TLS and credential settings reach the registries. buildah's errors when a base is no list,
    when there is no base (only scratch) or when the lists have no platform in common."""
    if not bases:
        raise InvalidArgument("build uses no non-scratch base images")
    common: Optional[set[str]] = None
    for base in bases:
        offered = _list_platforms(rt, base, opts)
        common = offered if common is None else common & offered
    if not common:
        raise InvalidArgument("base images have no platforms in common")
    return sorted(common)


def _list_platforms(rt: Runtime, base: str, opts: Any) -> set[str]:
    from storage.transports.manifest import parse_manifest
    from storage.transports.registry import RegistryError

    from ..registry.conf import load
    from .pull import _client, endpoints, given_credentials

    given_credentials(opts)
    conf = load(rt.cfg.config_dir)
    try:
        cands = reference.pull_candidates(base, conf.short_names())
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InvalidArgument(f"resolving image name {base!r}: {exc}") from None
    for ref in cands:
        for ep in endpoints(ref, conf):
            try:
                with _client(ep, opts) as client:
                    raw, media_type, _digest = client.get_manifest(ep.repository, ref.digest or ref.tag or "latest")
                parsed = parse_manifest(raw, media_type)
            except RegistryError:
                continue    # as buildah: a candidate that cannot be read is passed over
            except PodpyError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise translate(exc) from exc
            if isinstance(parsed, list):
                return {p for p in (normalize(e.platform or {}) for e in parsed
                                    if (e.annotations or {}).get("vnd.docker.reference.type")
                                    != "attestation-manifest") if p}
            break    # an image, not a list: the next candidate
    if cands:
        raise InvalidArgument(f'base image name "{base}" didn\'t resolve to a manifest list')
    raise InvalidArgument(f'base image name "{base}" didn\'t resolve to anything')
