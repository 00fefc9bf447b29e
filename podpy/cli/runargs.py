"""The options of `run` and `create`, declared once, parsed with argparse.

`podpy run` is the hot path: importing click and typer costs about 45 ms here,
more than everything else podpy does to start a container. So `run` and
`create` are parsed by the standard library's argparse, built from the table
below; typer lists them in `podpy --help` and forwards to the same code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, Optional

from ..errors import InvalidArgument

FLAG, VALUE, MULTI = "flag", "value", "multi"

# (flags, destination, kind, metavar, help)
OPTIONS: tuple[tuple[tuple[str, ...], str, str, str, str], ...] = (
    (("--name",), "name", VALUE, "NAME", "name of the container"),
    (("--rm",), "remove", FLAG, "", "remove the container when it exits"),
    (("-i", "--interactive"), "interactive", FLAG, "", "keep stdin open"),
    (("-t", "--tty"), "tty", FLAG, "", "allocate a pseudo-terminal"),
    (("-e", "--env"), "env", MULTI, "K=V", "set an environment variable (K=V, K, or K* from the host)"),
    (("--env-file",), "env_file", MULTI, "FILE", "read environment variables from a file"),
    (("-v", "--volume"), "volumes", MULTI, "HOST:CTR[:OPTS]", "bind mount a host path"),
    (("-w", "--workdir"), "workdir", VALUE, "DIR", "working directory inside the container"),
    (("-u", "--user"), "user", VALUE, "USER[:GROUP]", "user and group, names or ids"),
    (("--entrypoint",), "entrypoint", VALUE, "CMD", "override the image's ENTRYPOINT (string or JSON array)"),
    (("-h", "--hostname"), "hostname", VALUE, "NAME", "container host name"),
    (("--network", "--net"), "network", VALUE, "MODE", "slirp4netns[:OPTIONS] (default), host or none"),
    (("-l", "--label"), "labels", MULTI, "K=V", "set metadata on the container"),
    (("--read-only",), "read_only", FLAG, "", "mount the root file system read-only"),
    (("--cap-add",), "cap_add", MULTI, "CAP", "add a capability"),
    (("--cap-drop",), "cap_drop", MULTI, "CAP", "drop a capability"),
    (("--privileged",), "privileged", FLAG, "", "all capabilities, no masked paths"),
    (("--pull",), "pull", VALUE, "POLICY", "pull the image: missing (default), always, newer or never"),
)

HELP = {"run": "Run a command in a new container.", "create": "Create a container without starting it."}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: "):
            flag = message.split(": ", 1)[1].split()[0]
            raise InvalidArgument(f"unknown flag: {flag}")
        if message.startswith("the following arguments are required"):
            raise InvalidArgument(f"`podpy {self.prog.split()[-1]}` requires an image name")
        raise InvalidArgument(message)


def parser(command: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"podpy {command}", description=HELP[command], add_help=False, allow_abbrev=False,
                usage=f"podpy {command} [OPTIONS] IMAGE [COMMAND [ARG...]]")
    for flags, dest, kind, metavar, text in OPTIONS:
        if kind == FLAG:
            p.add_argument(*flags, dest=dest, action="store_true", help=text)
        elif kind == MULTI:
            p.add_argument(*flags, dest=dest, action="append", default=[], metavar=metavar, help=text)
        else:
            p.add_argument(*flags, dest=dest, metavar=metavar, help=text)
    p.add_argument("--help", action="store_true", help="show this help and exit")
    p.add_argument("image", nargs="?", help="the image to run")
    p.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments")
    return p


def parse(command: str, args: list[str]) -> Optional[dict[str, Any]]:
    """The parsed options as CreateOptions fields, or None after printing --help."""
    p = parser(command)
    # Options end at the image: everything after it belongs to the container.
    ns = p.parse_args(args)
    if ns.help:
        sys.stdout.write(p.format_help())
        return None
    if not ns.image:
        raise InvalidArgument(f"`podpy {command}` requires an image name")
    fields = {dest: getattr(ns, dest) for _, dest, _, _, _ in OPTIONS}
    fields["image"] = ns.image
    fields["command"] = list(ns.command)
    return fields
