"""Mount commands: mount, umount/unmount (containers), image mount, image unmount (each one
engine call). A mount is a read-only FUSE file system the user reads from the host."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine.entities import MountReport, Report


def _containers(ctx: typer.Context) -> Any:
    from ..engine.containers import ContainerEngine
    from .app import runtime

    return ContainerEngine(runtime(ctx), render.warn)


def _images(ctx: typer.Context) -> Any:
    from ..engine.images import ImageEngine
    from .app import runtime

    return ImageEngine(runtime(ctx), render.warn)


def _done(reports: list[Report], printed: Any) -> None:
    """What went well first, one line each; then the errors; exit 125 if any."""
    failed = False
    for rep in reports:
        if rep.error is None and printed(rep) is not None:   # (None: nothing was done, nothing said)
            render.out(printed(rep))
    for rep in reports:
        if rep.error is not None:
            render.error(str(rep.error))
            failed = True
    raise typer.Exit(125 if failed else 0)


def _check_format(fmt: Optional[str]) -> None:
    from ..errors import InvalidArgument

    if fmt not in (None, "", "json"):
        raise InvalidArgument(f'unknown --format argument: "{fmt}"')


def _listing(lines: list[list[str]], fmt: Optional[str], json_rows: list[dict[str, Any]]) -> None:
    if fmt == "json":
        render.out(render.to_json(json_rows))
        return
    render.table([{"id": a, "path": b} for a, b in lines], [("ID", "id"), ("PATH", "path")], header=False)


def mount(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to mount (none: list the mounted ones)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Mount all containers."),
    latest: bool = typer.Option(False, "-l", "--latest", help="Mount the latest container."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json: list the mounts as JSON."),
    no_trunc: bool = typer.Option(False, "--no-trunc", "--notruncate", help="Do not truncate ids."),
) -> None:
    """Mount containers' file systems read-only for you, or list the mounted ones."""
    if containers or all_ or latest:
        _done(_containers(ctx).mount(list(containers or []), all_, latest), lambda rep: rep.value)
    _check_format(fmt)
    found: list[MountReport] = _containers(ctx).mounted()
    _listing([[m.id if no_trunc else m.id[:12], m.path] for m in found], fmt,
             [{"id": m.id, "Names": list(m.names), "mountpoint": m.path} for m in found])


def umount(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to unmount."),
    all_: bool = typer.Option(False, "-a", "--all", help="Unmount every mounted container."),
    force: bool = typer.Option(False, "-f", "--force", help="Unmount whatever the mount counter says."),
    latest: bool = typer.Option(False, "-l", "--latest", help="Unmount the latest container."),
) -> None:
    """Unmount containers' file systems (each when its mount counter comes down to 0)."""
    reports = _containers(ctx).unmount(list(containers or []), all_, force, latest)
    _done(reports, lambda rep: rep.value if all_ else rep.name)


def image_mount(
    ctx: typer.Context,
    images: Optional[List[str]] = typer.Argument(None, help="Images to mount (none: list the mounted ones)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Mount all images."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json: list the mounts as JSON."),
) -> None:
    """Mount images read-only for you, or list the mounted ones."""
    if images or all_:
        _done(_images(ctx).mount(list(images or []), all_), lambda rep: rep.value)
    _check_format(fmt)
    found: list[MountReport] = _images(ctx).mounted()
    _listing([[m.names[0] if m.names else m.id, m.path] for m in found], fmt,
             [{"id": m.id, "Names": [m.digest] if m.digest else [], "Repositories": list(m.names),
               "mountpoint": m.path} for m in found])


def image_unmount(
    ctx: typer.Context,
    images: Optional[List[str]] = typer.Argument(None, help="Images to unmount."),
    all_: bool = typer.Option(False, "-a", "--all", help="Unmount every mounted image."),
    force: bool = typer.Option(False, "-f", "--force", help="Unmount whatever the mount counter says."),
) -> None:
    """Unmount images (each when its mount counter comes down to 0)."""
    _done(_images(ctx).unmount(list(images or []), all_, force), lambda rep: rep.value)


TOP = {"mount": (mount, {}), "umount": (umount, {}), "unmount": (umount, {"hidden": True})}
CONTAINER_GROUP = {"mount": (mount, {}), "umount": (umount, {}), "unmount": (umount, {"hidden": True})}
IMAGE_GROUP = {"mount": (image_mount, {}), "unmount": (image_unmount, {}),
               "umount": (image_unmount, {"hidden": True})}
