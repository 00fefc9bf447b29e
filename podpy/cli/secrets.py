"""Secret commands: secret create, ls, inspect, rm (each one SecretEngine call)."""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from . import render
from .app import runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def engine(ctx: typer.Context) -> Any:
    """The secret engine over this command's store."""
    from ..engine.secrets import SecretEngine
    from .app import remote_engine

    remote = remote_engine(ctx, "secrets", render.warn)
    if remote is not None:
        return remote
    return SecretEngine(runtime(ctx), render.warn)


def _read(source: str, from_env: bool) -> bytes:
    from ..errors import InvalidArgument

    if from_env:
        if source not in os.environ:
            raise InvalidArgument(f"cannot create store secret data: environment variable {source} is not set")
        return os.environ[source].encode("utf-8", "surrogateescape")
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        with open(source, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {source}: {exc.strerror or exc}") from None


def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Secret name."),
    source: str = typer.Argument(..., metavar="FILE|-", help="The data: a file, - for stdin (--env: a variable)."),
    driver: str = typer.Option("file", "-d", "--driver", help="Secret driver: file."),
    driver_opts: List[str] = typer.Option([], "--driver-opts", help="Driver options (the file driver takes none)."),
    env: bool = typer.Option(False, "--env", help="Read the data from the environment variable named."),
    label: List[str] = typer.Option([], "-l", "--label", help="Set metadata (K=V)."),
) -> None:
    """Create a secret; print its id."""
    from ..options import parse_labels

    labels = parse_labels(label)
    opts = dict(item.partition("=")[::2] for item in driver_opts)
    render.out(engine(ctx).create(name, _read(source, env), driver=driver, labels=labels, driver_opts=opts))


def ls(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    filters: List[str] = typer.Option([], "-f", "--filter", help="name=NAME, id=ID."),
    noheading: bool = typer.Option(False, "--noheading", help="Do not print the header."),
) -> None:
    """List secrets."""
    from ..formats import ago

    docs = engine(ctx).ls(list(filters))
    if quiet:
        for d in docs:
            render.out(d["ID"])
        return
    rows = [{**d, "Name": d["Spec"]["Name"], "Driver": d["Spec"]["Driver"]["Name"],
             "CreatedAt": ago(_seconds(d["CreatedAt"])), "UpdatedAt": ago(_seconds(d["UpdatedAt"]))} for d in docs]
    render.formatted(rows, fmt, [("ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"), ("CREATED", "CreatedAt"),
                                 ("UPDATED", "UpdatedAt")], json_rows=docs,
                     header_overrides={"CreatedAt": "CREATED", "UpdatedAt": "UPDATED"}, noheading=noheading)


def _seconds(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Secrets."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="A Go template."),
    pretty: bool = typer.Option(False, "--pretty", help="Human-readable output."),
) -> None:
    """Show secrets' details (never their data)."""
    reports = engine(ctx).inspect(list(names))
    docs = [r.value for r in reports if r.error is None]
    if pretty and not fmt:
        from ..formats import go_time

        for i, d in enumerate(docs):
            if i:
                render.out("")
            render.out(f"ID:              {d['ID']}")
            render.out(f"Name:              {d['Spec']['Name']}")
            if d["Spec"]["Labels"]:
                render.out("Labels:")
                for k, v in sorted(d["Spec"]["Labels"].items()):
                    render.out(f" - {k}={v}")
            render.out(f"Driver:            {d['Spec']['Driver']['Name']}")
            render.out(f"Created at:        {go_time(_seconds(d['CreatedAt']))}")
            render.out(f"Updated at:        {go_time(_seconds(d['UpdatedAt']))}")
    elif docs or not fmt:
        render.inspect(docs, fmt)
    failed = [r for r in reports if r.error is not None]
    if failed:
        render.error(f"inspecting secret: {failed[0].error}")
        raise typer.Exit(125)


def rm(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Secrets to remove."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every secret."),
) -> None:
    """Remove secrets (containers made with them keep their copies)."""
    code = 0
    for rep in engine(ctx).rm(list(names or []), all_):
        if rep.error is None:
            render.out(rep.value)
        else:
            render.error(str(rep.error))
            code = 125
    raise typer.Exit(code)


TOP: dict = {}
GROUP = {"create": (create, {}), "ls": (ls, {}), "list": (ls, {"hidden": True}), "inspect": (inspect, {}),
         "rm": (rm, {}), "remove": (rm, {"hidden": True})}
