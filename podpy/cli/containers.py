"""Container commands: run, create, start, rm, ps, inspect, export, exec, rename, prune, cp, diff, commit,
exists; the verbs on running containers live in lifecycle.py."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import render, runargs
from .lifecycle import (
    attach, cleanup, healthcheck_run, kill, logs, pause, restart, stats, stop, top, unpause, wait,
)

# Everything after `run` goes, unparsed, to runargs (which owns -h for --hostname and --help).
RUN_SETTINGS = {"allow_interspersed_args": False, "ignore_unknown_options": True, "allow_extra_args": True,
                "help_option_names": []}

PS_COLUMNS = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"), ("CREATED", "RunningFor"),
              ("STATUS", "Status"), ("PORTS", "Ports"), ("NAMES", "Names")]


def forward_run(ctx: typer.Context) -> None:
    """`run`/`create` reached through typer (`podpy container run`): the fast path's code."""
    from . import runargs
    from .main import Globals, run_or_create

    root = ctx.find_root()
    g = root.obj if isinstance(root.obj, Globals) else Globals()
    fields = runargs.parse(str(ctx.info_name), list(ctx.args))
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
) -> None:
    """Start one or more containers (in the foreground with -a)."""
    from ..errors import InvalidArgument
    from .lifecycle import _reports, engine

    containers = list(containers or [])
    if attach and (all_ or filters):
        raise InvalidArgument("you cannot start and attach all containers at once")
    if not attach:
        raise typer.Exit(_reports(engine(ctx).start(containers, all_, list(filters or []))))
    if not containers:
        raise InvalidArgument("start requires at least one argument")
    if len(containers) > 1:
        raise InvalidArgument("you cannot start and attach multiple containers at once")
    raise typer.Exit(engine(ctx).start_attached(containers[0], interactive))


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
) -> None:
    """Remove one or more containers."""
    from ..errors import InvalidState, NoSuchContainer
    from .lifecycle import engine

    reports = engine(ctx).rm(list(containers or []), force, all_, ignore, volumes, timeout, depend)
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
    filters: List[str] = typer.Option([], "-f", "--filter", help="Filter: name=, id=, status=, label=."),
) -> None:
    """List containers."""
    from ..engine.entities import PsOptions
    from .lifecycle import engine
    from .views import ps_row

    entries = engine(ctx).ps(PsOptions(all=all_, latest=latest, last=last, filters=list(filters)))
    if quiet:
        for e in entries:
            render.out(e.record.id if no_trunc else e.record.short_id)
        return
    render.formatted([ps_row(e, no_trunc) for e in entries], fmt, PS_COLUMNS, json_rows=[e.data for e in entries],
                     header_overrides={"ID": "CONTAINER ID"}, noheading=noheading)


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Containers or images."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
    kind: str = typer.Option("all", "-t", "--type", help="container, image or all."),
) -> None:
    """Show the configuration of containers or images."""
    from ..engine.entities import failed
    from .lifecycle import engine

    reports = engine(ctx).inspect(list(names), kind)
    render.inspect([r.value for r in reports if r.error is None], fmt)
    error = failed(reports)
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


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Container name or id.")) -> None:
    """Exit 0 if the container exists, 1 if not."""
    from .lifecycle import engine

    if not engine(ctx).exists(name):
        raise typer.Exit(1)


def forward_exec(ctx: typer.Context) -> None:
    """`container exec` reached through typer: the fast path's code."""
    from . import runargs
    from .main import Globals, exec_command

    root = ctx.find_root()
    g = root.obj if isinstance(root.obj, Globals) else Globals()
    fields = runargs.parse("exec", list(ctx.args))
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
) -> None:
    """Create an image from a container's changes; print its id."""
    from ..engine.entities import CommitOptions
    from .lifecycle import engine

    made = engine(ctx).commit(CommitOptions(container=container, image=image, changes=list(change), message=message,
                                            author=author, pause=pause))
    render.out(made.id)


def diff(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Container name or id."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json"),
) -> None:
    """List what a container changed: A added, C changed, D deleted."""
    from .lifecycle import engine

    changes = engine(ctx).diff(container)
    if fmt == "json":
        groups: dict[str, list[str]] = {"changed": [], "added": [], "deleted": []}
        for kind, path in changes:
            groups[{"A": "added", "C": "changed", "D": "deleted"}[kind]].append(path)
        render.out(render.to_json({k: v or None for k, v in groups.items()}))
        return
    for kind, path in changes:
        render.out(f"{kind} {path}")


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
       "rename": (rename, {}), "attach": (attach, {}), "commit": (commit, {}), "diff": (diff, {}), "cp": (cp, {}), "pause": (pause, {}), "unpause": (unpause, {}), "top": (top, {}),
       "stats": (stats, {}), "port": (port, {}),
       "exec": (forward_exec, _EXEC)}
GROUP = {**TOP, "ls": (ps, {}), "list": (ps, {"hidden": True}), "exists": (exists, {}),
         "cleanup": (cleanup, {"hidden": True}), "prune": (prune, {})}
GROUP.pop("ps")
GROUP["ps"] = (ps, {"hidden": True})
from .mounts import CONTAINER_GROUP  # noqa: E402 - `container mount`, `container umount`

GROUP.update(CONTAINER_GROUP)

HEALTHCHECK = {"run": (healthcheck_run, {})}
