"""`kube generate`'s mapping: pods and containers as podpy keeps them -> Kubernetes documents.

pod_documents() is handed, for one pod, what the engine read (each member's name, image
name, ContainerConfig and its image's config; the pod's record; its infra container's
config) and returns the Pod (or Deployment) document, a Service when asked, and the
PersistentVolumeClaims of the named volumes it uses; dump() writes them as YAML. Unlike
podman's, every name is valid for Kubernetes (RFC 1123: lowercase letters, digits and '-',
at most 63), and a member named POD-NAME (as `kube play` names them) is NAME again, so that
playing the output makes the same names.
"""

from __future__ import annotations

import os
import re

from ..config import DEFAULT_PATH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..engine.podstore import PodConfig
    from ..state import ContainerConfig

_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
RESTART = {"always": "Always", "unless-stopped": "Always", "no": "Never"}


class Member:
    """One container of the pod to write: its name, image name, configuration, and its
    image's config (Env, WorkingDir, Entrypoint, Cmd)."""

    def __init__(self, name: str, image: str, config: ContainerConfig, image_config: dict[str, Any]) -> None:
        self.name, self.image, self.config, self.image_config = name, image, config, image_config


def dns_label(name: str, fallback: str = "podpy") -> str:
    """name as an RFC 1123 label: lowercase, '_' and other characters as '-', at most 63."""
    out = _NOT_DNS.sub("-", name.lower()).strip("-")[:63].strip("-")
    return out or fallback


def pod_documents(pod_name: str, members: list[Member], infra: Optional[ContainerConfig] = None,
                  pod: Optional[PodConfig] = None, kind: str = "pod", replicas: int = 1,
                  service: bool = False, own_volumes: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The documents of one pod: Services first, then claims, then the Pod or Deployment
    (the order `kubectl apply` takes them in). own_volumes: the volumes `kube play` made for a
    pod's emptyDir, configMap and secret volumes, written as emptyDir (not as claims)."""
    name = dns_label(pod_name)
    net = infra if infra is not None else members[0].config
    labels = {"app": name}
    for k, v in (pod.labels if pod is not None else {}).items():
        if _LABEL_KEY.match(k) and len(k) <= 253 and _LABEL_VALUE.match(v) and len(v) <= 63:
            labels[k] = v
    claims: dict[str, str] = {}
    volumes: list[dict[str, Any]] = []
    containers = []
    taken: set[str] = set()
    # a volume `kube play` made for the pod's volume NAME is POD-NAME: NAME again
    own = {v: dns_label(v[len(pod_name) + 1:] if v.startswith(pod_name + "-") else v, "volume")
           for v in own_volumes}
    for i, m in enumerate(members):
        cname = m.name[len(pod_name) + 1:] if m.name.startswith(pod_name + "-") else m.name
        cname = dns_label(cname, f"container{i}")
        while cname in taken:
            cname = dns_label(f"{cname}-{i}")
        taken.add(cname)
        containers.append(_container(cname, m, volumes, claims, net.ports if i == 0 else [], own))
    spec: dict[str, Any] = {"containers": containers}
    if net.network == "host" or all(m.config.network == "host" for m in members):
        spec["hostNetwork"] = True
    hostname = (pod.hostname if pod is not None else members[0].config.hostname) or ""
    if hostname and hostname != pod_name:
        spec["hostname"] = dns_label(hostname)
    aliases: dict[str, list[str]] = {}
    for entry in net.add_hosts or []:
        host, ip = (entry if isinstance(entry, (list, tuple)) else str(entry).rsplit(":", 1))
        aliases.setdefault(ip, []).append(host)
    if aliases:
        spec["hostAliases"] = [{"ip": ip, "hostnames": hosts} for ip, hosts in aliases.items()]
    restart = members[0].config.restart.split(":")[0]
    spec["restartPolicy"] = RESTART.get(restart, "OnFailure")
    spec["terminationGracePeriodSeconds"] = max(int(m.config.stop_timeout) for m in members)
    if volumes:
        spec["volumes"] = volumes
    docs: list[dict[str, Any]] = []
    if service and net.ports:
        docs.append(_service(name, labels, net.ports))
    for claim in claims:
        docs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim},
                     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    if kind == "deployment":
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"creationTimestamp": _now(), "name": f"{name}-deployment"[:253], "labels": labels},
                     "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                              "template": {"metadata": {"labels": labels}, "spec": spec}}})
    else:
        docs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"creationTimestamp": _now(), "name": name, "labels": labels}, "spec": spec})
    return docs


def _now() -> str:
    """metadata.creationTimestamp as podman writes it: now, RFC 3339 in UTC to the second."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _service(name: str, labels: dict[str, str], ports: list[dict[str, Any]]) -> dict[str, Any]:
    out = []
    for p in ports:
        proto = str(p.get("protocol") or "tcp").upper()
        entry: dict[str, Any] = {"name": f"{proto.lower()}-{p['container_port']}", "protocol": proto,
                                 "port": int(p["container_port"]), "targetPort": int(p["container_port"])}
        host = int(p.get("host_port") or 0)
        if 30000 <= host <= 32767:
            entry["nodePort"] = host
        if entry not in out:
            out.append(entry)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
            "spec": {"type": "NodePort", "selector": {"app": name}, "ports": out}}


def _container(name: str, m: Member, volumes: list[dict[str, Any]], claims: dict[str, str],
               ports: list[dict[str, Any]], own: dict[str, str]) -> dict[str, Any]:
    from rootless import capabilities

    cfg, icfg = m.config, m.image_config
    out: dict[str, Any] = {"name": name, "image": m.image}
    # As podman writes them: the image's own entrypoint is left to the image (`args` the
    # command); another entrypoint is `command` (and the command `args`); with none at all,
    # the command is `command`.
    if cfg.entrypoint and list(cfg.entrypoint) == list(icfg.get("Entrypoint") or []):
        if cfg.command:
            out["args"] = list(cfg.command)
    elif cfg.entrypoint:
        out["command"] = list(cfg.entrypoint)
        if cfg.command:
            out["args"] = list(cfg.command)
    elif cfg.command:
        out["command"] = list(cfg.command)
    image_env = set(icfg.get("Env") or [])
    defaults = {f"PATH={DEFAULT_PATH}", "TERM=xterm", "container=podman"}
    env = []
    for item in cfg.env:
        key, _, value = item.partition("=")
        if item in image_env or item in defaults or key == "HOSTNAME" or (key == "HOME" and value in ("/root", "/")):
            continue
        env.append({"name": key, "value": value})
    if not any(e.startswith("PATH=") for e in image_env):
        # the image sets none: podpy gave its default, which another engine may not give
        path = next((e for e in cfg.env if e.startswith("PATH=")), None)
        if path is not None:
            env.insert(0, {"name": "PATH", "value": path[5:]})
    if env:
        out["env"] = env
    if cfg.workdir and cfg.workdir != (icfg.get("WorkingDir") or "/"):
        out["workingDir"] = cfg.workdir
    port_list = []
    for p in ports:
        entry: dict[str, Any] = {"containerPort": int(p["container_port"])}
        if p.get("host_port"):
            entry["hostPort"] = int(p["host_port"])
        if p.get("host_ip"):
            entry["hostIP"] = p["host_ip"]
        if str(p.get("protocol") or "tcp").lower() != "tcp":
            entry["protocol"] = str(p["protocol"]).upper()
        port_list.append(entry)
    if port_list:
        out["ports"] = port_list
    limits: dict[str, Any] = {}
    if cfg.limits.get("memory"):
        mem = int(cfg.limits["memory"])
        limits["memory"] = f"{mem >> 20}Mi" if mem % (1 << 20) == 0 else str(mem)
    if cfg.limits.get("cpus"):
        quota, _, period = str(cfg.limits["cpus"]).partition(" ")
        limits["cpu"] = f"{round(int(quota) * 1000 / int(period or 100000))}m"
    if limits:
        out["resources"] = {"limits": limits}
    sc: dict[str, Any] = {}
    if cfg.privileged:
        sc["privileged"] = True
    else:
        have = set(capabilities.resolve(capabilities.DEFAULT, list(cfg.cap_add), list(cfg.cap_drop), False))
        base = {"CAP_" + c for c in capabilities.DEFAULT}
        caps = {}
        if have - base:   # named as podman names them, CAP_ and all
            caps["add"] = sorted(have - base)
        if base - have:
            caps["drop"] = sorted(base - have)
        if caps:
            sc["capabilities"] = caps
    if cfg.user:
        sc["runAsUser"] = int(cfg.uid)
        if ":" in cfg.user:
            sc["runAsGroup"] = int(cfg.gid)
    if cfg.read_only:
        sc["readOnlyRootFilesystem"] = True
    if cfg.no_new_privileges:
        sc["allowPrivilegeEscalation"] = False
    if sc:
        out["securityContext"] = sc
    if cfg.tty:
        out["tty"] = True
    if cfg.interactive:
        out["stdin"] = True
    mounts = []
    for mount in cfg.mounts:
        ro = "ro" in (mount.get("options") or [])
        vol = _volume(mount, volumes, claims, own)
        if vol is None:
            continue
        entry = {"name": vol, "mountPath": mount["destination"]}
        if ro:
            entry["readOnly"] = True
        mounts.append(entry)
    if mounts:
        out["volumeMounts"] = mounts
    check = cfg.healthcheck or {}
    if check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"):
        test = check["test"]
        command = list(test[1:]) if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
        probe: dict[str, Any] = {"exec": {"command": command},
                                 "periodSeconds": max(1, round(check.get("interval") or 30)),
                                 "timeoutSeconds": max(1, round(check.get("timeout") or 30)),
                                 "failureThreshold": int(check.get("retries") or 3)}
        if check.get("start_period"):
            probe["initialDelaySeconds"] = round(check["start_period"])
        out["livenessProbe"] = probe
    return out


def _volume(mount: dict[str, Any], volumes: list[dict[str, Any]], claims: dict[str, str],
            own: dict[str, str]) -> Optional[str]:
    """The name of the pod's volume for a mount (added to volumes when new)."""
    if mount.get("volume") in own:
        name = own[mount["volume"]]
        source: dict[str, Any] = {"emptyDir": {}}
    elif mount.get("type") == "tmpfs":
        name = dns_label("tmpfs" + mount["destination"].replace("/", "-"))
        source = {"emptyDir": {"medium": "Memory"}}
    elif mount.get("volume") and not mount.get("anonymous"):
        claim = dns_label(mount["volume"], "volume")
        claims[claim] = mount["volume"]
        name = dns_label(f"{claim}-pvc")
        source = {"persistentVolumeClaim": {"claimName": claim}}
    elif mount.get("volume"):
        name = dns_label("anon" + mount["destination"].replace("/", "-"))
        source = {"emptyDir": {}}
    elif mount.get("type") == "bind" and mount.get("source"):
        path = mount["source"]
        name = dns_label("host" + path.replace("/", "-"))
        kind = "File" if os.path.isfile(path) else "Directory" if os.path.isdir(path) else ""
        source = {"hostPath": {"path": path, **({"type": kind} if kind else {})}}
    else:
        return None
    for v in volumes:
        if v["name"] == name:
            if {k: x for k, x in v.items() if k != "name"} == source:
                return name
            name = dns_label(f"{name[:58]}-{len(volumes)}")
    volumes.append({"name": name, **source})
    return name


def dump(docs: list[dict[str, Any]]) -> str:
    """The documents as one YAML stream."""
    import yaml

    from .. import __version__

    head = f"# Generated by podpy {__version__}; `podpy kube play` or `kubectl apply -f` reads it.\n"
    return head + yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, explicit_start=False)
