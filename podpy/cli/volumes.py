"""Volume commands: volume create, ls, inspect, rm, prune, exists."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render
from .app import runtime


def _labels(items: List[str]) -> dict[str, str]:
    from ..options import parse_labels

    return parse_labels(items)


def create(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Volume name (default: a random one)."),
    label: List[str] = typer.Option([], "-l", "--label", help="Set metadata (K=V)."),
    opt: List[str] = typer.Option([], "-o", "--opt", help="Driver options (the local driver takes none)."),
    driver: str = typer.Option("local", "-d", "--driver", help="Volume driver: local."),
    ignore: bool = typer.Option(False, "--ignore", help="Do nothing if it exists already."),
) -> None:
    """Create a volume; print its name."""
    from ..engine import volumestore
    from ..errors import InvalidArgument

    if driver != "local":
        raise InvalidArgument(f"unsupported volume driver {driver!r}: local")
    options = {}
    for item in opt:
        k, _, v = item.partition("=")
        options[k] = v
    render.out(volumestore.create(runtime(ctx), name, _labels(label), options, exist_ok=ignore))


def ls(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the names."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    filters: List[str] = typer.Option([], "-f", "--filter", help="name=, label=K[=V], dangling=true|false."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="Do not print the header."),
) -> None:
    """List volumes."""
    from ..engine import volumestore
    from ..errors import InvalidArgument

    rt = runtime(ctx)
    rows = volumestore.all_volumes(rt)
    used = {m.get("volume") for r in rt.state.all() for m in r.config.mounts}
    for f in filters:
        key, _, value = f.partition("=")
        if key == "name":
            rows = [r for r in rows if value in r["Name"]]
        elif key == "label":
            k, eq, v = value.partition("=")
            rows = [r for r in rows if k in r["Labels"] and (not eq or r["Labels"][k] == v)]
        elif key == "dangling" and value in ("true", "false"):
            rows = [r for r in rows if (r["Name"] not in used) == (value == "true")]
        else:
            raise InvalidArgument(f"invalid filter {f!r}: use name=, label= or dangling=")
    if quiet:
        for r in rows:
            render.out(r["Name"])
        return
    render.formatted(rows, fmt, [("DRIVER", "Driver"), ("VOLUME NAME", "Name")], noheading=noheading)


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Volumes."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="A Go template."),
) -> None:
    """Show volumes' details as JSON."""
    from ..engine import volumestore

    rt = runtime(ctx)
    render.inspect([volumestore.lookup(rt, n) for n in names], fmt)


def rm(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Volumes to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Remove the containers that use them too."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every volume."),
) -> None:
    """Remove volumes."""
    from ..engine import volumes, volumestore
    from ..errors import InvalidArgument, PodpyError

    rt = runtime(ctx)
    from ..engine.reconcile import reconcile

    reconcile(rt)
    targets = [v["Name"] for v in volumestore.all_volumes(rt)] if all_ else list(names or [])
    if not targets and not all_:
        raise InvalidArgument("`podpy volume rm` requires at least one volume name, or --all")
    code = 0
    for name in targets:
        try:
            render.out(volumes.remove(rt, name, force))
        except PodpyError as exc:
            render.error(str(exc))
            code = 2 if "being used" in str(exc) else (1 if "no such volume" in str(exc) else 125)
    raise typer.Exit(code)


def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
) -> None:
    """Remove every volume no container uses."""
    from ..engine import volumes

    if not force and not render.confirm(
            "volume prune", "WARNING! This will remove all volumes not used by at least one container."):
        return
    for name in volumes.prune(runtime(ctx)):
        render.out(name)


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Volume name.")) -> None:
    """Exit 0 if the volume exists, 1 if not."""
    from ..engine import volumestore
    from ..errors import NoSuchVolume

    try:
        volumestore.lookup(runtime(ctx), name)
    except NoSuchVolume:
        raise typer.Exit(1)


TOP: dict = {}
GROUP = {"create": (create, {}), "ls": (ls, {}), "list": (ls, {"hidden": True}), "inspect": (inspect, {}),
         "rm": (rm, {}), "remove": (rm, {"hidden": True}), "prune": (prune, {}), "exists": (exists, {})}
