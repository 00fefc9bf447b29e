"""A Containerfile's text -> instructions, following BuildKit's parser rules.

What the grammar holds, in the order it is read:
- parser directives (`# syntax=...`, `# escape=\\` or `` ` ``), only at the very top: the
  first line that is not one (a comment, an empty line, an unknown directive, an
  instruction) ends them;
- logical lines: a line ending with the escape character (trailing blanks allowed)
  continues on the next one; comment lines and empty lines inside a continuation are
  dropped; a comment is a line whose first non-blank character is `#`;
- `KEYWORD [--flag[=value]...] arguments`, the keyword in any case;
- heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) on RUN, COPY and ADD: the lines after the
  instruction, up to the delimiter, are its body.

dockerfile-parse, the usual Python library for this, was the first choice; it has no
heredocs, leaves a continuation at an empty line (BuildKit skips the line) and has no
`${VAR:-default}`, so the grammar is written out here, small, with its tests.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Optional

from ..errors import InvalidArgument

KEYWORDS = ("FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
            "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL")
# the flags each instruction takes (anything else is an error, as in BuildKit)
FLAGS = {
    "FROM": ("platform",),
    "RUN": ("mount", "network", "security"),
    "COPY": ("from", "chown", "chmod", "link", "parents", "exclude"),
    "ADD": ("chown", "chmod", "checksum", "link", "keep-git-dir", "exclude"),
    "HEALTHCHECK": ("interval", "timeout", "start-period", "start-interval", "retries"),
}
HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC_END = set(" \t;&|<>()")


class ParseError(InvalidArgument):
    """A syntax error, its message naming the file and line."""


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str
    expand: bool       # an unquoted delimiter: $VARIABLES in the body are expanded
    strip_tabs: bool   # <<-: leading tabs of the body's lines (and the delimiter's) removed
    fd: Optional[int] = None


@dataclass
class Instruction:
    keyword: str
    args: str                                   # after the flags, continuations joined
    line: int                                   # 1-based, where the instruction starts
    end_line: int
    original: str                               # the logical line as written (less its heredoc bodies)
    flags: list[tuple[str, Optional[str]]] = field(default_factory=list)
    heredocs: list[Heredoc] = field(default_factory=list)
    exec_form: Optional[list[str]] = None       # the arguments, when they are a JSON array of strings

    def flag(self, name: str) -> Optional[str]:
        """The last value given for --name ("" for a bare --name); None when absent."""
        found = None
        for k, v in self.flags:
            if k == name:
                found = "" if v is None else v
        return found

    def flag_values(self, name: str) -> list[str]:
        return ["" if v is None else v for k, v in self.flags if k == name]

    def display(self) -> str:
        """The instruction as `STEP n/m:` shows it."""
        flags = "".join(f"--{k}{'' if v is None else '=' + v} " for k, v in self.flags)
        return f"{self.keyword} {flags}{self.args}".rstrip()


@dataclass
class Containerfile:
    instructions: list[Instruction]
    directives: dict[str, str]
    escape: str
    name: str


def parse(text: str, name: str = "Containerfile") -> Containerfile:
    """Parse a whole Containerfile; ParseError names the line of the first problem."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    directives: dict[str, str] = {}
    escape = "\\"
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m or m.group(1).lower() not in _KNOWN_DIRECTIVES:
            break
        key, value = m.group(1).lower(), m.group(2)
        if key in directives:
            raise ParseError(f"{name}:{i + 1}: only one {key} parser directive can be used")
        if key == "escape":
            if value not in ("\\", "`"):
                raise ParseError(f"{name}:{i + 1}: invalid escape token {value!r}: it must be ` or \\")
            escape = value
        directives[key] = value
        i += 1
    out: list[Instruction] = []
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    while i < len(lines):
        first = lines[i]
        start = i
        i += 1
        if not first.strip() or first.lstrip().startswith("#"):
            continue
        parts = []
        text_line, more = _strip_continuation(first, cont)
        parts.append(text_line)
        while more and i < len(lines):
            nxt = lines[i]
            i += 1
            if not nxt.strip() or nxt.lstrip().startswith("#"):
                continue
            text_line, more = _strip_continuation(nxt, cont)
            parts.append(text_line)
        logical = "".join(parts).strip()
        ins, i = _instruction(logical, start + 1, i, lines, name, escape)
        out.append(ins)
    return Containerfile(out, directives, escape, name)


def _strip_continuation(line: str, cont: re.Pattern[str]) -> tuple[str, bool]:
    m = cont.search(line)
    if m:
        return line[:m.start()], True
    return line, False


def _instruction(logical: str, line: int, nxt: int, lines: list[str], name: str,
                 escape: str) -> tuple[Instruction, int]:
    """One logical line -> an Instruction; heredoc bodies are read from lines[nxt:].
    Returns it and the index of the next unread line."""
    word, _, rest = logical.partition(" ")
    if "\t" in word:
        word, _, tail = word.partition("\t")
        rest = tail + " " + rest
    keyword = word.upper()
    where = f"{name}:{line}"
    if keyword not in KEYWORDS:
        raise ParseError(f"{where}: unknown instruction: {word}")
    rest = rest.strip()
    flags: list[tuple[str, Optional[str]]] = []
    if keyword != "ONBUILD":
        flags, rest = _flags(rest)
        allowed = FLAGS.get(keyword, ())
        for k, _v in flags:
            if k not in allowed:
                raise ParseError(f"{where}: unknown flag for {keyword}: --{k}")
    heredocs: list[Heredoc] = []
    end = nxt   # 1-based number of the last line read
    if keyword in HEREDOC_KEYWORDS and "<<" in rest:
        for fd, strip, delim, expand in _heredoc_markers(rest):
            body: list[str] = []
            while True:
                if nxt >= len(lines):
                    raise ParseError(f"{where}: the heredoc {delim} is not terminated")
                raw = lines[nxt]
                nxt += 1
                text = raw.lstrip("\t") if strip else raw
                if text == delim:
                    break
                body.append(text)
            heredocs.append(Heredoc(delim, "".join(b + "\n" for b in body), expand, strip, fd))
        end = nxt
    exec_form = None
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            exec_form = value
    ins = Instruction(keyword, rest, line, end, logical, flags, heredocs, exec_form)
    validate(ins, where, escape)
    return ins, nxt


def _flags(rest: str) -> tuple[list[tuple[str, Optional[str]]], str]:
    """Leading `--name[=value]` words (BuildKit's builder flags); `--` alone ends them."""
    flags: list[tuple[str, Optional[str]]] = []
    while rest.startswith("--"):
        word, _, tail = rest.partition(" ")
        if "\t" in word:
            word, _, t2 = word.partition("\t")
            tail = t2 + " " + tail
        rest = tail.lstrip()
        if word == "--":
            break
        k, eq, v = word[2:].partition("=")
        flags.append((k, v if eq else None))
    return flags, rest


def _heredoc_markers(text: str) -> list[tuple[Optional[int], bool, str, bool]]:
    """(fd, strip tabs, delimiter, expand) of each `<<WORD` outside quotes, in order."""
    found = []
    i, n = 0, len(text)
    quote = ""
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                i += 1
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            i += 1
            continue
        if ch == "\\":
            i += 2
            continue
        if text.startswith("<<<", i):
            i += 3
            continue
        if text.startswith("<<", i):
            j = i + 2
            strip = j < n and text[j] == "-"
            if strip:
                j += 1
            fd = None
            k = i
            while k > 0 and text[k - 1].isdigit():
                k -= 1
            if k < i and (k == 0 or text[k - 1] in " \t"):
                fd = int(text[k:i])
            delim, expand = "", True
            while j < n and text[j] not in _HEREDOC_END:
                if text[j] in "'\"":
                    close = text.find(text[j], j + 1)
                    if close < 0:
                        break
                    delim += text[j + 1:close]
                    expand = False
                    j = close + 1
                else:
                    delim += text[j]
                    j += 1
            if delim:
                found.append((fd, strip, delim, expand))
            i = j
            continue
        i += 1
    return found


def validate(ins: Instruction, where: str, escape: str = "\\") -> None:
    """The argument shapes each instruction needs, checked before anything runs."""
    from .words import name_values, split_raw

    kw, args = ins.keyword, ins.args
    if kw == "FROM":
        words = args.split()
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
            raise ParseError(f"{where}: FROM takes an image and optionally `AS name`: FROM {args}".rstrip())
        if len(words) == 3 and not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9._-]*", words[2]):
            raise ParseError(f"{where}: invalid stage name {words[2]!r}: it must start with a letter and "
                             "contain only letters, digits, '.', '_' and '-'")
    elif kw in ("RUN",) and not args and not ins.heredocs:
        raise ParseError(f"{where}: RUN requires at least one argument")
    elif kw in ("ENV", "LABEL", "ARG"):
        if not args:
            raise ParseError(f"{where}: {kw} requires at least one argument")
        try:
            name_values(args, kw, escape)
        except ValueError as exc:
            raise ParseError(f"{where}: {exc}") from None
    elif kw in ("COPY", "ADD"):
        words = ins.exec_form if ins.exec_form is not None else split_raw(args, escape)
        if len(words) < 2 and not (ins.heredocs and words):
            raise ParseError(f"{where}: {kw} requires at least two arguments, a source and a destination")
    elif kw in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"):
        if not args:
            raise ParseError(f"{where}: {kw} requires exactly one argument")
        if kw in ("USER", "STOPSIGNAL") and len(split_raw(args, escape)) != 1:
            raise ParseError(f"{where}: {kw} requires exactly one argument")
    elif kw in ("EXPOSE", "VOLUME") and not args:
        raise ParseError(f"{where}: {kw} requires at least one argument")
    elif kw == "SHELL" and not ins.exec_form:
        raise ParseError(f"{where}: SHELL requires the arguments to be in JSON form")
    elif kw == "HEALTHCHECK":
        word = args.split(None, 1)[0].upper() if args else ""
        if word not in ("CMD", "NONE"):
            raise ParseError(f"{where}: HEALTHCHECK takes CMD or NONE")
        if word == "NONE" and (args.strip().upper() != "NONE" or ins.flags):
            raise ParseError(f"{where}: HEALTHCHECK NONE takes no other arguments")
        if word == "CMD" and not args[3:].strip():
            raise ParseError(f"{where}: HEALTHCHECK CMD requires a command")
    elif kw == "ONBUILD":
        if not args:
            raise ParseError(f"{where}: ONBUILD requires an instruction")
        inner = args.split(None, 1)[0].upper()
        if inner in ("ONBUILD", "FROM", "MAINTAINER"):
            raise ParseError(f"{where}: {inner} isn't allowed as an ONBUILD trigger")
        if inner not in KEYWORDS:
            raise ParseError(f"{where}: unknown instruction in ONBUILD: {inner}")


def preprocess(path: str, context: str, cpp_flags: list[str]) -> str:
    """A Containerfile.in: what the C preprocessor makes of it (#include, #define, #if), run
    as buildah runs it (traditional mode, no predefined macros, --cpp-flag's flags added)."""
    import shutil
    import subprocess

    cpp = shutil.which("cpp")
    if cpp is None:
        raise InvalidArgument(f"{os.path.basename(path)}: a .in Containerfile needs cpp, which is not installed")
    argv = [cpp, "-E", "-iquote", context, "-traditional", "-undef", "-", *cpp_flags]
    try:
        with open(path, "rb") as f:
            done = subprocess.run(argv, stdin=f, capture_output=True, cwd=os.path.dirname(os.path.abspath(path)),
                                  check=False)
    except OSError as exc:
        raise InvalidArgument(f"preprocessing {path}: {exc.strerror}") from exc
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidArgument(f"preprocessing {path}: {why[-1] if why else f'cpp exited {done.returncode}'}")
    return done.stdout.decode("utf-8", "surrogateescape")
