"""KubeEngine: `kube play`, `kube down` and `kube generate` over the engines.

play reads and checks every document and works out the whole plan (play.py) before it
makes anything; then claims' volumes, and for each pod: the pod (PodEngine), its own volumes
(VolumeEngine, files of configMap and secret volumes written in), its init containers
(podman's "once" ones: the pod's start runs each to completion in turn and removes it once
it succeeded; engine/podinit.py), its containers (ContainerEngine), and a start of the pod.
If any step fails, what this play made is removed again (pods with their containers, volumes it made)
and the error is raised: nothing is left half-made.

With a service container (`--service-container`, what the units of .kube Quadlet files use),
a last container of the pause image, named after the file's content as podman names it
(engine/podservice.py: it stops with its pods and is not removed without them), starts once
the pods run: its monitor tells systemd READY=1 and is the service's main process, as
podman's does, and `kube down` removes it with the pods.
"""

from __future__ import annotations

import os

from ..engine.context import Runtime
from ..engine.podservice import SERVICE_LABEL, service_name, services_of
from ..errors import InvalidArgument, NoSuchContainer, NoSuchPod
from . import play as mapping
from .plan import POD_LABEL, Plan, PlayOptions, PodPlan
from .schema import Document, check, load

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


PROPAGATION_LABEL = "io.podpy.kube.exit-code-propagation"


class PodReport:
    def __init__(self, pod_id: str, containers: list[str], init: list[str]) -> None:
        self.id, self.containers, self.init = pod_id, containers, init


class PlayReport:
    def __init__(self) -> None:
        self.volumes: list[str] = []
        self.pods: list[PodReport] = []


class DownReport:
    def __init__(self) -> None:
        self.stopped: list[str] = []
        self.removed: list[str] = []
        self.volumes: list[str] = []
        self.claims: list[str] = []     # with force: the claims' volumes removed


class KubeEngine:
    def __init__(self, rt: Runtime, warn: Callable[[str], None],
                 progress: Optional[Callable[[str], None]] = None) -> None:
        from ..engine.containers import ContainerEngine
        from ..engine.pods import PodEngine
        from ..engine.volumes import VolumeEngine

        self.rt, self.warn = rt, warn
        self.containers = ContainerEngine(rt, warn, progress)
        self.pods = PodEngine(rt, warn)
        self.volumes = VolumeEngine(rt, warn)

    # -- play ------------------------------------------------------------------------------

    def read(self, text: str, strict: bool, source: str = "") -> list[Document]:
        """The checked documents; each ignored field a warning (with strict: the error)."""
        docs = load(text, source)
        for line in check(docs, strict):
            self.warn(line)
        return docs

    def play(self, text: str, opts: PlayOptions, configmaps: list[str], start: bool = True,
             replace: bool = False, strict: bool = False, build: Optional[bool] = None,
             context_dir: Optional[str] = None, say: Optional[Callable[[str], None]] = None,
             service_container: bool = False, exit_propagation: str = "none") -> PlayReport:
        """Make (and start) what the YAML describes. An image with a directory named after it
        (`foo` for `localhost/foo:1`) in context_dir (default: the working directory), holding
        a Containerfile or Dockerfile, is built from it first when it is not in the store, or
        always with build=True; never with build=False (podman's rules)."""
        from ..engine.volumestore import data_dir

        docs = self.read(text, strict)
        maps: list[Document] = []
        for path in configmaps:
            try:
                with open(path, encoding="utf-8") as f:
                    extra = self.read(f.read(), strict, path)
            except OSError as exc:
                raise InvalidArgument(f"--configmap {path}: {exc.strerror}") from None
            maps += [d for d in extra if d.kind == "ConfigMap"]
        plan = mapping.plan(docs, opts, lambda name: data_dir(self.rt, name), maps, self._stored_secret)
        if build is not False:
            self._build_images(plan, build is True, context_dir or os.getcwd(), say or (lambda _line: None))
        if replace:
            self._down([p.name for p in plan.pods])
        for p in plan.pods:
            if self.pods.exists(p.name) and self.pods.pods.lookup(p.name).name == p.name:
                raise InvalidArgument(f'adding pod to state: name "{p.name}" is in use: pod already exists')
        made_pods: list[str] = []
        made_volumes: list[str] = []
        report = PlayReport()
        try:
            existing = {v["Name"] for v in self.volumes.ls([])}
            for claim in plan.claims:
                if claim not in existing:
                    made_volumes.append(self._volume(claim, {}))
                report.volumes.append(claim)
            for p in plan.pods:
                report.pods.append(self._pod(p, start, made_pods, made_volumes))
            if service_container:
                self._service_container(text, [p.name for p in plan.pods], start, exit_propagation)
        except BaseException:
            self._undo(made_pods, made_volumes)
            self._remove_service_container([p.name for p in plan.pods])
            raise
        return report

    def _build_images(self, plan: Plan, always: bool, context_dir: str, say: Callable[[str], None]) -> None:
        """Build the images the pods' containers name that have a build directory; their
        containers then use the built image, never a pulled one."""
        built: set[str] = set()
        for p in plan.pods:
            for o in [*p.init, *p.containers]:
                image = o.image
                if image in built:
                    o.pull = "never"
                    continue
                found = build_file(image, context_dir)
                if found is None:
                    continue
                if not always and self._have(image):
                    continue
                from ..imagebuild.executor import build
                from ..imagebuild.options import BuildOptions

                build(self.rt, BuildOptions(context=os.path.dirname(found), files=[found], tags=[image]),
                      say, self.warn, say)
                built.add(image)
                o.pull = "never"

    def _have(self, image: str) -> bool:
        try:
            self.rt.store.image(image, self.rt.cfg.short_names)
            return True
        except Exception:  # noqa: BLE001 - not in the store (or not a name it takes): build
            return False

    def _service_container(self, text: str, pods: list[str], start: bool, propagation: str = "none") -> None:
        """The play's service container: started last, its monitor says READY=1 (--sdnotify
        conmon) with its pid as the service's MAINPID; with an exit-code propagation (all, any)
        a watcher says it instead, and exits with the pods' code (kube/service.py)."""
        from ..engine.podpause import pause_image
        from ..engine.runoptions import CreateOptions

        watched = propagation != "none"
        rec = self.containers.create(CreateOptions(
            image=pause_image(self.rt), name=service_name(text), network=["none"],
            sdnotify="ignore" if watched else "conmon",
            labels=[f"{SERVICE_LABEL}={','.join(pods)}", f"{PROPAGATION_LABEL}={propagation}"],
            create_command=["podpy", "kube", "play"]))
        if start:
            for r in self.containers.start([rec.id]):
                if r.error is not None:
                    raise r.error
            if watched:
                from .service import watch

                watch(self.rt, [self.pods.pods.lookup(p).id for p in pods], rec.id, propagation)

    def _remove_service_container(self, pods: list[str]) -> None:
        found = [r.id for r in services_of(self.rt, pods)] if pods else []
        if found:
            self.containers.rm(found, force=True, all_=False, ignore=True)

    def _stored_secret(self, name: str) -> Optional[bytes]:
        from ..engine.secrets import read_data
        from ..errors import NoSuchSecret

        try:
            return read_data(self.rt, name)[2]
        except NoSuchSecret:
            return None

    def _volume(self, name: str, labels: dict[str, str]) -> str:
        from ..engine.entities import VolumeCreateOptions

        return self.volumes.create(VolumeCreateOptions(name=name, labels=labels))

    def _pod(self, p: PodPlan, start: bool, made_pods: list[str], made_volumes: list[str]) -> PodReport:
        for path, kind in p.host_paths:
            _host_path(path, kind)
        pod = self.pods.create(p.create)
        made_pods.append(pod.id)
        for name, files in p.volumes.items():
            made_volumes.append(self._volume(name, {POD_LABEL: p.name}))
            if files:
                _write_files(self.volumes.inspect([name])[0].value["Mountpoint"], files)
        for d in p.subdirs:
            os.makedirs(d, exist_ok=True)
        # podman's "once" init containers: the pod's start runs them, in turn, before the others
        init_ids = [self.containers.create(o).id for o in p.init]
        ids = [self.containers.create(o).id for o in p.containers]
        if start:
            failed = [r.error for r in self.pods.start([pod.id]) if r.error is not None]
            if failed:
                raise failed[0]
        return PodReport(pod.id, ids, init_ids)

    def _undo(self, pods: list[str], volumes: list[str]) -> None:
        for pid in reversed(pods):
            self.pods.rm([pid], force=True, ignore=True, timeout=0)
        if volumes:
            self.volumes.rm(volumes, force=True)

    # -- down ------------------------------------------------------------------------------

    def down(self, text: str, force: bool = False) -> DownReport:
        """Stop and remove the file's pods (and the volumes of their own); force: the volumes of
        the file's PersistentVolumeClaims too (podman's --force), those that exist."""
        docs = load(text)
        check(docs)
        names = [n for d in docs for n in mapping.pod_names(d)]
        report = self._down(names, missing_ok=False)
        if force:
            claims = [str((d.body.get("metadata") or {}).get("name") or "") for d in docs
                      if d.kind == "PersistentVolumeClaim"]
            existing = {v["Name"] for v in self.volumes.ls([])}
            wanted = [c for c in claims if c in existing]
            for r in self.volumes.rm(wanted, force=True) if wanted else []:
                if r.error is not None:
                    raise r.error
                report.claims.append(r.name)
        return report

    def _down(self, names: list[str], missing_ok: bool = True) -> DownReport:
        report = DownReport()
        found = []
        for name in names:
            try:
                pod = self.pods.pods.lookup(name)
            except NoSuchPod:
                if missing_ok:
                    continue
                raise
            if pod.name == name:
                found.append(pod)
            elif not missing_ok:
                raise NoSuchPod(f"no pod with name {name} found: no such pod")
        for pod in found:
            for r in self.pods.stop([pod.id], None):
                if r.error is not None:
                    raise r.error
            report.stopped.append(pod.id)
        self._remove_service_container(names)
        for pod in found:
            for r in self.pods.rm([pod.id], force=True):
                if r.error is not None:
                    raise r.error
            report.removed.append(pod.id)
            own = [v["Name"] for v in self.volumes.ls([f"label={POD_LABEL}={pod.name}"])]
            for r in self.volumes.rm(own, force=True) if own else []:
                if r.error is None:
                    report.volumes.append(r.name)
        return report

    # -- generate --------------------------------------------------------------------------

    def generate(self, names: list[str], kind: str = "pod", replicas: int = 1, service: bool = False) -> str:
        """The YAML of the named containers (one pod of them all), pods and volumes."""
        from ..engine.podstore import members
        from .generate import Member, dump, pod_documents

        if kind not in ("pod", "deployment"):
            raise InvalidArgument(f"invalid --type {kind!r}: pod or deployment")
        if replicas < 1:
            raise InvalidArgument("--replicas must be at least 1")
        if replicas != 1 and kind != "deployment":
            raise InvalidArgument("--replicas needs --type deployment")
        if not names:
            raise InvalidArgument("kube generate needs at least one container, pod or volume")
        loose: list[Any] = []
        pods: list[Any] = []
        volumes: list[str] = []
        for name in names:
            try:
                rec = self.rt.state.lookup(name)
                if rec.config.pod_infra:
                    raise InvalidArgument(f"{name} is the infra container of a pod: name the pod instead")
                loose.append(rec)
                continue
            except NoSuchContainer:
                pass
            try:
                pods.append(self.pods.pods.lookup(name))
                continue
            except NoSuchPod:
                pass
            if any(v["Name"] == name for v in self.volumes.ls([])):
                volumes.append(name)
                continue
            raise InvalidArgument(f"{name} is no container, pod or volume: no such object")
        docs: list[dict[str, Any]] = []
        every = self.rt.state.all()
        own = frozenset(v["Name"] for v in self.volumes.ls([f"label={POD_LABEL}"]))

        def member(rec: Any) -> Member:
            try:
                icfg = self.rt.store.image(rec.image_id, self.rt.cfg.short_names).config.get("config") or {}
            except Exception:  # noqa: BLE001 - its image gone: nothing of it to leave out
                icfg = {}
            return Member(rec.name, rec.image_name, rec.config, icfg)

        for pod in pods:
            recs = members(every, pod.id)
            infra = next((r.config for r in recs if r.config.pod_infra), None)
            ctrs = [member(r) for r in recs if not r.config.pod_infra]
            if not ctrs:
                raise InvalidArgument(f"pod {pod.id} only has an infra container")   # podman's words
            docs += pod_documents(pod.name, ctrs, infra, pod.config, kind, replicas, service, own)
        if loose:
            recs = sorted(loose, key=lambda r: r.created)
            docs += pod_documents(f"{recs[0].name}-pod", [member(r) for r in recs], None, None, kind, replicas,
                                  service, own)
        for name in volumes:
            from .generate import dns_label

            docs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": dns_label(name)},
                         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        seen: list[dict[str, Any]] = []
        for d in docs:   # a claim two pods use is written once
            if d not in seen:
                seen.append(d)
        return dump(seen)


def _host_path(path: str, kind: str) -> None:
    import stat

    if kind == "dir":
        os.makedirs(path, exist_ok=True)
        return
    if kind == "file":
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
            open(path, "a").close()
        return
    tests = {"Directory": stat.S_ISDIR, "File": stat.S_ISREG, "Socket": stat.S_ISSOCK,
             "CharDevice": stat.S_ISCHR, "BlockDevice": stat.S_ISBLK}
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise InvalidArgument(f"hostPath {path}: no such file or directory") from None
    if not tests[kind](mode):
        raise InvalidArgument(f"hostPath {path}: not a {kind}")


def _write_files(root: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        target = os.path.join(root, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
        os.chmod(target, 0o644)


def build_file(image: str, context_dir: str) -> Optional[str]:
    """The Containerfile (or Dockerfile) that builds image under context_dir: in the directory
    named after the image's last path component, without its tag or digest, as podman looks."""
    base = image.split(":", 1)[0].rsplit("/", 1)[-1].split("@", 1)[0]
    if not base or base in (".", ".."):
        return None
    for name in ("Containerfile", "Dockerfile"):
        path = os.path.join(context_dir, base, name)
        if os.path.isfile(path):
            return path
    return None
