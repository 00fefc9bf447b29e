"""`container runlabel`: the command an image keeps in one of its labels, made ready to run.

podman's substitutions, in its order: the user's arguments are added to the label's text, the
words `IMAGE` and `NAME` become the image's name and the container's name (and `$IMAGE`,
`${IMAGE}`, `$NAME`, `${NAME}` inside a word), then `$PWD` is the working directory, `$OPT1`,
`$OPT2`, `$OPT3` come from --opt1, --opt2, --opt3 or else the environment, and every other
`$VARIABLE` is empty. The label's name is matched without regard to case. A command
that starts with `podman` runs this podpy on the same store (the label was written for "this
tool"); any other command runs as it is, with `PODMAN_RUNLABEL_NESTED=1` in its environment.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

from ..errors import InvalidArgument
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from .pull import PullOptions

_SELF = ("podman", "/usr/bin/podman", "/usr/local/bin/podman")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass
class RunlabelCommand:
    words: list[str]               # the command as the label says it, substituted ("podman run ...")
    argv: list[str]                # what runs ("podman" made this podpy)
    env: dict[str, str] = field(default_factory=dict)
    name: str = ""                 # the container name the command's --name gives, for --replace


def image_and_name(image_id: str, names: "tuple[str, ...] | list[str]", given: str, name: Optional[str]) -> tuple[str, str]:
    """(the image's name for IMAGE, the container's name for NAME): the newest name of the
    image (its id without one), and --name or the last part of what was given, without a tag."""
    image_name = names[0] if names else image_id
    if name:
        return image_name, name
    base = image_name if image_id.startswith(given) else given
    return image_name, base.split("/")[-1].partition(":")[0]


def substitute(text: str, args: list[str], image_name: str, name: str, cwd: str,
               environ: dict[str, str]) -> list[str]:
    """The label's command with podman's substitutions, as words."""
    if args:
        text = f"{text} {' '.join(args)}"
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidArgument(f"the label's command does not parse: {exc}") from None
    if not words:
        raise InvalidArgument("command cannot be empty")
    out = []
    for word in words:
        if word == "IMAGE":
            out.append(image_name)
        elif word == "NAME":
            out.append(name)
        else:
            for var, value in (("NAME", name), ("IMAGE", image_name)):
                word = word.replace("${" + var + "}", value).replace("$" + var, value)
            out.append(word)

    def value(m: re.Match[str]) -> str:
        var = m.group(1) or m.group(2)
        if var == "PWD":
            return cwd
        return environ.get(var, "") if var in ("OPT1", "OPT2", "OPT3") else ""

    try:
        return shlex.split(_VARIABLE.sub(value, " ".join(shlex.quote(w) if " " in w else w for w in out)))
    except ValueError as exc:
        raise InvalidArgument(f"the label's command does not parse: {exc}") from None


def label_text(labels: dict[str, str], label: str) -> str:
    """The label's value, its name matched as podman matches it: exactly, else without regard to
    case (`runlabel install` finds INSTALL); "" when the image has none."""
    if labels.get(label):
        return labels[label]
    folded = label.lower()
    return next((v for k, v in labels.items() if k.lower() == folded and v), "")


def runlabel(rt: Runtime, label: str, image: str, args: list[str], name: Optional[str],
             pull: PullOptions, progress: Callable[[str], None],
             opts: Optional[dict[str, str]] = None) -> RunlabelCommand:
    """opts: $OPT1, $OPT2, $OPT3 as --opt1/--opt2/--opt3 give them (over the environment's)."""
    from storage.errors import StorageError

    from .imagestore import lookup
    from .pull import platform_of
    from .pull import pull as do_pull
    from .start import _podpy_command

    try:
        found = lookup(rt, image)
    except Exception:  # noqa: BLE001 - not here: pulled, as podman pulls it
        found = None
    if found is None:
        try:
            found = do_pull(rt, pull, progress, platform_of(None, None, None, None))
        except StorageError as exc:
            from ..errors import translate

            raise translate(exc) from exc
    labels = (found.config.get("config") or {}).get("Labels") or {}
    text = label_text(labels, label)
    if not text:
        raise InvalidArgument(f"cannot find the value of label: {label} in image: {image}")
    image_name, ctr_name = image_and_name(found.id, found.names, image, name)
    words = substitute(text, args, image_name, ctr_name, os.getcwd(), {**os.environ, **(opts or {})})
    env = dict(os.environ, PODMAN_RUNLABEL_NESTED="1")
    if words[0] in _SELF:
        made = _podpy_command(rt, *words[1:])
        argv, env = made["argv"], {**made["env"], "PODMAN_RUNLABEL_NESTED": "1"}
    else:
        argv = list(words)
    given = next((words[i + 1] for i, w in enumerate(words[:-1]) if w == "--name"), "")
    return RunlabelCommand(words, argv, env, given)
