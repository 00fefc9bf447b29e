"""Where pull fetches from (registries.conf: short names, mirrors, prefixes, blocked registries) and with which
credentials."""

import base64
import json

import pytest

from podpy.engine.pull import endpoints, platform_of
from podpy.errors import InvalidArgument
from podpy.registry.authfile import credentials
from podpy.registry.conf import Mirror, RegistriesConf, Registry, load, short_names
from storage import reference


def ref(name):
    return reference.parse(name).with_default_tag()


def test_mirrors_then_registry_with_prefix_rewrite():
    conf = RegistriesConf(registries=[Registry(
        prefix="example.com/team", location="internal.example.com/mirror-of-team",
        mirrors=(Mirror("m1.example.com:5000/cache"), Mirror("127.0.0.1:5000", insecure=True)))])
    eps = endpoints(ref("example.com/team/app:1"), conf)
    assert [(e.host, e.repository, e.insecure, e.mirror) for e in eps] == [
        ("m1.example.com:5000", "cache/app", False, True),
        ("127.0.0.1:5000", "app", True, True),
        ("internal.example.com", "mirror-of-team/app", False, False),
    ]


def test_unconfigured_registry_is_itself():
    eps = endpoints(ref("quay.io/a/b"), RegistriesConf())
    assert [(e.host, e.repository, e.mirror) for e in eps] == [("quay.io", "a/b", False)]


def test_blocked():
    conf = RegistriesConf(registries=[Registry(prefix="bad.example", location="bad.example", blocked=True)])
    with pytest.raises(InvalidArgument, match="blocked"):
        endpoints(ref("bad.example/x"), conf)


def test_platform_flags():
    assert platform_of("linux/arm64/v8", None, None, None) == ("linux", "arm64", "v8")
    assert platform_of(None, "linux", "arm", "v7") == ("linux", "arm", "v7")
    assert platform_of("linux", None, None, None)[0] == "linux"   # the host's architecture, as podman
    with pytest.raises(InvalidArgument):
        platform_of("linux/arm64/v8/x", None, None, None)
    with pytest.raises(InvalidArgument):
        platform_of("linux//v8", None, None, None)
    # podman's words for both ways at once (before a pull looks anything up)
    for os_, arch in (("bar", None), (None, "bar")):
        with pytest.raises(InvalidArgument, match="^--platform option can not be specified with --arch or --os$"):
            platform_of("foo", os_, arch, None)


def _auth(user, pw):
    return {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}


def test_credentials_from_podman_and_docker_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "run" / "containers").mkdir(parents=True)
    (tmp_path / "run" / "containers" / "auth.json").write_text(json.dumps({"auths": {
        "reg.example:5000": _auth("alice", "pw1"),
        "reg.example:5000/team/app": _auth("bob", "pw:2")}}))
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": _auth("hubuser", "hubpw")}}))
    assert credentials("reg.example:5000", "other/repo") == ("alice", "pw1")
    assert credentials("reg.example:5000", "team/app") == ("bob", "pw:2")
    assert credentials("docker.io", "library/busybox") == ("hubuser", "hubpw")
    assert credentials("nowhere.example") is None


def test_short_names_come_from_every_file_and_are_cached(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(os, "getuid", lambda: 1000)  # the user's own files count for a rootless user only
    drop_in = tmp_path / "xdg" / "containers" / "registries.conf.d"
    drop_in.mkdir(parents=True)
    (drop_in / "shortnames.conf").write_text('[aliases]\n"mine" = "example.com/me/mine"\n')
    own = tmp_path / "podpy"
    own.mkdir()
    (own / "registries.conf").write_text('unqualified-search-registries = ["r.example"]\n')
    cache = tmp_path / "run"
    cache.mkdir()
    names = short_names(str(own), str(cache))
    assert names.search == ("r.example",) and names.aliases["mine"] == "example.com/me/mine"
    assert (cache / "registries.cache").is_file()
    # The full reader agrees: pull and lookups resolve alike.
    assert load(str(own)).short_names() == names
    # Unchanged files: the cache answers (even though it now disagrees with nothing else).
    assert short_names(str(own), str(cache)) == names
    # A changed file is read again.
    (drop_in / "shortnames.conf").write_text('[aliases]\n"mine" = "example.com/other/mine"\n')
    os.utime(drop_in / "shortnames.conf", ns=(1, 1))
    assert short_names(str(own), str(cache)).aliases["mine"] == "example.com/other/mine"
    assert [str(r) for r in reference.pull_candidates("mine:2", short_names(str(own), str(cache)))] == \
        ["example.com/other/mine:2"]
