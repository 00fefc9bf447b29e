"""`system connection add|list|default|rename|remove`: the services `--connection NAME` names
(podpy/remote/connections.py keeps them in podpy's containers.conf, as podman 4.3.1 does in
its own)."""

from __future__ import annotations

import os
from typing import List, Optional

import typer

from . import render

COLUMNS = [("Name", "Name"), ("URI", "URI"), ("Identity", "Identity"), ("Default", "Default")]


def add(
    name: str = typer.Argument(..., help="The connection's name."),
    destination: str = typer.Argument(..., help="[USER@]HOST, ssh://[USER@]HOST[:PORT][/PATH], tcp://HOST:PORT "
                                                "or unix:///PATH."),
    default: bool = typer.Option(False, "-d", "--default", help="Make it the default connection."),
    identity: Optional[str] = typer.Option(None, "--identity", help="The ssh key of an ssh destination."),
    port: int = typer.Option(22, "-p", "--port", help="The ssh port (when the destination names none)."),
    socket_path: Optional[str] = typer.Option(None, "--socket-path",
                                              help="The service's socket on the host (default: asked of "
                                                   "`podpy info` there over ssh)."),
) -> None:
    """Record a service's destination (an ssh one is checked, and its socket asked for)."""
    from ..remote import connections
    from ..remote.url import parse
    from ..errors import InvalidArgument

    uri = destination if "://" in destination else f"ssh://{destination}"
    scheme = uri.partition("://")[0]
    if scheme not in ("ssh", "tcp", "unix"):
        render.warn(f'"{scheme}" unknown scheme, no validation provided')
        connections.add(name, uri, "", default)
        return
    if identity:
        identity = os.path.abspath(os.path.expanduser(identity))
        if not os.path.isfile(identity):
            raise InvalidArgument(f"--identity {identity}: no such file")
    target = parse(uri)
    if target.scheme == "ssh":
        if ":" not in uri[len("ssh://"):].partition("/")[0].rpartition("@")[2]:
            target.port = port
        if not target.user:
            import pwd

            target.user = pwd.getpwuid(os.getuid()).pw_name
        if socket_path:
            target.path = socket_path
        if not target.path or target.path == "/":
            target.path = _ask_socket(target, identity or "")
    elif identity:
        identity = None   # only ssh uses a key
    connections.add(name, target.uri(), identity or "", default)


def _ask_socket(target, identity: str) -> str:  # type: ignore[no-untyped-def]
    """The service socket's path on an ssh host: asked of `podpy info` there (or podman's, when
    the host has podman and no podpy)."""
    import subprocess

    from ..errors import InvalidArgument
    from ..remote.url import ssh_probe_command

    for program in ("podpy", "podman"):
        try:
            proc = subprocess.run(ssh_probe_command(target, identity, program), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise InvalidArgument("ssh destinations need OpenSSH's client (ssh) on PATH") from None
        except subprocess.TimeoutExpired:
            raise InvalidArgument(f"ssh to {target.host}: no answer in 60 seconds") from None
        if proc.returncode == 127:   # no such program there: the next one
            continue
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            raise InvalidArgument(f"ssh to {target.host}: " + (lines[-1] if lines else f"exit {proc.returncode}"))
        path = proc.stdout.strip().removeprefix("unix://")
        if not path.startswith("/"):
            raise InvalidArgument(f"{program} info on {target.host} gave no service socket path")
        return path
    raise InvalidArgument(f"ssh to {target.host}: neither podpy nor podman is installed there")


def ls(
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the names."),
) -> None:
    """List the connections."""
    from ..remote import connections

    dests = connections.load()[1]
    if quiet:
        for d in dests:
            render.out(d.name)
        return
    rows = [d.document() for d in dests]
    shown = [dict(r, Default="true" if r["Default"] else "false") for r in rows]
    render.formatted(shown if fmt != "json" else rows, fmt, COLUMNS, json_rows=rows,
                     header_overrides={c[1]: c[0] for c in COLUMNS})


def default(name: str = typer.Argument(..., help="The connection to make the default.")) -> None:
    """Make a connection the default one."""
    from ..remote import connections

    connections.set_default(name)


def rename(old: str = typer.Argument(..., help="The connection's name."),
           new: str = typer.Argument(..., help="Its new name.")) -> None:
    """Rename a connection."""
    from ..remote import connections

    connections.rename(old, new)


def remove(
    names: Optional[List[str]] = typer.Argument(None, help="The connection to remove."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every connection."),
) -> None:
    """Remove a connection (or all of them)."""
    from ..errors import InvalidArgument
    from ..remote import connections

    names = list(names or [])
    if all_:
        if names:
            raise InvalidArgument("--all takes no connection name")
        connections.remove_all()
        return
    if len(names) != 1:
        raise InvalidArgument("accepts 1 arg(s), received " + str(len(names)))
    connections.remove(names[0])


connection = typer.Typer(name="connection", help="Manage the remote services podpy can talk to.",
                         no_args_is_help=True, rich_markup_mode=None,
                         context_settings={"help_option_names": ["-h", "--help"]})
connection.command("add")(add)
connection.command("default")(default)
connection.command("list")(ls)
connection.command("ls", hidden=True)(ls)
connection.command("remove")(remove)
connection.command("rm", hidden=True)(remove)
connection.command("rename")(rename)
connection.command("mv", hidden=True)(rename)
