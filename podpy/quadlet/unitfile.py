"""Unit files as Quadlet reads and writes them: sections of key=value lines, each line
remembering the file and line number it came from (so a problem names them).

Reading follows systemd's syntax: `#` and `;` comments, `[Section]` headers, a trailing
backslash continues a line (the backslash becomes a space, comment lines inside are skipped).
Lookups follow systemd's list rule: an empty assignment clears what came before.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator, Optional

TRUE_WORDS = ("1", "yes", "true", "on")
FALSE_WORDS = ("0", "no", "false", "off")


class UnitSyntaxError(Exception):
    """A line that is not a comment, a section header or key=value; or a key outside any section."""


# plain classes, not dataclasses: the generator runs at boot, and importing dataclasses
# (with inspect and re) costs more than the generator's own work on a few files


class Line:
    __slots__ = ("key", "value", "where", "lineno")

    def __init__(self, key: str, value: str, where: str = "", lineno: int = 0) -> None:
        self.key, self.value = key, value
        self.where = where        # the file's name as problems show it (web.container, web.container.d/x.conf)
        self.lineno = lineno


class Section:
    __slots__ = ("name", "lines")

    def __init__(self, name: str, lines: "Optional[list[Line]]" = None) -> None:
        self.name = name
        self.lines: list[Line] = lines if lines is not None else []


class BadValue:
    """A value a lookup could not take (recorded, not raised: the generator reports them all)."""
    __slots__ = ("line", "section", "reason")

    def __init__(self, line: Line, section: str, reason: str) -> None:
        self.line, self.section, self.reason = line, section, reason


class UnitFile:
    """One unit file: its name (web.container), path, and sections in file order."""

    def __init__(self, filename: str, path: str = "") -> None:
        self.filename = filename
        self.path = path
        self.sections: list[Section] = []
        self.bad_values: list[BadValue] = []

    # -- reading ----------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, filename: str, path: str = "", where: Optional[str] = None) -> "UnitFile":
        unit = cls(filename, path)
        unit.merge_text(text, where or filename)
        return unit

    @classmethod
    def load(cls, path: str, filename: Optional[str] = None) -> "UnitFile":
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        name = filename or os.path.basename(path)
        return cls.parse(text, name, path)

    def merge_text(self, text: str, where: str) -> None:
        """Add the lines of text (a drop-in's, or the file's own) to the sections."""
        current: Optional[Section] = None
        pending, start = "", 0
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if pending:
                if line.startswith(("#", ";")):
                    continue
                line = pending + " " + line
            else:
                start = number
                if not line or line.startswith(("#", ";")):
                    continue
            if line.endswith("\\"):
                pending = line[:-1].rstrip()
                continue
            pending = ""
            if line.startswith("["):
                if not line.endswith("]") or len(line) < 3:
                    raise UnitSyntaxError(f"{where}, line {start}: invalid section header {raw.strip()!r}")
                current = self.section(line[1:-1], create=True)
                continue
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep or not key:
                raise UnitSyntaxError(f"{where}, line {start}: not a key=value line: {raw.strip()!r}")
            if current is None:
                raise UnitSyntaxError(f"{where}, line {start}: {key}= is outside any [Section]")
            current.lines.append(Line(key, value.strip(), where, start))
        if pending:
            raise UnitSyntaxError(f"{where}: the file ends in a continued line")

    # -- sections ---------------------------------------------------------------------

    def section(self, name: str, create: bool = False) -> Optional[Section]:
        for s in self.sections:
            if s.name == name:
                return s
        if not create:
            return None
        s = Section(name)
        self.sections.append(s)
        return s

    def has_section(self, name: str) -> bool:
        return self.section(name) is not None

    def rename_section(self, old: str, new: str) -> None:
        s = self.section(old)
        if s is not None:
            s.name = new

    def lines(self, section: str) -> Iterator[Line]:
        s = self.section(section)
        return iter(s.lines if s else [])

    # -- lookups ----------------------------------------------------------------------

    def all_lines(self, section: str, key: str) -> list[Line]:
        """key's lines, after the last empty assignment."""
        out: list[Line] = []
        for line in self.lines(section):
            if line.key == key:
                out = [] if line.value == "" else out + [line]
        return out

    def lookup_line(self, section: str, key: str) -> Optional[Line]:
        found = [line for line in self.lines(section) if line.key == key]
        return found[-1] if found else None

    def lookup(self, section: str, key: str) -> Optional[str]:
        """The last value of key (an empty one included); None when the key is not set."""
        line = self.lookup_line(section, key)
        return line.value if line else None

    def value(self, section: str, key: str) -> str:
        """The last value of key; empty when unset."""
        return self.lookup(section, key) or ""

    def has(self, section: str, key: str) -> bool:
        return self.lookup_line(section, key) is not None

    def lookup_all(self, section: str, key: str) -> list[str]:
        return [line.value for line in self.all_lines(section, key)]

    def lookup_all_words(self, section: str, key: str) -> list[str]:
        """Every word of every value (quotes and C escapes undone)."""
        out: list[str] = []
        for line in self.all_lines(section, key):
            out += self._words(line, section)
        return out

    def lookup_last_words(self, section: str, key: str) -> Optional[list[str]]:
        line = self.lookup_line(section, key)
        if line is None or line.value == "":
            return None
        return self._words(line, section)

    def lookup_bool(self, section: str, key: str) -> Optional[bool]:
        """True/False for a set key, None when unset; a value that is not a boolean is a bad value."""
        line = self.lookup_line(section, key)
        if line is None:
            return None
        word = line.value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        self.bad_values.append(BadValue(line, section, f"{line.value!r} is not a boolean (yes/no, true/false, on/off, 1/0)"))
        return None

    def lookup_uint(self, section: str, key: str) -> Optional[int]:
        line = self.lookup_line(section, key)
        if line is None:
            return None
        if not line.value.isdigit() or int(line.value) >= 2 ** 32:
            self.bad_values.append(BadValue(line, section, f"{line.value!r} is not a number"))
            return None
        return int(line.value)

    def lookup_key_values(self, section: str, key: str) -> dict[str, str]:
        """KEY=VALUE words of every value (the last of a key wins)."""
        out: dict[str, str] = {}
        for line in self.all_lines(section, key):
            for word in self._words(line, section):
                k, sep, v = word.partition("=")
                if not sep or not k:
                    self.bad_values.append(BadValue(line, section, f"{word!r} is not KEY=VALUE"))
                    continue
                out[k] = v
        return out

    def _words(self, line: Line, section: str) -> list[str]:
        try:
            return split_words(line.value)
        except ValueError as exc:
            self.bad_values.append(BadValue(line, section, str(exc)))
            return []

    # -- writing ----------------------------------------------------------------------

    def add(self, section: str, key: str, value: str) -> None:
        s = self.section(section, create=True)
        assert s is not None
        s.lines.append(Line(key, value))

    def set(self, section: str, key: str, value: str) -> None:
        """Replace every line of key by one (at the place of the first, or at the end)."""
        s = self.section(section, create=True)
        assert s is not None
        for i, line in enumerate(s.lines):
            if line.key == key:
                s.lines[i] = Line(key, value)
                s.lines[i + 1:] = [x for x in s.lines[i + 1:] if x.key != key]
                return
        s.lines.append(Line(key, value))

    def unset(self, section: str, key: str) -> None:
        s = self.section(section)
        if s is not None:
            s.lines = [line for line in s.lines if line.key != key]

    def prepend(self, section: str, key: str, value: str) -> None:
        s = self.section(section, create=True)
        assert s is not None
        s.lines.insert(0, Line(key, value))

    def add_command(self, section: str, key: str, argv: list[str]) -> None:
        self.add(section, key, join_command(argv))

    def copy(self, filename: Optional[str] = None) -> "UnitFile":
        dup = UnitFile(filename or self.filename, self.path)
        dup.sections = [Section(s.name, [Line(x.key, x.value, x.where, x.lineno) for x in s.lines])
                        for s in self.sections]
        return dup

    def text(self, header: tuple[str, ...] = ()) -> str:
        out = [f"# {h}".rstrip() for h in header]
        for s in self.sections:
            if out:
                out.append("")
            out.append(f"[{s.name}]")
            out += [f"{line.key}={line.value}" for line in s.lines]
        return "\n".join(out) + "\n"


# -- words --------------------------------------------------------------------------------

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
            '"': '"', "'": "'", "s": " "}


def split_words(text: str) -> list[str]:
    """Split a value into words as systemd does: whitespace separates, "..." and '...' quote,
    C escapes are undone."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        word: list[str] = []
        while i < n and not text[i].isspace():
            c = text[i]
            if c in "\"'":
                end = i + 1
                while end < n and text[end] != c:
                    if text[end] == "\\" and end + 1 < n:
                        word.append(_ESCAPES.get(text[end + 1], text[end + 1]))
                        end += 2
                        continue
                    word.append(text[end])
                    end += 1
                if end >= n:
                    raise ValueError(f"unbalanced quotes in {text!r}")
                i = end + 1
            elif c == "\\" and i + 1 < n:
                word.append(_ESCAPES.get(text[i + 1], text[i + 1]))
                i += 2
            else:
                word.append(c)
                i += 1
        words.append("".join(word))
    return words


_NEEDS_QUOTES = set(" \t\n\"'\\;")


def quote_word(word: str) -> str:
    """A command-line word as a unit file takes it back (specifiers and $VARIABLES are left
    for systemd to expand, as Quadlet leaves them)."""
    if word and not (_NEEDS_QUOTES & set(word)):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def join_command(argv: list[str]) -> str:
    return " ".join(quote_word(w) for w in argv)


def literal(text: str) -> str:
    """text with systemd's specifier and variable characters made literal (% -> %%, $ -> $$)."""
    return text.replace("%", "%%").replace("$", "$$")
