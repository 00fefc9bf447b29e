"""The image, build, network and volume routes' own logic: image names with slashes in paths,
X-Registry-Auth, loopback registries, build queries, progress messages, the compose
provider's choice, and create bodies whose Config.Volumes a bind covers."""

import base64
import json
import os
import stat

import pytest

from podpy.api import AREAS, build, compose, progress, registries
from podpy.api.errors import BadParameter
from podpy.api.routes import Router
from podpy.api.translate import create_options
from podpy.errors import InvalidArgument


class FakeRequest:
    def __init__(self, query=None, headers=None):
        self.query = {k: v if isinstance(v, list) else [v] for k, v in (query or {}).items()}
        self.headers = headers or {}

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name, default=False):
        value = self.arg(name)
        return default if value is None else value.lower() in ("1", "true")


@pytest.fixture(scope="module")
def router():
    return Router.build(AREAS)


@pytest.mark.parametrize("method, path, pattern, name", [
    ("GET", "/images/docker.io/library/busybox/json", "/images/{name}/json", "docker.io/library/busybox"),
    ("GET", "/images/busybox:latest/history", "/images/{name}/history", "busybox:latest"),
    ("DELETE", "/images/localhost:5000/a/b:1", "/images/{name}", "localhost:5000/a/b:1"),
    ("POST", "/images/localhost:5000/x/push", "/images/{name}/push", "localhost:5000/x"),
    ("POST", "/images/a/b/tag", "/images/{name}/tag", "a/b"),
    ("GET", "/images/a/b/get", "/images/{name}/get", "a/b"),
])
def test_image_names_may_hold_slashes(router, method, path, pattern, name):
    route, params = router.match(method, path)
    assert route.pattern == pattern and params == {"name": name}


@pytest.mark.parametrize("method, path", [("GET", "/images/json"), ("GET", "/images/get"), ("POST", "/images/load"),
                                          ("POST", "/images/create"), ("GET", "/images/search"),
                                          ("POST", "/images/prune"), ("POST", "/build"), ("POST", "/commit"),
                                          ("GET", "/networks"), ("POST", "/networks/create"),
                                          ("POST", "/networks/prune"), ("GET", "/volumes"),
                                          ("POST", "/volumes/create"), ("POST", "/volumes/prune")])
def test_fixed_paths_are_not_taken_for_names(router, method, path):
    route, params = router.match(method, path)
    assert route.pattern == path and params == {}


def _auth(doc):
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def test_registry_auth_header():
    assert registries.credentials(FakeRequest()) is None
    assert registries.credentials(FakeRequest(headers={"x-registry-auth": _auth({})})) is None
    got = registries.credentials(FakeRequest(headers={"x-registry-auth": _auth(
        {"username": "me", "password": "p:w/+?", "serveraddress": "r.example"})}))
    assert got == "me:p:w/+?"
    with pytest.raises(BadParameter) as bad:
        registries.credentials(FakeRequest(headers={"x-registry-auth": "%%%not-base64"}))
    assert "X-Registry-Auth" in bad.value.message


@pytest.mark.parametrize("name, verify", [
    ("127.0.0.1:5000/a/b:1", False), ("localhost:5000/x", False), ("localhost/x", False),
    ("[::1]:5000/x", False), ("registry.example:5000/x", None), ("busybox", None), ("library/busybox", None),
    ("docker.io/library/busybox", None),
])
def test_loopback_registries_are_insecure_as_in_docker(name, verify):
    assert registries.tls_verify(name) is verify


def test_reference_of_image_and_tag():
    assert registries._reference("busybox", "1.36") == "busybox:1.36"
    assert registries._reference("busybox", "sha256:" + "a" * 64) == "busybox@sha256:" + "a" * 64
    assert registries._reference("busybox:1", None) == "busybox:1"


def test_build_query_as_build_options(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dockerfile.dev").write_text("FROM scratch\n")
    req = FakeRequest({"t": ["a:1", "b:2"], "dockerfile": "sub/Dockerfile.dev", "buildargs": '{"X": "1", "Y": null}',
                       "labels": '{"l": "v"}', "target": "base", "nocache": "1", "pull": "1", "rm": "0"})
    o = build.options(req, str(tmp_path))
    assert o.tags == ["a:1", "b:2"] and o.files == [str(tmp_path / "sub" / "Dockerfile.dev")]
    assert o.build_args == ["X=1", "Y="] and o.labels == ["l=v"] and o.target == "base"
    assert o.no_cache and o.pull == "always" and o.rm is False and o.format == "docker"
    with pytest.raises(BadParameter, match="outside the build context"):
        build.options(FakeRequest({"dockerfile": "../../etc/passwd"}), str(tmp_path))
    with pytest.raises(BadParameter, match="Cannot locate specified Dockerfile: nope"):
        build.options(FakeRequest({"dockerfile": "nope"}), str(tmp_path))
    with pytest.raises(BadParameter, match="buildargs"):
        build.options(FakeRequest({"buildargs": "[1]"}), str(tmp_path))


def test_progress_bars_and_done_words():
    seen = []
    bars = progress.Bars(seen.append, "Downloading", ("Download complete", "Pull complete"))
    advance = bars("abc", 100)
    for _ in range(20):
        advance(5)
    statuses = [m["status"] for m in seen]
    assert statuses[-2:] == ["Download complete", "Pull complete"]
    downloading = [m for m in seen if m["status"] == "Downloading"]
    assert 2 <= len(downloading) <= 11 and downloading[-1]["progressDetail"] == {"current": 100, "total": 100}
    assert downloading[-1]["progress"].startswith("[" + "=" * 49 + ">]")
    assert bars.seen == {"abc"}
    assert json.loads(progress.error_line("bad")) == {"errorDetail": {"message": "bad"}, "error": "bad"}


def _executable(path):
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_compose_provider_choice(tmp_path):
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    with pytest.raises(InvalidArgument) as missing:
        compose.provider(env)
    assert "docker-compose" in str(missing.value) and "podman-compose" in str(missing.value)
    _executable(tmp_path / "podman-compose")
    assert compose.provider(env) == str(tmp_path / "podman-compose")
    _executable(tmp_path / "docker-compose")
    assert compose.provider(env) == str(tmp_path / "docker-compose")
    assert compose.provider(dict(env, PODPY_COMPOSE_PROVIDER="podman-compose")) == str(tmp_path / "podman-compose")
    with pytest.raises(InvalidArgument, match="PODPY_COMPOSE_PROVIDER=nope"):
        compose.provider(dict(env, PODPY_COMPOSE_PROVIDER="nope"))


def test_compose_socket_is_the_processes_own(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert compose.socket_path() == os.path.join(str(tmp_path), "podpy", f"compose-{os.getpid()}.sock")


def test_config_volumes_covered_by_a_bind_or_mount_are_not_volumes_of_their_own():
    o = create_options({"Image": "busybox", "Volumes": {"/data": {}, "/cache": {}, "/m": {}},
                        "HostConfig": {"Binds": ["proj_data:/data:rw"],
                                       "Mounts": [{"Type": "volume", "Source": "x", "Target": "/m"}]}}, None, None)
    assert o.volumes == ["/cache", "proj_data:/data:rw"]
