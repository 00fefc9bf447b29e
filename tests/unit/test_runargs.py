"""The run/create fast path: parsed from one option table, global flags before the command."""

from __future__ import annotations   # the declarations below are read as runoptions' are: as strings

import re

import pytest

from podpy.cli import runargs
from podpy.cli.main import split_globals
from podpy.engine.runoptions import ALL_OPTIONS, CREATE_OPTIONS, FLAG, KINDS, MULTI, OPTIONS, VALUE, CreateOptions
from podpy.errors import InvalidArgument


def test_options_end_at_the_image():
    f = runargs.parse("run", ["--rm", "-it", "-e", "A=1", "-eB=2", "--name=x", "img", "sh", "-c", "ls --rm -e"])
    assert f["remove"] and f["interactive"] and f["tty"] and f["name"] == "x"
    assert f["env"] == ["A=1", "B=2"] and f["image"] == "img"
    assert f["command"] == ["sh", "-c", "ls --rm -e"]
    assert runargs.parse("run", ["img", "--rm"])["command"] == ["--rm"]


def test_pflag_forms():
    f = runargs.parse("run", ["-itv/a:/b", "--rm=false", "-t=false", "-u=1:2", "--", "img", "x"])
    assert f["interactive"] and not f["tty"] and not f["remove"]
    assert f["volumes"] == ["/a:/b"] and f["user"] == "1:2"
    assert (f["image"], f["command"]) == ("img", ["x"])
    assert runargs.parse("run", ["--privileged=true", "img"])["privileged"] is True


def test_dash_h_is_hostname():
    assert runargs.parse("run", ["-h", "box", "img"])["hostname"] == "box"


def test_every_option_maps_to_a_create_field():
    from podpy.engine.runoptions import CreateOptions

    fields = runargs.parse("create", ["img"])
    CreateOptions(**fields)  # no unknown or missing field


def _value(o):
    return {FLAG: "true", VALUE: f"v-{o.dest}", MULTI: f"m-{o.dest}"}[o.kind]


def _expected(o):
    return {FLAG: True, VALUE: f"v-{o.dest}", MULTI: [f"m-{o.dest}"]}[o.kind]


@pytest.mark.parametrize("o", OPTIONS, ids=lambda o: o.dest)
def test_the_table_drives_the_parser(o):
    """Every flag of every declared option, in each form it can take, lands in its field."""
    for flag in o.flags:
        given = [f"{flag}={_value(o)}"] if o.kind == FLAG else [flag, _value(o)]
        forms = [given, [f"{flag}={_value(o)}"]]
        if len(flag) == 2 and o.kind != FLAG:
            forms.append([flag + _value(o)])           # -eVALUE
        if o.kind == FLAG:
            forms.append([flag])
        for form in forms:
            fields = runargs.parse("run", [*form, "img", "cmd"])
            assert fields == {o.dest: _expected(o), "image": "img", "command": ["cmd"]}, form
            opts = CreateOptions(**fields)
            assert getattr(opts, o.dest) == _expected(o)


def test_defaults_follow_the_declared_types():
    opts = CreateOptions(image="img")
    assert opts.command == [] and opts.create_command == []
    for o in OPTIONS:
        flag_default = o.default if o.kind == FLAG else None
        assert getattr(opts, o.dest) == {FLAG: flag_default, VALUE: None, MULTI: []}[o.kind], o.dest
        assert CreateOptions.FIELDS[o.dest] == {FLAG: flag_default, VALUE: None, MULTI: list}[o.kind]
    assert opts.sig_proxy is True and opts.remove is False   # a flag's declared default
    other = CreateOptions(image="img")
    other.env.append("A=1")
    assert opts.env == []   # a fresh list per instance
    with pytest.raises(TypeError, match="missing image"):
        CreateOptions()


def test_the_declarations_are_the_fields():
    """FIELDS is the class's annotations, in their order; the options are those with a flag."""
    assert list(CreateOptions.FIELDS) == list(CreateOptions.__annotations__)
    assert [o.dest for o in ALL_OPTIONS] == [f for f in CreateOptions.FIELDS
                                             if f not in ("image", "command", "create_command", "creds", "cert_dir",
                                                          "create_workdir")]
    # run's are all but create's own (--init-ctr), create's all but run's own (--rmi, ...)
    assert [o.dest for o in OPTIONS] == [o.dest for o in ALL_OPTIONS if not o.create_only] != \
        [o.dest for o in ALL_OPTIONS]
    assert [o.dest for o in CREATE_OPTIONS] == [o.dest for o in ALL_OPTIONS if not o.run_only]
    for o in ALL_OPTIONS:
        assert KINDS[CreateOptions.__annotations__[o.dest]][0] == o.kind
        assert o.help and all(f.startswith("-") for f in o.flags)
        assert bool(o.metavar) == (o.kind != FLAG), o.dest
    flags = [f for o in OPTIONS for f in o.flags]
    assert len(flags) == len(set(flags))
    assert not any(hasattr(CreateOptions, f) for f in CreateOptions.FIELDS)   # no class-level leftovers


def test_a_declaration_of_another_type_is_refused():
    from podpy.engine.runoptions import declared, field, option
    from podpy.record import Record

    class Bad(Record):
        image: str = field()
        count: int = option("--count", metavar="N", help="how many")

    message = "Bad.count: an option is one of bool, Optional[bool], Optional[str], list[str], not int"
    with pytest.raises(TypeError, match=re.escape(message)):
        declared(Bad)

    class Undeclared(Record):
        image: str

    with pytest.raises(TypeError, match="Undeclared.image: declare it with option"):
        declared(Undeclared)


def test_exec_table_matches_exec_options():
    """exec's table lives in the CLI: each row is a field of ExecOptions with the type its kind gives."""
    from podpy.engine.execute import ExecOptions

    types = {kind: annotation for annotation, (kind, _) in KINDS.items() if annotation != "Optional[bool]"}
    for o in runargs.EXEC_OPTIONS:
        assert ExecOptions.__annotations__[o.dest] == types[o.kind], o.dest
        assert ExecOptions.FIELDS[o.dest] == KINDS[types[o.kind]][1], o.dest


@pytest.mark.parametrize("args,msg", [
    (["--bogus", "img"], "unknown flag: --bogus"),
    ([], re.escape("requires at least 1 arg(s), only received 0")),   # podman's words
    (["--nam", "x", "img"], "unknown flag: --nam"),  # no abbreviations
    (["--name"], "flag needs an argument: --name"),
    (["-e"], "flag needs an argument: -e"),
    (["-x", "img"], "unknown shorthand flag: 'x' in -x"),
    (["--rm=maybe", "img"], "invalid argument 'maybe' for --rm"),
])
def test_errors(args, msg):
    with pytest.raises(InvalidArgument, match=msg):
        runargs.parse("run", args)


def test_help(capsys):
    assert runargs.parse("run", ["--help"]) is None
    out = capsys.readouterr().out
    assert "--hostname" in out and "--volume" in out


def test_split_globals():
    g, cmd, rest = split_globals(["--root", "/r", "--storage-driver=vfs", "run", "--rm", "x"])
    assert (g.root, g.storage_driver, cmd, rest) == ("/r", "vfs", "run", ["--rm", "x"])
    g, cmd, rest = split_globals(["--version"])
    assert g.version and cmd is None
    with pytest.raises(InvalidArgument, match="flag needs an argument: --root"):
        split_globals(["--root"])


def test_exec_options_end_at_the_container():
    f = runargs.parse("exec", ["-it", "-u", "tester", "-eA=1", "box", "sh", "-c", "ls -l"])
    assert f["interactive"] and f["tty"] and f["user"] == "tester" and f["env"] == ["A=1"]
    assert (f["container"], f["command"]) == ("box", ["sh", "-c", "ls -l"])
    from podpy.engine.execute import ExecOptions

    ExecOptions(**f)  # every option maps to a field
    with pytest.raises(InvalidArgument, match="exec requires the name or ID of a container or the --latest flag"):
        runargs.parse("exec", ["-i"])
    with pytest.raises(InvalidArgument, match="unknown flag: --rm"):
        runargs.parse("exec", ["--rm", "box", "true"])
