"""Variable expansion and word splitting of instruction arguments, as BuildKit's shell lexer.

`$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`,
`${NAME:?message}` and `${NAME?message}`; single quotes take everything literally,
double quotes expand variables and keep blanks; the escape character (`\\` or the
`# escape=` directive's backtick) makes the next character literal. An unset variable
expands to nothing. Unquoted expansions are split into words where whitespace is.
RUN, CMD and ENTRYPOINT are left to the shell: their text is not expanded here.
"""

from __future__ import annotations

from typing import Mapping, Optional


class ExpansionError(ValueError):
    pass


class _Words:
    """Accumulates words: characters from unquoted text split at whitespace."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.cur: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word:
                self.words.append("".join(self.cur))
                self.cur = []
                self.in_word = False
            return
        self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.cur.append(text)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def done(self) -> list[str]:
        if self.in_word:
            self.words.append("".join(self.cur))
        return self.words


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    def process(self, stop: str = "") -> tuple[str, list[str]]:
        """Up to `stop` (consumed) or the end: (the expanded text, its words)."""
        out: list[str] = []
        words = _Words()
        while True:
            ch = self.peek()
            if not ch:
                if stop:
                    raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
                break
            if stop and ch == stop:
                self.next()
                break
            if ch == "'":
                tmp = self._single()
                out.append(tmp)
                words.add_raw(tmp)
            elif ch == '"':
                tmp = self._double()
                out.append(tmp)
                words.add_raw(tmp)
            elif ch == "$":
                tmp = self._dollar()
                out.append(tmp)
                words.add_string(tmp)
            else:
                self.next()
                if ch == self.escape:
                    ch = self.next()
                    if not ch:
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
        return "".join(out), words.done()

    def _single(self) -> str:
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise ExpansionError("unexpected end of statement while looking for matching single-quote")
        value = self.text[self.pos:end]
        self.pos = end + 1
        return value

    def _double(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            self.next()
            if ch == self.escape:
                nxt = self.peek()
                if nxt in ('"', "$", self.escape):
                    out.append(self.next())
                    continue
            out.append(ch)

    def _name(self) -> str:
        start = self.pos
        if self.peek().isdigit():
            self.next()
            return self.text[start:self.pos]
        while (ch := self.peek()) and (ch.isalnum() or ch == "_"):
            self.next()
        return self.text[start:self.pos]

    def _dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self._name()
            if not name:
                return "$"
            return self.env.get(name, "")
        self.next()
        name = self._name()
        if not name:
            raise ExpansionError("bad substitution: a variable name is needed after ${")
        ch = self.next()
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        if colon:
            ch = self.next()
        if ch not in ("-", "+", "?"):
            raise ExpansionError(f"unsupported modifier ({ch or 'end'}) in substitution of {name}")
        word, _ = self.process("}")
        value = self.env.get(name)
        empty = value is None or (colon and value == "")
        if ch == "-":
            return word if empty else str(value)
        if ch == "+":
            return "" if empty else word
        if empty:
            raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
        return str(value)


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word: quotes removed, variables expanded, escapes applied; blanks kept."""
    return _Lexer(text, env, escape).process()[0]


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expanded and split into words (quoted blanks and escaped blanks stay in their word)."""
    return _Lexer(text, env, escape).process()[1]


def split_raw(text: str, escape: str = "\\") -> list[str]:
    """Words split at unquoted, unescaped blanks, with their quotes and escapes kept
    (BuildKit's parseWords: ENV, LABEL and ARG are split this way before expansion)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if not quote and ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
            i += 1
            continue
        cur.append(ch)
        if ch == escape and quote != "'" and i + 1 < len(text):
            cur.append(text[i + 1])
            i += 2
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
        i += 1
    if cur:
        words.append("".join(cur))
    return words


def name_values(args: str, keyword: str, escape: str = "\\") -> list[tuple[str, Optional[str]]]:
    """ENV, LABEL and ARG arguments -> (name, raw value) pairs, the values still to expand.

    `NAME=value ...` pairs; ENV and LABEL also take the old `NAME value with blanks`; an ARG
    name without `=` has no default (None)."""
    words = split_raw(args, escape)
    if not words:
        raise ValueError(f"{keyword} requires at least one argument")
    if keyword in ("ENV", "LABEL") and "=" not in words[0]:
        name, _, value = args.strip().partition(" ")
        if not value.strip() and "\t" in name:
            name, _, value = name.partition("\t")
        if not value.strip():
            raise ValueError(f"{keyword} names {name} but gives it no value: use {keyword} {name}=VALUE")
        return [(name, value.strip())]
    out: list[tuple[str, Optional[str]]] = []
    for w in words:
        name, eq, value = w.partition("=")
        if not eq and keyword != "ARG":
            raise ValueError(f"syntax error - can't find = in {w!r}: it must be of the form name=value")
        if not name:
            raise ValueError(f"{keyword} names no variable in {w!r}")
        out.append((name, value if eq else None))
    return out
