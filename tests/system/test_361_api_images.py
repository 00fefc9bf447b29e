"""The API service's images, networks and volumes, driven by the real docker CLIs (Debian's
docker.io 20.10 and the newer one in /usr/local/bin) and by raw HTTP for Docker's errors:
pull/push/login against a local registry, images, tag, rmi, build, save/load, commit,
network create/ls/inspect/connect/disconnect/rm, volume create/ls/inspect/rm."""

from __future__ import annotations

import json
import shutil
import urllib.parse
import warnings

import pytest

from helpers import own_store_fixtures

from apiservice import Service, docker_cli
from registry import LocalRegistry

CLIS = ["docker20", "docker28"]
USER, PASSWORD = "apiuser", "s3cret-pass"



# clients that tag, remove and prune images: a store of the module's own
podpy, busybox = own_store_fixtures("api_images")

@pytest.fixture(scope="module")
def service(podpy, busybox):
    svc = Service(podpy)
    yield svc
    ids = [c["Id"] for c in svc.json("GET", "/containers/json?all=1")]
    if ids:
        svc.docker("/usr/bin/docker", "rm", "-f", *ids, check=False)
    assert svc.stop() == 0, svc.log.read_text()


@pytest.fixture(params=CLIS)
def cli(request) -> str:
    path = docker_cli(request.param)
    if path is None:
        pytest.skip(f"{request.param}'s docker CLI is not installed")
    return path


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.skip("Python's crypt module is not available (needed to write a bcrypt htpasswd)")
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("the C library's crypt() cannot make bcrypt hashes")
    return hashed


@pytest.fixture(scope="module")
def registry(tmp_path_factory, podpy):
    """A registry that wants a password (htpasswd, plain HTTP on 127.0.0.1)."""
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    work = tmp_path_factory.mktemp("api-registry")
    (work / "htpasswd").write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
    reg = LocalRegistry(work, auth={"htpasswd": {"realm": "podpy-test", "path": str(work / "htpasswd")}})
    conf = podpy.config_home / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    saved = (conf / "registries.conf").read_text() if (conf / "registries.conf").exists() else None
    (conf / "registries.conf").write_text(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    try:
        yield reg
    finally:
        reg.stop()
        if saved is None:
            (conf / "registries.conf").unlink()
        else:
            (conf / "registries.conf").write_text(saved)


def _image_id(service, name: str) -> str:
    return service.json("GET", f"/images/{name}/json")["Id"]


# -- registries --------------------------------------------------------------------------------

def test_login_push_pull_through_a_registry_that_wants_a_password(service, registry):
    docker = "/usr/bin/docker"
    dest = f"{registry.host}/tests/bb:1"
    service.docker(docker, "tag", "busybox", dest)
    denied = service.docker(docker, "push", dest, check=False)
    assert denied.returncode != 0
    bad = service.docker(docker, "login", "-u", USER, "--password-stdin", registry.host, input="wrong\n",
                         check=False)
    assert bad.returncode != 0
    ok = service.docker(docker, "login", "-u", USER, "--password-stdin", registry.host, input=PASSWORD + "\n")
    assert "Login Succeeded" in ok.stdout
    pushed = service.docker(docker, "push", dest)
    assert f"The push refers to repository [{registry.host}/tests/bb]" in pushed.stdout
    assert "1: digest: sha256:" in pushed.stdout
    service.docker(docker, "rmi", dest)
    for path in (docker_cli("docker28"), docker):
        if path is None:
            continue
        pulled = service.docker(path, "pull", dest)
        assert "Digest: sha256:" in pulled.stdout and "Status: " in pulled.stdout and dest in pulled.stdout
        assert _image_id(service, dest) == _image_id(service, "busybox")
        service.docker(path, "rmi", dest)
    # the credentials were read, never written to the service's log
    assert PASSWORD not in service.log.read_text()


def test_pull_of_an_unknown_image(service, registry, cli):
    missing = service.docker(cli, "pull", f"{registry.host}/tests/nope:1", check=False)
    assert missing.returncode == 1
    assert f"manifest for {registry.host}/tests/nope:1 not found: manifest unknown" in missing.stderr
    status, body, _ = service.request("POST", f"/images/create?fromImage={registry.host}/tests/nope&tag=1")
    assert status == 404 and "manifest unknown" in json.loads(body)["message"]


# -- local images ------------------------------------------------------------------------------

def test_images_tag_inspect_history_rmi(service, cli):
    service.docker(cli, "tag", "busybox", "tagged/one:v1")
    listed = service.docker(cli, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.splitlines()
    bid = _image_id(service, "busybox")
    # a name without a registry gets localhost/ or docker.io/ as registries.conf's search list says
    assert any(line.endswith(f"tagged/one:v1 {bid[7:19]}") for line in listed)
    assert service.docker(cli, "inspect", "--format", "{{.Id}} {{.Os}}", "tagged/one:v1").stdout.split() == [
        bid, "linux"]
    history = service.docker(cli, "history", "--no-trunc", "--format", "{{.ID}}", "busybox").stdout.split()
    assert history[0] == bid
    filtered = service.json("GET", "/images/json?filters=" + urllib.parse.quote(
        json.dumps({"reference": ["tagged/one"]})))
    assert len(filtered) == 1 and any(t.endswith("/tagged/one:v1") for t in filtered[0]["RepoTags"])
    assert filtered[0]["Id"] == bid
    out = service.docker(cli, "rmi", "tagged/one:v1").stdout
    assert out.startswith("Untagged: ") and out.strip().endswith("/tagged/one:v1") and len(out.splitlines()) == 1
    assert service.docker(cli, "images", "-q", "busybox").stdout.strip() == bid[7:19]


def test_rmi_of_an_image_a_container_uses_is_a_conflict(service, cli):
    cid = service.docker(cli, "create", "busybox", "true").stdout.strip()
    try:
        res = service.docker(cli, "rmi", "busybox", check=False)
        assert res.returncode == 1 and "must force" in res.stderr and cid[:12] in res.stderr
        status, body, _ = service.request("DELETE", "/images/busybox")
        assert status == 409 and b"conflict" in body
    finally:
        service.docker(cli, "rm", cid)


def test_build_with_tags_args_target_and_quiet(service, cli, tmp_path):
    (tmp_path / "Containerfile").write_text(
        "FROM busybox AS base\nARG MSG=default\nCOPY data.txt /data.txt\n"
        'RUN echo "building $MSG" && echo "$MSG" > /msg\n'
        "FROM base AS final\nRUN echo final > /msg\n")
    (tmp_path / "data.txt").write_text("from the context\n")
    tag = f"built-{cli.replace('/', '-')[-8:]}"
    res = service.docker(cli, "build", "-t", f"{tag}:1", "-t", f"{tag}:2", "--build-arg", "MSG=hello",
                         "--target", "base", "-f", str(tmp_path / "Containerfile"), str(tmp_path))
    assert "Step 1/" in res.stdout and "building hello" in res.stdout   # a RUN step's own output
    assert f"Successfully tagged localhost/{tag}:1" in res.stdout and f"Successfully tagged localhost/{tag}:2" in res.stdout
    built = res.stdout.split("Successfully built ")[1].split()[0]
    assert _image_id(service, f"{tag}:1") == _image_id(service, f"{tag}:2")
    assert _image_id(service, f"{tag}:1")[7:19] == built
    run = service.docker(cli, "run", "--rm", f"{tag}:1", "cat", "/msg", "/data.txt")
    assert run.stdout == "hello\nfrom the context\n"
    quiet = service.docker(cli, "build", "-q", "-f", str(tmp_path / "Containerfile"), str(tmp_path))
    final = quiet.stdout.strip()
    assert final.startswith("sha256:") and "building" not in quiet.stdout
    assert service.docker(cli, "run", "--rm", final, "cat", "/msg").stdout == "final\n"
    (tmp_path / "Containerfile").write_text("FROM busybox\nRUN echo about to fail && exit 3\n")
    failed = service.docker(cli, "build", "-f", str(tmp_path / "Containerfile"), str(tmp_path), check=False)
    assert failed.returncode != 0 and "about to fail" in failed.stdout
    assert "exit" in failed.stderr.lower() or "3" in failed.stderr
    service.docker(cli, "rmi", f"{tag}:1", f"{tag}:2", final)


def test_builder_and_system_prune_take_the_build_cache(service, cli, tmp_path):
    """The build cache is the unnamed images of a build's steps: `builder prune` leaves the
    steps a tagged image is built on, `builder prune -a` takes them too, never a named image;
    `system prune` asks for it (POST /build/prune) and succeeds."""
    (tmp_path / "Containerfile").write_text("FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n")
    tag = f"cached-{cli.replace('/', '-')[-8:]}"
    service.docker(cli, "build", "-q", "-t", tag, "-f", str(tmp_path / "Containerfile"), str(tmp_path))
    unnamed = [i["Id"] for i in service.json("GET", "/images/json?all=1") if not i["RepoTags"]
               or i["RepoTags"] == ["<none>:<none>"]]
    assert unnamed   # the first RUN's step
    pruned = service.json("POST", "/build/prune")
    assert pruned["CachesDeleted"] is None and pruned["SpaceReclaimed"] == 0
    out = service.docker(cli, "builder", "prune", "-a", "-f").stdout
    assert all(i in out for i in unnamed), out
    assert all(service.request("GET", f"/images/{i}/json")[0] == 404 for i in unnamed)
    assert service.docker(cli, "run", "--rm", tag, "cat", "/one", "/two").stdout == "one\ntwo\n"
    assert service.docker(cli, "system", "prune", "-f").returncode == 0
    status, body, _ = service.request("POST", '/build/prune?filters={"type":["regular"]}')
    assert status == 400 and b"invalid filter" in body
    service.docker(cli, "rmi", tag)


def test_images_of_a_reference_show_only_its_names(service, cli):
    """`docker images REPO`: the image's other names are not rows of their own."""
    service.docker(cli, "tag", "busybox", "refd/img:2")
    service.docker(cli, "tag", "busybox", "refd/img:3")
    try:
        rows = service.docker(cli, "images", "--format", "{{.Repository}}:{{.Tag}}", "refd/img").stdout.split()
        assert sorted(r.rpartition("refd/")[2] for r in rows) == ["img:2", "img:3"], rows   # no busybox row
        rows = service.docker(cli, "images", "--format", "{{.Tag}}", "refd/img:3").stdout.split()
        assert rows == ["3"]
    finally:
        service.docker(cli, "rmi", "refd/img:2", "refd/img:3")


def test_ps_ancestor_filter_as_docker_matches_it(service, tmp_path):
    """ancestor=: a short name, a name without its tag (its latest), an id or a prefix of one,
    and the containers of images built on it (a full name too)."""
    cli = "/usr/bin/docker"
    service.docker(cli, "tag", "busybox", "anc/img:2")
    service.docker(cli, "tag", "busybox", "anc/img")
    (tmp_path / "Containerfile").write_text("FROM anc/img:2\nRUN echo x > /x\n")
    service.docker(cli, "build", "-q", "-t", "anc/child", "-f", str(tmp_path / "Containerfile"), str(tmp_path))
    base = service.docker(cli, "create", "--name", "anc-base", "anc/img:2", "true").stdout.strip()
    child = service.docker(cli, "create", "--name", "anc-child", "anc/child", "true").stdout.strip()
    try:
        image = _image_id(service, "anc/img:2")
        full = next(t for t in service.json("GET", "/images/anc/img:2/json")["RepoTags"] if t.endswith("anc/img:2"))

        def matched(value: str) -> set[str]:
            out = service.docker(cli, "ps", "-a", "--filter", f"ancestor={value}", "--format", "{{.Names}}").stdout
            return {n for n in out.split() if n.startswith("anc-")}

        for value in ("anc/img:2", "anc/img", image, image[7:19], "busybox", full):
            assert matched(value) == {"anc-base", "anc-child"}, value
        assert matched("anc/child") == {"anc-child"}
        assert matched("anc/nosuch") == set()
    finally:
        service.docker(cli, "rm", base, child)
        service.docker(cli, "rmi", "anc/child", "anc/img:2", "anc/img")


def test_save_and_load(service, cli, tmp_path):
    service.docker(cli, "tag", "busybox", "saved/img:1")
    archive = tmp_path / "images.tar"
    service.docker(cli, "save", "-o", str(archive), "saved/img:1")
    assert archive.stat().st_size > 100_000
    service.docker(cli, "rmi", "saved/img:1")
    out = service.docker(cli, "load", "-i", str(archive)).stdout
    assert "Loaded image: " in out and "/saved/img:1" in out
    assert _image_id(service, "saved/img:1") == _image_id(service, "busybox")
    status, body, resp = service.request("GET", "/images/get?names=saved/img:1&names=busybox")
    assert status == 200 and resp.getheader("Content-Type") == "application/x-tar" and len(body) > 100_000
    service.docker(cli, "rmi", "saved/img:1")


def test_import_from_the_body_and_prune(service, image_tar):
    status, body, _ = service.request("POST", "/images/create?fromSrc=-&repo=imported/rootfs&tag=1"
                                      "&changes=CMD%20%5B%22echo%22%2C%20%22imported%22%5D",
                                      image_tar.read_bytes(), headers={"Content-Type": "application/x-tar"})
    assert status == 200, body
    image_id = json.loads(body.splitlines()[-1])["status"]
    assert image_id.startswith("sha256:") and _image_id(service, "imported/rootfs:1") == image_id
    assert service.json("GET", "/images/imported/rootfs:1/json")["Config"]["Cmd"] == ["echo", "imported"]
    service.json("DELETE", "/images/imported/rootfs:1")
    # an unnamed image is dangling: prune takes it
    status, body, _ = service.request("POST", "/images/create?fromSrc=-", image_tar.read_bytes(),
                                      headers={"Content-Type": "application/x-tar"})
    dangling = json.loads(body.splitlines()[-1])["status"]
    pruned = service.json("POST", "/images/prune")
    assert {"Deleted": dangling} in pruned["ImagesDeleted"]
    assert service.request("GET", f"/images/{dangling}/json")[0] == 404


def test_commit(service, cli):
    name = f"to-commit-{cli[-6:].replace('/', '')}"
    service.docker(cli, "run", "--name", name, "busybox", "sh", "-c", "echo kept > /made")
    try:
        out = service.docker(cli, "commit", "-c", 'CMD ["cat", "/made"]', "-m", "a message", "-a", "someone", name,
                             "committed:1").stdout.strip()
        assert out == _image_id(service, "committed:1")
        assert service.docker(cli, "run", "--rm", "committed:1").stdout == "kept\n"
        doc = service.json("GET", "/images/committed:1/json")
        assert doc["Author"] == "someone" and doc["Config"]["Cmd"] == ["cat", "/made"]
        assert doc["Comment"] == "a message"
    finally:
        service.docker(cli, "rm", name)
    service.docker(cli, "rmi", "committed:1")


# -- networks and volumes ----------------------------------------------------------------------

def test_networks_create_connect_a_created_container_and_resolve_its_alias(service, cli):
    suffix = cli[-6:].replace("/", "")
    one, two = f"n1-{suffix}", f"n2-{suffix}"
    service.docker(cli, "network", "create", "--subnet", "10.89.200.0/24", "--gateway", "10.89.200.1",
                   "--label", "purpose=test", one)
    service.docker(cli, "network", "create", two)
    try:
        listed = service.docker(cli, "network", "ls", "--filter", "label=purpose=test", "--format", "{{.Name}}")
        assert listed.stdout.split() == [one]
        doc = json.loads(service.docker(cli, "network", "inspect", one).stdout)[0]
        assert doc["IPAM"]["Config"] == [{"Subnet": "10.89.200.0/24", "Gateway": "10.89.200.1"}]
        assert doc["Labels"] == {"purpose": "test"} and doc["Driver"] == "bridge"
        # connected while created, not started (as docker-compose does it)
        service.docker(cli, "create", "--name", f"srv-{suffix}", "--network", one, "busybox", "sh", "-c",
                       "mkdir /w && echo served > /w/index.html && exec httpd -f -p 8000 -h /w")
        service.docker(cli, "network", "connect", "--alias", f"alias-{suffix}", two, f"srv-{suffix}")
        service.docker(cli, "start", f"srv-{suffix}")
        nets = json.loads(service.docker(cli, "inspect", "--format", "{{json .NetworkSettings.Networks}}",
                                         f"srv-{suffix}").stdout)
        assert set(nets) == {one, two} and f"alias-{suffix}" in nets[two]["Aliases"]
        assert nets[one]["IPAddress"].startswith("10.89.200.")
        members = json.loads(service.docker(cli, "network", "inspect", one).stdout)[0]["Containers"]
        assert [m["Name"] for m in members.values()] == [f"srv-{suffix}"]
        got = service.docker(cli, "run", "--rm", "--network", two, "busybox", "sh", "-c",
                             f"for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://alias-{suffix}:8000/ && exit; "
                             "sleep 0.5; done; exit 1")
        assert got.stdout == "served\n"
        status, body, _ = service.request("DELETE", f"/networks/{one}")
        assert status == 409 and b"active endpoints" in body
        service.docker(cli, "network", "disconnect", one, f"srv-{suffix}")
        nets = json.loads(service.docker(cli, "inspect", "--format", "{{json .NetworkSettings.Networks}}",
                                         f"srv-{suffix}").stdout)
        assert set(nets) == {two}
    finally:
        service.docker(cli, "rm", "-f", f"srv-{suffix}", check=False)
        service.docker(cli, "network", "rm", one, two, check=False)
    assert one not in service.docker(cli, "network", "ls").stdout


def test_volumes(service, cli):
    name = f"vol-{cli[-6:].replace('/', '')}"
    assert service.docker(cli, "volume", "create", "--label", "kind=test", name).stdout.strip() == name
    try:
        listed = service.docker(cli, "volume", "ls", "--filter", "label=kind=test", "--format", "{{.Name}}")
        assert listed.stdout.split() == [name]
        doc = json.loads(service.docker(cli, "volume", "inspect", name).stdout)[0]
        assert doc["Labels"] == {"kind": "test"} and doc["Driver"] == "local" and doc["Mountpoint"]
        service.docker(cli, "run", "--rm", "-v", f"{name}:/v", "busybox", "sh", "-c", "echo data > /v/f")
        assert service.docker(cli, "run", "--rm", "-v", f"{name}:/v", "busybox", "cat", "/v/f").stdout == "data\n"
        cid = service.docker(cli, "create", "-v", f"{name}:/v", "busybox", "true").stdout.strip()
        used = service.docker(cli, "volume", "rm", name, check=False)
        assert used.returncode == 1 and "volume is in use" in used.stderr
        service.docker(cli, "rm", cid)
    finally:
        service.docker(cli, "volume", "rm", name, check=False)
    assert name not in service.docker(cli, "volume", "ls", "-q").stdout.split()


# -- Docker's errors over raw HTTP -------------------------------------------------------------

def test_errors_as_docker_gives_them(service):
    def call(method, path, body=None):
        status, data, _ = service.request(method, path, body)
        doc = json.loads(data) if data.strip() and data[:1] == b"{" else {}
        return status, doc.get("message", "")

    assert call("GET", "/images/nope:1/json") == (404, "No such image: nope:1")
    assert call("DELETE", "/images/nope:1")[0] == 404
    assert call("POST", "/images/nope:1/tag?repo=x")[0] == 404
    assert call("GET", "/networks/nope")[0] == 404
    assert call("DELETE", "/networks/nope")[0] == 404
    assert call("GET", "/volumes/nope")[0] == 404
    assert call("DELETE", "/volumes/nope")[0] == 404
    assert call("DELETE", "/volumes/nope?force=1")[0] == 204
    assert call("GET", "/images/json?filters=" + urllib.parse.quote('{"bogus": ["x"]}'))[0] == 400
    assert call("GET", "/images/json?filters=notjson")[0] == 400
    assert call("POST", "/networks/create", b"{not json")[0] == 400
    assert call("POST", "/networks/create", {"Name": "raw-net", "Driver": "overlay"})[0] == 400
    assert call("POST", "/networks/create", {"Name": "raw-net", "IPAM": {"Config": [{"Subnet": "nonsense"}]}})[0] == 400
    status, _ = call("POST", "/networks/create", {"Name": "raw-net", "CheckDuplicate": True})
    assert status == 201
    try:
        status, message = call("POST", "/networks/create", {"Name": "raw-net", "CheckDuplicate": True})
        assert (status, message) == (409, "network with name raw-net already exists")
        cid = service.json("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"],
                                                          "HostConfig": {"NetworkMode": "raw-net",
                                                                         "Binds": ["raw-vol:/v"]}}, 201)["Id"]
        assert call("DELETE", "/networks/raw-net")[0] == 409
        assert call("DELETE", "/volumes/raw-vol")[0] == 409
        assert call("POST", "/networks/raw-net/connect", {"Container": "nope"})[0] == 404
        assert call("POST", "/networks/raw-net/disconnect", {"Container": cid})[0] == 200
        service.request("DELETE", f"/containers/{cid}")
    finally:
        service.request("DELETE", "/networks/raw-net")
        service.request("DELETE", "/volumes/raw-vol")
    assert call("POST", "/images/create")[0] == 400
    assert call("POST", "/images/busybox/tag")[0] == 400
    assert call("POST", "/commit?container=nope")[0] == 404
