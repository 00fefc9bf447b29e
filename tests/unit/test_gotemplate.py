"""Unit tests for podpy.cli.gotemplate, the Go text/template engine behind --format."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from podpy.cli.gotemplate import Template, TemplateError, header_for, parse, render, split_table

CONTAINER: dict[str, Any] = {
    "ID": "3f2a1b4c5d6e7f8091a2b3c4d5e6f708",
    "Names": ["web", "frontend"],
    "Image": "docker.io/library/nginx:latest",
    "State": "running",
    "Status": "Up 2 hours",
    "Labels": {"b": "2", "a": "1"},
    "Ports": [],
    "Pid": 4242,
    "CPU": 1.5,
    "Exited": False,
    "Pod": None,
    "Config": {"Hostname": "web01", "Env": ["A=1", "B=2"]},
}


def r(text: str, data: object = CONTAINER) -> str:
    return render(text, data)


def err(text: str, data: object = CONTAINER) -> str:
    with pytest.raises(TemplateError) as info:
        render(text, data)
    return str(info.value)


# ---- podman-style formats -------------------------------------------------

@pytest.mark.parametrize(("fmt", "want"), [
    ("{{.ID}} {{.Names}} {{.Status}}", "3f2a1b4c5d6e7f8091a2b3c4d5e6f708 [web frontend] Up 2 hours"),
    ("{{range .Names}}{{.}},{{end}}", "web,frontend,"),
    ('{{index .Labels "a"}}', "1"),
    ('{{if eq .State "running"}}up{{else}}down{{end}}', "up"),
    ("{{truncate .ID 12}}", "3f2a1b4c5d6e"),
    ('{{.Names | join ","}}', "web,frontend"),
    ('{{join .Names ", "}}', "web, frontend"),
    ("{{.Config.Hostname}}", "web01"),
    ("{{.Pid}}", "4242"),
    ("{{.Exited}}", "false"),
    ("{{.Labels}}", "map[a:1 b:2]"),
    ("{{.Ports}}", "[]"),
])
def test_podman_examples(fmt: str, want: str) -> None:
    assert r(fmt) == want


def test_json_of_root_is_compact_and_keeps_dict_order() -> None:
    data = {"Id": "abc", "Names": ["a", "b"], "Labels": {"z": "1", "a": "2"}, "Size": 10, "Ratio": 0.5,
            "Up": True, "Pod": None}
    assert r("{{json .}}", data) == (
        '{"Id":"abc","Names":["a","b"],"Labels":{"z":"1","a":"2"},"Size":10,"Ratio":0.5,"Up":true,"Pod":null}')


@pytest.mark.parametrize(("value", "want"), [
    ("a<b>&c", '"a<b>&c"'),  # podman turns Go's HTML escaping off
    ("tab\tnew\nline", '"tab\\tnew\\nline"'),
    ("é", '"é"'),
    ("\u2028", '"\\u2028"'),
    (1.0, "1"),
    (1e21, "1e+21"),
    (1e-7, "1e-7"),
    (123456789.0, "123456789"),
    ([], "[]"),
    ({}, "{}"),
    (None, "null"),
    (b"hi", '"aGk="'),
])
def test_json_values(value: object, want: str) -> None:
    assert r("{{json .}}", value) == want


def test_json_of_dataclass_uses_field_order() -> None:
    @dataclasses.dataclass
    class Mount:
        Source: str
        ReadOnly: bool

    assert r("{{json .}}", Mount("/src", True)) == '{"Source":"/src","ReadOnly":true}'


# ---- data model -----------------------------------------------------------

@dataclasses.dataclass
class Port:
    host_port: int
    protocol: str

    def Describe(self, sep: str = "/") -> str:  # noqa: N802 - Go-style method name
        return f"{self.host_port}{sep}{self.protocol}"


@dataclasses.dataclass
class Ctr:
    ID: str
    Ports: list[Port]
    Extra: dict[str, Any]


CTR = Ctr("abc", [Port(80, "tcp"), Port(53, "udp")], {"Key": "v"})


def test_attribute_lookup_on_dataclasses() -> None:
    assert r("{{.ID}}", CTR) == "abc"
    assert r("{{range .Ports}}{{.HostPort}}/{{.Protocol}} {{end}}", CTR) == "80/tcp 53/udp "
    assert r("{{.Extra.Key}}", CTR) == "v"


def test_methods_are_called_with_arguments_and_piped_value() -> None:
    assert r("{{(index .Ports 0).Describe}}", CTR) == "80/tcp"
    assert r('{{(index .Ports 1).Describe ":"}}', CTR) == "53:udp"
    assert r('{{with index .Ports 0}}{{"-" | .Describe}}{{end}}', CTR) == "80-tcp"


def test_dict_lookup_is_case_insensitive_after_exact_match() -> None:
    assert r("{{.Id}} {{.id}} {{.ID}}", {"ID": "x"}) == "x x x"
    assert r("{{.Id}}", {"ID": "upper", "Id": "exact"}) == "exact"


def test_dataclass_prints_like_a_go_struct() -> None:
    assert r("{{.}}", Port(80, "tcp")) == "{80 tcp}"


def test_dot_and_nested_fields() -> None:
    assert r("{{.}}", "plain") == "plain"
    assert r("{{.A.B.C}}", {"A": {"B": {"C": 7}}}) == "7"
    assert r("{{with .Config}}{{.Hostname}} {{len .Env}}{{end}}") == "web01 2"


@pytest.mark.parametrize(("value", "want"), [
    ("s", "s"), (3, "3"), (-2, "-2"), (True, "true"), (None, "<no value>"),
    (["a", "b"], "[a b]"), ([1, [2, 3]], "[1 [2 3]]"), ({"b": 2, "a": 1}, "map[a:1 b:2]"),
    ([None], "[<nil>]"), ({}, "map[]"),
    (1.5, "1.5"), (2.0, "2"), (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (-0.5, "-0.5"), (float("inf"), "+Inf"), (float("nan"), "NaN"),
])
def test_default_printing(value: object, want: str) -> None:
    assert r("{{.}}", value) == want


def test_missing_field_is_an_error() -> None:
    assert err("{{.Nope}}") == 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope'


def test_missing_nested_field_reports_its_line_and_column() -> None:
    msg = err("ok\n  {{.Config.Nope}}")
    assert msg == 'template: :2:4: executing "" at <.Config.Nope>: can\'t evaluate field Nope'


def test_a_missing_key_of_a_map_is_no_value_as_in_go() -> None:
    """`.Labels.x` of an object without label x (or without labels): Go's index of a missing
    map key, `<no value>` and false in `if`; a struct's missing field is still an error."""
    rows = [{"Names": "a", "Labels": {"x": "1"}, "Config": {"Labels": None}}, {"Names": "b", "Labels": {}}]
    assert [render("{{.Names}} {{.Labels.x}}", r) for r in rows] == ["a 1", "b <no value>"]
    assert [render("{{if .Labels.x}}has{{else}}no{{end}}", r) for r in rows] == ["has", "no"]
    assert render("{{.Config.Labels.x}}", rows[0]) == "<no value>"
    assert "can't evaluate field Nope" in err("{{.Config.Nope}}")


def test_a_null_list_field_is_a_nil_slice_as_in_go() -> None:
    """podman's list fields that are null (`Config.Cmd` of a container without one): Go's nil
    slice, `[]` printed, false in `if`, nothing to `range`, `null` to `json`."""
    doc = {"Config": {"Cmd": None, "Entrypoint": ["/bin/sh"]}, "Other": None}
    assert render("{{.Config.Cmd}} {{.Config.Entrypoint}} {{json .Config.Cmd}} {{len .Config.Cmd}}", doc) == \
        "[] [/bin/sh] null 0"
    assert render("{{if .Config.Cmd}}has{{else}}none{{end}}{{range .Config.Cmd}}x{{end}}", doc) == "none"
    assert render("{{.Other}}", doc) == "<no value>"   # a field not known as a list: as before


def test_field_of_nil_is_an_error() -> None:
    assert "nil pointer evaluating .Pod.Name" in err("{{.Pod.Name}}")


def test_field_on_a_string_is_an_error() -> None:
    assert "can't evaluate field Foo" in err("{{.ID.Foo}}")


def test_long_error_context_is_truncated_like_go() -> None:
    msg = err('{{printf "%s %s %s" .Nope .ID .ID}}')
    assert "at <.Nope>" in msg
    msg = err("{{index .Names 1 2 3 4 5 6 7 8 9}}")
    assert "at <index .Names 1 2 3 4...>" in msg


# ---- text, trim markers, comments ------------------------------------------

def test_plain_text_passes_through() -> None:
    assert r("no actions here { } }}", {}) == "no actions here { } }}"


def test_trim_markers() -> None:
    assert r("a  \n {{- .Pid -}} \n  b") == "a4242b"
    assert r("a {{- .Pid}} b") == "a4242 b"
    assert r("a {{.Pid -}} b") == "a 4242b"


def test_minus_without_space_is_a_number_not_a_trim_marker() -> None:
    assert r("a {{-3}} b") == "a -3 b"


def test_comments() -> None:
    assert r("a{{/* ignored {{.Nope}} */}}b") == "ab"
    assert r("a \n{{- /* trimmed */ -}}\n b") == "ab"


def test_comment_errors() -> None:
    assert err("{{/* open") == "template: :1:0: unclosed comment"
    assert err("{{/* x */ .ID}}") == "template: :1:0: comment ends before closing delimiter"


def test_multiline_action() -> None:
    assert r("{{if\n.Pid}}yes{{end}}") == "yes"


# ---- literals ---------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "want"), [
    ('{{"a\\tb"}}', "a\tb"),
    ('{{"\\u00e9\\x41\\101\\"q\\""}}', 'éAA"q"'),
    ("{{`raw \\n {{ stays`}}", "raw \\n {{ stays"),
    ("{{42}}", "42"),
    ("{{-7}}", "-7"),
    ("{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", "31 15 15 5 1000"),
    ("{{1.5}} {{1e3}} {{.5}}", "1.5 1000 0.5"),
    ("{{true}} {{false}}", "true false"),
    ("{{'a'}}", "97"),
    ('{{print nil}}', "<nil>"),
])
def test_literals(fmt: str, want: str) -> None:
    assert r(fmt) == want


# ---- variables --------------------------------------------------------------

def test_variables() -> None:
    assert r("{{$x := .Pid}}{{$x}}") == "4242"
    assert r("{{$x := 1}}{{$x = 2}}{{$x}}") == "2"
    assert r("{{$.State}}") == "running"
    assert r("{{$c := .Config}}{{$c.Hostname}}") == "web01"
    assert r("{{range .Names}}{{$.State}}:{{.}} {{end}}") == "running:web running:frontend "


def test_variable_declared_in_block_is_scoped_to_it() -> None:
    with pytest.raises(TemplateError, match=r'undefined variable "\$x"'):
        parse("{{if true}}{{$x := 1}}{{end}}{{$x}}")


def test_assignment_inside_range_updates_outer_variable() -> None:
    assert r("{{$n := 0}}{{range .Names}}{{$n = .}}{{end}}{{$n}}") == "frontend"


def test_undefined_variable_is_a_parse_error() -> None:
    assert err("{{$nope}}") == 'template: :1:2: undefined variable "$nope"'
    assert err("{{$nope = 1}}") == 'template: :1:2: undefined variable "$nope"'


# ---- control structures -----------------------------------------------------

@pytest.mark.parametrize(("fmt", "want"), [
    ("{{if .Pid}}y{{end}}", "y"),
    ("{{if .Pod}}y{{else}}n{{end}}", "n"),
    ("{{if .Ports}}y{{else}}n{{end}}", "n"),
    ('{{if ""}}y{{else}}n{{end}}', "n"),
    ("{{if 0}}y{{else}}n{{end}}", "n"),
    ("{{if 0.0}}y{{else}}n{{end}}", "n"),
    ("{{if .Labels}}y{{else}}n{{end}}", "y"),
    ("{{if .Exited}}a{{else if .Pod}}b{{else if .Pid}}c{{else}}d{{end}}", "c"),
    ("{{if .Exited}}a{{else if .Pod}}b{{else}}d{{end}}", "d"),
    ("{{if not .Exited}}alive{{end}}", "alive"),
    ("{{if and .Pid .State}}both{{end}}", "both"),
    ("{{if or .Pod .Exited}}any{{else}}none{{end}}", "none"),
    ("{{if $x := .Pid}}{{$x}}{{end}}", "4242"),
])
def test_if(fmt: str, want: str) -> None:
    assert r(fmt) == want


def test_range_forms() -> None:
    assert r("{{range $i, $e := .Names}}{{$i}}={{$e}};{{end}}") == "0=web;1=frontend;"
    assert r("{{range $e := .Names}}<{{$e}}>{{end}}") == "<web><frontend>"
    assert r("{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}") == "a=1 b=2 "
    assert r("{{range .Labels}}{{.}}{{end}}") == "12"
    assert r("{{range .Ports}}x{{else}}no ports{{end}}") == "no ports"
    assert r("{{range .Pod}}x{{else}}nil{{end}}") == "nil"
    assert r("{{range 3}}{{.}}{{end}}") == "012"
    assert r("{{range .}}{{.}}{{end}}", ("t", "u")) == "tu"


def test_range_break_and_continue() -> None:
    data = {"L": [1, 2, 3, 4, 5]}
    assert r("{{range .L}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", data) == "12"
    assert r("{{range .L}}{{if eq . 3}}{{continue}}{{end}}{{.}}{{end}}", data) == "1245"
    assert r("{{range .L}}{{range .}}{{end}}{{end}}", {"L": [[1], [2]]}) == ""


def test_range_over_a_string_is_an_error() -> None:
    assert "range can't iterate over running" in err("{{range .State}}{{end}}")


def test_with() -> None:
    assert r("{{with .Config}}{{.Hostname}}{{end}}") == "web01"
    assert r("{{with .Pod}}{{.}}{{else}}no pod{{end}}") == "no pod"
    assert r("{{with $h := .Config.Hostname}}{{$h}}{{end}}") == "web01"
    assert r("{{with .Pod}}a{{else with .State}}{{.}}{{end}}") == "running"


def test_nested_control() -> None:
    fmt = "{{range .Names}}{{if eq . \"web\"}}[{{.}}]{{else}}{{.}}{{end}}{{end}}"
    assert r(fmt) == "[web]frontend"


# ---- pipelines and parentheses ----------------------------------------------

def test_pipelines() -> None:
    assert r('{{.State | printf "%s!"}}') == "running!"
    assert r('{{.State | upper | printf "<%s>"}}') == "<RUNNING>"
    assert r("{{.ID | truncate 4}}") == "3f2a"
    assert r('{{"a,b" | split "," | len}}') == "1"  # piped value is the last argument: split "," "a,b"
    assert r("{{(index .Names 1) | upper}}") == "FRONTEND"
    assert r("{{len (index .Config.Env 0)}}") == "3"
    assert r("{{(index .Config.Env 0)}}") == "A=1"


def test_field_on_parenthesized_value() -> None:
    assert r('{{(index .Labels "a")}}') == "1"
    assert r("{{(.Config).Hostname}}") == "web01"


# ---- functions ----------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "want"), [
    ('{{upper "abc"}} {{lower "ABC"}}', "ABC abc"),
    ('{{title "hello wORLD foo-bar"}}', "Hello WORLD Foo-Bar"),
    ('{{split "a,b,c" ","}}', "[a b c]"),
    ('{{index (split "a:b" ":") 1}}', "b"),
    ('{{split "ab" ""}}', "[a b]"),
    ('{{contains .Image "nginx"}} {{contains .Image "redis"}}', "true false"),
    ('{{replace .Image "docker.io/library/" ""}}', "nginx:latest"),
    ("{{truncate .ID 0}}|{{truncate \"ab\" 10}}", "|ab"),
    ("{{len .Names}} {{len .Labels}} {{len .State}} {{len \"é\"}}", "2 2 7 2"),
    ('{{index .Config "Env" 1}}', "B=2"),
    ("{{index .Names 0}}", "web"),
    ('{{index .Labels "missing"}}', ""),
    ('{{index .Config "missing"}}', "<no value>"),
    ('{{slice .State 1 4}} {{slice .State 4}} {{slice .Names 1}}', "unn ing [frontend]"),
    ('{{eq .State "exited" "running"}}', "true"),
    ('{{eq .State "exited" "paused"}}', "false"),
    ("{{eq .Pid 4242}} {{ne .Pid 1}} {{eq .CPU 1.5}} {{eq .Pid 4242.0}}", "true true true true"),
    ("{{eq .Pod nil}} {{eq .State nil}}", "true false"),
    ("{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 3 2}} {{lt \"a\" \"b\"}}", "true true false true true"),
    ("{{and 1 0 2}} {{and 1 2}} {{or 0 \"\"}} {{or 0 3}}", "0 2  3"),
    ("{{not 0}} {{not .Names}}", "true false"),
    ('{{print "a" "b" 1 2 true}}', "ab1 2 true"),
    ('{{println "a" 1}}', "a 1\n"),
    ("{{print .Names .Pod}}", "[web frontend] <nil>"),
])
def test_functions(fmt: str, want: str) -> None:
    assert r(fmt) == want


def test_and_or_short_circuit() -> None:
    # the second operand would fail if evaluated
    assert r("{{and .Pod .Pod.Name}}") == "<no value>"
    assert r("{{or .State .Pod.Name}}") == "running"


@pytest.mark.parametrize(("fmt", "want"), [
    ('{{printf "%s|%d|%v|%t" "s" 5 .Names true}}', "s|5|[web frontend]|true"),
    ('{{printf "%5s|%-5s|%05d|%+d|%x|%X|%o|%b" "ab" "ab" 42 42 255 255 8 5}}', "   ab|ab   |00042|+42|ff|FF|10|101"),
    ('{{printf "%.2f|%8.3f|%e|%g|%v" 3.14159 2.5 1500.0 0.5 2.0}}', "3.14|   2.500|1.500000e+03|0.5|2"),
    ('{{printf "%q|%q" "hi\\n" .Names}}', '"hi\\n"|["web" "frontend"]'),
    ('{{printf "%x" "hi"}}', "6869"),
    ('{{printf "%v|%v" .Pod .Labels}}', "<nil>|map[a:1 b:2]"),
    ('{{printf "%d%%" 50}}', "50%"),
    ('{{printf "%.3s" "abcdef"}}', "abc"),
    ('{{printf "%c|%U" 65 65}}', "A|U+0041"),
    ('{{printf "%T %T %T" 1 "s" .Names}}', "int string []interface {}"),
    ('{{printf "%d" "x"}}', "%!d(string=x)"),
    ('{{printf "%s"}}', "%!s(MISSING)"),
    ('{{printf "x" 1}}', "x%!(EXTRA int=1)"),
    ('{{printf "%d" .Names}}', "[%!d(string=web) %!d(string=frontend)]"),
    ('{{printf "%#x" 255}}', "0xff"),
    ('{{printf "%6.2f|%-6d|" -1.5 7}}', " -1.50|7     |"),
])
def test_printf(fmt: str, want: str) -> None:
    assert r(fmt) == want


def test_bare_function_as_argument_is_called() -> None:
    assert r("{{print (print)}}|") == "|"


# ---- errors --------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "want"), [
    ("{{foo}}", 'template: :1:2: function "foo" not defined'),
    ("{{.ID | foo}}", 'template: :1:8: function "foo" not defined'),
    ("x\n{{.ID | nope 1}}", 'template: :2:8: function "nope" not defined'),
    ("{{.ID", "template: :1:0: unclosed action"),
    ("{{if .ID}}x", "template: :1:11: unexpected EOF"),
    ("{{end}}", "template: :1:0: unexpected {{end}}"),
    ("{{else}}", "template: :1:0: unexpected {{else}}"),
    ("{{if 1}}{{else}}{{else}}{{end}}", "template: :1:16: expected end; found {{else}}"),
    ('{{"abc}}', "template: :1:2: unterminated quoted string"),
    ("{{`abc}}", "template: :1:2: unterminated raw quoted string"),
    ("{{}}", "template: :1:2: missing value for command"),
    ("{{if}}{{end}}", "template: :1:4: missing value for if"),
    ("{{.ID | }}", "template: :1:8: missing value for command"),
    ("{{(.ID}}", "template: :1:2: unclosed left paren"),
    ("{{.ID)}}", 'template: :1:5: unexpected ")" in command'),
    ("{{break}}", "template: :1:2: {{break}} outside {{range}}"),
    ("{{continue}}", "template: :1:2: {{continue}} outside {{range}}"),
    ("{{range .L}}{{else}}{{break}}{{end}}", "template: :1:22: {{break}} outside {{range}}"),
    ("{{if 1}}{{end 1}}", 'template: :1:14: unexpected "1" in end'),
    ("{{range .L}}{{else if .X}}{{end}}", 'template: :1:19: unexpected "if" in else'),
    ("{{#}}", "template: :1:2: unexpected bad character U+0023 '#' in command"),
    ("{{3x}}", 'template: :1:2: bad number syntax: "3x"'),
    ('{{"\\q"}}', "template: :1:2: invalid escape sequence \\q in quoted string"),
    ("{{$a, $b := 1}}", "template: :1:2: too many declarations in command"),
    ('{{define "x"}}{{end}}', "template: :1:2: {{define}} is not supported"),
])
def test_parse_errors(fmt: str, want: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse(fmt)
    assert str(info.value) == want


@pytest.mark.parametrize(("fmt", "want"), [
    ("{{index .Names 5}}", 'at <index .Names 5>: error calling index: index out of range: 5'),
    ('{{index .Names "x"}}', "error calling index: cannot index slice/array with type string"),
    ("{{upper .Pid}}", "at <upper .Pid>: wrong type for value; expected string; got int"),
    ("{{len}}", "wrong number of args for len: want 1 got 0"),
    ("{{eq .State}}", "error calling eq: missing argument for comparison"),
    ("{{and}}", "wrong number of args for and: want at least 1 got 0"),
    ('{{eq .Pid "4242"}}', "error calling eq: incompatible types for comparison"),
    ("{{lt true false}}", "error calling lt: invalid type for comparison"),
    ("{{len .Pid}}", "error calling len: len of type int"),
    ('{{.ID "x"}}', "ID has arguments but cannot be invoked as function"),
    ('{{"x" 1}}', 'can\'t give argument to non-function "x"'),
    ("{{nil}}", "nil is not a command"),
    ("{{slice .State 3 1}}", "error calling slice: invalid slice index: 3 > 1"),
    ("{{json .CPU}}", ""),
])
def test_execution_errors(fmt: str, want: str) -> None:
    if fmt == "{{json .CPU}}":
        assert err(fmt, {"CPU": float("nan")}).endswith("error calling json: json: unsupported value: NaN")
        return
    msg = err(fmt)
    assert msg.startswith("template: :1:")
    assert want in msg


def test_method_exception_becomes_template_error() -> None:
    class Boom:
        def Fail(self) -> str:  # noqa: N802 - Go-style method name
            raise RuntimeError("kaboom")

    assert err("{{.Fail}}", Boom()).endswith("error calling Fail: kaboom")


# ---- parse/execute API ------------------------------------------------------------

def test_parse_is_cached_and_reusable() -> None:
    tmpl = parse("{{.ID}}")
    assert isinstance(tmpl, Template)
    assert parse("{{.ID}}") is tmpl
    assert tmpl.execute({"ID": "a"}) == "a"
    assert tmpl.execute({"ID": "b"}) == "b"


def test_execution_state_does_not_leak_between_runs() -> None:
    tmpl = parse("{{$x := .A}}{{range .L}}{{$x = .}}{{end}}{{$x}}")
    assert tmpl.execute({"A": 1, "L": [2, 3]}) == "3"
    assert tmpl.execute({"A": 1, "L": []}) == "1"


# ---- table helpers ------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "want"), [
    ("table {{.ID}}\\t{{.Names}}", (True, "{{.ID}}\t{{.Names}}")),
    ("table {{.ID}}\t{{.Names}}", (True, "{{.ID}}\t{{.Names}}")),
    ("table", (True, "")),
    ("  table {{.ID}}", (True, "{{.ID}}")),
    ("{{.ID}}\\n", (False, "{{.ID}}\n")),
    ("{{.ID}} {{.Names}}", (False, "{{.ID}} {{.Names}}")),
    ("tablespoon {{.ID}}", (False, "tablespoon {{.ID}}")),
    ('table {{printf "%s\\n" .ID}}\\t', (True, '{{printf "%s\\n" .ID}}\t')),
    # a table's spaces separate columns, as podman's do; a space inside an action stays
    ("table {{.Repository}} {{.Tag}} {{.ID}}", (True, "{{.Repository}}\t{{.Tag}}\t{{.ID}}")),
    ('table {{.A}}:{{.B}} lit eral {{join .C " "}}', (True, '{{.A}}:{{.B}}\tlit\teral\t{{join .C " "}}')),
])
def test_split_table(fmt: str, want: tuple[bool, str]) -> None:
    assert split_table(fmt) == want


def test_header_for() -> None:
    assert header_for("{{.ID}}\t{{.Names}}") == "ID\tNAMES"
    assert header_for("{{.CreatedAt}}\t{{.ImageID}}\t{{.CPUPerc}}") == "CREATED AT\tIMAGE ID\tCPU PERC"
    assert header_for("{{.ID}}\t{{.Names}}", {"ID": "CONTAINER ID"}) == "CONTAINER ID\tNAMES"
    assert header_for("{{.Id}}", {"ID": "CONTAINER ID"}) == "CONTAINER ID"
    assert header_for("{{.Config.Hostname | upper}} x") == "HOSTNAME x"
    assert header_for("{{- .ID}}  {{json .Labels}}") == "ID  LABELS"
    assert header_for("{{if .X}}{{.Name}}{{end}}") == "NAME"
    assert header_for("{{/* note */}}{{.Status}}") == "STATUS"


def test_table_round_trip() -> None:
    is_table, body = split_table("table {{.ID}}\\t{{.State}}")
    assert is_table
    assert header_for(body, {"ID": "CONTAINER ID"}) == "CONTAINER ID\tSTATE"
    assert render(body, {"ID": "abc", "State": "running"}) == "abc\trunning"


def test_an_image_configs_absent_fields_are_go_zero_values():
    from podpy.cli.views import inspect_view

    doc = inspect_view({"Id": "x", "RootFS": {"Type": "layers"}, "Config": {"Env": ["A=1"]}})
    out = render("{{json .Config.Volumes}}|{{.Config.Volumes}}|{{json .Config.Cmd}}|{{.Config.Cmd}}|"
                 "{{json .Config.Env}}|{{.Config.User}}|{{.Config.ArgsEscaped}}|{{len .Config.ExposedPorts}}", doc)
    assert out == 'null|map[]|null|[]|["A=1"]||false|0'
    # a container's document is left as it is
    assert inspect_view({"Config": {}, "State": {}}) == {"Config": {}, "State": {}}


def test_a_go_struct_prints_as_podmans_struct_and_stays_an_object_in_json():
    from podpy.formats import GoStruct
    from podpy.network.options import inspect_ports

    data = {"PortBindings": inspect_ports([{"host_ip": "", "host_port": 8080, "container_port": 80,
                                            "protocol": "tcp"}], [])}
    assert render("{{.PortBindings}}", data) == "map[80/tcp:[{ 8080}]]"
    assert render("{{json .PortBindings}}", data) == '{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}'
    assert render("{{range .}}{{.HostPort}}{{end}}", [GoStruct(HostIp="", HostPort="1")]) == "1"
