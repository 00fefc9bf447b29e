"""`generate systemd`: systemd units for a container or a pod (the text is unitgen's).

A container's unit starts it (or, with --new, makes it anew from the command line that
made it); a pod's unit starts the pod's infra container (or makes the pod anew) and each
of its other containers gets a unit bound to the pod's. The units run podpy itself, by
the absolute path this podpy was started from.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from ..errors import InvalidArgument, NoSuchContainer, NoSuchPod
from .context import Runtime
from .runfiles import MONITOR_PID_FILE as PID_FILE
from .unitgen import ContainerInput, PodInput, SystemdOptions, container_unit, header, pod_unit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from ..state import ContainerRecord
    from .podstore import PodRecord
    from .unitgen import Header



@dataclass
class GeneratedUnits:
    """The units made: service name (without .service) -> text, the pod's first."""
    units: dict[str, str]


def podpy_executable() -> str:
    """How a unit runs this podpy: the absolute path it was started by (a zipapp without its
    executable bit through the interpreter that runs it); `python -m podpy` finds the podpy
    command on $PATH."""
    argv0 = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    executable = os.path.isfile(argv0) and os.access(argv0, os.X_OK)
    if argv0.endswith(".pyz"):
        return argv0 if executable else f"{sys.executable} {argv0}"
    if executable and not argv0.endswith(".py"):
        return argv0
    import shutil

    found = shutil.which("podpy")
    return os.path.abspath(found) if found else f"{sys.executable} -m podpy"


def unit_environment(values: list[str]) -> list[str]:
    """--env: NAME=VALUE as given, a bare NAME with this process's value (left out when unset)."""
    out = []
    for value in values:
        if "=" in value:
            out.append(value)
        elif value in os.environ:
            out.append(f"{value}={os.environ[value]}")
    return out


def _container_input(rt: Runtime, rec: ContainerRecord) -> ContainerInput:
    cfg = rec.config
    return ContainerInput(id=rec.id, name=rec.name, create_command=list(cfg.create_command),
                          stop_timeout=int(cfg.stop_timeout), env=list(cfg.env),
                          pid_file=os.path.join(rt.container_run_dir(rec.id), PID_FILE), run_root=rt.cfg.runroot)


def generate_systemd(rt: Runtime, name: str, opts: SystemdOptions, warn: Callable[[str], None],
                     now: Optional[float] = None) -> GeneratedUnits:
    """The units of the container or pod name (a container's name first, as podman looks)."""
    from .podstore import load_store, members

    opts.env = unit_environment(opts.env)
    head = header(podpy_executable(), opts.no_header, now)
    try:
        rec = rt.state.lookup(name)
    except NoSuchContainer as ctr_err:
        try:
            pod = load_store(rt).lookup(name)
        except NoSuchPod as pod_err:
            raise NoSuchContainer(f"{name} does not refer to a container or pod: {pod_err}: {ctr_err}") from None
        if opts.template:
            raise InvalidArgument("--template is not supported for pods")
        return _pod_units(rt, pod, members(rt.state.all(), pod.id), opts, head, warn)
    if rec.config.pod_infra:
        raise InvalidArgument(f"container {rec.name} is the infra container of its pod: generate the pod's units")
    _warn_restart(rec, opts, warn)
    if opts.new:
        _check_made_by_run(rec)
    service, text = container_unit(_container_input(rt, rec), opts, head)[:2]
    return GeneratedUnits({service: text})


def _warn_restart(rec: ContainerRecord, opts: SystemdOptions, warn: Callable[[str], None]) -> None:
    policy = rec.config.restart
    if not opts.new and policy not in ("no", ""):
        warn(f"Container {rec.id} has restart policy \"{policy.split(':')[0]}\" which can lead to issues on "
             "shutdown: consider recreating the container without a restart policy and use systemd's restart "
             "mechanism instead")


def _check_made_by_run(rec: ContainerRecord) -> None:
    words = rec.config.create_command
    if not words or not any(w in ("run", "create") for w in words[1:]) or {"kube", "play"} & set(words[1:3]):
        raise InvalidArgument(f"cannot use --new on container \"{rec.id}\": no create command found: only works "
                              "on containers created directly with podpy run or create")


def _pod_units(rt: Runtime, pod: PodRecord, ctrs: list[ContainerRecord], opts: SystemdOptions, head: Header,
               warn: Callable[[str], None]) -> GeneratedUnits:
    from .container import shared_with
    from .unitgen import service_name

    infra = next((c for c in ctrs if c.id == pod.infra_id), None)
    if infra is None:
        raise InvalidArgument(f"generating systemd unit files: Pod \"{pod.name}\" has no infra container")
    pod_service = service_name(opts.pod_prefix, opts.separator, pod.name if opts.name else pod.id)
    services = {c.id: service_name(opts.container_prefix, opts.separator, c.name if opts.name else c.id)
                for c in ctrs}
    units: dict[str, str] = {}
    member_units: dict[str, str] = {}
    pod_id_file = f"%t/{pod_service}.pod-id"
    for rec in ctrs:
        if rec.id == infra.id:
            continue
        _warn_restart(rec, opts, warn)
        if opts.new:
            _check_made_by_run(rec)
        name, text, _ = container_unit(_container_input(rt, rec), opts, head, pod=(pod_service, pod_id_file))
        # a member that shares another member's namespaces is bound to that one's unit too
        others = sorted(services[d] for d in shared_with(rec) if d in services and d != infra.id)
        if others:
            text = text.replace(f"BindsTo={pod_service}.service\nAfter={pod_service}.service",
                                "BindsTo=" + " ".join(f"{s}.service" for s in sorted([pod_service] + others))
                                + "\nAfter=" + " ".join(f"{s}.service" for s in sorted([pod_service] + others)))
        member_units[name] = text
    cfg = pod.config
    if opts.new and not cfg.create_command:
        raise InvalidArgument(f"cannot use --new on pod \"{pod.id}\": no create command found")
    pin = PodInput(id=pod.id, name=pod.name, create_command=list(cfg.create_command),
                   infra_id=infra.id, infra_name=infra.name, stop_timeout=int(infra.config.stop_timeout),
                   pid_file=os.path.join(rt.container_run_dir(infra.id), PID_FILE), run_root=rt.cfg.runroot)
    name, text = pod_unit(pin, list(member_units), opts, head)
    units[name] = text
    units.update(sorted(member_units.items()))
    return GeneratedUnits(units)


def write_unit_files(units: GeneratedUnits, directory: str) -> list[str]:
    """--files: each unit as NAME.service in directory (replaced whole); their paths."""
    paths = []
    for name, text in units.units.items():
        path = os.path.abspath(os.path.join(directory, f"{name}.service"))
        tmp = f"{path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise InvalidArgument(f"writing {path}: {exc.strerror}") from None
        paths.append(path)
    return paths
