"""Service URLs (`--url`, connections' URIs) and which service a remote command line means."""

import pytest

from podpy.errors import InvalidArgument
from podpy.remote import connections
from podpy.remote.url import Target, is_remote, parse, resolve, ssh_command, ssh_probe_command


@pytest.mark.parametrize("uri, scheme, path, host, port, user", [
    ("unix:///run/user/1000/podpy/podpy.sock", "unix", "/run/user/1000/podpy/podpy.sock", "", 0, ""),
    ("unix:/run/podman/podman.sock", "unix", "/run/podman/podman.sock", "", 0, ""),
    ("tcp://localhost:8080", "tcp", "", "localhost", 8080, ""),
    ("tcp://[::1]:8080/", "tcp", "", "::1", 8080, ""),
    ("ssh://core@example.com:2222/run/user/1000/podpy/podpy.sock", "ssh", "/run/user/1000/podpy/podpy.sock",
     "example.com", 2222, "core"),
    ("ssh://example.com/run/podman/podman.sock", "ssh", "/run/podman/podman.sock", "example.com", 22, ""),
    ("ssh://me@example.com", "ssh", "", "example.com", 22, "me"),
    ("ssh://me@[fe80::1]:2200/x.sock", "ssh", "/x.sock", "fe80::1", 2200, "me"),
])
def test_urls_parse_into_their_parts(uri, scheme, path, host, port, user):
    t = parse(uri)
    assert (t.scheme, t.path, t.host, t.port, t.user) == (scheme, path, host, port, user)


@pytest.mark.parametrize("uri, words", [
    ("unix://relative.sock", "absolute path"),
    ("tcp://localhost", "tcp://HOST:PORT"),
    ("tcp://localhost:99999", "invalid port"),
    ("tcp://localhost:80/path", "tcp://HOST:PORT"),
    ("ssh://host:port/x", "invalid port"),
    ("ssh://@:22/x", "no host"),
    ("ftp://host/x", "'ftp' is not a supported scheme"),
    ("/run/podpy.sock", "expected unix:///PATH"),
])
def test_bad_urls_are_refused_in_one_line(uri, words):
    with pytest.raises(InvalidArgument) as exc:
        parse(uri)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_a_url_is_written_back_as_podman_writes_it():
    assert parse("ssh://me@host/run/x.sock").uri() == "ssh://me@host:22/run/x.sock"
    assert parse("unix:/run/x.sock").uri() == "unix:///run/x.sock"
    assert parse("tcp://[::1]:80").uri() == "tcp://[::1]:80"


def test_remote_is_the_flags_or_podmans_variables():
    assert not is_remote(False, None, None, {})
    assert is_remote(True, None, None, {})
    assert is_remote(False, "unix:///x", None, {})
    assert is_remote(False, None, "name", {})
    assert is_remote(False, None, None, {"CONTAINER_HOST": "unix:///x"})
    assert is_remote(False, None, None, {"CONTAINER_CONNECTION": "name"})


@pytest.fixture
def conf(tmp_path):
    path = str(tmp_path / "containers.conf")
    connections.add("first", "unix:///first.sock", path=path)
    connections.add("keyed", "ssh://me@host:22/run/k.sock", "/keys/id", path=path)
    return path


def test_the_service_is_chosen_in_podmans_order(conf, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/77")
    env = {"CONTAINER_HOST": "tcp://h:1", "CONTAINER_CONNECTION": "keyed"}
    assert resolve("unix:///flag.sock", "keyed", None, env, conf)[0] == parse("unix:///flag.sock")
    assert resolve(None, "keyed", None, env, conf) == (parse("ssh://me@host/run/k.sock"), "/keys/id")
    assert resolve(None, None, None, env, conf)[0] == parse("tcp://h:1")
    assert resolve(None, None, None, {"CONTAINER_CONNECTION": "keyed"}, conf)[0] == parse("ssh://me@host/run/k.sock")
    assert resolve(None, None, None, {}, conf)[0] == parse("unix:///first.sock")   # the default connection
    empty = conf + ".none"
    assert resolve(None, None, None, {}, empty)[0] == Target("unix", path="/run/user/77/podpy/podpy.sock")


def test_the_identity_flag_beats_the_variable_and_the_connections(conf):
    env = {"CONTAINER_SSHKEY": "/env/key"}
    assert resolve(None, "keyed", "/flag/key", env, conf)[1] == "/flag/key"
    assert resolve(None, "keyed", None, env, conf)[1] == "/keys/id"
    assert resolve("ssh://h/x.sock", None, None, env, conf)[1] == "/env/key"


def test_an_unknown_connection_is_named(conf):
    with pytest.raises(InvalidArgument, match='"nope" destination is not defined'):
        resolve(None, "nope", None, {}, conf)


def test_ssh_forwards_a_local_socket_to_the_service():
    argv = ssh_command(parse("ssh://me@host:2222/run/s.sock"), "/k/id", "/tmp/d/local.sock")
    assert argv[0] == "ssh" and "-N" in argv
    assert argv[argv.index("-L") + 1] == "/tmp/d/local.sock:/run/s.sock"
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-i") + 1] == "/k/id"
    assert "ExitOnForwardFailure=yes" in argv
    assert argv[-2:] == ["--", "me@host"]
    assert "-i" not in ssh_command(parse("ssh://host/run/s.sock"), "", "/l.sock")


def test_the_socket_probe_asks_info_for_its_path():
    argv = ssh_probe_command(parse("ssh://me@host:22"), "", "podpy")
    assert argv[argv.index("--") + 1:] == ["me@host", "podpy", "info", "--format", "'{{.Host.RemoteSocket.Path}}'"]
    assert "BatchMode=yes" in argv


def test_image_scp_sides():
    from podpy.remote.scp import split

    assert split("busybox") == (None, "busybox")
    assert split("prod::busybox:1") == ("prod", "busybox:1")
    assert split("prod::") == ("prod", "")
    for bad in ("::busybox", "localhost::", "me@localhost::x"):
        with pytest.raises(InvalidArgument):
            split(bad)
