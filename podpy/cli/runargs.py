"""The command lines of `run`, `create` and `exec`, parsed by hand from their option tables.

`podpy run` is the hot path: importing click and typer costs about 45 ms here,
and even argparse (its import plus a formatter built per option) costs about
10 ms, more than podpy needs for everything else it does before the fork. So
`run` and `create` are parsed from the engine's declaration of their options
(podpy/engine/runoptions.py: flags, field, kind, metavar, help) with the rules
of podman's flag library: long flags as `--name VALUE` or `--name=VALUE`, short
ones as `-e VALUE` or `-eVALUE`, booleans grouped (`-it`), `--flag=true|false`
for booleans, no abbreviations, and the options end at the image: everything
after it is the container's command. typer lists `run` and `create` in
`podpy --help` with HELP's line and forwards `podpy container run` to the same
code; `--help` is answered here, from the same table.
"""

from __future__ import annotations

import sys

from ..engine.runoptions import CREATE_OPTIONS, FLAG, MULTI, OPTIONS, VALUE, Option
from ..errors import InvalidArgument, UsageError
from . import globalflags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .globalflags import Globals

# exec's options are declared here until ExecOptions declares them as CreateOptions does (its
# fields are in engine/execute.py; a unit test checks each row against them).
# (flags, destination, kind, metavar, help)
EXEC_OPTIONS = tuple(Option(flags, metavar, text, dest, kind) for flags, dest, kind, metavar, text in (
    (("-i", "--interactive"), "interactive", FLAG, "", "keep stdin open"),
    (("-t", "--tty"), "tty", FLAG, "", "allocate a pseudo-terminal"),
    (("-d", "--detach"), "detach", FLAG, "", "run the command in the background"),
    (("-e", "--env"), "env", MULTI, "K=V", "set an environment variable"),
    (("--env-file",), "env_file", MULTI, "FILE", "read environment variables from a file"),
    (("-u", "--user"), "user", VALUE, "USER[:GROUP]", "user and group, names or ids"),
    (("-w", "--workdir"), "workdir", VALUE, "DIR", "working directory inside the container"),
    (("--privileged",), "privileged", FLAG, "", "all capabilities"),
    (("--preserve-fds",), "preserve_fds", VALUE, "N", "pass file descriptors 3 to 3+N-1 on to the command"),
    (("-l", "--latest"), "latest", FLAG, "", "the latest container (every word is the command)"),
    (("--detach-keys",), "detach_keys", VALUE, "KEYS", "with -t: the keys podman detaches with (taken, "
                                                        "and a line says the command stays attached)"),
))

HELP = {"run": "Run a command in a new container.", "create": "Create a container without starting it.",
        "exec": "Run a command in a running container."}
USAGE = {"exec": "CONTAINER COMMAND [ARG...]"}
TABLES = {"run": OPTIONS, "create": CREATE_OPTIONS, "exec": EXEC_OPTIONS}
_TRUE = ("true", "1", "t", "yes")
_FALSE = ("false", "0", "f", "no")


def _index(options: tuple[Option, ...]) -> dict[str, tuple[str, str]]:
    """flag -> (destination, kind), `--help` included, and `-h` where no option has it (exec's;
    run's and create's -h is --hostname)."""
    table = {flag: (o.dest, o.kind) for o in options for flag in o.flags}
    table["--help"] = ("help", FLAG)
    table.setdefault("-h", ("help", FLAG))
    return table


def help_text(command: str, invoked: str = "") -> str:
    """command's --help in cobra's layout (render.help_page), named as invoked (`container run`)."""
    from . import render

    rows = [(next((f for f in o.flags if len(f) == 2), ""), next((f for f in o.flags if f.startswith("--")), o.flags[0]),
             "" if o.kind == FLAG else "stringArray" if o.kind == MULTI else "string", o.help)
            for o in TABLES[command]]
    usage = f"{globalflags.program()} {invoked or command} [options] {USAGE.get(command, 'IMAGE [COMMAND [ARG...]]')}"
    return render.help_page(HELP[command], "", usage, [], render.flag_rows(rows))


def parse(command: str, args: list[str], g: Optional[Globals] = None,
          invoked: str = "") -> Optional[dict[str, Any]]:
    """The options given, as CreateOptions fields (ExecOptions' for exec), with the image (the
    container) and the command; None after --help. Options not given are left to the
    options class's defaults. podman's persistent global flags among the options (`run --root
    DIR IMAGE`) go to g. invoked: the command's words as the user ran it (`container run`),
    for the hint after an unknown flag."""
    table = _index(TABLES[command])
    fields: dict[str, Any] = {}

    def store(flag: str, dest: str, kind: str, value: str) -> None:
        if kind == MULTI:
            fields.setdefault(dest, []).append(value)
        else:
            fields[dest] = value

    i, image = 0, None
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            if i < len(args):
                image = args[i]
                i += 1
            break
        if not a.startswith("-") or a == "-":
            image = a
            break
        if a.startswith("--"):
            flag, eq, value = a.partition("=")
            if flag not in table and g is not None and globalflags.is_persistent(a):
                i = globalflags.take(g, a, args, i)
                continue
            if flag not in table:
                raise _unknown(command, flag, f"unknown flag: {flag}", invoked)
            dest, kind = table[flag]
            if kind == FLAG:
                fields[dest] = _boolean(flag, value) if eq else True
                continue
            if not eq:
                if i >= len(args):
                    raise InvalidArgument(f"flag needs an argument: {flag}")
                value = args[i]
                i += 1
            store(flag, dest, kind, value)
            continue
        # A group of short flags: booleans first, the last may take a value (attached or next).
        j = 1
        while j < len(a):
            flag = "-" + a[j]
            if flag not in table:
                raise _unknown(command, flag, f"unknown shorthand flag: {a[j]!r} in -{a[j:]}", invoked)
            dest, kind = table[flag]
            j += 1
            if kind == FLAG:
                if j < len(a) and a[j] == "=":
                    fields[dest] = _boolean(flag, a[j + 1:])
                    break
                fields[dest] = True
                continue
            value = a[j:]
            if value.startswith("="):
                value = value[1:]
            elif not value:
                if i >= len(args):
                    raise InvalidArgument(f"flag needs an argument: {flag}")
                value = args[i]
                i += 1
            store(flag, dest, kind, value)
            break
    if fields.pop("help", False):
        sys.stdout.write(help_text(command, invoked))
        return None
    if command == "exec" and fields.get("latest"):   # `exec -l CMD...`: no container word
        fields["container"] = ""
        fields["command"] = ([image] if image else []) + args[i:]
        return fields
    if not image:   # podman's words
        raise InvalidArgument("exec requires the name or ID of a container or the --latest flag"
                              if command == "exec" else "requires at least 1 arg(s), only received 0")
    fields["container" if command == "exec" else "image"] = image
    fields["command"] = args[i:]
    return fields


def _unknown(command: str, flag: str, otherwise: str, invoked: str = "") -> InvalidArgument:
    """The error for a flag this parser does not know: podman's flags that podpy refuses say
    why (refusals.py, read only here), others are unknown (then podman's hint line)."""
    from .refusals import FLAGS, flag_refusal, message

    reason = flag_refusal(command, flag)
    if reason is None:
        return UsageError(otherwise, f"See '{globalflags.program()} {invoked or command} --help'")
    long = next((names.split("/")[-1] for names in FLAGS[command] if flag in names.split("/")), flag)
    return InvalidArgument(message(command, long, reason))


def _boolean(flag: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidArgument(f"invalid argument {value!r} for {flag}: expected true or false")
