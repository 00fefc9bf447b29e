"""A Go text/template engine good enough for podman-style --format strings."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn, Union

from podpy.cli._gotemplate_funcs import (FUNCS, SPECIAL_FORMS, ArgError, FuncError, MAP_FIELDS, NilMap, NilSlice,
                                         SLICE_FIELDS, fold_key, go_str, lookup, sorted_keys, truth)

__all__ = ["Template", "TemplateError", "header_for", "parse", "render", "split_table"]


class TemplateError(Exception):
    """A template that cannot be parsed or executed; the message is shaped like Go's."""


def _fail(src: str, pos: int, msg: str) -> NoReturn:
    # Go reports a 0-based column within the line
    line, col = src.count("\n", 0, pos) + 1, pos - (src.rfind("\n", 0, pos) + 1)
    raise TemplateError(f"template: :{line}:{col}: {msg}") from None


# ---- lexer ----------------------------------------------------------------

_SPACE = " \t\r\n"
_IDENT = r"[^\W\d]\w*"
_TOKEN_RE = re.compile(rf"""
    (?P<lit>"(?:[^"\\\n]|\\[^\n])*"|'(?:[^'\\\n]|\\[^\n])*'|`[^`]*`)
  | (?P<var>\$\w*(?:\.{_IDENT})*)
  | (?P<num>[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+
                   |(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?))
  | (?P<field>(?:\.{_IDENT})+|\.)
  | (?P<word>{_IDENT})
  | (?P<punct>:=|[|(),=])""", re.VERBOSE)
_ESC_RE = re.compile(r"\\(?:([abfnrtv\\'\"])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.?))",
                     re.DOTALL)
_SIMPLE_ESC = dict(zip("abfnrtv\\'\"", "\a\b\f\n\r\t\v\\'\""))
_UNTERMINATED = {'"': "unterminated quoted string", "'": "unterminated character constant",
                 "`": "unterminated raw quoted string"}
_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"})
_CONSTS: dict[str, object] = {"true": True, "false": False, "nil": None}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # field, var, ident, kw, lit, or the punctuation itself
    text: str
    pos: int
    spaced: bool  # whitespace before it: `$x .F` is two operands, `(..).F` is one
    value: object = None


def _space_at(src: str, i: int) -> bool:
    return i < len(src) and src[i] in _SPACE


def _unquote(src: str, pos: int, body: str) -> str:
    def one(m: re.Match[str]) -> str:
        simple, x, u, big_u, octal, bad = m.groups()
        if simple:
            return _SIMPLE_ESC[simple]
        try:
            if bad is None:
                return chr(int(octal, 8)) if octal else chr(int(x or u or big_u, 16))
        except ValueError:
            pass
        _fail(src, pos, f"invalid escape sequence {m.group()} in quoted string")
    return _ESC_RE.sub(one, body)


def _number(src: str, pos: int, text: str) -> int | float:
    t = text.replace("_", "")
    for convert in (lambda: int(t, 0), lambda: int(t, 8), lambda: float(t)):  # base 8: Go's legacy 017
        try:
            return convert()
        except ValueError:
            pass
    _fail(src, pos, f'bad number syntax: "{text}"')


def _token(src: str, p: int, spaced: bool) -> _Tok:
    m = _TOKEN_RE.match(src, p)
    if m is None:
        ch = src[p]
        _fail(src, p, _UNTERMINATED.get(ch, f"unexpected bad character U+{ord(ch):04X} {ch!r} in command"))
    kind, text = m.lastgroup or "", m.group()
    value: object = None
    if kind == "lit":
        value = text[1:-1] if text[0] == "`" else _unquote(src, p, text[1:-1])
        if text[0] == "'":
            if len(str(value)) != 1:
                _fail(src, p, f"malformed character constant: {text}")
            value = ord(str(value))
    elif kind == "num":
        if m.end() < len(src) and (src[m.end()].isalnum() or src[m.end()] in "_."):
            _fail(src, p, f'bad number syntax: "{src[p:m.end() + 1]}"')
        kind, value = "lit", _number(src, p, text)
    elif kind == "word":
        kind = "kw" if text in _KEYWORDS else "lit" if text in _CONSTS else "ident"
        value = _CONSTS.get(text)
    elif kind == "punct":
        kind = text
    return _Tok(kind, text, p, spaced, value)


class _Cursor:
    """One action's tokens, consumed left to right by the parser."""

    def __init__(self, toks: tuple[_Tok, ...], start: int, end: int) -> None:
        self.toks, self.i, self.start, self.end = toks, 0, start, end  # start/end: the delimiters
        self.last_end = start

    def peek(self, k: int = 0) -> _Tok | None:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i, self.last_end = self.i + 1, tok.pos + len(tok.text)
        return tok


def _lex(src: str) -> list[str | _Cursor]:
    """Split the source into text and token lists, applying trim markers and dropping comments."""
    items: list[str | _Cursor] = []
    pos, trim_next = 0, False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        text = text.lstrip(_SPACE) if trim_next else text
        trim_prev = start >= 0 and src.startswith("{{-", start) and _space_at(src, start + 3)
        text = text.rstrip(_SPACE) if trim_prev else text
        if text:
            items.append(text)
        if start < 0:
            return items
        p = start + (4 if trim_prev else 2)
        if src.startswith("/*", p):
            close = src.find("*/", p + 2)
            if close < 0:
                _fail(src, start, "unclosed comment")
            trim_next = _space_at(src, close + 2) and src.startswith("-}}", close + 3)
            if not trim_next and not src.startswith("}}", close + 2):
                _fail(src, start, "comment ends before closing delimiter")
            pos = close + (6 if trim_next else 4)
            continue
        toks: list[_Tok] = []
        spaced, trim_next = True, False
        while not src.startswith("}}", p):
            if p >= len(src):
                _fail(src, start, "unclosed action")
            if src[p] in _SPACE:
                trim_next = src.startswith("-}}", p + 1)
                p, spaced = p + 1 + trim_next, True
                if trim_next:
                    break
                continue
            toks.append(_token(src, p, spaced))
            p, spaced = p + len(toks[-1].text), False
        items.append(_Cursor(tuple(toks), start, p))
        pos = p + 2


# ---- parse tree: every node keeps its source text, which Go-style errors quote ------------

@dataclass(frozen=True, slots=True)
class _Lit:
    value: object
    pos: int
    text: str


class _Ident(_Lit):
    """A function name (in value), called rather than used as a constant."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class _Chain:
    """`.`, `.A.B`, `$x.A` or `(pipeline).A`: a receiver, then field names looked up in turn."""

    base: None | str | _Operand  # None: dot; str: a variable's name; else a parenthesised operand
    names: tuple[str, ...]
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class _Cmd:
    args: tuple[_Operand, ...]
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class _Pipe:
    decl: tuple[str, ...]
    assign: bool  # `=` rather than `:=`
    cmds: tuple[_Cmd, ...]
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class _Control:
    kind: str  # if, range, with
    pipe: _Pipe
    body: tuple[_Node, ...]
    orelse: tuple[_Node, ...] | None


@dataclass(frozen=True, slots=True)
class _Jump:
    kind: str  # break, continue


_Operand = Union[_Lit, _Ident, _Chain, _Pipe]
_Node = Union[str, _Pipe, _Control, _Jump]  # a bare _Pipe is an action


# ---- parser ---------------------------------------------------------------

class _Parser:
    def __init__(self, src: str) -> None:
        self.src, self.items, self.at = src, _lex(src), 0
        self.vars = ["$"]  # declared variables in scope, for Go's parse-time check
        self.range_depth = 0

    def done(self, cur: _Cursor, ctx: str) -> None:
        tok = cur.peek()
        if tok is not None:
            _fail(self.src, tok.pos, f'unexpected "{tok.text}" in {ctx}')

    def list(self) -> tuple[list[_Node], str, _Cursor | None]:
        """Nodes up to an {{end}} or {{else}} (returned with its cursor) or the end of input."""
        out: list[_Node] = []
        while self.at < len(self.items):
            item = self.items[self.at]
            self.at += 1
            if isinstance(item, str):
                out.append(item)
                continue
            first = item.peek()
            if first is None:
                _fail(self.src, item.end, "missing value for command")
            jump = first.text in ("break", "continue")
            if first.kind != "kw":
                out.append(self.pipeline(item, "command"))
            elif item.take().text in ("end", "else"):
                return out, first.text, item
            elif first.text in ("if", "range", "with"):
                out.append(self.control(first, item))
            elif jump and self.range_depth:
                out.append(_Jump(first.text))
            else:
                why = "outside {{range}}" if jump else "is not supported"
                _fail(self.src, first.pos, f"{{{{{first.text}}}}} {why}")
            self.done(item, first.text if first.kind == "kw" else "command")
        return out, "", None

    def block(self) -> tuple[tuple[_Node, ...], str, _Cursor]:
        body, stop, cur = self.list()
        if cur is None:
            _fail(self.src, len(self.src), "unexpected EOF")
        return tuple(body), stop, cur

    def control(self, kw: _Tok, cur: _Cursor) -> _Control:
        kind, mark = kw.text, len(self.vars)
        pipe = self.pipeline(cur, kind)
        self.done(cur, kind)
        self.range_depth += kind == "range"
        body, stop, sc = self.block()
        self.range_depth -= kind == "range"
        orelse: tuple[_Node, ...] | None = None
        if stop == "else":
            nxt = sc.peek()
            if nxt is not None and nxt.kind == "kw" and nxt.text == kind and kind != "range":
                # {{else if x}} is {{else}}{{if x}}...{{end}} sharing the outer {{end}}
                orelse = (self.control(sc.take(), sc),)
            else:
                self.done(sc, "else")
                orelse, stop, sc = self.block()
                if stop != "end":
                    _fail(self.src, sc.start, "expected end; found {{else}}")
        if stop == "end":
            self.done(sc, "end")
        del self.vars[mark:]
        return _Control(kind, pipe, body, orelse)

    def pipeline(self, cur: _Cursor, ctx: str) -> _Pipe:
        start, op = cur.peek(), cur.peek(1)
        if start is None or start.kind == ")":
            _fail(self.src, cur.end if start is None else start.pos, f"missing value for {ctx}")
        decl: list[str] = []
        if start.kind == "var" and "." not in start.text and op is not None:
            if op.kind in (":=", "="):
                decl, cur.i = [start.text], cur.i + 2
            elif op.kind == ",":
                second, op = cur.peek(2), cur.peek(3)
                if ctx != "range" or second is None or second.kind != "var" or op is None or op.kind not in (":=", "="):
                    _fail(self.src, start.pos, f"too many declarations in {ctx}")
                decl, cur.i = [start.text, second.text], cur.i + 4
        assign = bool(decl) and op is not None and op.kind == "="
        cmds = [self.command(cur)]
        while (tok := cur.peek()) is not None and tok.kind == "|":
            cur.take()
            cmds.append(self.command(cur))
        for name in decl:
            if not assign:
                self.vars.append(name)
            elif name not in self.vars:
                _fail(self.src, start.pos, f'undefined variable "{name}"')
        return _Pipe(tuple(decl), assign, tuple(cmds), start.pos, self.src[start.pos:cur.last_end])

    def command(self, cur: _Cursor) -> _Cmd:
        args: list[_Operand] = []
        while (tok := cur.peek()) is not None and tok.kind not in ("|", ")"):
            args.append(self.operand(cur))
        if not args:
            _fail(self.src, cur.end if tok is None else tok.pos, "missing value for command")
        return _Cmd(tuple(args), args[0].pos, self.src[args[0].pos:cur.last_end])

    def operand(self, cur: _Cursor) -> _Operand:
        tok = cur.take()
        node: _Operand
        if tok.kind in ("field", "var"):
            base, *names = tok.text.split(".")
            if base and base not in self.vars:
                _fail(self.src, tok.pos, f'undefined variable "{base}"')
            node = _Chain(base or None, tuple(n for n in names if n), tok.pos, tok.text)
        elif tok.kind == "ident":
            if tok.text not in FUNCS and tok.text not in SPECIAL_FORMS:
                _fail(self.src, tok.pos, f'function "{tok.text}" not defined')
            node = _Ident(tok.text, tok.pos, tok.text)
        elif tok.kind == "lit":
            node = _Lit(tok.value, tok.pos, tok.text)
        elif tok.kind == "(":
            node = self.pipeline(cur, "parenthesized pipeline")
            if cur.peek() is None or cur.take().kind != ")":
                _fail(self.src, tok.pos, "unclosed left paren")
        else:
            _fail(self.src, tok.pos, f'unexpected "{tok.text}" in operand')
        nxt = cur.peek()
        if nxt is not None and nxt.kind == "field" and not nxt.spaced and nxt.text != ".":
            cur.take()
            node = _Chain(node, tuple(nxt.text[1:].split(".")), tok.pos, self.src[tok.pos:cur.last_end])
        return node


# ---- execution ------------------------------------------------------------

class _Jumped(Exception):
    """{{break}} or {{continue}} unwinding to the enclosing range; args[0] says which."""


class _Exec:
    def __init__(self, src: str, root: object) -> None:
        self.src = src
        self.vars: list[tuple[str, object]] = [("$", root)]
        self.out: list[str] = []

    def fail(self, node: _Operand | _Cmd, msg: str) -> NoReturn:
        ctx = node.text if len(node.text) <= 20 else node.text[:20] + "..."
        _fail(self.src, node.pos, f'executing "" at <{ctx}>: {msg}')

    def walk(self, dot: object, nodes: Iterable[_Node]) -> None:
        for n in nodes:
            if isinstance(n, str):
                self.out.append(n)
            elif isinstance(n, _Pipe):
                val = self.pipe(dot, n)
                if not n.decl:
                    self.out.append("<no value>" if val is None else go_str(val))
            elif isinstance(n, _Control):
                self.control(dot, n)
            else:
                raise _Jumped(n.kind)

    def control(self, dot: object, n: _Control) -> None:
        mark = len(self.vars)
        try:
            val = self.pipe(dot, n.pipe)
            if n.kind == "range":
                self.loop(dot, n, val)
            elif truth(val):
                self.walk(val if n.kind == "with" else dot, n.body)
            elif n.orelse is not None:
                self.walk(dot, n.orelse)
        finally:
            del self.vars[mark:]

    def loop(self, dot: object, n: _Control, val: object) -> None:
        pairs: list[tuple[object, object]]
        if isinstance(val, Mapping):
            pairs = [(k, val[k]) for k in sorted_keys(val)]  # Go ranges over maps in key order
        elif isinstance(val, int) and not isinstance(val, bool) and len(n.pipe.decl) < 2:
            pairs = [(i, i) for i in range(val)]
        elif val is None or (isinstance(val, Sequence) and not isinstance(val, (str, bytes, bytearray))):
            pairs = list(enumerate(val or ()))
        else:
            self.fail(n.pipe, f"range can't iterate over {go_str(val)}")
        if not pairs and n.orelse is not None:
            self.walk(dot, n.orelse)
        decl = n.pipe.decl
        for key, elem in pairs:
            if decl:
                self.assign(n.pipe, decl[-1], elem)
            if len(decl) > 1:
                self.assign(n.pipe, decl[0], key)
            mark = len(self.vars)
            try:
                self.walk(elem, n.body)
            except _Jumped as jump:
                if jump.args[0] == "break":
                    break
            finally:
                del self.vars[mark:]

    def var_index(self, node: _Pipe | _Chain, name: str) -> int:
        """The innermost variable called name: later declarations shadow earlier ones."""
        found = [i for i, (n, _) in enumerate(self.vars) if n == name]
        if not found:
            self.fail(node, f"undefined variable: {name}")
        return found[-1]

    def assign(self, node: _Pipe, name: str, val: object) -> None:
        self.vars[self.var_index(node, name)] = (name, val)

    def pipe(self, dot: object, p: _Pipe) -> object:
        piped: list[object] = []  # each command's result becomes the next one's last argument
        for cmd in p.cmds:
            piped = [self.command(dot, cmd, piped)]
        val = piped[0]
        for name in p.decl:
            if p.assign:
                self.assign(p, name, val)
            else:
                self.vars.append((name, val))
        return val

    def command(self, dot: object, cmd: _Cmd, piped: list[object]) -> object:
        first, rest = cmd.args[0], cmd.args[1:]
        if isinstance(first, _Ident):
            return self.call(dot, cmd, str(first.value), rest, piped)
        if isinstance(first, _Chain) and first.names:
            return self.chain(dot, first, rest, piped)
        if rest or piped:
            self.fail(first, f"can't give argument to non-function {first.text}")
        if isinstance(first, _Lit) and first.value is None:
            self.fail(first, "nil is not a command")
        return self.arg(dot, first)

    def chain(self, dot: object, node: _Chain, args: Sequence[_Operand], piped: list[object]) -> object:
        """Walk .A.B.C from the node's receiver; args go to the last link, which must be a method."""
        if node.base is None:
            recv = dot
        elif isinstance(node.base, str):
            recv = self.vars[self.var_index(node, node.base)][1]
        else:
            recv = self.arg(dot, node.base)
        for i, name in enumerate(node.names):
            last = i == len(node.names) - 1
            # A key of one of podman's maps (`.Labels.x` of a container without label x, of a
            # nil map): Go's index of a missing key, no value and no error. A struct's field
            # (anything else) must be there.
            in_map = i > 0 and node.names[i - 1].lower() in MAP_FIELDS
            if recv is None:
                if in_map:
                    return None
                self.fail(node, f"nil pointer evaluating {node.text}")
            found, val, is_method = lookup(recv, name)
            if not found:
                if in_map and isinstance(recv, Mapping):
                    return None
                self.fail(node, f"can't evaluate field {name}")
            if is_method:
                argv = [self.arg(dot, a) for a in args] + piped if last else []
                try:
                    val = val(*argv)  # type: ignore[operator]
                except Exception as exc:  # whatever a data object's method raises is a template error
                    self.fail(node, f"error calling {name}: {exc}")
            elif last and (args or piped):
                self.fail(node, f"{name} has arguments but cannot be invoked as function")
            if val is None and name.lower() in MAP_FIELDS:
                val = NilMap()   # a null map field is Go's nil map: `map[]`, index "", json null
            elif val is None and name.lower() in SLICE_FIELDS:
                val = NilSlice()   # a null list field is Go's nil slice: `[]`, json null
            recv = val
        return recv

    def call(self, dot: object, cmd: _Cmd | _Ident, name: str, argnodes: Sequence[_Operand],
             piped: list[object]) -> object:
        if name in SPECIAL_FORMS:
            if not argnodes and not piped:
                self.fail(cmd, f"wrong number of args for {name}: want at least 1 got 0")
            val: object = None
            for a in argnodes:
                val = self.arg(dot, a)
                if truth(val) == (name == "or"):
                    return val
            return piped[0] if piped else val
        fn, lo, hi = FUNCS[name]
        argv = [self.arg(dot, a) for a in argnodes] + piped
        if len(argv) < lo or (hi is not None and len(argv) > hi):
            want = f"at least {lo}" if hi is None else str(lo)
            self.fail(cmd, f"wrong number of args for {name}: want {want} got {len(argv)}")
        try:
            return fn(*argv)
        except ArgError as exc:
            self.fail(cmd, str(exc))
        except FuncError as exc:
            self.fail(cmd, f"error calling {name}: {exc}")

    def arg(self, dot: object, node: _Operand) -> object:
        if isinstance(node, _Ident):  # a bare function name as an argument is a call without arguments
            return self.call(dot, node, str(node.value), (), [])
        if isinstance(node, _Lit):
            return node.value
        if isinstance(node, _Pipe):
            return self.pipe(dot, node)
        return self.chain(dot, node, (), [])


# ---- public API -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template; never mutated, so parse() can cache and share it."""

    source: str
    _body: tuple[_Node, ...] = field(repr=False)

    def execute(self, data: object) -> str:
        """Render with data as both dot and $; raises TemplateError when evaluation fails."""
        ex = _Exec(self.source, data)
        ex.walk(data, self._body)
        return "".join(ex.out)


@functools.lru_cache(maxsize=256)
def parse(text: str) -> Template:
    """Parse a template, raising TemplateError on bad syntax; results are cached by source text."""
    parser = _Parser(text)
    body, stop, cur = parser.list()
    if cur is not None:
        _fail(text, cur.start, f"unexpected {{{{{stop}}}}}")
    return Template(text, tuple(body))


def render(text: str, data: object) -> str:
    """parse(text).execute(data)."""
    return parse(text).execute(data)


def _unescape(fmt: str) -> str:
    # Only literal text (even pieces): inside actions, Go string literals interpret their own escapes.
    parts = re.split(r"(\{\{.*?\}\})", fmt, flags=re.DOTALL)
    return "".join(p if i % 2 else p.replace("\\t", "\t").replace("\\n", "\n") for i, p in enumerate(parts))


# The fields of podman's reports and documents that are Go maps (string keys), whose keys a


def split_table(fmt: str) -> tuple[bool, str]:
    """(is_table, body) for a --format value: drop podman's "table" prefix and expand literal \\t and \\n
    (and, in a table, a space between the actions is a tab)."""
    stripped = fmt.lstrip()
    if stripped == "table" or (stripped.startswith("table") and stripped[5:6].isspace()):
        # as podman's: a space of a table's text separates columns, as a tab does
        parts = re.split(r"({{.*?}})", _unescape(stripped[6:]), flags=re.S)
        return True, "".join(p if i % 2 else p.replace(" ", "\t") for i, p in enumerate(parts))
    return False, _unescape(fmt)


# podman splits header words like fatih/camelcase: an upper-case run hands its last letter to
# a following lower-case run, so "ImageID" is IMAGE ID and "CPUPerc" is CPU PERC
_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def header_for(body: str, overrides: Mapping[str, str] | None = None) -> str:
    """The header row for a table body: each action becomes its field's name in words (or an override)."""
    over = dict(overrides or {})
    out: list[str] = []
    for item in _lex(body):
        if isinstance(item, str):
            out.append(item)
        elif item.toks and item.toks[0].kind != "kw":  # control actions contribute no column
            name = next((n for t in item.toks if t.kind in ("field", "var")
                         and "." in t.text and (n := t.text.rpartition(".")[2])), None)
            if name is not None:
                key = fold_key(over, name)
                out.append(over[key] if key is not None else " ".join(_WORD_RE.findall(name)).upper())
    return "".join(out)
