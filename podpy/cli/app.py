"""The typer root: global flags and sub-command groups (see main.py for the entry
point and the exit-code contract)."""

from __future__ import annotations

from typing import Optional

import click
import typer
import typer.core

# rich is installed (pull's progress bars) but must not render help: typer checks
# this flag when it formats help, and importing rich costs ~100 ms per --help.
typer.core.HAS_RICH = False

from .. import __version__
from .common import Globals, guarded

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(name="podpy", add_completion=False, no_args_is_help=True, context_settings=CONTEXT,
                  pretty_exceptions_enable=False, rich_markup_mode=None, help="Rootless, daemonless containers.")

# Top-level commands and groups -> the module that defines them. Building every
# typer command costs ~25 ms (signature inspection), so a command line gets
# only the command it names; `--help` and unknown names get them all.
MODULES = {
    "run": "containers", "create": "containers", "start": "containers", "rm": "containers",
    "inspect": "containers", "ps": "containers", "container": "containers", "export": "containers",
    "stop": "containers", "kill": "containers", "wait": "containers", "restart": "containers",
    "logs": "containers", "exec": "containers", "rename": "containers", "pause": "containers",
    "attach": "containers", "volume": "volumes", "commit": "containers", "diff": "containers", "cp": "containers",
    "unpause": "containers", "top": "containers", "stats": "containers", "healthcheck": "containers",
    "port": "containers", "network": "network",
    "import": "images", "images": "images", "rmi": "images", "tag": "images", "untag": "images", "image": "images",
    "pull": "images", "login": "images", "logout": "images", "history": "images",
    "push": "images", "save": "images", "load": "images",
    "build": "build",
    "info": "system", "version": "system", "unshare": "system", "system": "system", "events": "system",
    "mount": "mounts", "umount": "mounts", "unmount": "mounts",
}
GROUPS = {"container": "Manage containers.", "image": "Manage images.", "system": "Manage podpy.",
          "healthcheck": "Run containers' healthchecks.", "volume": "Manage volumes.",
          "network": "Manage user networks."}
# a group's commands when its module holds more than one group (module attribute by group name)
GROUP_TABLES = {"healthcheck": "HEALTHCHECK"}


def runtime(ctx: typer.Context):  # type: ignore[no-untyped-def]
    """The engine runtime for this command, opened once."""
    from ..engine.context import Runtime

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


def build(only: Optional[str] = None) -> typer.Typer:
    """Register the command `only` names (or all of them) on the app."""
    import importlib

    names = [only] if only in MODULES else list(MODULES)
    for name in names:
        module = importlib.import_module(f"podpy.cli.{MODULES[name]}")
        if name in GROUPS:
            group = typer.Typer(name=name, help=GROUPS[name], no_args_is_help=True, context_settings=CONTEXT,
                                rich_markup_mode=None)
            for sub, (fn, settings) in getattr(module, GROUP_TABLES.get(name, "GROUP")).items():
                group.command(sub, **settings)(fn)
            app.add_typer(group)
        else:
            fn, settings = module.TOP[name]
            app.command(name, **settings)(fn)
    return app


# podman spells boolean flags with values (`--tls-verify=false`); click's paired
# flags take none, so those spellings are rewritten before parsing.
_PAIRED_FLAGS = ("--tls-verify", "--stream", "--layers")
# podman's `--pull` alone means `--pull=always`; with a policy word after it, that is its value
_PULL_WORDS = ("always", "missing", "never", "newer", "true", "false", "ifmissing", "ifnewer")


def _bool_flag(arg: str) -> str:
    name, eq, value = arg.partition("=")
    if eq and name in _PAIRED_FLAGS and value.lower() in ("true", "false", "1", "0"):
        return name if value.lower() in ("true", "1") else "--no-" + name[2:]
    return arg


def main(args: list[str], command: Optional[str]) -> int:
    """Run a command line through typer, registering only the command it names."""
    from . import render

    build(command)
    args = [_bool_flag(a) for a in args]
    args = [("--pull=always" if a == "--pull" and (i + 1 >= len(args) or args[i + 1].lower() not in _PULL_WORDS)
             else a) for i, a in enumerate(args)]

    def invoke() -> int:
        try:
            code = app(args=args, prog_name="podpy", standalone_mode=False)
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
        return code if isinstance(code, int) else 0

    return guarded(invoke)
