"""`generate systemd`: systemd units for a container or a pod, printed or written as files."""

from __future__ import annotations

import json
import os
import sys
from typing import List, Optional

import typer

from . import render
from .app import runtime


def systemd(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="{CONTAINER|POD}", help="The container or pod."),
    files: bool = typer.Option(False, "-f", "--files", help="Write NAME.service files in the current directory."),
    use_name: bool = typer.Option(False, "-n", "--name", help="Use container and pod names instead of ids."),
    new: bool = typer.Option(False, "--new", help="Make a new container or pod instead of starting this one."),
    no_header: bool = typer.Option(False, "--no-header", help="No header comment."),
    restart_policy: Optional[str] = typer.Option(None, "--restart-policy",
                                                 help="systemd's Restart= (default on-failure)."),
    restart_sec: Optional[int] = typer.Option(None, "--restart-sec", min=0, help="systemd's RestartSec=."),
    start_timeout: Optional[int] = typer.Option(None, "--start-timeout", min=0, help="systemd's TimeoutStartSec=."),
    stop_timeout: Optional[int] = typer.Option(None, "--stop-timeout", "--time", min=0,
                                               help="Seconds to wait for a stop (default: the container's)."),
    container_prefix: str = typer.Option("container", "--container-prefix", help="Prefix of containers' units."),
    pod_prefix: str = typer.Option("pod", "--pod-prefix", help="Prefix of pods' units."),
    separator: str = typer.Option("-", "--separator", help="Between the prefix and the name or id."),
    after: List[str] = typer.Option([], "--after", help="After= of the units."),
    wants: List[str] = typer.Option([], "--wants", help="Wants= of the units."),
    requires: List[str] = typer.Option([], "--requires", help="Requires= of the units."),
    template: bool = typer.Option(False, "--template", help="A template unit (NAME@.service; containers only)."),
    env: List[str] = typer.Option([], "-e", "--env", help="Environment= of the units (NAME=VALUE, or NAME)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json: the units as a JSON object."),
) -> None:
    """Generate systemd units for a container or a pod."""
    from ..engine.generate import GeneratedUnits, generate_systemd, write_unit_files
    from ..engine.unitgen import SystemdOptions
    from ..errors import InvalidArgument

    if fmt not in (None, "", "json"):
        raise InvalidArgument(f"unknown --format argument: {fmt}")
    opts = SystemdOptions(new=new, name=use_name, files=files, restart_policy=restart_policy,
                          restart_sec=restart_sec, start_timeout=start_timeout, stop_timeout=stop_timeout,
                          container_prefix=container_prefix, pod_prefix=pod_prefix, separator=separator,
                          after=list(after), wants=list(wants), requires=list(requires), no_header=no_header,
                          template=template, env=list(env))
    from .app import remote_engine

    remote = remote_engine(ctx, "kube", render.warn)
    if remote is not None:   # the service's units (its paths and its podpy), written here with --files
        units = GeneratedUnits(remote.systemd(name, opts))
    else:
        units = generate_systemd(runtime(ctx), name, opts, render.warn)
    if files:
        paths = write_unit_files(units, os.getcwd())
        if fmt == "json":
            render.out(json.dumps(dict(zip(units.units, paths)), indent=1))
        else:
            for path in paths:
                render.out(path)
        return
    if fmt == "json":
        render.out(json.dumps(units.units, indent=1))
        return
    sys.stdout.write("".join(units.units.values()))
