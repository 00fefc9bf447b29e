"""build's option parsers: RUN --mount, --build-arg(-file), --secret, --network; the cache key;
the content digest of COPY sources and its stat() memo."""

import os

import pytest

from podpy.imagebuild.cache import step_key
from podpy.imagebuild.context import Context
from podpy.imagebuild.executor import parse_build_args, parse_network, parse_secrets
from podpy.imagebuild.ignore import Matcher
from podpy.imagebuild.run import parse_mount
from podpy.errors import InvalidArgument


def test_parse_mount():
    m = parse_mount("type=cache,target=cache,id=pip,sharing=locked,mode=0700,uid=5,gid=6", "/app")
    assert (m.type, m.target, m.id, m.sharing, m.mode, m.uid, m.gid) == ("cache", "/app/cache", "pip", "locked",
                                                                         0o700, 5, 6)
    m = parse_mount("source=src,dst=/s,rw", "/")
    assert (m.type, m.source, m.target, m.readonly) == ("bind", "src", "/s", False)
    m = parse_mount("type=secret,id=tok", "/")
    assert (m.target, m.required) == ("/run/secrets/tok", False)
    m = parse_mount("type=secret,id=tok,env=TOKEN,required", "/")
    assert (m.target, m.env, m.required) == ("", "TOKEN", True)
    m = parse_mount("type=tmpfs,target=/t,size=10m", "/")
    assert m.size == "10m"
    m = parse_mount("type=ssh", "/")
    assert (m.id, m.target, m.required) == ("default", "", False)   # the step numbers the target
    m = parse_mount("type=ssh,id=gh,target=/agent,required=true", "/")
    assert (m.id, m.target, m.required) == ("gh", "/agent", True)


@pytest.mark.parametrize("value,message", [
    ("type=nfs,target=/x", "unknown type"),
    ("type=cache", "the target is missing"),
    ("type=cache,target=/c,bogus=1", "unknown option 'bogus'"),
    ("type=cache,target=/c,mode=9", "mode is octal"),
    ("type=cache,target=/c,sharing=some", "invalid sharing"),
    ("type=secret", "needs an id or a target"),
])
def test_parse_mount_errors(value, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_mount(value, "/")


def test_build_args(tmp_path, monkeypatch):
    f = tmp_path / "args"
    f.write_text("# comment\n\nA=1\nB=from-file\n")
    monkeypatch.setenv("FROM_ENV", "env-value")
    assert parse_build_args(["B=flag", "FROM_ENV", "UNSET_IN_ENV", "E="], [str(f)]) == {
        "A": "1", "B": "flag", "FROM_ENV": "env-value", "E": ""}
    with pytest.raises(InvalidArgument, match="--build-arg-file"):
        parse_build_args([], [str(tmp_path / "missing")])
    with pytest.raises(InvalidArgument, match="KEY=VALUE"):
        parse_build_args(["=x"], [])


def test_secrets(tmp_path, monkeypatch):
    f = tmp_path / "s"
    f.write_text("file secret")
    monkeypatch.setenv("TOKEN", "env secret")
    got = parse_secrets([f"id=a,src={f}", "id=b,env=TOKEN", "id=TOKEN"])
    assert {k: v.read() for k, v in got.items()} == {"a": b"file secret", "b": b"env secret",
                                                    "TOKEN": b"env secret"}
    for bad, message in (("src=x", "expected id="), (f"id=a,src={tmp_path}/nope", "cannot read"),
                         ("id=a,env=NOPE_NOT_SET", "no variable")):
        with pytest.raises(InvalidArgument, match=message):
            parse_secrets([bad])


def test_network():
    assert parse_network(None) == parse_network("private") == "slirp4netns"
    assert parse_network("none") == "none" and parse_network("host") == "host"
    with pytest.raises(InvalidArgument):
        parse_network("container:x")


def test_step_keys_chain():
    a = step_key("base", "RUN x")
    assert a == step_key("base", "RUN x") != step_key("base", "RUN y") != step_key("other", "RUN x")
    assert step_key(a, "COPY", "d1") != step_key(a, "COPY", "d2")


class Memo:
    def __init__(self):
        self.data = {}
        self.puts = 0

    def get(self, sig):
        return self.data.get(sig)

    def put(self, sig, digest, newest_ctime_ns):
        self.data[sig] = digest
        self.puts += 1


def test_content_digest_ignores_times_and_sees_content(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("one")
    (tmp_path / "d" / "skip.log").write_text("x")
    ctx = Context(str(tmp_path), Matcher(["**/*.log"]))
    tops = ctx.sources("d", "COPY")
    first = ctx.digest(tops)
    os.utime(tmp_path / "d" / "f", (1, 1))
    assert ctx.digest(tops) == first
    (tmp_path / "d" / "skip.log").write_text("ignored files do not count")
    assert ctx.digest(tops) == first
    (tmp_path / "d" / "f").write_text("two")
    assert ctx.digest(tops) != first
    os.chmod(tmp_path / "d" / "f", 0o600)
    before = ctx.digest(tops)
    os.chmod(tmp_path / "d" / "f", 0o644)
    assert ctx.digest(tops) != before


def test_digest_memo_is_keyed_by_stat(tmp_path):
    (tmp_path / "f").write_text("one")
    memo = Memo()
    ctx = Context(str(tmp_path), Matcher([]), memo)
    tops = ctx.sources("f", "COPY")
    plain = Context(str(tmp_path), Matcher([])).digest(tops)
    assert ctx.digest(tops) == plain and memo.puts == 1
    assert ctx.digest(tops) == plain and memo.puts == 1     # found by its stat()
    (tmp_path / "f").write_text("two")
    changed = ctx.digest(tops)
    assert changed != plain and changed == Context(str(tmp_path), Matcher([])).digest(tops)


def test_sources_globs_and_errors(tmp_path):
    for name in ("a.txt", "b.txt", "c.md"):
        (tmp_path / name).write_text(name)
    ctx = Context(str(tmp_path), Matcher(["c.md"]))
    assert sorted(t.name for t in ctx.sources("*.txt", "COPY")) == ["a.txt", "b.txt"]
    assert [t.name for t in ctx.sources("/a.txt", "COPY")] == ["a.txt"]
    with pytest.raises(InvalidArgument, match="outside the build context"):
        ctx.sources("../x", "COPY")
    with pytest.raises(InvalidArgument, match="no such file"):
        ctx.sources("c.md", "COPY")
    with pytest.raises(InvalidArgument, match="no such file"):
        ctx.sources("*.none", "COPY")
    os.symlink("/etc/passwd", tmp_path / "escape")
    with pytest.raises(InvalidArgument, match="no such file"):
        ctx.sources("escape", "COPY")    # resolved inside the context: there is no etc/passwd here


class _Given:
    """A click context whose get_parameter_source says which flags the command line gave."""

    def __init__(self, *names):
        self.names = names

    def get_parameter_source(self, name):
        from click.core import ParameterSource

        return ParameterSource.COMMANDLINE if name in self.names else ParameterSource.DEFAULT


def test_pull_flags_layers_and_squash_as_podman(monkeypatch):
    import warnings

    with warnings.catch_warnings():   # typer imports a name newer clicks deprecate
        warnings.simplefilter("ignore", DeprecationWarning)
        from podpy.cli.build import _pull_and_layers

    monkeypatch.delenv("BUILDAH_LAYERS", raising=False)
    assert _pull_and_layers(_Given("pull_never"), None, False, True, True) == ("never", True)
    assert _pull_and_layers(_Given("pull_always"), None, True, False, True) == ("always", True)
    assert _pull_and_layers(_Given("pull_never"), None, False, False, True) == (None, True)   # =false
    for given in (("pull", "pull_never"), ("pull_always", "pull_never"), ("pull", "pull_always")):
        with pytest.raises(InvalidArgument, match="^can only set one of 'pull' or 'pull-always' or 'pull-never'$"):
            _pull_and_layers(_Given(*given), "always", False, False, True)
    for given in (("squash", "layers"), ("squash", "squash_all")):
        with pytest.raises(InvalidArgument, match="^cannot specify --squash with --layers and --squash-all with "
                                                  "--squash$"):
            _pull_and_layers(_Given(*given), None, False, False, True)
    assert _pull_and_layers(_Given("squash_all", "layers"), None, False, False, True) == (None, True)
    # BUILDAH_LAYERS: a Go boolean, unless --layers is given
    for value, layers in (("false", False), ("0", False), ("F", False), ("true", True), ("garbage", True)):
        monkeypatch.setenv("BUILDAH_LAYERS", value)
        assert _pull_and_layers(_Given(), None, False, False, True) == (None, layers)
    monkeypatch.setenv("BUILDAH_LAYERS", "false")
    assert _pull_and_layers(_Given("layers"), None, False, False, True) == (None, True)
