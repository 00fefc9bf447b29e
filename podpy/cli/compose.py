"""`compose`: a compose provider (docker-compose, podman-compose) against podpy's API service."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render


def compose(
    ctx: typer.Context,
    args: Optional[List[str]] = typer.Argument(None, help="The compose provider's command line (up -d, ps, down, ...)."),
) -> None:
    """Run a compose provider (docker-compose or podman-compose) with podpy as its engine."""
    from ..api.compose import run
    from ..engine.context import Runtime
    from .globalflags import Globals

    root = ctx.find_root()
    g: Globals = root.obj if isinstance(root.obj, Globals) else Globals()
    settings = g.engine_settings()

    def open_runtime() -> Runtime:
        return Runtime.open(g.root, g.runroot, g.storage_driver, g.storage_opts, settings)

    raise typer.Exit(run(list(args or []), open_runtime, _own_command(), _log, render.warn))


def _own_command() -> Optional[str]:
    """How podpy itself is run (for podman-compose's --podman-path): the executable it was
    started as (its launcher, the zipapp), else `podpy` on PATH."""
    import os
    import shutil
    import sys

    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and os.path.basename(argv0) != "__main__.py" and os.path.isfile(argv0) and os.access(argv0, os.X_OK):
        return os.path.abspath(argv0)
    return shutil.which("podpy")


def _log(line: str) -> None:
    from ..api.http import log_to_stderr

    log_to_stderr(line)


TOP = {"compose": (compose, {"context_settings": {"allow_interspersed_args": False, "ignore_unknown_options": True,
                                                  "allow_extra_args": True}})}
