"""Volume commands: volume create, ls, inspect, rm, prune, exists, export, import, mount, unmount
(each one VolumeEngine call)."""

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
    """The volume engine over this command's store."""
    from .app import remote_engine

    remote = remote_engine(ctx, "volumes", render.warn)
    if remote is not None:
        return remote
    from ..engine.volumes import VolumeEngine

    return VolumeEngine(runtime(ctx), render.warn)


def create(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Volume name (default: a random one)."),
    label: List[str] = typer.Option([], "-l", "--label", help="Set metadata (K=V)."),
    opt: List[str] = typer.Option([], "-o", "--opt", help="Driver options: type=, device=, o=, uid=, gid=."),
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
    filters: List[str] = typer.Option([], "-f", "--filter",
                                      help="name=, driver=, scope=, label=, opt=, until=, dangling= (commas: several)."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="Do not print the header."),
) -> None:
    """List volumes."""
    rows = engine(ctx).ls([part for f in filters for part in f.split(",")])
    if quiet:
        for r in rows:
            render.out(r["Name"])
        return
    if not rows and not (fmt and render.is_json(fmt)):
        return   # podman's `volume ls` of no volumes prints nothing, not even the header
    if fmt and not render.is_json(fmt):   # a template's .CreatedAt is a Go time, as podman prints it
        from ..formats import go_time, parse_rfc3339

        rows = [dict(r, CreatedAt=go_time(parse_rfc3339(str(r.get("CreatedAt") or "")))) for r in rows]
    render.formatted(rows, fmt, [("DRIVER", "Driver"), ("VOLUME NAME", "Name")], noheading=noheading,
                     header_overrides={"Name": "VOLUME NAME"})


def inspect(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Volumes."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="A Go template."),
    all_: bool = typer.Option(False, "-a", "--all", help="Every volume."),
) -> None:
    """Show volumes' details as JSON."""
    reports = engine(ctx).inspect(list(names or []), all_)
    # what was found is shown before the first error, as podman shows it ([] for none); a
    # template sees the fields podman's JSON leaves out when empty (.NeedsCopyUp: false)
    found = [r.value for r in reports if r.error is None]
    if fmt and not render.is_json(fmt):
        found = [{**_TEMPLATE_DEFAULTS, **doc} for doc in found]
    render.inspect(found, fmt)
    error = render.inspect_error(reports)
    if error is not None:
        raise error


_TEMPLATE_DEFAULTS = {"UID": 0, "GID": 0, "Anonymous": False, "MountCount": 0, "NeedsCopyUp": False,
                      "NeedsChown": False, "Timeout": 0}


def rm(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Volumes to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Remove the containers that use them too."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every volume."),
    time: Optional[int] = typer.Option(None, "-t", "--time", min=0,
                                       help="Seconds a running container using it gets to stop (with -f)."),
) -> None:
    """Remove volumes."""
    from ..errors import InvalidArgument

    if all_ and names:
        raise InvalidArgument("choose either one or more volumes or all")
    code = 0
    for rep in engine(ctx).rm(list(names or []), force, all_, time):
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
    filters: List[str] = typer.Option([], "--filter", help="name=, driver=, scope=, label=, opt=, until=, dangling=."),
) -> None:
    """Remove every volume no container uses (that passes the filters)."""

    def ask(names: list[str]) -> bool:
        # as podman's: the answer is read from stdin, a terminal or not
        render.out("WARNING! This will remove all volumes not used by at least one container. "
                   "The following volumes will be removed:")
        if not names:
            render.out("No dangling volumes found")
            return False
        for name in names:
            render.out(name)
        return render.ask("Are you sure you want to continue? [y/N] ")

    for name in engine(ctx).prune(list(filters), None if force else ask):
        render.out(name)


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Volume name.")) -> None:
    """Exit 0 if the volume exists, 1 if not."""
    if not engine(ctx).exists(name):
        raise typer.Exit(1)


def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Volume name."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write to this file (default: stdout)."),
) -> None:
    """Write a volume's content as a tar archive."""
    from ..errors import InvalidArgument

    if output in (None, "-", "/dev/stdout"):
        if sys.stdout.isatty():
            raise InvalidArgument("refusing to export to terminal. Use -o flag or redirect")
        sys.stdout.flush()  # the tar goes to fd 1 directly
        output = None
    engine(ctx).export(name, output)


def import_(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Volume name."),
    source: str = typer.Argument(..., help="A tar archive (plain or compressed), or - for stdin."),
) -> None:
    """Extract a tar archive into a volume."""
    engine(ctx).import_(name, source)


def mount(ctx: typer.Context, name: str = typer.Argument(..., help="Volume name.")) -> None:
    """Print the host path of a volume's content (rootless: inside `podpy unshare`)."""
    render.out(engine(ctx).mount(name))


def unmount(ctx: typer.Context, name: str = typer.Argument(..., help="Volume name.")) -> None:
    """Undo `volume mount` (a local volume's directory stays); prints the name."""
    render.out(engine(ctx).unmount(name))


TOP: dict = {}
def reload(ctx: typer.Context) -> None:
    """Scan the volume plugins for volumes added or removed (podpy has only the local driver)."""
    added, removed, errors = engine(ctx).reload()
    for title, names in (("Added:", added), ("Removed:", removed)):
        if names:
            render.out(title)
            for name in names:
                render.out(name)
    for error in errors:
        render.error(error)
    if errors:
        raise typer.Exit(125)


GROUP = {"create": (create, {}), "ls": (ls, {}), "list": (ls, {"hidden": True}), "inspect": (inspect, {}),
         "rm": (rm, {}), "remove": (rm, {"hidden": True}), "prune": (prune, {}), "exists": (exists, {}),
         "export": (export, {}), "import": (import_, {}), "mount": (mount, {}), "unmount": (unmount, {}),
         "reload": (reload, {})}
