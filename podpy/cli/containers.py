"""Container commands: run, create, start, rm, ps, inspect, export, exec, rename, prune, cp, diff, commit,
exists; the verbs on running containers live in lifecycle.py."""

from __future__ import annotations

import sys
from typing import Any, List, Optional

import typer

from . import render, runargs
from .lifecycle import (
    CIDFILE_HELP, FILTER_HELP, attach, cleanup, healthcheck_run, init, kill, logs, pause, restart, stats, stop, top,
    unpause, wait,
)

# Everything after `run` goes, unparsed, to runargs (which owns -h for --hostname and --help).
RUN_SETTINGS = {"allow_interspersed_args": False, "ignore_unknown_options": True, "allow_extra_args": True,
                "help_option_names": []}

PS_COLUMNS = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"), ("CREATED", "RunningFor"),
              ("STATUS", "Status"), ("PORTS", "Ports"), ("NAMES", "Names")]
PS_NS_COLUMNS = [("CONTAINER ID", "ID"), ("NAMES", "Names"), ("PID", "Pid"), ("CGROUPNS", "Cgroup"), ("IPC", "IPC"),
                 ("MNT", "MNT"), ("NET", "NET"), ("PIDNS", "PIDNS"), ("USERNS", "User"), ("UTS", "UTS")]


def forward_run(ctx: typer.Context) -> None:
    """`run`/`create` reached through typer (`podpy container run`): the fast path's code."""
    from . import runargs
    from .app import command_words
    from .main import Globals, run_or_create

    root = ctx.find_root()
    g = root.obj if isinstance(root.obj, Globals) else Globals()
    fields = runargs.parse(str(ctx.info_name), list(ctx.args), invoked=command_words(ctx))
    raise typer.Exit(0 if fields is None else run_or_create(str(ctx.info_name), fields, g))


def start(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to start."),
    attach: bool = typer.Option(False, "-a", "--attach", help="Attach to the container's output."),
    interactive: bool = typer.Option(False, "-i", "--interactive", help="Attach stdin."),
    all_: bool = typer.Option(False, "--all", help="Start every container that is not running."),
    filters: Optional[List[str]] = typer.Option(None, "-f", "--filter",
                                                help="Start the containers that match (name, id, status, "
                                                     "label, ancestor=VALUE)."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    detach_keys: Optional[str] = typer.Option(None, "--detach-keys",
                                              help="With -a and a terminal: the keys podman detaches with "
                                                   "(ctrl-p,ctrl-q; \"\" for none)."),
    sig_proxy: Optional[bool] = typer.Option(None, "--sig-proxy/--no-sig-proxy",
                                             help="With -a: pass the signals podpy receives on to the container "
                                                  "(default with -a)."),
) -> None:
    """Start one or more containers (in the foreground with -a)."""
    from ..errors import InvalidArgument, PodpyError, StartFailed
    from .lifecycle import _reports, engine

    containers = list(containers or [])
    if latest and containers:
        raise InvalidArgument("--latest and containers cannot be used together")
    if sig_proxy and not attach:
        raise InvalidArgument("you cannot use sig-proxy without --attach: invalid argument")
    if attach and (all_ or filters):
        raise InvalidArgument("you cannot start and attach all containers at once")
    eng = engine(ctx)
    if latest:
        containers = [eng.latest()]
    if not attach:
        reports = eng.start(containers, all_, list(filters or []))
        for rep in reports:   # podman's words and code for a container it could not start
            if rep.error is not None and rep.error.container_id:
                rep.error = StartFailed(rep.error, quoted=True)
        raise typer.Exit(_reports(reports))
    if not containers:
        raise InvalidArgument("start requires at least one argument")
    if len(containers) > 1:
        raise InvalidArgument("you cannot start and attach multiple containers at once")
    try:
        code = eng.start_attached(containers[0], interactive, sig_proxy is not False, detach_keys)
    except PodpyError as exc:
        if not exc.container_id:
            raise
        raise StartFailed(exc, quoted=False) from exc
    raise typer.Exit(code)


def rm(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Kill and remove running containers."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove all containers."),
    ignore: bool = typer.Option(False, "-i", "--ignore", help="Ignore containers that do not exist."),
    volumes: bool = typer.Option(False, "-v", "--volumes", help="Remove the containers' anonymous volumes too."),
    timeout: Optional[int] = typer.Option(None, "-t", "--time",
                                          help="With --force: stop a running container first, waiting this "
                                               "many seconds before SIGKILL (default: SIGKILL at once)."),
    depend: bool = typer.Option(False, "--depend",
                                help="Remove the containers sharing their namespaces too, first."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    cidfiles: List[str] = typer.Option([], "--cidfile", help=CIDFILE_HELP),
    filters: List[str] = typer.Option([], "--filter", help=FILTER_HELP),
) -> None:
    """Remove one or more containers."""
    from ..errors import InvalidState, NoSuchContainer
    from .lifecycle import engine, targets

    names = targets(containers, all_, latest, cidfiles, filters)
    reports = engine(ctx).rm(names, force, all_, ignore, volumes, timeout, depend, latest, filters)
    # podman's codes: 1 when a container did not exist, 2 when one was running, 125 otherwise.
    codes = set()
    for rep in reports:
        if rep.error is None:
            render.out(rep.name)
            continue
        render.error(str(rep.error))
        codes.add(1 if isinstance(rep.error, NoSuchContainer) else 2 if isinstance(rep.error, InvalidState) else 125)
    code = 125 if 125 in codes else 2 if 2 in codes else 1 if codes else 0
    raise typer.Exit(code)


def ps(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "-a", "--all", help="Show all containers, not only running ones."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate output."),
    last: int = typer.Option(-1, "-n", "--last", help="Print the n last created containers."),
    latest: bool = typer.Option(False, "-l", "--latest", help="Only the latest container."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print the header."),
    filters: List[str] = typer.Option([], "-f", "--filter",
                                      help="KEY=VALUE: id, name, label, exited, status, ancestor, before, "
                                           "since, volume, health, network, pod, until, restart-policy."),
    sort: str = typer.Option("created", "--sort",
                             help="command, created, id, image, names, runningfor, size or status."),
    size: bool = typer.Option(False, "-s", "--size", help="Show each container's size."),
    ns: bool = typer.Option(False, "--ns", help="Show each container's namespaces."),
    watch: int = typer.Option(0, "-w", "--watch", help="Print again every SECONDS (not with json or -q)."),
    _external: bool = typer.Option(False, "--external",
                                   help="Also containers other tools made in the store (podpy's store has none)."),
    _sync: bool = typer.Option(False, "--sync", help="Accepted: podpy's state is always in step."),
    pod: bool = typer.Option(False, "-p", "--pod", help="Show the pod of each container."),
) -> None:
    """List containers."""
    from ..engine.entities import PsOptions
    from ..errors import InvalidArgument
    from .lifecycle import engine

    if quiet and (size or ns):
        raise InvalidArgument("quiet conflicts with size and namespace")
    if watch < 0:
        raise InvalidArgument(f'invalid argument "{watch}" for "-w, --watch" flag: strconv.ParseUint: '
                              f'parsing "{watch}": invalid syntax')
    if fmt and ".Size" in fmt and not size:
        render.log_error("Size format requires --size option")   # and `.Size` is empty, as podman's
    opts = PsOptions(all=all_, latest=latest, last=last, filters=list(filters), sort=sort, size=size,
                     namespaces=ns)
    eng = engine(ctx)
    once = watch == 0 or fmt == "json" or (quiet and not fmt)
    while True:
        if not once and sys.stdout.isatty():
            sys.stdout.write("\x1b[2J\x1b[1;1H")   # a clear screen for each round, as podman's
        _ps_print(eng.ps(opts), quiet, fmt, no_trunc, noheading, size, ns, pod)
        if once:
            return
        sys.stdout.flush()
        import time

        time.sleep(watch)


def _ps_print(entries: list[Any], quiet: bool, fmt: Optional[str], no_trunc: bool, noheading: bool,
              size: bool, ns: bool, pod: bool = False) -> None:
    from .views import PS_HEADERS, ps_row

    if quiet and not fmt:
        for e in entries:
            render.out(e.record.id if no_trunc else e.record.short_id)
        return
    columns = PS_NS_COLUMNS if ns else PS_COLUMNS + ([("SIZE", "Size")] if size else [])
    if pod:
        columns = columns + [("POD ID", "Pod"), ("PODNAME", "PodName")]
    render.formatted([ps_row(e, no_trunc, size) for e in entries], fmt, columns,
                     json_rows=[e.data for e in entries], header_overrides=PS_HEADERS, noheading=noheading)


def inspect(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Containers or images."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
    kind: str = typer.Option("all", "-t", "--type", help="container, image or all."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    size: bool = typer.Option(False, "-s", "--size",
                              help="Containers' sizes too: SizeRw (their own changes) and SizeRootFs (with "
                                   "their image)."),
) -> None:
    """Show the configuration of containers or images."""
    _inspect(ctx, list(names or []), fmt, kind, latest, size)


def container_inspect(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Containers."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    size: bool = typer.Option(False, "-s", "--size",
                              help="Their sizes too: SizeRw (their own changes) and SizeRootFs (with their "
                                   "image)."),
) -> None:
    """Show the configuration of containers."""
    _inspect(ctx, list(names or []), fmt, "container", latest, size)


def _inspect(ctx: typer.Context, names: list[str], fmt: Optional[str], kind: str, latest: bool, size: bool) -> None:
    from ..errors import InvalidArgument
    from .lifecycle import engine

    if latest and names:
        raise InvalidArgument("--latest and arguments cannot be used together")
    if not latest and not names:
        raise InvalidArgument("no names or ids specified")
    eng = engine(ctx)
    if latest:
        from ..errors import NoSuchContainer

        try:
            names, kind = [eng.latest()], "container"
        except NoSuchContainer as exc:   # podman's: an empty list, then why
            render.inspect([], fmt)
            raise NoSuchContainer(f"inspecting object: no containers to inspect: {exc}") from None
    reports = eng.inspect(names, kind, size)
    render.inspect([r.value for r in reports if r.error is None], fmt)
    error = render.inspect_error(reports)
    if error is not None:
        raise error


def port(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, help="Container name or id."),
    private: Optional[str] = typer.Argument(None, help="A container port: PORT[/PROTOCOL]."),
    all_: bool = typer.Option(False, "-a", "--all", help="Every running container's ports."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
) -> None:
    """List a container's published ports, or the host address of one of them."""
    from ..errors import InvalidArgument
    from ..network.options import port_lines
    from .lifecycle import engine

    if (all_ or latest) and (private is not None or (container is not None and all_)):
        raise InvalidArgument("--all and --latest take no container name")
    if latest:   # `port -l 80`: the one argument is the port
        container, private = None, container
    for rep in engine(ctx).port(container, private, all_, latest):
        prefix = f"{rep.id[:12]}\t" if all_ else ""
        for line in port_lines(rep.ports, private):
            render.out(prefix + line)


def exists(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Container name or id."),
    _external: bool = typer.Option(False, "--external",
                                   help="Containers of other tools too: podpy has none outside its own (a build's "
                                        "working containers have no names), so the answer is the same."),
) -> None:
    """Exit 0 if the container exists, 1 if not."""
    from .lifecycle import engine

    if not engine(ctx).exists(name):
        raise typer.Exit(1)


def forward_exec(ctx: typer.Context) -> None:
    """`container exec` reached through typer: the fast path's code."""
    from . import runargs
    from .app import command_words
    from .main import Globals, exec_command

    root = ctx.find_root()
    g = root.obj if isinstance(root.obj, Globals) else Globals()
    fields = runargs.parse("exec", list(ctx.args), invoked=command_words(ctx))
    raise typer.Exit(0 if fields is None else exec_command(fields, g))


def commit(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Container name or id."),
    image: Optional[str] = typer.Argument(None, help="Name of the new image."),
    change: List[str] = typer.Option([], "-c", "--change", help="Apply a Containerfile instruction."),
    message: str = typer.Option("", "-m", "--message", help="Commit message."),
    author: str = typer.Option("", "-a", "--author", help="Author of the image."),
    pause: bool = typer.Option(False, "-p", "--pause", help="Pause the container while committing."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image id."),
    fmt: str = typer.Option("oci", "-f", "--format", help="The image's format: oci (podpy keeps no other)."),
    iidfile: Optional[str] = typer.Option(None, "--iidfile", help="Write the new image's id to this file."),
    include_volumes: bool = typer.Option(False, "--include-volumes",
                                         help="Make the destinations of its volumes and bind mounts VOLUMEs of the "
                                              "image (by default only its anonymous volumes')."),
    squash: bool = typer.Option(False, "-s", "--squash", help="One layer: the container's whole file system."),
) -> None:
    """Create an image from a container's changes; print its id."""
    from ..engine.entities import CommitOptions
    from ..errors import InvalidArgument
    from .lifecycle import engine

    if fmt == "docker":
        raise InvalidArgument("podpy commit --format docker: podpy keeps images in the OCI format only")
    if fmt != "oci":
        raise InvalidArgument(f'unrecognized image format "{fmt}"')
    made = engine(ctx).commit(CommitOptions(container=container, image=image, changes=list(change), message=message,
                                            author=author, pause=pause, include_volumes=include_volumes,
                                            squash=squash))
    if iidfile:   # podman's: the bare id, no newline; the image stays when it cannot be written
        try:
            with open(iidfile, "w") as f:
                f.write(made.id)
        except OSError as exc:
            raise InvalidArgument(f"failed to write image ID: open {iidfile}: "
                                  f"{(exc.strerror or str(exc)).lower()}") from None
    render.out(made.id)


def diff(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, help="Container name or id."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json"),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
) -> None:
    """List what a container changed: A added, C changed, D deleted."""
    from .lifecycle import engine, latest_or

    from ..errors import NoSuchContainer

    name = latest_or(ctx, container, latest, '"{path}" requires a name, id, or the "--latest" flag',
                     "unable to get latest container: ")
    try:
        changes = engine(ctx).diff(name)
    except NoSuchContainer:
        if latest:
            raise
        from .images import engine as image_engine   # podman's `diff` takes an image too

        changes = image_engine(ctx).diff(name)
    render.changes(changes, fmt)


def clone(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="The container to clone."),
    new_name: Optional[str] = typer.Argument(None, help="The clone's name (default: NAME-clone)."),
    image: Optional[str] = typer.Argument(None, help="Another image for the clone."),
    name: Optional[str] = typer.Option(None, "--name", help="The clone's name."),
    destroy: bool = typer.Option(False, "--destroy", help="Remove the original."),
    force: bool = typer.Option(False, "-f", "--force", help="With --destroy: even a running original."),
    run: bool = typer.Option(False, "--run", help="Start the clone."),
    pod: Optional[str] = typer.Option(None, "--pod", help="The pod the clone joins."),
    blkio_weight: Optional[str] = typer.Option(None, "--blkio-weight", help="Block IO weight (10-1000)."),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", help="DEVICE:WEIGHT."),
    cpu_period: Optional[str] = typer.Option(None, "--cpu-period", help="CPU period (microseconds)."),
    cpu_quota: Optional[str] = typer.Option(None, "--cpu-quota", help="CPU time per period (microseconds)."),
    cpu_rt_period: Optional[str] = typer.Option(None, "--cpu-rt-period", help="Realtime period (microseconds)."),
    cpu_rt_runtime: Optional[str] = typer.Option(None, "--cpu-rt-runtime", help="Realtime runtime (microseconds)."),
    cpu_shares: Optional[str] = typer.Option(None, "-c", "--cpu-shares", help="Relative CPU weight."),
    cpus: Optional[str] = typer.Option(None, "--cpus", help="CPUs the clone may use (e.g. 1.5)."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", help="CPUs to run on (0-3,5)."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", help="Memory nodes to use."),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", help="DEVICE:RATE."),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", help="DEVICE:RATE."),
    memory: Optional[str] = typer.Option(None, "-m", "--memory", help="Memory limit (e.g. 512m)."),
    memory_reservation: Optional[str] = typer.Option(None, "--memory-reservation", help="Memory soft limit."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", help="Memory plus swap (-1: unlimited)."),
    memory_swappiness: Optional[str] = typer.Option(None, "--memory-swappiness", help="0-100 (-1: default)."),
) -> None:
    """Make a new container from an existing one's configuration; print its id."""
    from . import runargs
    from .lifecycle import engine

    changes = dict(blkio_weight=blkio_weight, blkio_weight_device=list(blkio_weight_device), cpu_period=cpu_period,
                   cpu_quota=cpu_quota, cpu_rt_period=cpu_rt_period, cpu_rt_runtime=cpu_rt_runtime,
                   cpu_shares=cpu_shares, cpus=cpus, cpuset_cpus=cpuset_cpus, cpuset_mems=cpuset_mems,
                   device_read_bps=list(device_read_bps), device_write_bps=list(device_write_bps), memory=memory,
                   memory_reservation=memory_reservation, memory_swap=memory_swap,
                   memory_swappiness=memory_swappiness)

    def parse(words: List[str]) -> dict:
        return runargs.parse("run", words) or {}

    made = engine(ctx).clone(container, parse, name or new_name, image, pod, changes, destroy, force, run)
    render.out(made.id)


def runlabel(
    ctx: typer.Context,
    label: str = typer.Argument(..., help="The label that holds the command (RUN, INSTALL...)."),
    image: str = typer.Argument(..., help="Image name or id."),
    args: Optional[List[str]] = typer.Argument(None, help="Words added to the command."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file for the pull."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Certificates for the pull."),
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME[:PASSWORD] for the pull."),
    display: bool = typer.Option(False, "--display", help="Print the command instead of running it."),
    name: Optional[str] = typer.Option(None, "-n", "--name", help="The container name NAME stands for."),
    replace: bool = typer.Option(False, "--replace", help="Remove the container of the command's --name first."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No output of the command or the pull."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates when pulling."),
    opt1: Optional[str] = typer.Option(None, "--opt1", hidden=True, help="What $OPT1 in the label stands for."),
    opt2: Optional[str] = typer.Option(None, "--opt2", hidden=True, help="What $OPT2 in the label stands for."),
    opt3: Optional[str] = typer.Option(None, "--opt3", hidden=True, help="What $OPT3 in the label stands for."),
) -> None:
    """Run the command an image keeps in a label."""
    import os
    import subprocess

    from ..engine.pull import PullOptions
    from ..engine.runlabel import _SELF
    from ..errors import InvalidArgument
    from .lifecycle import engine

    if authfile and not os.path.exists(authfile):
        raise InvalidArgument(f"stat {authfile}: no such file or directory")
    pull = PullOptions(name=image, tls_verify=tls_verify, creds=creds, cert_dir=cert_dir, auth_file=authfile)
    opts = {k: v for k, v in (("OPT1", opt1), ("OPT2", opt2), ("OPT3", opt3)) if v is not None}
    made = engine(ctx).runlabel(label, image, list(args or []), name, pull, replace, display, opts)
    if display:
        # podman names itself as it was invoked; a command that is not podman's stays what it is
        words = ([sys.argv[0], *made.words[1:]] if made.words[0] in _SELF else made.words)
        render.out("command: " + " ".join(words))
        return
    sys.stdout.flush()
    out = subprocess.DEVNULL if quiet else None
    try:
        code = subprocess.call(made.argv, env=made.env, stdin=out, stdout=out, stderr=out)
    except FileNotFoundError:
        raise InvalidArgument(f"exec: \"{made.argv[0]}\": executable file not found in $PATH") from None
    except PermissionError:
        raise InvalidArgument(f"exec: \"{made.argv[0]}\": permission denied") from None
    if code:
        raise InvalidArgument(f"exit status {code}" if code > 0 else f"signal: {-code}")


def update(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Container name or id."),
    blkio_weight: Optional[str] = typer.Option(None, "--blkio-weight", help="Block IO weight (10-1000)."),
    blkio_weight_device: List[str] = typer.Option([], "--blkio-weight-device", help="DEVICE:WEIGHT."),
    cpu_period: Optional[str] = typer.Option(None, "--cpu-period", help="CPU period (microseconds)."),
    cpu_quota: Optional[str] = typer.Option(None, "--cpu-quota", help="CPU time per period (microseconds)."),
    cpu_rt_period: Optional[str] = typer.Option(None, "--cpu-rt-period", help="Realtime period (microseconds)."),
    cpu_rt_runtime: Optional[str] = typer.Option(None, "--cpu-rt-runtime", help="Realtime runtime (microseconds)."),
    cpu_shares: Optional[str] = typer.Option(None, "-c", "--cpu-shares", help="Relative CPU weight."),
    cpus: Optional[str] = typer.Option(None, "--cpus", help="CPUs the container may use (e.g. 1.5)."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", help="CPUs to run on (0-3,5)."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", help="Memory nodes to use."),
    device_read_bps: List[str] = typer.Option([], "--device-read-bps", help="DEVICE:RATE."),
    device_read_iops: List[str] = typer.Option([], "--device-read-iops", help="DEVICE:N."),
    device_write_bps: List[str] = typer.Option([], "--device-write-bps", help="DEVICE:RATE."),
    device_write_iops: List[str] = typer.Option([], "--device-write-iops", help="DEVICE:N."),
    memory: Optional[str] = typer.Option(None, "-m", "--memory", help="Memory limit (e.g. 512m)."),
    memory_reservation: Optional[str] = typer.Option(None, "--memory-reservation", help="Memory soft limit."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", help="Memory plus swap (-1: unlimited)."),
    memory_swappiness: Optional[str] = typer.Option(None, "--memory-swappiness", help="0-100 (-1: default)."),
) -> None:
    """Change a container's resource limits (at once while it runs)."""
    from ..engine.runoptions import CreateOptions
    from .lifecycle import engine

    opts = CreateOptions(
        image="", blkio_weight=blkio_weight, blkio_weight_device=list(blkio_weight_device), cpu_period=cpu_period,
        cpu_quota=cpu_quota, cpu_rt_period=cpu_rt_period, cpu_rt_runtime=cpu_rt_runtime, cpu_shares=cpu_shares,
        cpus=cpus, cpuset_cpus=cpuset_cpus, cpuset_mems=cpuset_mems, device_read_bps=list(device_read_bps),
        device_read_iops=list(device_read_iops), device_write_bps=list(device_write_bps),
        device_write_iops=list(device_write_iops), memory=memory, memory_reservation=memory_reservation,
        memory_swap=memory_swap, memory_swappiness=memory_swappiness)
    render.out(engine(ctx).update(container, opts))


def cp(
    ctx: typer.Context,
    src: str = typer.Argument(..., help="CONTAINER:PATH, a host path, or - (a tar on stdin)."),
    dst: str = typer.Argument(..., help="CONTAINER:PATH, a host path, or - (a tar on stdout)."),
    archive: bool = typer.Option(True, "--archive/--no-archive", "-a",
                                 help="Files copied into a container belong to its user (--archive=false: they "
                                      "keep their ids)."),
    overwrite: bool = typer.Option(False, "--overwrite/--no-overwrite",
                                   help="Allow directories to be overwritten with non-directories and vice versa."),
    pause: bool = typer.Option(True, "--pause/--no-pause", help="Pause the container while copying."),
) -> None:
    """Copy files between a container and the host, or between two containers."""
    from ..errors import InvalidArgument
    from .lifecycle import engine

    if dst == "-" and sys.stdout.isatty():
        raise InvalidArgument("refusing to write a tar to a terminal: redirect stdout")
    sys.stdout.flush()
    engine(ctx).cp(src, dst, archive, overwrite, pause)


def rename(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Container name or id."),
    name: str = typer.Argument(..., help="Its new name."),
) -> None:
    """Rename a container (running or not)."""
    from .lifecycle import engine

    engine(ctx).rename(container, name)


def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    filters: List[str] = typer.Option([], "--filter", help="until=TIME or label=K[=V]."),
) -> None:
    """Remove every container that is not running."""
    from ..engine.entities import ContainerPruneOptions
    from .lifecycle import engine

    opts = ContainerPruneOptions.from_filters(list(filters))
    if not force and not render.confirm("container prune", "WARNING! This will remove all non running containers."):
        return
    code = 0
    for rep in engine(ctx).prune(opts):
        if rep.error is None:
            render.out(rep.id)
        else:
            render.error(f"{rep.name}: {rep.error}")
            code = 125
    raise typer.Exit(code)


def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Container name or id."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write to this file (default: stdout)."),
) -> None:
    """Export a container's file system as a tar archive."""
    from ..errors import InvalidArgument
    from .lifecycle import engine

    if output in (None, "-") and sys.stdout.isatty():
        raise InvalidArgument("refusing to export to terminal. Use -o flag or redirect")
    sys.stdout.flush()  # the tar goes to fd 1 directly
    engine(ctx).export(name, output)


# run, create and exec: typer passes their words on to runargs, which parses them (and --help) from the
# options' declarations; typer only lists them, with runargs' one-line help.
_RUN, _CREATE, _EXEC = ({"context_settings": RUN_SETTINGS, "add_help_option": False, "help": runargs.HELP[c]}
                        for c in ("run", "create", "exec"))

# name -> (function, command settings); the app registers only what a command line needs.
TOP = {"run": (forward_run, _RUN), "create": (forward_run, _CREATE), "start": (start, {}),
       "rm": (rm, {}), "inspect": (inspect, {}), "ps": (ps, {}), "export": (export, {}), "stop": (stop, {}),
       "kill": (kill, {}), "wait": (wait, {}), "restart": (restart, {}), "logs": (logs, {}),
       "rename": (rename, {}), "attach": (attach, {}), "commit": (commit, {}), "diff": (diff, {}), "cp": (cp, {}), "pause": (pause, {}), "unpause": (unpause, {}), "top": (top, {"context_settings": {"ignore_unknown_options": True}}),
       "stats": (stats, {}), "port": (port, {}), "update": (update, {}), "init": (init, {}),
       "exec": (forward_exec, _EXEC)}
GROUP = {**TOP, "inspect": (container_inspect, {}), "ls": (ps, {}), "list": (ps, {"hidden": True}), "exists": (exists, {}),
         "cleanup": (cleanup, {"hidden": True}), "prune": (prune, {}), "runlabel": (runlabel, {}),
         "clone": (clone, {})}
GROUP.pop("ps")
GROUP["ps"] = (ps, {"hidden": True})
from .mounts import CONTAINER_GROUP  # noqa: E402 - `container mount`, `container umount`

GROUP.update(CONTAINER_GROUP)

HEALTHCHECK = {"run": (healthcheck_run, {})}
