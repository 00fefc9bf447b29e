"""The typer root: global flags, sub-command groups, and the exit-code contract.

Exit codes, as podman's: 125 for podpy's own errors (including unknown flags
and bad values), 126 when the container's command cannot be invoked, 127 when
it is not found, otherwise the container's own exit code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional

import click
import typer

from .. import __version__
from ..errors import PodpyError

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(name="podpy", add_completion=False, no_args_is_help=True, context_settings=CONTEXT,
                  pretty_exceptions_enable=False, help="Rootless, daemonless containers.")
container_app = typer.Typer(name="container", help="Manage containers.", no_args_is_help=True,
                            context_settings=CONTEXT)
image_app = typer.Typer(name="image", help="Manage images.", no_args_is_help=True, context_settings=CONTEXT)
system_app = typer.Typer(name="system", help="Manage podpy.", no_args_is_help=True, context_settings=CONTEXT)


@dataclass
class Globals:
    root: Optional[str] = None
    runroot: Optional[str] = None
    storage_driver: Optional[str] = None


def runtime(ctx: typer.Context):  # type: ignore[no-untyped-def]
    """The engine runtime for this command, opened once."""
    from ..engine.runtime import Runtime

    root = ctx.find_root()
    g: Globals = root.obj if isinstance(root.obj, Globals) else Globals()
    cached = getattr(root, "_podpy_rt", None)
    if cached is None:
        cached = Runtime.open(g.root, g.runroot, g.storage_driver)
        root._podpy_rt = cached  # type: ignore[attr-defined]
    return cached


@app.callback()
def _globals(
    ctx: typer.Context,
    root: Optional[str] = typer.Option(None, "--root", help="Storage root directory."),
    runroot: Optional[str] = typer.Option(None, "--runroot", help="Runtime state directory."),
    storage_driver: Optional[str] = typer.Option(None, "--storage-driver",
                                                 help="overlay, fuse-overlayfs or vfs."),
    log_level: str = typer.Option("warn", "--log-level", help="Accepted for podman compatibility."),
    version: bool = typer.Option(False, "--version", "-v", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(f"podpy version {__version__}")
        raise typer.Exit(0)
    ctx.obj = Globals(root, runroot, storage_driver)


def _register() -> None:
    from . import containers, images, system

    containers.register(app, container_app)
    images.register(app, image_app)
    system.register(app, system_app)
    app.add_typer(container_app)
    app.add_typer(image_app)
    app.add_typer(system_app)


_register()


def main(argv: Optional[list[str]] = None) -> int:
    from . import render

    try:
        code = app(args=argv, prog_name="podpy", standalone_mode=False)
    except click.exceptions.NoSuchOption as exc:
        render.error(f"unknown flag: {exc.option_name}")
        return 125
    except click.exceptions.UsageError as exc:
        render.error(exc.format_message())
        return 125
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        return 130
    except PodpyError as exc:
        render.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback (PODPY_DEBUG=1 shows it)
        import os

        if os.environ.get("PODPY_DEBUG"):
            raise
        from ..errors import translate

        render.error(str(translate(exc)))
        return 125
    return code if isinstance(code, int) else 0


def entry() -> None:
    sys.exit(main())
