"""`pod` commands: create, start, stop, restart, kill, pause, unpause, rm, ps, inspect, exists,
prune, top, logs (each one PodEngine call, or one ContainerEngine call for the pod's
containers)."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import render
from .app import runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def engine(ctx: typer.Context) -> Any:
    """The pod engine over this command's store (a service's, with --remote)."""
    from ..engine.pods import PodEngine
    from .app import remote_engine

    remote = remote_engine(ctx, "pods", render.warn)
    if remote is not None:
        return remote
    return PodEngine(runtime(ctx), render.warn)


def _reports(reports: List[Any], ignore_missing: bool = False, missing_code: int = 125) -> int:
    """Each pod's full id, or its error; podman's codes: 125 for a failure (`pod rm`:
    missing_code 1 for a pod that does not exist)."""
    from ..errors import NoSuchPod

    code = 0
    for rep in reports:
        if rep.error is None:
            render.out(str(rep.value))
            continue
        if ignore_missing and isinstance(rep.error, NoSuchPod):
            continue
        render.error(str(rep.error))
        code = max(code, missing_code if isinstance(rep.error, NoSuchPod) else 125)
    return code


def _ids_from(files: List[str]) -> List[str]:
    from ..errors import InvalidArgument

    out = []
    for path in files:
        try:
            with open(path) as f:
                out.append(f.read().strip())
        except OSError as exc:
            raise InvalidArgument(f"reading pod ID file {path}: {exc.strerror}") from None
    return out


def create(
    ctx: typer.Context,
    pod_name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="Name of the pod (or --name)."),
    name: Optional[str] = typer.Option(None, "-n", "--name", help="Name of the pod."),
    infra: bool = typer.Option(True, "--infra/--no-infra", help="Make an infra container that holds the namespaces."),
    infra_image: Optional[str] = typer.Option(None, "--infra-image", help="Image of the infra container."),
    infra_command: Optional[str] = typer.Option(None, "--infra-command", help="Command of the infra container."),
    infra_name: Optional[str] = typer.Option(None, "--infra-name", help="Name of the infra container."),
    infra_conmon_pidfile: Optional[str] = typer.Option(
        None, "--infra-conmon-pidfile", help="Write the pid of the infra container's monitor to this file."),
    share: Optional[str] = typer.Option(None, "--share",
                                        help="Namespaces to share: cgroup, ipc, net, pid, uts or none "
                                             "(default net,uts,ipc; +pid adds to it)."),
    share_parent: bool = typer.Option(True, "--share-parent/--no-share-parent",
                                      help="Accepted: podpy gives a pod's containers their own cgroups."),
    publish: List[str] = typer.Option([], "-p", "--publish", help="Publish a port of the pod (HOST:CTR)."),
    network: List[str] = typer.Option([], "--network", "--net", help="Network of the pod."),
    hostname: Optional[str] = typer.Option(None, "-h", "--hostname", help="Host name of the pod."),
    add_host: List[str] = typer.Option([], "--add-host", help="Add NAME:IP to /etc/hosts."),
    dns: List[str] = typer.Option([], "--dns", help="DNS server."),
    dns_search: List[str] = typer.Option([], "--dns-search", help="DNS search domain."),
    dns_option: List[str] = typer.Option([], "--dns-option", "--dns-opt", help="DNS option."),
    label: List[str] = typer.Option([], "-l", "--label", help="Set metadata (K=V)."),
    label_file: List[str] = typer.Option([], "--label-file", help="Read labels from a file."),
    userns: Optional[str] = typer.Option(None, "--userns", help="User namespace of the pod's containers."),
    uidmap: List[str] = typer.Option([], "--uidmap", help="CONTAINER:HOST:SIZE uid map of the pod's user namespace."),
    gidmap: List[str] = typer.Option([], "--gidmap", help="CONTAINER:HOST:SIZE gid map of the pod's user namespace."),
    subuidname: Optional[str] = typer.Option(None, "--subuidname", help="The pod's uid map: this name's in /etc/subuid."),
    subgidname: Optional[str] = typer.Option(None, "--subgidname", help="The pod's gid map: this name's in /etc/subgid."),
    volume: List[str] = typer.Option([], "-v", "--volume", help="A volume every container of the pod gets."),
    exit_policy: str = typer.Option("continue", "--exit-policy", help="continue or stop."),
    replace: bool = typer.Option(False, "--replace", help="Replace a pod of the same name."),
    network_alias: List[str] = typer.Option([], "--network-alias", help="Alias on a user network."),
    ip: Optional[str] = typer.Option(None, "--ip", help="Address on a user network."),
    ip6: Optional[str] = typer.Option(None, "--ip6", help="IPv6 address on a user network (made with --ipv6)."),
    mac_address: Optional[str] = typer.Option(None, "--mac-address", help="MAC address on a user network."),
    pod_id_file: Optional[str] = typer.Option(None, "--pod-id-file", help="Write the pod's id to this file."),
    no_hosts: bool = typer.Option(False, "--no-hosts", help="No /etc/hosts for the pod's containers."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", help="Size of /dev/shm of the pod's containers."),
    sysctl: List[str] = typer.Option([], "--sysctl", help="A kernel setting of the pod's namespaces (NAME=VALUE)."),
    uts: Optional[str] = typer.Option(None, "--uts", help="The pod's UTS namespace (host, private, ns:PATH)."),
    pid: Optional[str] = typer.Option(None, "--pid", help="The pod's PID namespace (host, private, ns:PATH)."),
    security_opt: List[str] = typer.Option([], "--security-opt", help="A security option of the infra container."),
    volumes_from: List[str] = typer.Option([], "--volumes-from",
                                           help="The volumes of a container, for every container of the pod."),
    device: List[str] = typer.Option([], "--device", help="A host device for every container of the pod."),
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", help="The cgroup the pod's cgroup is made in."),
    cpus: Optional[str] = typer.Option(None, "--cpus", help="CPUs for the whole pod (1.5)."),
    cpu_shares: Optional[str] = typer.Option(None, "-c", "--cpu-shares", help="CPU weight of the pod."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", help="CPUs the pod runs on (0-3,5)."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", help="Memory nodes of the pod."),
    memory: Optional[str] = typer.Option(None, "-m", "--memory", help="Memory for the whole pod (512m)."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", help="Memory plus swap for the pod."),
    blkio_weight: Optional[str] = typer.Option(None, "--blkio-weight", help="Block IO weight of the pod (10-1000)."),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", help="DEVICE:WEIGHT for the pod."),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", help="DEVICE:RATE read limit of the pod."),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", help="DEVICE:RATE write limit of the pod."),
) -> None:
    """Create a pod; print its id."""
    params = {k: v for k, v in locals().items() if k != "ctx"}   # the parameters, by name
    from .app import remote_engine
    from .fastcmds import pod_create

    pod_create(lambda: runtime(ctx), params, remote_engine(ctx, "pods", render.warn))


def start(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods to start."),
    all_: bool = typer.Option(False, "-a", "--all", help="Start every pod."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
    pod_id_file: List[str] = typer.Option([], "--pod-id-file", help="Read the pod's id from this file."),
) -> None:
    """Start pods: the infra container, then the others."""
    names = list(pods or []) + _ids_from(pod_id_file)
    raise typer.Exit(_reports(engine(ctx).start(names, all_, latest)))


def stop(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods to stop."),
    all_: bool = typer.Option(False, "-a", "--all", help="Stop every pod."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
    ignore: bool = typer.Option(False, "-i", "--ignore", help="Ignore pods that do not exist."),
    timeout: Optional[int] = typer.Option(None, "-t", "--time", help="Seconds to wait before SIGKILL."),
    pod_id_file: List[str] = typer.Option([], "--pod-id-file", help="Read the pod's id from this file."),
) -> None:
    """Stop pods: their containers, then the infra container."""
    names = list(pods or []) + _ids_from(pod_id_file)
    raise typer.Exit(_reports(engine(ctx).stop(names, timeout, all_, latest, ignore), ignore))


def restart(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods to restart."),
    all_: bool = typer.Option(False, "-a", "--all", help="Restart every pod."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
) -> None:
    """Restart pods."""
    raise typer.Exit(_reports(engine(ctx).restart(list(pods or []), None, all_, latest)))


def kill(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods to signal."),
    all_: bool = typer.Option(False, "-a", "--all", help="Signal every pod."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
    sig: str = typer.Option("KILL", "-s", "--signal", help="Signal to send (name or number)."),
) -> None:
    """Send a signal to every running container of pods."""
    from ..options import parse_signal

    raise typer.Exit(_reports(engine(ctx).kill(list(pods or []), parse_signal(sig), all_, latest)))


def pause(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods to pause."),
    all_: bool = typer.Option(False, "-a", "--all", help="Pause every pod."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
) -> None:
    """Pause every running container of pods."""
    raise typer.Exit(_reports(engine(ctx).pause(list(pods or []), all_, latest)))


def unpause(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods to unpause."),
    all_: bool = typer.Option(False, "-a", "--all", help="Unpause every pod."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
) -> None:
    """Unpause every paused container of pods."""
    raise typer.Exit(_reports(engine(ctx).unpause(list(pods or []), all_, latest)))


def rm(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods to remove."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every pod."),
    force: bool = typer.Option(False, "-f", "--force", help="Stop running containers first."),
    ignore: bool = typer.Option(False, "-i", "--ignore", help="Ignore pods that do not exist."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
    timeout: Optional[int] = typer.Option(None, "-t", "--time", help="Seconds to wait before SIGKILL."),
    pod_id_file: List[str] = typer.Option([], "--pod-id-file", help="Read the pod's id from this file."),
) -> None:
    """Remove pods and their containers."""
    from ..errors import InvalidArgument

    names = list(pods or []) + _ids_from(pod_id_file)
    if not names and not all_ and not latest:
        raise InvalidArgument("you must provide at least one name or id")
    ignore = ignore or force   # podman's: --force passes over pods that do not exist
    raise typer.Exit(_reports(engine(ctx).rm(names, force, all_, ignore, timeout, latest), ignore, missing_code=1))


def exists(ctx: typer.Context, pod: str = typer.Argument(..., help="Pod.")) -> None:
    """Exit 0 when the pod exists, 1 when it does not."""
    raise typer.Exit(0 if engine(ctx).exists(pod) else 1)


def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
) -> None:
    """Remove every pod none of whose containers runs."""
    if not force and not render.confirm(
            "pod prune", "WARNING! This will remove all stopped/exited pods.."):
        return
    raise typer.Exit(_reports(engine(ctx).prune()))


def inspect(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
) -> None:
    """Show pods' details."""
    reports = engine(ctx).inspect(list(pods or []), latest)
    docs = [r.value for r in reports if r.error is None]
    if len(docs) == 1 and not fmt:
        render.out(render.to_json(docs[0]))   # podman 4.3 prints one pod as an object
    elif docs:
        render.inspect(docs, fmt)
    code = 0
    for r in reports:
        if r.error is not None:
            render.error(str(r.error))
            code = 125
    raise typer.Exit(code)


def ps(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the pods' ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    filters: List[str] = typer.Option([], "-f", "--filter", help="KEY=VALUE (id, name, label, status, ctr-names, ...)."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not shorten ids."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print the header."),
    ctr_names: bool = typer.Option(False, "--ctr-names", help="The names of the pods' containers."),
    ctr_ids: bool = typer.Option(False, "--ctr-ids", help="The ids of the pods' containers."),
    ctr_status: bool = typer.Option(False, "--ctr-status", help="The states of the pods' containers."),
    sort: str = typer.Option("created", "--sort", help="created, id, name, number or status."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
    ns: bool = typer.Option(False, "--ns", help="The pods' cgroup parent and namespace columns."),
) -> None:
    """List pods."""
    from ..engine import podfilter
    from ..errors import InvalidArgument
    from ..formats import ago, rfc3339

    podfilter.parse(filters)   # checked before the pods are listed
    if sort not in podfilter.SORTS:
        raise InvalidArgument(f"invalid option for --sort, options are: {', '.join(podfilter.SORTS)}")
    pods = [{**p, "CreatedTs": p["Created"]} for p in engine(ctx).ps(filters)]
    pods.sort(key=podfilter.SORTS[sort])
    if latest:
        pods = sorted(pods, key=lambda p: -p["CreatedTs"])[:1]
    if quiet:
        for p in pods:
            render.out(p["Id"] if no_trunc else p["Id"][:12])
        return
    short = (lambda i: i) if no_trunc else (lambda i: i[:12])
    rows = []
    for p in pods:
        ctrs = p["Containers"]
        rows.append({"ID": short(p["Id"]), "Name": p["Name"], "Status": p["Status"], "Created": ago(p["CreatedTs"]),
                     "InfraID": short(p["InfraId"]), "NumberOfContainers": len(ctrs),
                     "Labels": p["Labels"], "Networks": ",".join(p["Networks"]),
                     "ContainerNames": ",".join(c["Names"] for c in ctrs),
                     "ContainerIds": ",".join(short(c["Id"]) for c in ctrs),
                     "ContainerStatuses": ",".join(c["Status"] for c in ctrs),
                     "Cgroup": p["Cgroup"], "Namespace": p["Namespace"]})
    columns = [("POD ID", "ID"), ("NAME", "Name"), ("STATUS", "Status"), ("CREATED", "Created"),
               ("INFRA ID", "InfraID")]
    extra = [(h, k) for on, h, k in ((ctr_ids, "IDS", "ContainerIds"), (ctr_names, "NAMES", "ContainerNames"),
                                      (ctr_status, "STATUS", "ContainerStatuses")) if on]
    if ns:   # podman's order: after the containers' columns, before their number
        extra_ns = [("CGROUP", "Cgroup"), ("NAMESPACES", "Namespace")]
        columns += extra + extra_ns + ([] if extra else [("# OF CONTAINERS", "NumberOfContainers")])
    else:
        columns += extra or [("# OF CONTAINERS", "NumberOfContainers")]
    docs = [{"Cgroup": p["Cgroup"], "Containers": p["Containers"], "Created": rfc3339(p["CreatedTs"]),
             "Id": p["Id"], "InfraId": p["InfraId"], "Name": p["Name"], "Namespace": p["Namespace"],
             "Networks": p["Networks"], "Status": p["Status"], "Labels": p["Labels"]} for p in pods]
    render.formatted(rows, fmt, columns, json_rows=docs, noheading=noheading,
                     header_overrides={"ID": "POD ID", "InfraID": "INFRA ID", "NumberOfContainers": "# OF CONTAINERS"})


def top(
    ctx: typer.Context,
    pod: Optional[str] = typer.Argument(None, help="Pod."),
    descriptors: Optional[List[str]] = typer.Argument(None, help="ps(1) format descriptors."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
) -> None:
    """The processes of a pod's containers, in one table."""
    from ..errors import InvalidArgument

    if latest and pod is not None:
        descriptors = [pod, *(descriptors or [])]
        pod = None
    if pod is None and not latest:
        raise InvalidArgument("you must provide the name or id of a running pod")
    for line in render._tabwrite(engine(ctx).top(pod or "", list(descriptors or []), latest)):
        render.out(line)


def logs(
    ctx: typer.Context,
    pod: Optional[str] = typer.Argument(None, help="Pod."),
    container: Optional[str] = typer.Option(None, "-c", "--container", help="Only this container of the pod."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines until the containers stop."),
    tail: int = typer.Option(-1, "--tail", help="Only the last N lines of each (-1: all)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only lines since a time or duration (10m)."),
    until: Optional[str] = typer.Option(None, "--until", help="Only lines until a time or duration."),
    timestamps: bool = typer.Option(False, "-t", "--timestamps", help="Prefix each line with its time."),
    names: bool = typer.Option(False, "-n", "--names", help="Prefix each line with the container's name."),
    color: bool = typer.Option(False, "--color", help="Each container's lines in a color of its own."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
) -> None:
    """The logs of a pod's containers (its infra container has none)."""
    from ..errors import InvalidArgument
    from .lifecycle import show_logs

    if pod is None and not latest:
        raise InvalidArgument("`podpy pod logs` requires a pod name or id, or --latest")
    doc = engine(ctx).inspect([pod] if pod else [], latest)[0]
    if doc.error is not None:
        raise doc.error
    infra = doc.value["InfraContainerID"]
    members = [c for c in doc.value["Containers"] if c["Id"] != infra]
    if container is not None:
        chosen = [c for c in members if c["Name"] == container or c["Id"].startswith(container)]
        if not chosen:
            raise InvalidArgument(f"container {container} is not in pod {doc.value['Name']}")
        members = chosen
    if not members:
        raise InvalidArgument(f"pod {doc.value['Name']} has no containers with logs")
    # podman gives the colors out over every container of the pod by id, the infra's included
    order = {c["Id"]: i for i, c in enumerate(sorted(doc.value["Containers"], key=lambda c: c["Id"]))}
    show_logs(ctx, [c["Id"] for c in members], follow, tail, since, until, timestamps, names, color,
              order if container is None else None)


def clone(
    ctx: typer.Context,
    pod: str = typer.Argument(..., help="The pod to clone."),
    new_name: Optional[str] = typer.Argument(None, help="The clone's name (default: NAME-clone)."),
    name: Optional[str] = typer.Option(None, "-n", "--name", help="The clone's name."),
    destroy: bool = typer.Option(False, "--destroy", help="Remove the original pod (its containers killed)."),
    start: bool = typer.Option(False, "--start", help="Start the clone."),
    hostname: Optional[str] = typer.Option(None, "-h", "--hostname", help="Host name of the clone."),
    label: List[str] = typer.Option([], "-l", "--label", help="More metadata (K=V)."),
    label_file: List[str] = typer.Option([], "--label-file", help="Read more labels from a file."),
    infra_command: Optional[str] = typer.Option(None, "--infra-command", help="Command of the infra container."),
    infra_name: Optional[str] = typer.Option(None, "--infra-name", help="Name of the infra container."),
    infra_conmon_pidfile: Optional[str] = typer.Option(
        None, "--infra-conmon-pidfile", help="Write the pid of the clone's infra container's monitor to this file."),
    userns: Optional[str] = typer.Option(None, "--userns", help="User namespace of the clone's containers."),
    uidmap: List[str] = typer.Option([], "--uidmap", help="CONTAINER:HOST:SIZE uid map of the clone's user namespace."),
    gidmap: List[str] = typer.Option([], "--gidmap", help="CONTAINER:HOST:SIZE gid map of the clone's user namespace."),
    subuidname: Optional[str] = typer.Option(None, "--subuidname", help="The clone's uid map: this name's in /etc/subuid."),
    subgidname: Optional[str] = typer.Option(None, "--subgidname", help="The clone's gid map: this name's in /etc/subgid."),
    volume: List[str] = typer.Option([], "-v", "--volume", help="A volume every container of the clone gets."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", help="Size of /dev/shm of the clone's containers."),
    sysctl: List[str] = typer.Option([], "--sysctl", help="A kernel setting of the clone's namespaces."),
    uts: Optional[str] = typer.Option(None, "--uts", help="The clone's UTS namespace."),
    pid: Optional[str] = typer.Option(None, "--pid", help="The clone's PID namespace."),
    security_opt: List[str] = typer.Option([], "--security-opt", help="A security option of the infra container."),
    volumes_from: List[str] = typer.Option([], "--volumes-from", help="The volumes of a container, for all."),
    device: List[str] = typer.Option([], "--device", help="A host device for every container of the clone."),
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", help="The cgroup the clone's cgroup is made in."),
    cpus: Optional[str] = typer.Option(None, "--cpus", help="CPUs for the whole clone (1.5)."),
    cpu_shares: Optional[str] = typer.Option(None, "-c", "--cpu-shares", help="CPU weight of the clone."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", help="CPUs the clone runs on (0-3,5)."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", help="Memory nodes of the clone."),
    memory: Optional[str] = typer.Option(None, "-m", "--memory", help="Memory for the whole clone (512m)."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", help="Memory plus swap for the clone."),
    blkio_weight: Optional[str] = typer.Option(None, "--blkio-weight", help="Block IO weight of the clone (10-1000)."),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", help="DEVICE:WEIGHT for the clone."),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", help="DEVICE:RATE read limit of the clone."),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", help="DEVICE:RATE write limit of the clone."),
) -> None:
    """Make a new pod (and a clone of each of its containers) from an existing pod; print its id."""
    from ..engine.containers import ContainerEngine
    from . import runargs

    changes = dict(hostname=hostname, labels=list(label), label_files=list(label_file), infra_command=infra_command,
                   infra_name=infra_name, infra_conmon_pidfile=infra_conmon_pidfile, userns=userns, uidmap=list(uidmap), gidmap=list(gidmap),
                   subuidname=subuidname, subgidname=subgidname, volumes=list(volume), shm_size=shm_size,
                   sysctls=list(sysctl), uts=uts, pid=pid, security_opts=list(security_opt),
                   volumes_from=list(volumes_from), devices=list(device), cgroup_parent=cgroup_parent, cpus=cpus,
                   cpu_shares=cpu_shares, cpuset_cpus=cpuset_cpus, cpuset_mems=cpuset_mems, memory=memory,
                   memory_swap=memory_swap, blkio_weight=blkio_weight, blkio_weight_device=list(blkio_weight_device),
                   device_read_bps=list(device_read_bps), device_write_bps=list(device_write_bps))

    def parse(words: List[str]) -> dict:
        return runargs.parse("run", words) or {}

    containers = ContainerEngine(runtime(ctx), render.warn)

    def clone_member(cid: str, new: str, pod_id: str) -> None:
        containers.clone(cid, parse, new, pod=pod_id)

    render.out(engine(ctx).clone(pod, clone_member, name or new_name, changes, start, destroy).id)


def stats(
    ctx: typer.Context,
    pods: Optional[List[str]] = typer.Argument(None, help="Pods (default: every pod)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Every pod."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    no_reset: bool = typer.Option(False, "--no-reset", help="Do not clear the terminal between readings."),
    no_stream: bool = typer.Option(False, "--no-stream", help="One reading, then exit."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest pod."),
) -> None:
    """Resource use of the containers of pods: CPU, memory, network, block I/O, processes."""
    import json

    from .views import POD_STATS_COLUMNS

    # podman reads every second
    for rows in engine(ctx).stats_rows(list(pods or []), all_, latest, 1, not no_stream):
        if fmt == "json":
            render.out(json.dumps(rows, indent=5))
        else:
            if not no_reset and sys.stdout.isatty():
                sys.stdout.write("\x1b[2J\x1b[H")
            if not fmt:   # podman's table: a row of `--` when no container runs
                render.table(rows or [{key: "--" for _h, key in POD_STATS_COLUMNS}], POD_STATS_COLUMNS)
            elif rows:
                render.formatted(rows, fmt, POD_STATS_COLUMNS,
                                 header_overrides={k: h for h, k in POD_STATS_COLUMNS})
        sys.stdout.flush()


TOP: dict = {}
GROUP = {
    "create": (create, {"context_settings": {"help_option_names": ["--help"]}}), "start": (start, {}), "stop": (stop, {}), "restart": (restart, {}),
    "kill": (kill, {}), "pause": (pause, {}), "unpause": (unpause, {}), "rm": (rm, {}),
    "exists": (exists, {}), "prune": (prune, {}), "inspect": (inspect, {}), "ps": (ps, {}),
    "ls": (ps, {"hidden": True}), "list": (ps, {"hidden": True}), "top": (top, {}), "logs": (logs, {}),
    "stats": (stats, {}), "clone": (clone, {"context_settings": {"help_option_names": ["--help"]}}),
}
