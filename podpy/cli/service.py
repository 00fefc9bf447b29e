"""`system service`: the Docker-compatible API on a socket (podpy/api does the serving)."""

from __future__ import annotations

from typing import Optional

import typer

from . import render


def service(
    ctx: typer.Context,
    uri: Optional[str] = typer.Argument(None, help="unix:///PATH (default $XDG_RUNTIME_DIR/podpy/podpy.sock) "
                                                   "or tcp://HOST:PORT."),
    time: int = typer.Option(5, "-t", "--time", min=0,
                             help="Seconds with no connection before the service leaves (0: never)."),
) -> None:
    """Serve the Docker-compatible API (DOCKER_HOST=unix://...) until idle."""
    from ..api.service import serve
    from ..engine.context import Runtime
    from .globalflags import Globals

    root = ctx.find_root()
    g: Globals = root.obj if isinstance(root.obj, Globals) else Globals()
    settings = g.engine_settings()

    def open_runtime() -> Runtime:
        return Runtime.open(g.root, g.runroot, g.storage_driver, g.storage_opts, settings)

    serve(uri, time, open_runtime, render.warn, _log)


def _log(line: str) -> None:
    from ..api.http import log_to_stderr

    log_to_stderr(line)
