"""The typer root: global flags and sub-command groups (see main.py for the entry
point and the exit-code contract)."""

from __future__ import annotations

from typing import Optional

import typer
import typer.core

# rich is installed (pull's progress bars) but must not render help: typer checks
# this flag when it formats help, and importing rich costs ~100 ms per --help.
typer.core.HAS_RICH = False

from .common import Globals
from .fastcmds import PAIRED_FLAGS
from .refusals import COMMANDS

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
    "port": "containers", "network": "network", "update": "containers", "init": "containers",
    "import": "images", "images": "images", "rmi": "images", "tag": "images", "untag": "images", "image": "images",
    "pull": "images", "login": "images", "logout": "images", "history": "images",
    "push": "images", "save": "images", "load": "images", "search": "images",
    "build": "build", "compose": "compose",
    "info": "system", "version": "system", "unshare": "system", "system": "system", "events": "system",
    "completion": "shell", "help": "shell",
    "mount": "mounts", "umount": "mounts", "unmount": "mounts",
    "secret": "secrets",
    "manifest": "manifests", "quadlet": "quadlet", "pod": "pods", "kube": "kube", "generate": "kube", "play": "kube",
    "auto-update": "autoupdate",
}
GROUPS = {"container": "Manage containers.", "image": "Manage images.", "system": "Manage podpy.",
          "healthcheck": "Run containers' healthchecks.", "volume": "Manage volumes.",
          "network": "Manage user networks.", "secret": "Manage secrets.",
          "manifest": "Manage manifest lists.", "pod": "Manage pods.", "kube": "Play and generate Kubernetes YAML.",
          "generate": "Generate systemd units, or Kubernetes YAML (podman's older spelling of `kube generate`).",
          "play": "Play structured data (podman's older spelling of `kube play`)."}
# podman's top-level commands podpy refuses (tree.py adds them, with their reasons)
REFUSED_TOP = {path for path in COMMANDS if " " not in path}
# a group's commands when its module holds more than one group (module attribute by group name)
GROUP_TABLES = {"healthcheck": "HEALTHCHECK", "kube": "KUBE", "generate": "GENERATE", "play": "PLAY"}


def command_words(ctx: typer.Context) -> str:
    """The command's words without the program's ("volume ls")."""
    return ctx.command_path.partition(" ")[2] or ctx.command_path


def remote_engine(ctx: typer.Context, kind: str, warn=None, progress=None):  # type: ignore[no-untyped-def]
    """The remote engine of kind (podpy/remote/) when the command line is remote, else None."""
    root = ctx.find_root()
    g = root.obj if isinstance(root.obj, Globals) else None
    if g is None or not g.is_remote():
        return None
    return g.remote_engine(kind, command_words(ctx), warn, progress)


def runtime(ctx: typer.Context):  # type: ignore[no-untyped-def]
    """The engine runtime for this command, opened once (a remote command line has none: the
    command is refused in one line)."""
    root = ctx.find_root()
    g: Globals = root.obj if isinstance(root.obj, Globals) else Globals()
    if g.is_remote():
        from ..errors import InvalidArgument

        from ..remote.refusals import refusal

        raise InvalidArgument(refusal(command_words(ctx)))
    cached = getattr(root, "_podpy_rt", None)
    if cached is None:
        cached = g.open_runtime()
        root._podpy_rt = cached  # type: ignore[attr-defined]
    return cached


@app.callback()
def _globals(ctx: typer.Context) -> None:
    """The global flags were parsed before typer (globalflags.py): main passes them as ctx.obj."""
    if not isinstance(ctx.obj, Globals):
        ctx.obj = Globals()


def build(only: Optional[str] = None) -> typer.Typer:
    """Register the command `only` names (or all of them) on the app."""
    import importlib

    names = [only] if only in MODULES and only != "help" else [] if only in REFUSED_TOP else list(MODULES)
    for name in names:
        module = importlib.import_module(f"podpy.cli.{MODULES[name]}")
        if name in GROUPS:
            group = typer.Typer(name=name, help=GROUPS[name], no_args_is_help=True, context_settings=CONTEXT,
                                rich_markup_mode=None)
            for sub, (fn, settings) in getattr(module, GROUP_TABLES.get(name, "GROUP")).items():
                if isinstance(fn, typer.Typer):   # a group of its own (`image trust`)
                    group.add_typer(fn, name=sub, **settings)
                else:
                    group.command(sub, **settings)(fn)
            app.add_typer(group)
        else:
            fn, settings = module.TOP[name]
            app.command(name, **settings)(fn)
    return app


# podman spells boolean flags with values (`--tls-verify=false`); click's paired
# flags take none, so those spellings (fastcmds.PAIRED_FLAGS) are rewritten before parsing.
_PAIRED_FLAGS = PAIRED_FLAGS
# podman's `--pull` alone means `--pull=always`; with a policy word after it, that is its value
_PULL_WORDS = ("always", "missing", "never", "newer", "true", "false", "ifmissing", "ifnewer")


def _bool_flag(arg: str) -> str:
    name, eq, value = arg.partition("=")
    if eq and name in _PAIRED_FLAGS and value.lower() in ("true", "false", "1", "0"):
        return name if value.lower() in ("true", "1") else "--no-" + name[2:]
    return arg


_BUILD_BOOLS = ("--rm", "--force-rm", "--identity-label", "--skip-unused-stages", "--omit-history", "--squash-all",
                "--compress", "--http-proxy", "--stdin", "--disable-compression", "--no-hosts", "--pull-always",
                "--pull-never")


def _build_bool(arg: str) -> str:
    name, eq, value = arg.partition("=")
    if eq and name in _BUILD_BOOLS and value.lower() in ("true", "false", "1", "0"):
        if value.lower() in ("true", "1"):
            return name
        return "--hosts" if name == "--no-hosts" else "--no-" + name[2:]
    return arg


def main(args: list[str], command: Optional[str], g: Optional[Globals] = None) -> int:
    """Run a command line (global flags already parsed into g) through typer, registering only
    the command it names."""
    from .tree import click_tree, invoke

    build(command)
    args = [_bool_flag(a) for a in args]
    if command in ("build", "image") and "build" in args[:2]:   # build's boolean flags with values
        args = [_build_bool(a) for a in args]
    if args[:2] == ["manifest", "push"]:   # podman's `--all=false`
        args = [{"--all=true": "--all", "--all=false": "--no-all"}.get(a.lower(), a) for a in args]
    if command in ("cp", "container cp") or args[:2] == ["container", "cp"]:   # podman's `-a=false`
        args = [{"-a=true": "--archive", "-a=false": "--no-archive"}.get(a.lower(), a) for a in args]
    if command in ("events", "system") and "events" in args[:2]:   # podman's `--no-trunc=false`
        args = [{"--no-trunc=true": "--no-trunc", "--no-trunc=false": "--trunc"}.get(a.lower(), a) for a in args]
    if args[:2] in (["kube", "down"], ["play", "kube"]) and "--down" in args or args[:2] == ["kube", "down"]:
        args = [{"--force=true": "--force", "--force=false": "--no-force"}.get(a.lower(), a) for a in args]
    if args[:2] == ["generate", "spec"]:   # podman's `--name=false`
        args = [{"--name=true": "--name", "--name=false": "--no-name", "-n=true": "--name",
                 "-n=false": "--no-name"}.get(a.lower(), a) for a in args]
    if command in ("history", "image") and "history" in args[:2]:   # podman's `-H=false`
        args = [{"-h=true": "--human", "-h=false": "--no-human"}.get(a.lower(), a) for a in args]
    args = [("--pull=always" if a == "--pull" and (i + 1 >= len(args) or args[i + 1].lower() not in _PULL_WORDS)
             else a) for i, a in enumerate(args)]
    cli = click_tree(app, command if command in REFUSED_TOP or command in MODULES and command != "help" else None)
    return invoke(cli, args, g or Globals())
