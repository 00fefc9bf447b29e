"""Volume commands: volume create, ls, inspect, rm, prune, exists (each one VolumeEngine call)."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render
from .app import runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def engine(ctx: typer.Context) -> Any:
    """The volume engine over this command's store."""
    from ..engine.volumes import VolumeEngine

    return VolumeEngine(runtime(ctx), render.warn)


def create(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Volume name (default: a random one)."),
    label: List[str] = typer.Option([], "-l", "--label", help="Set metadata (K=V)."),
    opt: List[str] = typer.Option([], "-o", "--opt", help="Driver options (the local driver takes none)."),
    driver: str = typer.Option("local", "-d", "--driver", help="Volume driver: local."),
    ignore: bool = typer.Option(False, "--ignore", help="Do nothing if it exists already."),
) -> None:
    """Create a volume; print its name."""
    from ..engine.entities import VolumeCreateOptions
    from ..options import parse_labels

    options = {}
    for item in opt:
        k, _, v = item.partition("=")
        options[k] = v
    render.out(engine(ctx).create(VolumeCreateOptions(name=name, driver=driver, labels=parse_labels(label),
                                                      options=options, ignore=ignore)))


def ls(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the names."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    filters: List[str] = typer.Option([], "-f", "--filter", help="name=, label=K[=V], dangling=true|false."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="Do not print the header."),
) -> None:
    """List volumes."""
    rows = engine(ctx).ls(list(filters))
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
    from ..engine.entities import failed

    reports = engine(ctx).inspect(list(names))
    error = failed(reports)
    if error is not None:
        raise error
    render.inspect([r.value for r in reports], fmt)


def rm(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Volumes to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Remove the containers that use them too."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every volume."),
) -> None:
    """Remove volumes."""
    code = 0
    for rep in engine(ctx).rm(list(names or []), force, all_):
        if rep.error is None:
            if rep.value is not None:  # None: not there, and forced
                render.out(rep.value)
        else:
            render.error(str(rep.error))
            code = 2 if "being used" in str(rep.error) else (1 if "no such volume" in str(rep.error) else 125)
    raise typer.Exit(code)


def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    filters: List[str] = typer.Option([], "--filter", help="label=KEY[=VALUE] or until=TIME."),
) -> None:
    """Remove every volume no container uses."""
    from ..engine.volumes import volume_prune_filters

    volume_prune_filters(list(filters))   # a bad filter fails before the question
    if not force and not render.confirm(
            "volume prune", "WARNING! This will remove all volumes not used by at least one container."):
        return
    for name in engine(ctx).prune(list(filters)):
        render.out(name)


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Volume name.")) -> None:
    """Exit 0 if the volume exists, 1 if not."""
    if not engine(ctx).exists(name):
        raise typer.Exit(1)


TOP: dict = {}
GROUP = {"create": (create, {}), "ls": (ls, {}), "list": (ls, {"hidden": True}), "inspect": (inspect, {}),
         "rm": (rm, {}), "remove": (rm, {"hidden": True}), "prune": (prune, {}), "exists": (exists, {})}
