"""Container commands: run, create, start, rm, ps, inspect, export, exec, rename, prune, cp, diff, commit,
exists; the verbs on running containers live in lifecycle.py."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import render
from .app import runtime
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
    from .main import Globals, run_or_create

    root = ctx.find_root()
    g = root.obj if isinstance(root.obj, Globals) else Globals()
    raise typer.Exit(run_or_create(str(ctx.info_name), list(ctx.args), g))


def start(
    ctx: typer.Context,
    containers: List[str] = typer.Argument(..., help="Containers to start."),
    attach: bool = typer.Option(False, "-a", "--attach", help="Attach to the container's output."),
    interactive: bool = typer.Option(False, "-i", "--interactive", help="Attach stdin."),
) -> None:
    """Start one or more containers (in the foreground with -a)."""
    from ..errors import InvalidArgument
    from .lifecycle import _reports, engine

    if not attach:
        raise typer.Exit(_reports(engine(ctx).start(list(containers))))
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
) -> None:
    """Remove one or more containers."""
    from ..errors import InvalidState, NoSuchContainer
    from .lifecycle import engine

    reports = engine(ctx).rm(list(containers or []), force, all_, ignore, volumes, timeout)
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
    from ..engine import reports
    from ..state import CONFIGURED, RUNNING

    rt = runtime(ctx)
    from ..engine.reconcile import reconcile

    reconcile(rt)
    recs = [r for r in rt.state.all() if r.state != CONFIGURED]
    if not all_ and not latest and last < 0 and not filters:
        recs = [r for r in recs if r.state in (RUNNING, "paused")]
    recs = _filter(recs, filters)
    if latest:
        recs = recs[:1]
    elif last >= 0:
        recs = recs[:last]
    if quiet:
        for r in recs:
            render.out(r.id if no_trunc else r.short_id)
        return
    rows, json_rows = [reports.ps_row(r, no_trunc) for r in recs], [reports.ps_json(r) for r in recs]
    for rec, row, data in zip(recs, rows, json_rows):
        if rec.config.healthcheck and rec.state == RUNNING:
            from ..engine.healthstate import read

            state = (read(rt, rec) or {}).get("Status", "starting")
            row["Status"] = f"{row['Status']} ({state})"
            data["Status"] = row["Status"]
            data["Health"] = row["Health"] = state
    render.formatted(rows, fmt, PS_COLUMNS, json_rows=json_rows, header_overrides={"ID": "CONTAINER ID"},
                     noheading=noheading)


def _filter(recs: list, filters: list[str]) -> list:  # type: ignore[type-arg]
    from ..engine.reports import _ps_state
    from ..errors import InvalidArgument

    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid filter {f!r}: expected KEY=VALUE")
        if key == "name":
            recs = [r for r in recs if value in r.name]
        elif key == "id":
            recs = [r for r in recs if r.id.startswith(value)]
        elif key == "status":
            recs = [r for r in recs if _ps_state(r) == value]
        elif key == "label":
            k, _, v = value.partition("=")
            recs = [r for r in recs if k in r.config.labels and (not v or r.config.labels[k] == v)]
        elif key == "ancestor":
            recs = [r for r in recs if value in (r.image_name, r.image_id) or r.image_id.startswith(value)]
        else:
            raise InvalidArgument(f"invalid filter {key!r}: use name, id, status, label or ancestor")
    return recs


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Containers or images."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
    kind: str = typer.Option("all", "-t", "--type", help="container, image or all."),
) -> None:
    """Show the configuration of containers or images."""
    from ..engine import reports
    from ..engine.imagestore import lookup
    from ..errors import InvalidArgument, NoSuchContainer, NoSuchImage
    from storage import images as img

    if kind not in ("all", "container", "image"):
        raise InvalidArgument(f"invalid --type {kind!r}: use container, image or all")
    rt = runtime(ctx)
    if kind != "image":
        from ..engine.reconcile import reconcile

        reconcile(rt)
    items = []
    missing = None
    for name in names:
        if kind in ("all", "container"):
            try:
                rec = rt.state.lookup(name)
                image = img.by_id(rt.db.conn, rec.image_id)
                from ..engine.start import log_path

                data = reports.container_inspect(
                    rec, rt.store.container_dir(rec.id) + "/merged", rt.store.driver.name,
                    rt.container_run_dir(rec.id), image)
                data["HostConfig"]["LogConfig"]["Path"] = log_path(rt, rec)
                if rec.config.healthcheck:
                    from ..engine.healthstate import read

                    data["State"]["Health"] = read(rt, rec)
                    hc = rec.config.healthcheck
                    data["Config"]["Healthcheck"] = {
                        "Test": hc["test"], "Interval": int(hc["interval"] * 1e9), "Timeout": int(hc["timeout"] * 1e9),
                        "StartPeriod": int(hc["start_period"] * 1e9), "Retries": hc["retries"]}
                    data["Config"]["HealthcheckOnFailureAction"] = hc["on_failure"]
                data["LogPath"] = log_path(rt, rec)
                items.append(data)
                continue
            except NoSuchContainer as exc:
                if kind == "container":
                    missing = missing or exc
                    continue
        try:
            image = lookup(rt, name)
            items.append(reports.image_inspect(image, rt.store.driver.name, rt.store.layer_dirs(image)))
        except NoSuchImage:
            missing = missing or NoSuchImage(f"no such object: \"{name}\"")
    render.inspect(items, fmt)
    if missing is not None:
        raise missing


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
    from ..state import RUNNING

    rt = runtime(ctx)
    from ..engine.reconcile import reconcile

    reconcile(rt)
    if all_ or latest:
        if private is not None or (container is not None and all_):
            raise InvalidArgument("--all and --latest take no container name")
        recs = [r for r in rt.state.all() if r.state == RUNNING]
        for rec in recs[:1] if latest else recs:
            prefix = f"{rec.short_id}\t" if all_ else ""
            for line in port_lines(rec.config.ports, container if latest else None):
                render.out(prefix + line)
        return
    if container is None:
        raise InvalidArgument("`podpy port` requires a container name or id, --all or --latest")
    rec = rt.state.lookup(container)
    if rec.state != RUNNING:
        return   # as podman: a container that does not run publishes nothing
    lines = port_lines(rec.config.ports, private)
    if private is not None and not lines:
        raise InvalidArgument(f"failed to find published port \"{private}\"")
    for line in lines:
        render.out(line)


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Container name or id.")) -> None:
    """Exit 0 if the container exists, 1 if not."""
    from ..errors import NoSuchContainer

    try:
        runtime(ctx).state.lookup(name)
    except NoSuchContainer:
        raise typer.Exit(1)


def forward_exec(ctx: typer.Context) -> None:
    """`container exec` reached through typer: the fast path's code."""
    from .main import Globals, exec_command

    root = ctx.find_root()
    g = root.obj if isinstance(root.obj, Globals) else Globals()
    raise typer.Exit(exec_command(list(ctx.args), g))


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
    from ..engine import commit as cm

    cm.check_target(image)
    made = cm.commit(runtime(ctx), container, image, list(change), message, author, pause)
    render.out(made.id)


def diff(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Container name or id."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json"),
) -> None:
    """List what a container changed: A added, C changed, D deleted."""
    from ..engine import commit as cm

    changes = cm.diff(runtime(ctx), container)
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
    archive: bool = typer.Option(False, "-a", "--archive", help="Keep the files' owners (ids) when copying in."),
) -> None:
    """Copy files between a container and the host."""
    from ..engine.cp import cp as do_cp
    from ..errors import InvalidArgument

    if dst == "-" and sys.stdout.isatty():
        raise InvalidArgument("refusing to write a tar to a terminal: redirect stdout")
    sys.stdout.flush()
    do_cp(runtime(ctx), src, dst, archive)


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
    from ..engine.removal import remove_container
    from ..formats import parse_time
    from ..errors import InvalidArgument
    from ..state import CONFIGURED, RUNNING

    rt = runtime(ctx)
    until, labels = None, []
    for f in filters:
        key, _, value = f.partition("=")
        if key == "until" and value:
            until = parse_time(value, "--filter until")
        elif key == "label" and value:
            labels.append(value.partition("="))
        else:
            raise InvalidArgument(f"invalid filter {f!r}: use until=TIME or label=KEY[=VALUE]")
    if not force and not render.confirm("container prune", "WARNING! This will remove all non running containers."):
        return
    from ..engine.reconcile import reconcile

    reconcile(rt)
    doomed = [r for r in rt.state.all() if r.state not in (RUNNING, CONFIGURED, "paused")
              and (until is None or r.created < until)
              and all(r.config.labels.get(k) == v if sep else k in r.config.labels for k, sep, v in labels)]
    code = 0
    for rec in doomed:
        try:
            remove_container(rt, rec, force=False)
            render.out(rec.id)
        except Exception as exc:  # noqa: BLE001
            from ..errors import translate

            render.error(f"{rec.name}: {translate(exc)}")
            code = 125
    raise typer.Exit(code)


def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Container name or id."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write to this file (default: stdout)."),
) -> None:
    """Export a container's file system as a tar archive."""
    from ..engine.archive_io import export_container
    from ..errors import InvalidArgument

    if output in (None, "-") and sys.stdout.isatty():
        raise InvalidArgument("refusing to export to terminal. Use -o flag or redirect")
    sys.stdout.flush()  # the tar goes to fd 1 directly
    export_container(runtime(ctx), name, output)


_RUN = {"context_settings": RUN_SETTINGS, "add_help_option": False, "help": "Run a command in a new container."}
_CREATE = {"context_settings": RUN_SETTINGS, "add_help_option": False,
           "help": "Create a container without starting it."}

# name -> (function, command settings); the app registers only what a command line needs.
TOP = {"run": (forward_run, _RUN), "create": (forward_run, _CREATE), "start": (start, {}),
       "rm": (rm, {}), "inspect": (inspect, {}), "ps": (ps, {}), "export": (export, {}), "stop": (stop, {}),
       "kill": (kill, {}), "wait": (wait, {}), "restart": (restart, {}), "logs": (logs, {}),
       "rename": (rename, {}), "attach": (attach, {}), "commit": (commit, {}), "diff": (diff, {}), "cp": (cp, {}), "pause": (pause, {}), "unpause": (unpause, {}), "top": (top, {}),
       "stats": (stats, {}), "port": (port, {}),
       "exec": (forward_exec, {"context_settings": RUN_SETTINGS, "add_help_option": False,
                               "help": "Run a command in a running container."})}
GROUP = {**TOP, "ls": (ps, {}), "list": (ps, {"hidden": True}), "exists": (exists, {}),
         "cleanup": (cleanup, {"hidden": True}), "prune": (prune, {})}
GROUP.pop("ps")
GROUP["ps"] = (ps, {"hidden": True})

HEALTHCHECK = {"run": (healthcheck_run, {})}
