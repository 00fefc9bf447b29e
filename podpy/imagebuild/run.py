"""RUN: the working container's runtime spec (from the build's spec builder, which `podpy run` uses too),
its `--mount`s and secrets, and the process run to its exit.

The step runs in the foreground with podpy's stdout and stderr (nothing with -q) and
/dev/null for stdin. Ctrl-C (or SIGTERM) kills the step's processes; the caller then
drops its working container, so nothing of the step is committed or cached.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..engine import etcfiles
from ..engine import spec as specgen
from ..errors import InvalidArgument
from ..state import ContainerConfig, ContainerRecord
from .working import FORK_LOCK, Working

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")


@dataclass
class RunStep:
    argv: list[str]
    env: list[str]
    user: str                      # the image's USER ("" for root)
    workdir: str
    network: str                   # slirp4netns, host or none
    mounts: list[dict[str, Any]] = field(default_factory=list)
    privileged: bool = False
    quiet: bool = False
    settings: dict[str, Any] = field(default_factory=dict)   # the run-like flags' fields (flags.py)
    stdin: bool = False                                       # --stdin: RUN reads podpy's stdin
    cgroup_parent: Optional[str] = None                       # where the step's cgroup goes (limits)
    hooks_dirs: Optional[list[str]] = None                    # OCI hooks (None: the default directories)
    output: Optional[int] = None                              # the fd of its stdout and stderr (else podpy's)


@dataclass
class MountSpec:
    """One parsed `RUN --mount=...`."""

    type: str
    target: str
    source: Optional[str] = None
    from_: Optional[str] = None
    readonly: Optional[bool] = None
    id: Optional[str] = None
    sharing: str = "shared"
    mode: Optional[int] = None
    uid: int = 0
    gid: int = 0
    size: Optional[str] = None
    required: bool = False
    env: Optional[str] = None
    context: Optional[str] = None      # from= a --build-context directory: its name


def parse_mount(value: str, workdir: str) -> MountSpec:
    """`type=cache,target=/root/.cache,...` -> a MountSpec (BuildKit's keys and aliases)."""
    fields: dict[str, str] = {}
    flags: set[str] = set()
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        k, eq, v = item.partition("=")
        k = k.strip().lower()
        if eq:
            fields[k] = v.strip()
        else:
            flags.add(k)
    kind = fields.pop("type", "bind")
    if kind not in MOUNT_TYPES:
        raise InvalidArgument(f"RUN --mount: unknown type {kind!r}: use bind, cache, tmpfs, secret or ssh")
    target = fields.pop("target", None) or fields.pop("dst", None) or fields.pop("destination", None)
    m = MountSpec(kind, "")
    m.source = fields.pop("source", None) or fields.pop("src", None)
    m.from_ = fields.pop("from", None)
    m.id = fields.pop("id", None)
    m.sharing = fields.pop("sharing", "shared")
    if m.sharing not in ("shared", "private", "locked"):
        raise InvalidArgument(f"RUN --mount: invalid sharing {m.sharing!r}: shared, private or locked")
    m.size = fields.pop("size", None) or fields.pop("tmpfs-size", None)
    m.env = fields.pop("env", None)
    for key in ("ro", "readonly"):
        if key in flags or fields.get(key, "").lower() in ("true", "1"):
            m.readonly = True
        fields.pop(key, None)
    for key in ("rw", "readwrite"):
        if key in flags or fields.get(key, "").lower() in ("true", "1"):
            m.readonly = False
        fields.pop(key, None)
    if "required" in flags or fields.get("required", "").lower() in ("true", "1"):
        m.required = True
    fields.pop("required", None)
    try:
        if "mode" in fields:
            m.mode = int(fields.pop("mode"), 8)
        m.uid = int(fields.pop("uid", "0"))
        m.gid = int(fields.pop("gid", "0"))
    except ValueError:
        raise InvalidArgument(f"RUN --mount={value}: mode is octal, uid and gid are numbers") from None
    if fields:
        raise InvalidArgument(f"RUN --mount={value}: unknown option {sorted(fields)[0]!r}")
    if kind == "secret":
        if not m.id and not target:
            raise InvalidArgument(f"RUN --mount={value}: a secret needs an id or a target")
        m.id = m.id or os.path.basename(target or "")
        target = target or ("" if m.env else f"/run/secrets/{m.id}")
    elif kind == "ssh":
        m.id = m.id or "default"
        target = target or ""     # the step numbers them: /run/buildkit/ssh_agent.N
    elif not target:
        raise InvalidArgument(f"RUN --mount={value}: the target is missing")
    if target and not target.startswith("/"):
        target = os.path.normpath(os.path.join(workdir, target))
    m.target = target or ""
    return m


def created_paths(layer_dirs: list[str], destinations: list[str]) -> list[str]:
    """The mount points (and their parents) the image lacks: the runtime makes them, and they
    are removed again before the step's changes become a layer."""
    from storage import view

    out: list[str] = []
    for dest in destinations:
        rel = dest.strip("/")
        while rel and rel not in out and view.resolve(layer_dirs, "/" + rel) is None:
            out.append(rel)
            rel = os.path.dirname(rel)
    return out


class Stopped(Exception):
    """A step stopped because another stage failed (--jobs), or Ctrl-C."""


class Stopper:
    """The build's running steps, to stop them all: on Ctrl-C, or when a stage running beside
    them (--jobs) fails."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.running: set[Any] = set()
        self.stopped = False

    def add(self, container: Any) -> None:
        with self.lock:
            self.running.add(container)
            if self.stopped:
                container.signal(signal.SIGKILL)

    def discard(self, container: Any) -> None:
        with self.lock:
            self.running.discard(container)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            for container in self.running:
                container.signal(signal.SIGKILL)


RUNTIME_DESTINATIONS = ["/proc", "/sys", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]


def run(work: Working, step: RunStep, warn: Callable[[str], None], stopper: Stopper) -> int:
    """Run the step in the working container; its exit code. Ctrl-C: KeyboardInterrupt; stopped
    by the stopper from another thread: Stopped."""
    from rootless import parent

    from .. import options as opt
    from ..network.start import slirp_options as _slirp_options
    from storage import view

    rt = work.rt
    layer_dirs = work.layer_dirs
    spec_user = opt.parse_user(step.user) if step.user else opt.UserSpec("0", None)
    group_file = view.read_file(layer_dirs, "/etc/group")
    uid, gid, groups, home = opt.resolve_user(spec_user, view.read_file(layer_dirs, "/etc/passwd"), group_file)
    if step.settings.get("group_add"):   # build --group-add: names resolved in this step's /etc/group
        from ..engine.procopts import group_add

        added, _keep = group_add(list(step.settings["group_add"]), group_file)
        groups = groups + [g for g in added if g not in groups]
    env = list(step.env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home if home != '/' or uid else '/root'}")
    cid = hashlib.sha256(os.urandom(16)).hexdigest()
    settings = dict(step.settings)
    userns_path = settings.pop("userns_path", "")
    mounts = list(settings.pop("mounts", [])) + list(step.mounts)
    cfg = ContainerConfig(command=step.argv, entrypoint=[], env=env, user=step.user, uid=uid, gid=gid,
                          groups=groups, workdir=step.workdir or "/", hostname="", network=step.network,
                          mounts=mounts, privileged=step.privileged, interactive=step.stdin, **settings)
    rec = ContainerRecord(id=cid, name=cid[:12], image_id="", image_name="", created=time.time(),
                          state="running", config=cfg)
    etc = etcfiles.write_etc(os.path.join(work.cdir, "run"), etcfiles.etc_files(rec))
    rootfs = work.rootfs()
    if cfg.idmap:   # --userns-uid-map & co: the layers seen with their own ids through fuse-overlayfs
        rootfs = specgen.idmapped_rootfs(rt, cid, rootfs, cfg.idmap, cdir=work.cdir)
    spec = specgen.builder(rt).build_step(rec, rootfs, etc)
    if userns_path:   # --userns PATH: joined, its maps as they are
        for ns in spec["linux"]["namespaces"]:
            if ns["type"] == "user":
                ns["path"] = userns_path
    from ..engine import hooks as oci

    oci.attach(spec, step.hooks_dirs, cid, work.cdir, bool(mounts), warn)
    cgroup = _step_cgroup(step.cgroup_parent, cfg.limits, cid, warn) if step.cgroup_parent else None
    options = parent.LaunchOptions(slirp=_slirp_options({}) if step.network == "slirp4netns" else None,
                                   cgroup_procs=os.path.join(cgroup, "cgroup.procs") if cgroup else None,
                                   stdio=(step.output, step.output) if step.output is not None else ())
    work.touched = True
    import threading

    interrupted: list[int] = []
    main = threading.current_thread() is threading.main_thread()

    def stop(sig: int, _frame: object) -> None:
        interrupted.append(sig)
        stopper.stop()

    # signal handlers can only be set by the main thread; with --jobs it waits for the stages
    # and stops them itself
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)} if main else {}
    saved = None
    container = None
    try:
        if step.quiet and step.output is None:
            saved = os.dup(1)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)
        try:
            with FORK_LOCK:   # until its exec: see working.FORK_LOCK
                container = parent.launch(spec, options)
        finally:
            if saved is not None:
                os.dup2(saved, 1)
                os.close(saved)
        stopper.add(container)
        code = container.wait()
        if (spec.get("hooks") or {}).get("poststop"):
            from rootless import hooks as oci_hooks

            oci_hooks.run(spec, "poststop", "stopped", 0, warn)
    finally:
        if container is not None:
            stopper.discard(container)
        for s, h in old.items():
            signal.signal(s, h)
        if cgroup:
            _remove_cgroup(cgroup)
    if interrupted:
        raise KeyboardInterrupt
    if stopper.stopped:
        raise Stopped("stopped")
    return code


def _step_cgroup(parent_dir: str, limits: dict[str, str], cid: str, warn: Callable[[str], None]) -> Optional[str]:
    """A cgroup for the step under parent_dir, with the limits of -m, --cpu-* & co applied
    (warned about, as `run` does, for a controller that is not delegated)."""
    from rootless import cgroups

    from ..engine.cgroupopts import limit_flags

    try:
        path = cgroups.make(parent_dir, f"podpy-build-{cid[:12]}")
    except OSError as exc:
        warn(f"the RUN step runs without a cgroup: cannot create one in {parent_dir}: {exc.strerror}")
        return None
    missing = cgroups.apply_limits(path, limits) if limits else []
    for ctrl in missing:
        flags = limit_flags([k for k in limits if cgroups.limit_file(k)[0] == ctrl])
        warn(f"{flags} ignored: the {ctrl} controller is not delegated to {parent_dir}")
    return path


def _remove_cgroup(path: str) -> None:
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)   # its last process is still being reaped
