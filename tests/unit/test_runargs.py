"""The run/create fast path: parsed from one option table, global flags before the command."""

import pytest

from podpy.cli import runargs
from podpy.cli.main import split_globals
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
    from podpy.engine.create import CreateOptions

    fields = runargs.parse("create", ["img"])
    CreateOptions(**fields)  # no unknown or missing field


@pytest.mark.parametrize("args,msg", [
    (["--bogus", "img"], "unknown flag: --bogus"),
    ([], "requires an image"),
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
    assert split_globals(["--version"])[0] is None
    assert split_globals(["--root"])[0] is None


def test_exec_options_end_at_the_container():
    f = runargs.parse("exec", ["-it", "-u", "tester", "-eA=1", "box", "sh", "-c", "ls -l"])
    assert f["interactive"] and f["tty"] and f["user"] == "tester" and f["env"] == ["A=1"]
    assert (f["container"], f["command"]) == ("box", ["sh", "-c", "ls -l"])
    from podpy.engine.execute import ExecOptions

    ExecOptions(**f)  # every option maps to a field
    with pytest.raises(InvalidArgument, match="requires a container name or id"):
        runargs.parse("exec", ["-i"])
    with pytest.raises(InvalidArgument, match="unknown flag: --rm"):
        runargs.parse("exec", ["--rm", "box", "true"])
