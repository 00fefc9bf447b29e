"""Container commands: run, create, start, rm, ps, inspect, container exists."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import render
from .app import runtime

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
    from ..engine import containers as ce
    from ..errors import InvalidArgument

    rt = runtime(ctx)
    rt.reconcile()
    if not attach:
        raise InvalidArgument("starting without --attach needs detached containers, which podpy "
                              "does not run yet: use `podpy start -a`")
    if len(containers) > 1:
        raise InvalidArgument("you cannot start and attach multiple containers at once")
    rec = rt.state.lookup(containers[0])
    if interactive:
        rec.config.interactive = True
    sys.stdout.flush()
    raise typer.Exit(ce.start_attached(rt, rec, render.warn))


def rm(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Kill and remove running containers."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove all containers."),
    ignore: bool = typer.Option(False, "-i", "--ignore", help="Ignore containers that do not exist."),
    volumes: bool = typer.Option(False, "-v", "--volumes", help="Accepted for podman compatibility."),
) -> None:
    """Remove one or more containers."""
    from ..engine import containers as ce
    from ..errors import InvalidArgument, InvalidState, NoSuchContainer

    if not containers and not all_:
        raise InvalidArgument("`podpy rm` requires at least one argument, or --all")
    rt = runtime(ctx)
    reports = ce.remove_many(rt, list(containers or []), force, all_, ignore)
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
    rt.reconcile()
    recs = [r for r in rt.state.all() if r.state != CONFIGURED]
    if not all_ and not latest and last < 0 and not filters:
        recs = [r for r in recs if r.state == RUNNING]
    recs = _filter(recs, filters)
    if latest:
        recs = recs[:1]
    elif last >= 0:
        recs = recs[:last]
    if quiet:
        for r in recs:
            render.out(r.id if no_trunc else r.short_id)
        return
    render.formatted([reports.ps_row(r, no_trunc) for r in recs], fmt, PS_COLUMNS,
                     json_rows=[reports.ps_json(r) for r in recs], header_overrides={"ID": "CONTAINER ID"},
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
    from ..engine.images import lookup
    from ..errors import InvalidArgument, NoSuchContainer, NoSuchImage
    from storage import images as img

    if kind not in ("all", "container", "image"):
        raise InvalidArgument(f"invalid --type {kind!r}: use container, image or all")
    rt = runtime(ctx)
    if kind != "image":
        rt.reconcile()
    items = []
    missing = None
    for name in names:
        if kind in ("all", "container"):
            try:
                rec = rt.state.lookup(name)
                image = img.by_id(rt.db.conn, rec.image_id)
                items.append(reports.container_inspect(
                    rec, rt.store.container_dir(rec.id) + "/merged", rt.store.driver.name,
                    rt.container_run_dir(rec.id), image))
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


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Container name or id.")) -> None:
    """Exit 0 if the container exists, 1 if not."""
    from ..errors import NoSuchContainer

    try:
        runtime(ctx).state.lookup(name)
    except NoSuchContainer:
        raise typer.Exit(1)


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
       "rm": (rm, {}), "inspect": (inspect, {}), "ps": (ps, {}), "export": (export, {})}
GROUP = {**TOP, "ls": (ps, {}), "list": (ps, {"hidden": True}), "exists": (exists, {})}
GROUP.pop("ps")
GROUP["ps"] = (ps, {"hidden": True})
