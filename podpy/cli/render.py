"""Everything podpy prints: tables, JSON, Go templates, errors and warnings."""

from __future__ import annotations

import sys

from storage import fastjson as json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Optional, Sequence


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err_line(text: str) -> None:
    """Progress and notes go to stderr, so stdout stays parseable."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# --log-level: podman's levels (logrus's), most severe first; messages below the level are dropped.
LEVELS = ("panic", "fatal", "error", "warn", "info", "debug", "trace")
_level = LEVELS.index("warn")
_syslog: Optional[Callable[[int, str], None]] = None   # --syslog: (priority, message)


def set_level(name: str) -> None:
    """The --log-level in force ("warning" is "warn"); the name is checked by the caller."""
    global _level
    _level = LEVELS.index("warn" if name == "warning" else name)


def enabled(name: str) -> bool:
    return _level >= LEVELS.index(name)


def set_syslog(send: Optional[Callable[[int, str], None]]) -> None:
    """--syslog: every message printed to stderr (errors, warnings, info, debug) goes there too."""
    global _syslog
    _syslog = send


_LOGRUS_LEVELS = {"ERRO": "error", "WARN": "warning", "INFO": "info", "DEBU": "debug"}
_stderr_tty: Optional[bool] = None


def _log(label: str, priority: int, message: str) -> None:
    """A warning, note or debug line as podman's logger (logrus) writes it: `WARN[0000] MESSAGE`
    on a terminal, else `time="RFC 3339" level=warning msg="MESSAGE"` (quoted as Go's %q when
    it has more than letters, digits and -._/@^+), which scripts and logs of podman see."""
    global _stderr_tty
    if _stderr_tty is None:
        try:
            _stderr_tty = sys.stderr.isatty()
        except (AttributeError, ValueError):
            _stderr_tty = False
    if _stderr_tty:
        line = f"{label}[0000] {message}"
    else:
        import time

        from ..formats import go_quote, rfc3339_seconds

        stamp = rfc3339_seconds(time.time(), local=True)
        plain = message and all(ch.isascii() and (ch.isalnum() or ch in "-._/@^+") for ch in message)
        line = f'time="{stamp}" level={_LOGRUS_LEVELS[label]} msg={message if plain else go_quote(message)}'
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    if _syslog is not None:
        _syslog(priority, message)


def error(message: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()
    if _syslog is not None:
        _syslog(3, message)   # LOG_ERR


def cause(message: str) -> None:
    """The line after an error that names its cause on the host (see engine/doctor.py)."""
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def log_error(message: str) -> None:
    """An error logged on the way, the command going on (podman's `level=error` lines)."""
    if _level >= 2:
        _log("ERRO", 3, message)   # LOG_ERR


def warn(message: str) -> None:
    if _level >= 3:
        _log("WARN", 4, message)   # LOG_WARNING


def info(message: str) -> None:
    if _level >= 4:
        _log("INFO", 6, message)   # LOG_INFO


def debug(message: str) -> None:
    if _level >= 5:
        _log("DEBU", 7, message)   # LOG_DEBUG


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=4, default=str)


def _tabwrite(lines: Sequence[Sequence[str]], minwidth: int = 12, padding: int = 2) -> list[str]:
    """Go's tabwriter as podman configures it: cells padded to max(width + 2, 12), last one bare."""
    ncols = max((len(line) for line in lines), default=0)
    widths = [0] * ncols
    for line in lines:
        for i, cell in enumerate(line[:-1]):
            widths[i] = max(widths[i], len(cell) + padding, minwidth)
    result = []
    for line in lines:
        cells = [cell.ljust(widths[i]) if i < len(line) - 1 else cell for i, cell in enumerate(line)]
        result.append("".join(cells).rstrip())
    return result


def table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]], header: bool = True) -> None:
    lines = [[h for h, _ in columns]] if header else []
    for row in rows:
        lines.append([str(row.get(k, "")) for _, k in columns])
    for line in _tabwrite(lines):
        out(line)


def is_json(fmt: str) -> bool:
    """Whether a listing's --format asks for its JSON: `json`, or `{{json .}}` (`{{ json }}`...),
    which podman's listings take for the same."""
    text = fmt.strip()
    if text == "json":
        return True
    if not (text.startswith("{{") and text.endswith("}}")):
        return False
    inner = text[2:-2].strip().split()
    return inner in (["json"], ["json", "."]) or (len(inner) == 1 and inner[0] == "json.")


def formatted(rows: list[dict[str, Any]], fmt: Optional[str], columns: Sequence[tuple[str, str]],
              json_rows: Optional[list[Any]] = None, header_overrides: Optional[dict[str, str]] = None,
              noheading: bool = False) -> None:
    """A listing in podman's ways: default table, `json`, `table {{...}}`, or a template per row."""
    if fmt is None or fmt == "":
        table(rows, columns, header=not noheading)
        return
    if is_json(fmt):
        out(to_json(json_rows if json_rows is not None else rows))
        return
    from . import gotemplate as gt

    is_table, body = gt.split_table(fmt)
    if is_table:
        if not body:
            table(rows, columns, header=not noheading)
            return
        tmpl = gt.parse(body)
        lines = [] if noheading else [gt.header_for(body, header_overrides or {}).split("\t")]
        for row in rows:
            lines.append(tmpl.execute(row).split("\t"))
        for line in _tabwrite(lines):
            out(line)
        return
    tmpl = gt.parse(body)
    for row in rows:
        text = tmpl.execute(row)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def inspect_error(reports: Sequence[Any]) -> Optional[Exception]:
    """The first failed report of an `inspect`, worded as podman words it (`inspecting object:
    no such container NAME`), of the same kind (its exit code); None when none failed."""
    import copy

    from ..errors import NoSuchContainer, NoSuchNetwork, NoSuchVolume

    for r in reports:
        err = r.error
        if err is None:
            continue
        if isinstance(err, NoSuchContainer):
            text = f"no such container {r.name}"
        elif isinstance(err, NoSuchVolume):
            text = f"no such volume {r.name}"
        elif isinstance(err, NoSuchNetwork):
            text = f"network {r.name}: {err}"
        else:
            text = str(err)
        if text.startswith("inspecting object: "):
            return err
        worded = copy.copy(err)
        worded.args = (f"inspecting object: {text}",)
        return worded
    return None


def inspect(items: list[Any], fmt: Optional[str]) -> None:
    """`inspect`: a JSON array, or a template per item."""
    if fmt is None or fmt == "" or is_json(fmt):
        out(to_json(items))
        return
    from . import gotemplate as gt

    from .views import inspect_view

    tmpl = gt.parse(gt.split_table(fmt)[1])
    for item in items:
        text = tmpl.execute(inspect_view(item))
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


class LayerProgress:
    """On a terminal: one bar per layer with bytes and rate (rich, imported only here)."""

    def __enter__(self) -> "LayerProgress":
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn)

        self._progress = Progress(TextColumn("Copying blob {task.description}"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), console=Console(stderr=True), transient=False)
        self._progress.__enter__()
        return self

    def line(self, text: str) -> None:
        if not text.startswith("Copying blob ") or "skipped" in text:
            self._progress.console.print(text, highlight=False, markup=False)

    def start(self, label: str, total: int) -> Any:
        task = self._progress.add_task(label, total=total or None)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)


def ask(prompt: str) -> bool:
    """A yes/no question answered on stdin, a terminal or not (EOF: no)."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def confirm(command: str, warning: str) -> bool:
    """Ask before a destructive command (-f/--force skips this), as podman asks: the answer is
    stdin's next line, a terminal or not (`echo y | podpy system prune` answers yes); stdin at
    its end answers nothing, which is podman's `Error: EOF` (exit 125). command: unused, kept
    for the callers' wording."""
    from ..errors import PodpyError

    sys.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not answer:
        raise PodpyError("EOF")
    return answer.strip().lower() in ("y", "yes")


def changes(items: list[tuple[str, str]], fmt: Optional[str]) -> None:
    """`diff`'s and `image diff`'s output: `KIND PATH` lines, or podman's JSON groups (an empty
    one left out, indented as podman indents them)."""
    if fmt and fmt != "json":
        from ..errors import InvalidArgument

        raise InvalidArgument("only supported value for '--format' is 'json'")
    if fmt == "json":
        groups: dict[str, list[str]] = {"changed": [], "added": [], "deleted": []}
        for kind, path in items:
            groups[{"A": "added", "C": "changed", "D": "deleted"}[kind]].append(path)
        out(json.dumps({k: v for k, v in groups.items() if v}, indent=5))
        return
    for kind, path in items:
        out(f"{kind} {path}")


# -- help pages ------------------------------------------------------------------------------

def flag_rows(rows: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """pflag's list of flags from (short, long, type word, help) rows: `  -o, --output string   help`."""
    lines = [("  " + (f"{short}, " if short else "    ") + long + (f" {kind}" if kind else ""), text)
             for short, long, kind, text in rows]
    width = max((len(left) for left, _ in lines), default=0)
    return [f"{left.ljust(width)}   {text}".rstrip() for left, text in lines]


def help_page(title: str, description: str, usage: str, commands: Sequence[tuple[str, str]],
              options: Sequence[str]) -> str:
    """A help page laid out as cobra lays out podman's: the short description, Description:,
    Usage:, Available Commands: and Options: (each when there is one)."""
    parts = [title, ""]
    if description:
        parts += ["Description:", *[f"  {line}".rstrip() for line in description.splitlines()], ""]
    parts += ["Usage:", f"  {usage}", ""]
    if commands:
        pad = max([11, *(len(name) for name, _ in commands)])
        parts += ["Available Commands:", *[f"  {name.ljust(pad)} {short}".rstrip() for name, short in commands], ""]
    if options:
        parts += ["Options:", *options, ""]
    return "\n".join(parts)
