"""`pod clone`: a new pod with an existing pod's configuration, and a clone of each of its
containers in it (as podman clones them: NAME-clone, its infra container INFRA-NAME-clone).

The pod's options come from what `pod create` kept (PodConfig), changed by the clone's flags;
the containers are cloned as `container clone` clones them (clone.py), into the new pod. If a
container cannot be cloned, the new pod goes again, with what was made in it.
"""

from __future__ import annotations

from ..errors import NoSuchPod
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .podstore import PodRecord


def pod_clone_name(rt: Runtime, pods: Any, base: str) -> str:
    n = 0
    while True:
        name = f"{base}-clone" + (str(n) if n else "")
        try:
            pods.lookup(name)
        except NoSuchPod:
            return name
        n += 1


def clone_create_options(rt: Runtime, pod: PodRecord, infra_name: str, name: str,
                         changes: dict[str, Any]) -> dict[str, Any]:
    """The `pod create` options (PodCreateOptions' fields) of pod's clone: its configuration,
    then the changes given."""
    import json

    cfg = pod.config
    fields: dict[str, Any] = dict(
        name=name, infra=cfg.infra, infra_image=cfg.infra_image or None,
        infra_command=json.dumps(cfg.infra_command) if cfg.infra_command else None,
        infra_name=infra_name or None, share=",".join(cfg.share) if cfg.share else "none",
        share_parent=cfg.share_parent, publish=list(cfg.ports), network=list(cfg.networks),
        hostname=cfg.hostname or None, add_host=list(cfg.add_hosts), dns=list(cfg.dns.get("servers") or []),
        dns_search=list(cfg.dns.get("search") or []), dns_option=list(cfg.dns.get("options") or []),
        labels=[f"{k}={v}" for k, v in cfg.labels.items()], userns=cfg.userns or None, volumes=list(cfg.volumes),
        exit_policy=cfg.exit_policy, create_command=list(cfg.create_command), no_hosts=cfg.no_hosts,
        shm_size=cfg.shm_size or None, sysctls=list(cfg.sysctls), security_opts=list(cfg.security_opts),
        volumes_from=list(cfg.volumes_from), devices=list(cfg.devices), uidmap=list(cfg.uidmap),
        gidmap=list(cfg.gidmap), subuidname=cfg.subuidname or None, subgidname=cfg.subgidname or None,
        **cfg.cgroup_opts)
    for key, value in changes.items():
        if value in (None, []):
            continue
        fields[key] = [*fields.get(key, []), *value] if key == "labels" else value
    return fields
