"""`compose`: a compose provider (docker-compose, podman-compose) against podpy's API service."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render


def compose(
    ctx: typer.Context,
    args: Optional[List[str]] = typer.Argument(None, help="The compose provider's command line (up -d, ps, down, ...)."),
) -> None:
    """Run a compose provider (docker-compose or podman-compose) with podpy as its engine
    (podpy only: podman 4.3.1 has no such command; podman 4.7's `compose`)."""
    from ..api.compose import run
    from ..engine.context import Runtime
    from .globalflags import Globals

    root = ctx.find_root()
    g: Globals = root.obj if isinstance(root.obj, Globals) else Globals()
    settings = g.engine_settings()

    def open_runtime() -> Runtime:
        return Runtime.open(g.root, g.runroot, g.storage_driver, g.storage_opts, settings)

    raise typer.Exit(run(list(args or []), open_runtime, _own_command(), _log, render.warn))


def _own_command() -> list[str]:
    """How this podpy was run, with the global flags given before `compose` (for
    podman-compose, which runs podpy as its podman): its launcher or zipapp, or the
    interpreter with -m podpy."""
    import os
    import sys

    argv = list(sys.argv)
    head = argv[0] if argv else ""
    if os.path.basename(head) == "__main__.py":
        cmd = [sys.executable, "-m", "podpy"]
    elif head and os.path.isfile(head) and os.access(head, os.X_OK):
        cmd = [os.path.abspath(head)]
    else:
        cmd = [sys.executable, os.path.abspath(head)]
    globals_given = argv[1:argv.index("compose")] if "compose" in argv[1:] else []
    return cmd + globals_given


def _log(line: str) -> None:
    from ..api.http import log_to_stderr

    log_to_stderr(line)


TOP = {"compose": (compose, {"context_settings": {"allow_interspersed_args": False, "ignore_unknown_options": True,
                                                  "allow_extra_args": True}})}
