""".containerignore / .dockerignore patterns, as moby's patternmatcher reads them.

One pattern a line; `#` starts a comment line; blanks around a pattern are dropped; the
pattern is cleaned (`a/./b//` is `a/b`, a leading `/` dropped). `*` matches within one
path component, `?` one character, `[...]` a class (`[!...]` negated), `\\` escapes, and
`**` any number of components (`**/x` is `x` anywhere). A pattern matching a directory
excludes everything below it. `!pattern` re-includes what an earlier pattern excluded:
the last pattern that matches a path decides, but an exception is looked for below an
excluded directory only when its text starts with the directory's path (buildah's rule:
see Matcher.may_include_below).
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Optional


class Pattern:
    __slots__ = ("text", "exclusion", "regex")

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text = text
        self.exclusion = exclusion
        self.regex = re.compile(_to_regex(text), re.S)

    def match(self, path: str) -> bool:
        return self.regex.match(path) is not None


def _to_regex(pattern: str) -> str:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    out.append(".*")
                else:
                    out.append("(.*/)?")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i < n:
                out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


def clean(path: str) -> str:
    cleaned = posixpath.normpath(path.strip())
    return cleaned.lstrip("/") or "."


class Matcher:
    """The patterns of one ignore file; `excluded(path)` for a path relative to the context."""

    def __init__(self, lines: list[str], source: str = "") -> None:
        self.source = source   # the ignore file's path, for messages ("" when none)
        self.patterns: list[Pattern] = []
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:].strip()
                if not text:
                    raise ValueError("illegal exclusion pattern: \"!\"")
            text = clean(text)
            if text == ".":
                continue
            self.patterns.append(Pattern(text, exclusion))
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, path: str) -> bool:
        path = clean(path)
        if path == ".":
            return False
        parents = path.split("/")[:-1]
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:
                continue   # could not change the outcome
            hit = p.match(path)
            if not hit:
                prefix = ""
                for part in parents:
                    prefix = f"{prefix}/{part}" if prefix else part
                    if p.match(prefix):
                        hit = True
                        break
            if hit:
                matched = not p.exclusion
        return matched

    def may_include_below(self, directory: str, named: bool = False) -> bool:
        """Whether an excluded directory is still looked into, for an exception that could
        bring back something below it. As buildah decides, by the exception's text alone:
        while walking, the exception (with a `/` added) starts with the directory's path, as
        a string; for a directory a COPY source names, the exception starts with `DIR/`.
        So `!*/sub1*` brings back nothing inside an excluded `subdir`, `!subdir/sub1*` does."""
        if not self.has_exceptions:
            return False
        directory = clean(directory)
        for p in self.patterns:
            if not p.exclusion:
                continue
            if p.text.startswith(directory + "/") if named else (p.text + "/").startswith(directory):
                return True
        return False


def load(context_dir: str, containerfile: Optional[str] = None) -> Matcher:
    """The context's .containerignore, else its .dockerignore (an empty Matcher without either)."""
    for name in (".containerignore", ".dockerignore"):
        path = os.path.join(context_dir, name)
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ValueError(f"reading {path}: {exc.strerror}") from exc
        return Matcher(lines, path)
    return Matcher([])
