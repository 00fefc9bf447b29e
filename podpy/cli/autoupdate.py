"""`auto-update`: options -> one SystemEngine call -> podman's table, JSON or template, then the errors."""

from __future__ import annotations

from typing import Any, List, Optional

import typer

from . import render
from .app import runtime

COLUMNS = [("UNIT", "Unit"), ("CONTAINER", "Container"), ("IMAGE", "Image"), ("POLICY", "Policy"),
           ("UPDATED", "Updated")]


def check_format(fmt: Optional[str]) -> None:
    """A template is tried on a row with every field before anything is updated, so that a
    wrong one fails without restarting a unit whose report it could not print."""
    if not fmt or fmt == "json":
        return
    from ..engine.autoupdate import FIELDS
    from ..errors import InvalidArgument
    from . import gotemplate as gt

    body = gt.split_table(fmt)[1]
    try:
        gt.parse(body).execute({k: "x" for k in FIELDS})
    except gt.TemplateError as exc:
        raise InvalidArgument(f"invalid --format {fmt!r}: {exc}") from None


def show(rows: list[dict[str, Any]], fmt: Optional[str]) -> None:
    """podman's output: nothing without reports; the table; `json`; a template per row."""
    if not rows:
        return
    if fmt == "json":
        render.out(render.to_json(rows))
        return
    render.formatted(rows, fmt, COLUMNS)


def auto_update(
    ctx: typer.Context,
    args: Optional[List[str]] = typer.Argument(None, hidden=True),
    authfile: Optional[str] = typer.Option(None, "--authfile",
                                           help="Credentials file (a container's "
                                                "io.containers.autoupdate.authfile label comes first)."),
    dry_run: bool = typer.Option(False, "--dry-run/--no-dry-run",
                                 help="Only report which containers have a newer image (pending)."),
    rollback: bool = typer.Option(True, "--rollback/--no-rollback",
                                  help="Put the previous image back when the unit does not start on the new one."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates when contacting registries."),
) -> None:
    """Restart the containers whose io.containers.autoupdate label asks for it on a newer image, through their
    systemd units."""
    from ..engine.autoupdate import AutoUpdateOptions
    from ..engine.system import SystemEngine
    from ..errors import InvalidArgument

    if args:
        raise InvalidArgument("`podpy auto-update` takes no arguments")
    check_format(fmt)
    opts = AutoUpdateOptions(authfile=authfile, dry_run=dry_run, rollback=rollback, tls_verify=tls_verify)
    outcome = SystemEngine(runtime(ctx), render.warn).auto_update(opts, render.err_line)
    show([r.row() for r in outcome.reports], fmt)
    if outcome.errors:
        for error in outcome.errors:
            render.error(error)
        raise typer.Exit(125)


TOP = {"auto-update": (auto_update, {})}
