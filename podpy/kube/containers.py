"""`kube play`'s mapping of a pod template's container to the options that create it: image,
command, env (envFrom, valueFrom of ConfigMaps and Secrets), resources, security context,
volume mounts and liveness probe. Input it cannot honour raises InvalidArgument with the
document and the field's path."""

from __future__ import annotations

import json
import posixpath

from ..engine.runoptions import CreateOptions
from .plan import PULL
from .schema import Document

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ..errors import InvalidArgument
    from .plan import PlayOptions, PodPlan


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


class PodContainers:
    """One pod's template (doc, the path of its spec, its name) and the mapping of each of its
    containers to the options that create it; play._Pod maps the rest of the pod."""

    def __init__(self, doc: Document, prefix: str, name: str, meta: dict[str, Any],
                 maps: dict[str, dict[str, str]], secrets: dict[str, dict[str, bytes]],
                 volume_dir: Callable[[str], str]) -> None:
        self.doc, self.prefix, self.name, self.meta = doc, prefix, name, meta
        self.maps, self.secrets, self.volume_dir = maps, secrets, volume_dir
        self.labels: dict[str, str] = dict(meta.get("labels") or {})

    def fail(self, path: str, problem: str) -> InvalidArgument:
        return self.doc.fail(self.prefix + path, problem)

    def container(self, c: dict[str, Any], path: str, volumes: dict[str, tuple[str, str, str]],
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
        o.create_workdir = True   # a pod's workingDir is made when missing, as the kubelet's runtimes do
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

    def _key_ref(self, kind: str, ref: dict[str, Any], data: Optional[dict[str, Any]], where: str) -> Any:
        """The value a configMapKeyRef or secretKeyRef (kind: ConfigMap, Secret) names in data,
        the named one's keys; None when it is missing and optional."""
        if data is None or ref.get("key") not in data:
            if ref.get("optional"):
                return None
            what = (f"no {kind} named {ref.get('name')!r}" if data is None
                    else f"{kind} {ref.get('name')!r} has no key {ref.get('key')!r}")
            raise self.fail(f"{where}.{kind[0].lower()}{kind[1:]}KeyRef", what)
        return data[ref["key"]]

    def _value_from(self, source: dict[str, Any], where: str) -> Optional[str]:
        if source.get("configMapKeyRef") is not None:
            ref = source["configMapKeyRef"]
            return self._key_ref("ConfigMap", ref, self.maps.get(ref.get("name") or ""), where)
        if source.get("secretKeyRef") is not None:
            ref = source["secretKeyRef"]
            value = self._key_ref("Secret", ref, self.secrets.get(ref.get("name") or ""), where)
            return None if value is None else value.decode("utf-8", "surrogateescape")
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
