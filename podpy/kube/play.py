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

import json
import posixpath

from ..engine.podoptions import PodCreateOptions
from ..engine.runoptions import CreateOptions
from ..errors import InvalidArgument
from .schema import Document

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

POD_LABEL = "io.podpy.kube.pod"
RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
PULL = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}
SECCOMP_PROFILE_ROOT = "/var/lib/kubelet/seccomp"   # podman's default --seccomp-profile-root
SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
                   "BlockDevice")


class PlayOptions:
    """What `kube play`'s flags add to every pod: --network, --publish, --log-driver,
    --log-opt, --userns, --ip, --mac-address."""

    def __init__(self, network: Optional[list[str]] = None, publish: Optional[list[str]] = None,
                 log_driver: Optional[str] = None, log_opts: Optional[list[str]] = None,
                 userns: Optional[str] = None, ip: Optional[str] = None, mac_address: Optional[str] = None,
                 no_hosts: bool = False, annotations: Optional[list[str]] = None,
                 seccomp_profile_root: str = SECCOMP_PROFILE_ROOT, authfile: Optional[str] = None,
                 cert_dir: Optional[str] = None, creds: Optional[str] = None,
                 tls_verify: Optional[bool] = None) -> None:
        self.network = list(network or [])
        self.publish = list(publish or [])
        self.log_driver, self.log_opts = log_driver, list(log_opts or [])
        self.userns, self.ip, self.mac_address = userns, ip, mac_address
        self.no_hosts = no_hosts                    # no /etc/hosts in the pods' containers
        self.annotations = list(annotations or [])  # K=V, on every container
        self.seccomp_profile_root = seccomp_profile_root   # where `localhost/PROFILE` annotations look
        # the pulls of the containers' images
        self.authfile, self.cert_dir, self.creds, self.tls_verify = authfile, cert_dir, creds, tls_verify


class PodPlan:
    """One pod to make: its options, its init containers (run in order, to completion) and
    containers, the volumes of its own (name -> files to write, None for an empty one), the
    host paths to make first (path, "dir" or "file"), the subPath directories to make."""

    def __init__(self, name: str, create: PodCreateOptions) -> None:
        self.name = name
        self.create = create
        self.init: list[CreateOptions] = []
        self.containers: list[CreateOptions] = []
        self.volumes: dict[str, Optional[dict[str, bytes]]] = {}
        self.host_paths: list[tuple[str, str]] = []
        self.subdirs: list[str] = []


class Plan:
    def __init__(self) -> None:
        self.claims: list[str] = []      # named volumes, in the order of the file
        self.pods: list[PodPlan] = []


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


def quantity_bytes(value: Any) -> int:
    """A memory quantity (128974848, 129e6, 129M, 123Mi) in bytes."""
    text = str(value).strip()
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "k": 10**3, "K": 10**3, "M": 10**6,
             "G": 10**9, "T": 10**12, "m": 0.001}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * units[suffix])
    return int(float(text))


def quantity_cpus(value: Any) -> float:
    """A CPU quantity (0.5, 500m, 2) in CPUs."""
    text = str(value).strip()
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


class _Pod:
    """The mapping of one pod's template (doc, the path of its spec, its name)."""

    def __init__(self, doc: Document, prefix: str, name: str, meta: dict[str, Any],
                 maps: dict[str, dict[str, str]], secrets: _Secrets,
                 volume_dir: Callable[[str], str]) -> None:
        self.doc, self.prefix, self.name, self.meta = doc, prefix, name, meta
        self.maps, self.secrets, self.volume_dir = maps, secrets, volume_dir
        self.labels: dict[str, str] = dict(meta.get("labels") or {})

    def fail(self, path: str, problem: str) -> InvalidArgument:
        return self.doc.fail(self.prefix + path, problem)

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
                if port.get("hostPort"):
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
            create_command=["podpy", "kube", "play"], no_hosts=opts.no_hosts)
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
                ctr = self._container(c, path, volumes, pod_sc, policy, opts, out)
                if key == "initContainers":
                    ctr.init_ctr = "once"
                ctr.annotations = [*ctr.annotations, *opts.annotations]
                ctr.no_hosts = opts.no_hosts
                ctr.authfile, ctr.cert_dir, ctr.creds, ctr.tls_verify = (opts.authfile, opts.cert_dir, opts.creds,
                                                                         opts.tls_verify)
                seccomp = self._seccomp(cname, opts.seccomp_profile_root)
                if seccomp is not None:
                    ctr.security_opts = [*ctr.security_opts, f"seccomp={seccomp}"]
                # a pod's --add-host reaches its infra container's /etc/hosts only: each gets them
                ctr.add_hosts = list(aliases)
                if host_network:
                    ctr.network = ["host"]
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
        if not port.get("containerPort"):
            raise self.fail(f"{path}.containerPort", "missing")
        host_ip = f"{port['hostIP']}:" if port.get("hostIP") else ""
        return f"{host_ip}{port['hostPort']}:{port['containerPort']}/{proto}"

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

    def _container(self, c: dict[str, Any], path: str, volumes: dict[str, tuple[str, str, str]],
                   pod_sc: dict[str, Any], restart: str, opts: PlayOptions, out: PodPlan) -> CreateOptions:
        image = c.get("image")
        if not image:
            raise self.fail(f"{path}.image", "missing")
        # under systemd only the play's service container says it is ready, unless an annotation
        # asks a container to (podman's io.containers.sdnotify[/NAME]): the others ignore it
        notes = self.meta.get("annotations") or {}
        sdnotify = str(notes.get(f"io.containers.sdnotify/{c['name']}") or notes.get("io.containers.sdnotify")
                       or "ignore")
        if sdnotify not in ("container", "conmon", "healthy", "ignore"):
            raise self.doc.fail("metadata.annotations", f"io.containers.sdnotify {sdnotify!r}: container, conmon, "
                                "healthy or ignore")
        o = CreateOptions(image=image, name=f"{self.name}-{c['name']}", pod=self.name, restart=restart,
                          create_command=["podpy", "kube", "play"], sdnotify=sdnotify)
        command, args = c.get("command"), c.get("args")
        if command:
            o.entrypoint = json.dumps(command)
            o.command = list(args or [])
        elif args:
            o.command = list(args)
        o.env = self._env(c, path)
        o.workdir = c.get("workingDir") or None
        o.interactive, o.tty = bool(c.get("stdin")), bool(c.get("tty"))
        policy = c.get("imagePullPolicy")
        if policy:
            if policy not in PULL:
                raise self.fail(f"{path}.imagePullPolicy", f"{policy!r} is not Always, IfNotPresent or Never")
            o.pull = PULL[policy]
        o.log_driver, o.log_opts = opts.log_driver, list(opts.log_opts)
        limits = (c.get("resources") or {}).get("limits") or {}
        try:
            if limits.get("memory") is not None:
                o.memory = str(quantity_bytes(limits["memory"]))
        except ValueError:
            raise self.fail(f"{path}.resources.limits.memory", f"{limits['memory']!r} is not a quantity") from None
        try:
            if limits.get("cpu") is not None:
                o.cpus = f"{quantity_cpus(limits['cpu']):g}"
        except ValueError:
            raise self.fail(f"{path}.resources.limits.cpu", f"{limits['cpu']!r} is not a quantity") from None
        self._security(o, c.get("securityContext") or {}, pod_sc, path)
        for j, m in enumerate(c.get("volumeMounts") or []):
            self._mount(o, m, f"{path}.volumeMounts[{j}]", volumes, out)
        probe = c.get("livenessProbe")
        if probe:
            self._probe(o, probe, c, f"{path}.livenessProbe")
        return o

    def _env(self, c: dict[str, Any], path: str) -> list[str]:
        env: dict[str, str] = {}
        for j, ef in enumerate(c.get("envFrom") or []):
            where = f"{path}.envFrom[{j}]"
            prefix = ef.get("prefix") or ""
            if ef.get("configMapRef") is not None:
                ref = ef["configMapRef"]
                data = self.maps.get(ref.get("name") or "")
                if data is None and not ref.get("optional"):
                    raise self.fail(f"{where}.configMapRef.name", f"no ConfigMap named {ref.get('name')!r}")
                env.update({prefix + k: v for k, v in (data or {}).items()})
            elif ef.get("secretRef") is not None:
                ref = ef["secretRef"]
                sdata = self.secrets.get(ref.get("name") or "")
                if sdata is None and not ref.get("optional"):
                    raise self.fail(f"{where}.secretRef.name", f"no Secret named {ref.get('name')!r}")
                env.update({prefix + k: v.decode("utf-8", "surrogateescape") for k, v in (sdata or {}).items()})
        for j, e in enumerate(c.get("env") or []):
            where = f"{path}.env[{j}]"
            name = e.get("name")
            if not name or "=" in name:
                raise self.fail(f"{where}.name", "missing or holding '='")
            source = e.get("valueFrom")
            if source is None:
                env[name] = e.get("value") or ""
                continue
            value = self._value_from(source, f"{where}.valueFrom")
            if value is not None:
                env[name] = value
        return [f"{k}={v}" for k, v in env.items()]

    def _value_from(self, source: dict[str, Any], where: str) -> Optional[str]:
        if source.get("configMapKeyRef") is not None:
            ref = source["configMapKeyRef"]
            data = self.maps.get(ref.get("name") or "")
            if data is None or ref.get("key") not in data:
                if ref.get("optional"):
                    return None
                what = (f"no ConfigMap named {ref.get('name')!r}" if data is None
                        else f"ConfigMap {ref.get('name')!r} has no key {ref.get('key')!r}")
                raise self.fail(f"{where}.configMapKeyRef", what)
            return data[ref["key"]]
        if source.get("secretKeyRef") is not None:
            ref = source["secretKeyRef"]
            sdata = self.secrets.get(ref.get("name") or "")
            if sdata is None or ref.get("key") not in sdata:
                if ref.get("optional"):
                    return None
                what = (f"no Secret named {ref.get('name')!r}" if sdata is None
                        else f"Secret {ref.get('name')!r} has no key {ref.get('key')!r}")
                raise self.fail(f"{where}.secretKeyRef", what)
            return sdata[ref["key"]].decode("utf-8", "surrogateescape")
        if source.get("fieldRef") is not None:
            field = (source["fieldRef"].get("fieldPath") or "").strip()
            if field == "metadata.name":
                return self.name
            if field == "metadata.namespace":
                return str(self.meta.get("namespace") or "default")
            for key in ("labels", "annotations"):
                head = f"metadata.{key}["
                if field.startswith(head) and field.endswith("]"):
                    wanted = field[len(head):-1].strip("'\"")
                    return str((self.meta.get(key) or {}).get(wanted, ""))
            raise self.fail(f"{where}.fieldRef.fieldPath", f"{field!r} is not available: podpy knows "
                            "metadata.name, metadata.namespace, metadata.labels['KEY'] and "
                            "metadata.annotations['KEY']")
        raise self.fail(where, "expected configMapKeyRef, secretKeyRef or fieldRef")

    def _security(self, o: CreateOptions, sc: dict[str, Any], pod_sc: dict[str, Any], path: str) -> None:
        caps = sc.get("capabilities") or {}
        o.cap_add = [_cap(x) for x in caps.get("add") or []]
        o.cap_drop = [_cap(x) for x in caps.get("drop") or []]
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
        if uid is not None or gid is not None:
            o.user = f"{uid if uid is not None else 0}" + (f":{gid}" if gid is not None else "")
        o.read_only = bool(sc.get("readOnlyRootFilesystem"))
        o.privileged = bool(sc.get("privileged"))
        if sc.get("allowPrivilegeEscalation") is False:
            o.security_opts = ["no-new-privileges"]

    def _mount(self, o: CreateOptions, m: dict[str, Any], where: str,
               volumes: dict[str, tuple[str, str, str]], out: PodPlan) -> None:
        name, dest = m.get("name"), m.get("mountPath")
        if not dest or not str(dest).startswith("/"):
            raise self.fail(f"{where}.mountPath", "missing or not an absolute path")
        if name not in volumes:
            raise self.fail(f"{where}.name", f"no volume of the pod is named {name!r}")
        kind, source, extra = volumes[name]
        if kind == "tmpfs":
            o.tmpfs.append(dest)
            return
        ro = bool(m.get("readOnly")) or extra == "ro"
        sub = posixpath.normpath(m["subPath"]) if m.get("subPath") else ""
        if sub.startswith("/") or sub.startswith(".."):
            raise self.fail(f"{where}.subPath", "must be relative and stay inside the volume")
        if kind == "volume" and not sub:
            o.volumes.append(f"{source}:{dest}" + (":ro" if ro else ""))
            return
        base = source if kind == "bind" else self.volume_dir(source)
        host = posixpath.join(base, sub) if sub else base
        is_file = kind == "volume" and (out.volumes.get(source) or {}).get(sub) is not None
        if sub and not is_file:   # a configMap's or secret's key is a file written there; else a directory
            out.subdirs.append(host)
        o.volumes.append(f"{host}:{dest}" + (":ro" if ro else ""))

    def _probe(self, o: CreateOptions, probe: dict[str, Any], c: dict[str, Any], where: str) -> None:
        def port_of(value: Any, at: str) -> int:
            if isinstance(value, int):
                return value
            named = [p["containerPort"] for p in c.get("ports") or [] if p.get("name") == value]
            if named:
                return int(named[0])
            if str(value).isdigit():
                return int(value)
            raise self.fail(at, f"no port of the container is named {value!r}")

        if probe.get("exec") is not None:
            command = probe["exec"].get("command") or []
            if not command:
                raise self.fail(f"{where}.exec.command", "missing")
            # what generate writes for a shell healthcheck is one again
            test = ["CMD-SHELL", command[2]] if command[:2] == ["/bin/sh", "-c"] and len(command) == 3 \
                else ["CMD", *command]
        elif probe.get("httpGet") is not None:
            h = probe["httpGet"]
            port = port_of(h.get("port"), f"{where}.httpGet.port")
            scheme = (h.get("scheme") or "HTTP").lower()
            url = f"{scheme}://{h.get('host') or 'localhost'}:{port}{h.get('path') or '/'}"
            test = ["CMD-SHELL", f"curl -f {url} || exit 1"]
        elif probe.get("tcpSocket") is not None:
            t = probe["tcpSocket"]
            port = port_of(t.get("port"), f"{where}.tcpSocket.port")
            test = ["CMD-SHELL", f"nc -z {t.get('host') or 'localhost'} {port} || exit 1"]
        else:
            raise self.fail(where, "expected exec, httpGet or tcpSocket")
        o.health_cmd = json.dumps(test)
        o.health_interval = f"{probe.get('periodSeconds') or 10}s"
        o.health_timeout = f"{probe.get('timeoutSeconds') or 1}s"
        o.health_retries = str(probe.get("failureThreshold") or 3)
        if probe.get("initialDelaySeconds"):
            o.health_start_period = f"{probe['initialDelaySeconds']}s"


def _cap(name: str) -> str:
    bare = name.strip().upper()
    return bare if bare.startswith("CAP_") else "CAP_" + bare
