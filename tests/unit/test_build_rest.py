"""The pure parts of build's registry cache, its SSH flags, OCI hook files and matching, and a context on stdin."""

import json
import os

import pytest

from podpy.engine import hooks
from podpy.errors import InvalidArgument
from podpy.imagebuild.remote_cache import cache_repo
from podpy.imagebuild.ssh import parse_ssh


def test_cache_repo_takes_a_registry_repository():
    assert cache_repo("registry.example.com/team/cache", "--cache-to") == "registry.example.com/team/cache"
    assert cache_repo("127.0.0.1:5000/c", "--cache-from") == "127.0.0.1:5000/c"
    assert cache_repo(None, "--cache-to") is None


@pytest.mark.parametrize("value,message", [
    ("registry.example.com/c:tag", "without a tag"),
    ("cache", "name a repository of a registry"),
    ("localhost/cache", "name a repository of a registry"),
])
def test_cache_repo_refusals(value, message):
    with pytest.raises(InvalidArgument, match=message):
        cache_repo(value, "--cache-from")


def test_parse_ssh(tmp_path, monkeypatch):
    key = tmp_path / "id"
    key.write_text("k")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent")
    assert parse_ssh(["default", f"k={key},{key}"]) == {"default": [], "k": [str(key), str(key)]}
    monkeypatch.delenv("SSH_AUTH_SOCK")
    with pytest.raises(InvalidArgument, match="SSH_AUTH_SOCK is not set"):
        parse_ssh(["default"])
    with pytest.raises(InvalidArgument, match="missing"):
        parse_ssh([f"k={tmp_path}/missing"])
    with pytest.raises(InvalidArgument, match="expected default"):
        parse_ssh(["k="])


def hook(when, stages=("prestart",), **extra):
    return json.dumps({"version": "1.0.0", "hook": {"path": "/bin/true", **extra}, "when": when,
                       "stages": list(stages)})


def test_hook_matching_is_any_condition():
    h = hooks.parse(hook({"annotations": {"^org\\.x$": "on"}, "commands": ["/nginx$"]}), "h.json")
    assert h.matches({"org.x": "turned-on"}, "/bin/sh", False)      # patterns are searched, as podman's
    assert not h.matches({"org.xy": "on"}, "/bin/sh", False)
    assert h.matches({}, "/usr/sbin/nginx", False)
    assert not h.matches({}, "/usr/sbin/nginx-debug", False)
    assert hooks.parse(hook({"always": True}), "a").matches({}, "", False)
    b = hooks.parse(hook({"hasBindMounts": True}), "b")
    assert b.matches({}, "", True) and not b.matches({}, "", False)


@pytest.mark.parametrize("text,message", [
    ("{", "not JSON"),
    (json.dumps({"version": "0.1.0"}), "unknown version"),
    (hook({"always": True}, stages=()), "at least one stage"),
    (hook({"always": True}, stages=("later",)), "unknown stage"),
    (hook({}), "when must have"),
    (hook({"commands": ["("]}), "invalid pattern"),
    (hook({"always": True}, timeout=0), "timeout"),
    (json.dumps({"version": "1.0.0", "hook": {"path": "rel"}, "when": {"always": True}, "stages": ["poststop"]}),
     "absolute"),
])
def test_bad_hook_files(text, message):
    with pytest.raises(InvalidArgument, match=message):
        hooks.parse(text, "f.json")


def test_load_orders_by_name_and_later_directories_replace(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "20-x.json").write_text(hook({"always": True}, args=["from-a"]))
    (a / "10-y.json").write_text(hook({"always": True}))
    (b / "20-x.json").write_text(hook({"always": True}, args=["from-b"]))
    (b / "notes.txt").write_text("ignored")
    loaded = hooks.load([str(a), str(b)])
    assert [os.path.basename(h.name) for h in loaded] == ["10-y.json", "20-x.json"]
    assert loaded[1].args == ["from-b"]
    with pytest.raises(InvalidArgument, match="--hooks-dir"):
        hooks.load([str(tmp_path / "none")])


def test_for_spec_groups_by_stage_every_stage_included():
    h = hooks.parse(hook({"always": True}, stages=("prestart", "startContainer", "createContainer", "poststop"),
                         env=["A=1"], timeout=5), "h.json")
    warned = []
    out = hooks.for_spec([h], {"process": {"args": ["sh"]}}, False, warned.append)
    entry = {"path": "/bin/true", "args": ["/bin/true"], "env": ["A=1"], "timeout": 5}
    assert out == {"prestart": [entry], "startContainer": [entry], "createContainer": [entry], "poststop": [entry]}
    assert warned == []


def test_runtime_hooks_get_the_state_in_their_directory_and_a_failure_is_126(tmp_path):
    from rootless import hooks as oci_hooks
    from rootless.errors import SetupError

    out = tmp_path / "out"
    spec = {"ociVersion": "1.0.2", "annotations": {"a": "b"},
            oci_hooks.STATE_KEY: {"id": "cid", "bundle": "/b"},
            "hooks": {"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", f'pwd > {out}; cat >> {out}']}],
                      "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo why >&2; exit 3"]}]}}
    oci_hooks.run(spec, "createContainer", "creating", 1, cwd=str(tmp_path))
    where, state = out.read_text().split("\n", 1)
    assert where == str(tmp_path)
    assert json.loads(state) == {"ociVersion": "1.0.2", "id": "cid", "status": "creating", "pid": 1, "bundle": "/b",
                                 "annotations": {"a": "b"}}
    with pytest.raises(SetupError) as caught:
        oci_hooks.run(spec, "startContainer", "created", 1)
    assert caught.value.status == 126 and str(caught.value) == "OCI startContainer hook /bin/sh: exit status 3: why"


def test_an_agent_socket_counts_once_it_listens_not_when_its_file_appears(tmp_path):
    """ssh-agent's socket file exists from its bind(2), a moment before it listens: an ssh-add
    in between fails, so podpy's own agent is waited for until it accepts a connection."""
    import socket

    from podpy.imagebuild.ssh import _listening

    path = str(tmp_path / "agent.sock")
    assert not _listening(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(path)
        assert os.path.exists(path) and not _listening(path)
        s.listen(1)
        assert _listening(path)


def _with_stdin(data, fn):
    import tempfile

    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        saved = os.dup(0)
        os.dup2(f.fileno(), 0)
        try:
            return fn()
        finally:
            os.dup2(saved, 0)
            os.close(saved)


def test_the_context_on_stdin_is_a_tar_or_else_a_containerfile(tmp_path):
    import io
    import tarfile

    from podpy.imagebuild.context import unpack_stdin

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("f")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"data"))
    (tmp_path / "a").mkdir()
    _with_stdin(buf.getvalue(), lambda: unpack_stdin(str(tmp_path / "a"), str(tmp_path / "spool-a")))
    assert os.listdir(tmp_path / "a") == ["f"]
    (tmp_path / "b").mkdir()
    text = b"FROM busybox\nRUN true\n"
    _with_stdin(text, lambda: unpack_stdin(str(tmp_path / "b"), str(tmp_path / "spool-b")))
    assert os.listdir(tmp_path / "b") == ["Dockerfile"]
    assert (tmp_path / "b" / "Dockerfile").read_bytes() == text
    assert os.stat(tmp_path / "b" / "Dockerfile").st_mode & 0o777 == 0o600
