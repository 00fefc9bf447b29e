"""`system service`: the Docker-compatible API on a socket (podpy/api does the serving; a plain
`system service [--time N] [URI]` is started by main.py without typer)."""

from __future__ import annotations

from typing import Optional

import typer


def service(
    ctx: typer.Context,
    uri: Optional[str] = typer.Argument(None, help="unix:///PATH (default $XDG_RUNTIME_DIR/podpy/podpy.sock) "
                                                   "or tcp://HOST:PORT."),
    time: int = typer.Option(5, "-t", "--time", min=0,
                             help="Seconds with no connection before the service leaves (0: never)."),
    cors: Optional[str] = typer.Option(None, "--cors", help="Send CORS headers allowing this origin "
                                                            "(`*`: any) with every response."),
) -> None:
    """Serve the Docker-compatible API (DOCKER_HOST=unix://...) until idle."""
    from .globalflags import Globals
    from .main import serve_command

    root = ctx.find_root()
    serve_command(root.obj if isinstance(root.obj, Globals) else Globals(), time, uri, cors)
