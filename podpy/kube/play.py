"""`kube play`'s mapping: checked documents -> what to make (a Plan), with no store touched.

A Pod becomes one pod, a Deployment `replicas` pods named NAME-pod-0, NAME-pod-1, ... (as
podman names them), a DaemonSet one pod NAME-pod; a PersistentVolumeClaim a named volume.
ConfigMaps (of the file and of --configmap files) and Secrets (of the file) feed env,
envFrom, valueFrom and volumes; a Service publishes its nodePorts on the pods its selector
picks. Each container of pod P is made as P-NAME, in the pod, so it shares the pod's network,
UTS and IPC namespaces. A pod's emptyDir, configMap and secret volumes are volumes of its
own, P-VOLUME (labelled io.podpy.kube.pod=P, removed by `kube down`); a claim's volume is
kept, as podman keeps it.

Everything here raises InvalidArgument with the document and field path for input it cannot
honour, so `kube play` fails before it makes anything.
"""

from __future__ import annotations

import posixpath

from ..engine.podoptions import PodCreateOptions
from ..errors import InvalidArgument
from .containers import PodContainers
from .plan import HOST_PATH_TYPES, MAX_ANNOTATION, RESTART, SECCOMP_CONTAINER, SECCOMP_POD, Plan, PlayOptions, PodPlan
from .schema import Document

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


def pod_names(doc: Document) -> list[str]:
    """The pods a workload document makes (what `kube down` removes)."""
    name = _name(doc)
    if doc.kind == "Pod":
        return [name]
    if doc.kind == "DaemonSet":
        return [f"{name}-pod"]
    if doc.kind == "Deployment":
        replicas = (doc.body.get("spec") or {}).get("replicas")
        count = 1 if replicas is None else replicas
        if count < 0:
            raise doc.fail("spec.replicas", "must not be negative")
        return [f"{name}-pod-{i}" for i in range(count)]
    return []


def _name(doc: Document) -> str:
    name = (doc.body.get("metadata") or {}).get("name")
    if not name:
        raise doc.fail("metadata.name", "missing")
    return str(name)


def plan(docs: list[Document], opts: PlayOptions, volume_dir: Callable[[str], str],
         configmaps: Optional[list[Document]] = None,
         stored_secret: Optional[Callable[[str], Optional[bytes]]] = None) -> Plan:
    """What the documents make. volume_dir(NAME): the directory a volume's data is in (for
    subPath mounts of volumes); stored_secret(NAME): the data of podpy's secret NAME (None when
    there is none), for references to a Secret the file does not hold."""
    maps: dict[str, dict[str, str]] = {}
    for doc in [*(configmaps or []), *docs]:
        if doc.kind == "ConfigMap":
            maps[_name(doc)] = {**(doc.body.get("data") or {}), **_binary(doc)}
    secrets = _Secrets({_name(d): _secret_data(d) for d in docs if d.kind == "Secret"}, stored_secret)
    services = [d for d in docs if d.kind == "Service"]
    out = Plan()
    for doc in docs:
        if doc.kind == "PersistentVolumeClaim":
            out.claims.append(_name(doc))
    for doc in docs:
        if doc.kind not in ("Pod", "Deployment", "DaemonSet"):
            continue
        if doc.kind == "Pod":
            meta, spec, prefix = doc.body.get("metadata") or {}, doc.body.get("spec") or {}, "spec."
        else:
            template = (doc.body.get("spec") or {}).get("template") or {}
            meta, spec = template.get("metadata") or {}, template.get("spec") or {}
            prefix = "spec.template.spec."
        for key, value in (meta.get("annotations") or {}).items():
            if len(value) > MAX_ANNOTATION:   # podman's words, its misspelling too
                raise InvalidArgument(f'invalid annotation "{key}"="{value}" value length exceeds Kubernetetes '
                                      f'max {MAX_ANNOTATION}')
        for name in pod_names(doc):
            ctx = _Pod(doc, prefix, name, meta, maps, secrets, volume_dir)
            out.pods.append(ctx.build(spec, opts, services))
    names = [p.name for p in out.pods]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InvalidArgument(f"pod {dup} is made by more than one document")
    return out


def _binary(doc: Document) -> dict[str, str]:
    import base64
    import binascii

    out = {}
    for key, value in (doc.body.get("binaryData") or {}).items():
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            raise doc.fail(f"binaryData.{key}", "not base64") from None
    return out


def _secret_data(doc: Document) -> dict[str, bytes]:
    import base64
    import binascii

    out: dict[str, bytes] = {}
    for key, value in (doc.body.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise doc.fail(f"data.{key}", "not base64") from None
    for key, value in (doc.body.get("stringData") or {}).items():
        out[key] = value.encode()
    return out


class _Secrets(dict):  # type: ignore[type-arg]
    """The file's Secrets by name; a name it does not hold is looked up among podpy's secrets
    (`podpy secret create`), as podman looks up its own: data that is a Kubernetes Secret in
    YAML or JSON gives its keys, other data is the one key named as the secret."""

    def __init__(self, found: dict[str, dict[str, bytes]],
                 stored: Optional[Callable[[str], Optional[bytes]]]) -> None:
        super().__init__(found)
        self.stored = stored

    def get(self, name: str, default: Any = None) -> Any:
        if name in self or self.stored is None or not name:
            return super().get(name, default)
        data = self.stored(name)
        if data is None:
            return default
        import yaml

        try:
            body = yaml.safe_load(data)
        except (yaml.YAMLError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and (body.get("data") or body.get("stringData")):
            doc = Document(0, "Secret", body, f"secret {name}: ")
            try:
                return _secret_data(doc)
            except InvalidArgument:
                pass
        return {name: data}


class _Pod(PodContainers):
    """The mapping of one pod's template: the pod's own options, volumes and ports (its
    containers': containers.PodContainers)."""

    def build(self, spec: dict[str, Any], opts: PlayOptions, services: list[Document]) -> PodPlan:
        containers = spec.get("containers") or []
        if not containers:
            raise self.fail("containers", "a pod needs at least one container")
        restart = spec.get("restartPolicy") or "Always"
        if restart not in RESTART:
            raise self.fail("restartPolicy", f"{restart!r} is not Always, OnFailure or Never")
        publish: list[str] = []
        for i, c in enumerate(containers):
            for j, port in enumerate(c.get("ports") or []):
                publish.append(self._port(port, f"containers[{i}].ports[{j}]"))
        for svc in services:
            publish += self._service_ports(svc, containers)
        publish += opts.publish
        publish = list(dict.fromkeys(publish))
        host_network = bool(spec.get("hostNetwork"))
        network = list(opts.network)
        if host_network:
            # each container is on the host's network itself (a container cannot join a host
            # network namespace another one holds, from a user namespace): the pod shares only
            # IPC and UTS, and there is nothing to publish
            network, publish = [], []
        aliases = [f"{h}:{a['ip']}" for a in spec.get("hostAliases") or [] for h in a.get("hostnames") or []
                   if a.get("ip")]
        if opts.no_hosts and aliases:
            raise self.fail("hostAliases", "the pod's /etc/hosts entries cannot be written with --no-hosts")
        create = PodCreateOptions(
            name=self.name, labels=[f"{k}={v}" for k, v in self.labels.items()], publish=publish,
            network=network, hostname=spec.get("hostname") or None, add_host=aliases, userns=opts.userns,
            ip=opts.ip, mac_address=opts.mac_address, share="ipc,uts" if host_network else None,
            create_command=["podpy", "kube", "play"], no_hosts=opts.no_hosts,
            exit_policy="stop")   # podman's: a kube pod ends when its containers have
        out = PodPlan(self.name, create)
        volumes = self._volumes(spec.get("volumes") or [], out)
        pod_sc = spec.get("securityContext") or {}
        seen: set[str] = set()
        for key, target, policy in (("initContainers", out.init, "no"), ("containers", out.containers,
                                                                          RESTART[restart])):
            for i, c in enumerate(spec.get(key) or []):
                path = f"{key}[{i}]"
                cname = c.get("name")
                if not cname:
                    raise self.fail(f"{path}.name", "missing")
                if cname in seen:
                    raise self.fail(f"{path}.name", f"{cname!r} is the name of another container of the pod")
                seen.add(cname)
                ctr = self.container(c, path, volumes, pod_sc, policy, opts, out)
                if key == "initContainers":
                    ctr.init_ctr = "once"
                ctr.annotations = [*ctr.annotations, *opts.annotations]
                ctr.no_hosts = opts.no_hosts
                ctr.authfile, ctr.cert_dir, ctr.creds, ctr.tls_verify = (opts.authfile, opts.cert_dir, opts.creds,
                                                                         opts.tls_verify)
                seccomp = self._seccomp(cname, opts.seccomp_profile_root)
                if seccomp is not None:
                    ctr.security_opts = [*ctr.security_opts, f"seccomp={seccomp}"]
                if host_network:
                    ctr.network = ["host"]
                    ctr.add_hosts = list(aliases)   # its own /etc/hosts: the pod's aliases in it too
                # else the members take the infra container's /etc/hosts, which has them
                if spec.get("terminationGracePeriodSeconds") is not None:
                    ctr.stop_timeout = str(max(0, spec["terminationGracePeriodSeconds"]))
                target.append(ctr)
        return out

    def _seccomp(self, container: str, root: str) -> Optional[str]:
        """The seccomp profile the pod's annotations give a container (its own annotation before
        the pod's): `unconfined`, a file below root for `localhost/NAME`, None for the default."""
        notes = self.meta.get("annotations") or {}
        value = notes.get(SECCOMP_CONTAINER + container, notes.get(SECCOMP_POD))
        if value is None or value in ("runtime/default", "docker/default"):
            return None
        if value == "unconfined":
            return "unconfined"
        if value.startswith("localhost/"):
            import os

            return os.path.join(root, value[len("localhost/"):])
        raise self.doc.fail("metadata.annotations", f"{value!r} is no seccomp profile: use unconfined, "
                            "runtime/default or localhost/PROFILE")

    def _port(self, port: dict[str, Any], path: str) -> str:
        proto = (port.get("protocol") or "TCP").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise self.fail(f"{path}.protocol", f"{port.get('protocol')!r} is not TCP, UDP or SCTP")
        # podman 4.3.1's: a port without hostPort is published on the same port of the host,
        # a hostPort without containerPort is the container's port too
        ctr = port.get("containerPort") or port.get("hostPort")
        if not ctr:
            raise self.fail(f"{path}.containerPort", "missing")
        host_ip = f"{port['hostIP']}:" if port.get("hostIP") else ""
        return f"{host_ip}{port.get('hostPort') or ctr}:{ctr}/{proto}"

    def _service_ports(self, svc: Document, containers: list[dict[str, Any]]) -> list[str]:
        spec = svc.body.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector or any(self.labels.get(k) != v for k, v in selector.items()):
            return []
        out = []
        for i, p in enumerate(spec.get("ports") or []):
            if not p.get("nodePort"):
                continue
            target = p.get("targetPort", p.get("port"))
            if isinstance(target, str):
                named = [q["containerPort"] for c in containers for q in c.get("ports") or []
                         if q.get("name") == target and q.get("containerPort")]
                if not named and not target.isdigit():
                    raise svc.fail(f"spec.ports[{i}].targetPort", f"no container port is named {target!r}")
                target = named[0] if named else int(target)
            if not target:
                raise svc.fail(f"spec.ports[{i}].port", "missing")
            proto = (p.get("protocol") or "TCP").lower()
            out.append(f"{p['nodePort']}:{target}/{proto}")
        return out

    # -- volumes ---------------------------------------------------------------------------

    def _volumes(self, items: list[dict[str, Any]], out: PodPlan) -> dict[str, tuple[str, str, str]]:
        """name -> (kind, source, host path type): kind "bind" (source a host path) or "volume"
        (source a volume's name)."""
        found: dict[str, tuple[str, str, str]] = {}
        for i, v in enumerate(items):
            path = f"volumes[{i}]"
            name = v.get("name")
            if not name:
                raise self.fail(f"{path}.name", "missing")
            own = f"{self.name}-{name}"
            if v.get("hostPath") is not None:
                hp = v["hostPath"]
                kind = hp.get("type") or ""
                if hp.get("path") == "tmpfs":
                    # how podman 4.3.1's `kube generate` writes a tmpfs mount: one it is again
                    found[name] = ("tmpfs", "", "")
                    continue
                if not hp.get("path", "").startswith("/"):
                    raise self.fail(f"{path}.hostPath.path", "must be an absolute path")
                if kind not in HOST_PATH_TYPES:
                    raise self.fail(f"{path}.hostPath.type", f"{kind!r} is not a host path type")
                if kind == "DirectoryOrCreate":
                    out.host_paths.append((hp["path"], "dir"))
                elif kind == "FileOrCreate":
                    out.host_paths.append((hp["path"], "file"))
                elif kind:
                    out.host_paths.append((hp["path"], kind))
                found[name] = ("bind", hp["path"], kind)
            elif v.get("persistentVolumeClaim") is not None:
                claim = v["persistentVolumeClaim"].get("claimName")
                if not claim:
                    raise self.fail(f"{path}.persistentVolumeClaim.claimName", "missing")
                found[name] = ("volume", claim, "ro" if v["persistentVolumeClaim"].get("readOnly") else "")
            elif v.get("emptyDir") is not None:
                out.volumes[own] = None
                found[name] = ("volume", own, "")
            elif v.get("configMap") is not None:
                cm = v["configMap"]
                data = self.maps.get(cm.get("name") or "")
                if data is None and not cm.get("optional"):
                    raise self.fail(f"{path}.configMap.name", f"no ConfigMap named {cm.get('name')!r}")
                out.volumes[own] = self._files({k: x.encode("utf-8", "surrogateescape")
                                                for k, x in (data or {}).items()}, cm, f"{path}.configMap")
                found[name] = ("volume", own, "ro")
            elif v.get("secret") is not None:
                sec = v["secret"]
                data_b = self.secrets.get(sec.get("secretName") or "")
                if data_b is None and not sec.get("optional"):
                    raise self.fail(f"{path}.secret.secretName", f"no Secret named {sec.get('secretName')!r}")
                out.volumes[own] = self._files(data_b or {}, sec, f"{path}.secret")
                found[name] = ("volume", own, "ro")
            else:
                raise self.fail(path, "no volume source podpy knows: use hostPath, emptyDir, "
                                      "persistentVolumeClaim, configMap or secret")
        return found

    def _files(self, data: dict[str, bytes], src: dict[str, Any], path: str) -> dict[str, bytes]:
        items = src.get("items")
        if not items:
            return dict(data)
        out = {}
        for j, item in enumerate(items):
            key = item.get("key")
            if key not in data:
                raise self.fail(f"{path}.items[{j}].key", f"no key {key!r}")
            rel = posixpath.normpath(item.get("path") or key)
            if rel.startswith("/") or rel.startswith(".."):
                raise self.fail(f"{path}.items[{j}].path", "must be relative and stay inside the volume")
            out[rel] = data[key]
        return out

    # -- containers ------------------------------------------------------------------------
