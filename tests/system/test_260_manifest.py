"""manifest create/add/annotate/remove/inspect/exists/rm/push against a local registry, and pulls
of the pushed lists choosing the platform."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.request

import pytest

from registry import LocalRegistry, oci_layout, push, serving

ACCEPT = ("application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
          "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def registry(tmp_path_factory, image_tar):
    work = tmp_path_factory.mktemp("registry")
    with serving(work) as reg:
        base = image_tar.read_bytes()
        oci_layout(work / "amd", [base], ["sh"], arch="amd64")
        oci_layout(work / "arm", [base], ["sh"], arch="arm64")
        push(work / "amd", f"{reg.host}/plat/amd:latest")
        push(work / "arm", f"{reg.host}/plat/arm:latest")
        yield reg


def served(registry, path):
    """(body, content type) of GET path with list types accepted."""
    req = urllib.request.Request(f"http://{registry.host}{path}", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read(), r.headers.get("Content-Type")


def digest_of(registry, repo):
    body, _ = served(registry, f"/v2/{repo}/manifests/latest")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def test_manifest_inspect_shows_registry_instances_as_podman_does(new_podpy, registry, podman):
    p = new_podpy()
    outputs = []
    for tool in (p, podman):
        list_id = tool("manifest", "create", "mylist").stdout.strip()
        assert len(list_id) == 64
        assert tool("manifest", "add", "--tls-verify=false", "mylist",
                    f"docker://{registry.host}/plat/amd:latest").stdout.strip() == list_id
        tool("manifest", "add", "--tls-verify=false", "--arch", "arm64", "--variant", "v8",
             "--annotation", "foo=bar", "mylist", f"{registry.host}/plat/arm:latest")
        outputs.append(tool("manifest", "inspect", "mylist").stdout)
        tool("manifest", "rm", "mylist")
    assert outputs[0] == outputs[1]
    doc = json.loads(outputs[0])
    assert doc["mediaType"] == DOCKER_LIST
    assert [e["digest"] for e in doc["manifests"]] == [digest_of(registry, "plat/amd"),
                                                      digest_of(registry, "plat/arm")]


def test_manifest_empty_list_is_an_image_and_inspects_as_null(new_podpy):
    p = new_podpy()
    list_id = p("manifest", "create", "empty").stdout.strip()
    assert json.loads(p("manifest", "inspect", "empty").stdout) == {
        "schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": None}
    listed = json.loads(p("images", "--format", "json").stdout)
    assert [i["Id"] for i in listed] == [list_id]
    assert p("manifest", "exists", "empty").returncode == 0
    assert p("manifest", "exists", "nosuch", check=False).returncode == 1


def test_manifest_push_local_and_registry_images_then_pull_picks_the_platform(new_podpy, registry, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    p("manifest", "create", "multi", "containers-storage:localhost/busybox")
    p("manifest", "add", "--tls-verify=false", "multi", f"{registry.host}/plat/arm:latest")
    dest = f"{registry.host}/tests/multi:1"
    digestfile = p.home / "digest"
    res = p("manifest", "push", "--tls-verify=false", "--digestfile", digestfile, "multi", dest)
    assert res.stdout == ""
    assert "Copying 2 of 2 images in list" in res.stderr and "Writing manifest list" in res.stderr
    body, ctype = served(registry, "/v2/tests/multi/manifests/1")
    assert ctype == OCI_INDEX
    assert digestfile.read_text() == "sha256:" + hashlib.sha256(body).hexdigest()
    index = json.loads(body)
    assert [e["platform"]["architecture"] for e in index["manifests"]] == ["amd64", "arm64"]
    # The registry image is copied as it is; the local one gets the digest of what was pushed.
    assert index["manifests"][1]["digest"] == digest_of(registry, "plat/arm")
    for e in index["manifests"]:
        served(registry, f"/v2/tests/multi/manifests/{e['digest']}")

    q = new_podpy()
    q("pull", "--tls-verify=false", dest)
    assert q("image", "inspect", "--format", "{{.Architecture}}", dest).stdout.strip() == "amd64"
    # run pulls the list's image for this machine itself
    s = new_podpy()
    conf = s.config_home / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "registries.conf").write_text(f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n')
    out = s("run", "--rm", "--network", "none", dest, "echo", "from-the-list")
    assert out.stdout == "from-the-list\n"
    assert s("image", "inspect", "--format", "{{.Digest}}", dest).stdout.strip() == index["manifests"][0]["digest"]
    r = new_podpy()
    r("pull", "--tls-verify=false", "--arch", "arm64", dest)
    shown = r("image", "inspect", "--format", "{{.Architecture}} {{.Digest}}", dest).stdout.split()
    assert shown == ["arm64", index["manifests"][1]["digest"]]


def test_manifest_push_v2s2_format_and_rm(new_podpy, registry):
    p = new_podpy()
    p("manifest", "create", "--tls-verify=false", "v2", f"{registry.host}/plat/amd:latest")
    p("manifest", "add", "--tls-verify=false", "v2", f"{registry.host}/plat/arm:latest")
    p("manifest", "push", "-q", "--tls-verify=false", "--format", "v2s2", "--rm", "v2",
      f"docker://{registry.host}/tests/v2:latest")
    body, ctype = served(registry, "/v2/tests/v2/manifests/latest")
    assert ctype == DOCKER_LIST
    assert {e["mediaType"] for e in json.loads(body)["manifests"]} == {DOCKER_MANIFEST}
    assert p("manifest", "exists", "v2", check=False).returncode == 1


def test_manifest_create_all_takes_every_image_of_a_registry_list(new_podpy, registry):
    p = new_podpy()
    p("manifest", "create", "--tls-verify=false", "pair", f"{registry.host}/plat/amd:latest")
    p("manifest", "add", "--tls-verify=false", "pair", f"{registry.host}/plat/arm:latest")
    p("manifest", "push", "--tls-verify=false", "pair", f"{registry.host}/tests/pair:latest")
    q = new_podpy()
    q("manifest", "create", "--all", "--tls-verify=false", "all", f"{registry.host}/tests/pair:latest")
    q("manifest", "create", "--tls-verify=false", "one", f"{registry.host}/tests/pair:latest")
    every = json.loads(q("manifest", "inspect", "all").stdout)["manifests"]
    one = json.loads(q("manifest", "inspect", "one").stdout)["manifests"]
    assert [e["platform"]["architecture"] for e in every] == ["amd64", "arm64"]
    assert [e["platform"]["architecture"] for e in one] == ["amd64"]


def test_manifest_inspect_of_a_name_that_is_no_local_list_asks_the_registry(new_podpy, registry):
    p = new_podpy()
    conf = p.config_home / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "registries.conf").write_text(f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n')
    p("manifest", "create", "remote", f"{registry.host}/plat/arm:latest")
    p("manifest", "push", "remote", f"{registry.host}/tests/remote:latest")
    body, _ = served(registry, "/v2/tests/remote/manifests/latest")
    assert json.loads(p("manifest", "inspect", f"{registry.host}/tests/remote").stdout) == json.loads(body)
    res = p("manifest", "inspect", f"{registry.host}/tests/absent", check=False)
    assert res.returncode == 125 and res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1


def test_manifest_annotate_remove_and_rm(new_podpy, registry):
    p = new_podpy()
    list_id = p("manifest", "create", "--tls-verify=false", "notes", f"{registry.host}/plat/arm:latest").stdout.strip()
    arm = digest_of(registry, "plat/arm")
    assert p("manifest", "annotate", "--os-version", "10.1", "--features", "sse4", "--variant", "v8",
             "--annotation", "team=infra", "notes", arm).stdout.strip() == list_id
    entry = json.loads(p("manifest", "inspect", "notes").stdout)["manifests"][0]
    assert entry["platform"] == {"architecture": "arm64", "os": "linux", "os.version": "10.1", "variant": "v8",
                                 "features": ["sse4"]}
    assert entry["annotations"] == {"team": "infra"}
    assert p("manifest", "remove", "notes", arm).stdout.strip() == list_id
    assert json.loads(p("manifest", "inspect", "notes").stdout)["manifests"] is None
    res = p("manifest", "remove", "notes", arm, check=False)
    assert res.returncode == 125 and "no instance matching digest" in res.stderr
    res = p("manifest", "rm", "notes")
    assert res.stdout == f"Untagged: localhost/notes:latest\nDeleted: {list_id}\n"
    res = p("manifest", "rm", "notes", check=False)
    assert res.returncode == 1 and res.stderr == "Error: notes: image not known\n"


def test_run_of_a_local_list_runs_its_image_for_this_platform(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    p("manifest", "create", "runnable")
    res = p("run", "--rm", "--network", "none", "runnable", "true", check=False)
    assert res.returncode == 125 and "manifest list" in res.stderr and res.stderr.count("\n") == 1
    assert p("ps", "-a", "-q").stdout == ""
    p("manifest", "add", "runnable", "containers-storage:localhost/busybox")
    assert p("run", "--rm", "--network", "none", "runnable", "echo", "listed").stdout == "listed\n"


def test_manifest_bad_input_is_refused_and_writes_nothing(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    res = p("manifest", "create", "half", "containers-storage:localhost/nosuch", check=False)
    assert res.returncode == 125 and res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1
    assert p("manifest", "exists", "half", check=False).returncode == 1
    res = p("manifest", "exists", "busybox", check=False)
    assert res.returncode == 125 and res.stderr == "Error: localhost/busybox:latest: image is not a manifest list\n"
    res = p("manifest", "rm", "busybox", check=False)
    assert res.returncode == 125 and "is not a manifest list" in res.stderr
    assert p("image", "exists", "busybox").returncode == 0
    p("manifest", "create", "ok")
    res = p("manifest", "create", "ok", check=False)
    assert res.returncode == 125 and "that name is already in use" in res.stderr
    res = p("manifest", "annotate", "ok", "nope", check=False)
    assert res.returncode == 125
    assert res.stderr == 'Error: invalid image digest "nope": invalid checksum digest format\n'
    res = p("manifest", "add", "--annotation", "novalue", "ok", "containers-storage:localhost/busybox", check=False)
    assert res.returncode == 125 and "annotation" in res.stderr
    res = p("manifest", "push", "--format", "v1", "ok", "127.0.0.1:1/x:1", check=False)
    assert res.returncode == 125 and "--format" in res.stderr
    res = p("push", "ok", "127.0.0.1:1/x:1", check=False)
    assert res.returncode == 125 and "manifest push" in res.stderr
    res = p("save", "-o", p.home / "list.tar", "ok", check=False)
    assert res.returncode == 125 and "is a manifest list" in res.stderr and not (p.home / "list.tar").exists()
    assert json.loads(p("manifest", "inspect", "ok").stdout)["manifests"] is None


# -- search -------------------------------------------------------------------------------------


def _lines(text):
    return [line.rstrip() for line in text.splitlines()]


def test_search_lists_matching_repositories_as_podman_does(new_podpy, registry, podman):
    p = new_podpy()
    for args in (["plat"], ["plat/a", "--no-trunc"], ["", "--compatible"], ["arm", "--format", "json"],
                 ["plat", "--limit", "1"], ["plat", "--filter", "is-official=false"], ["plat", "--filter", "stars=1"],
                 ["plat/arm", "--format", "{{.Index}}|{{.Name}}|{{.Stars}}|{{.Official}}|{{.Automated}}|"]):
        term, rest = f"{registry.host}/{args[0]}", args[1:]
        mine = p("search", "--tls-verify=false", *rest, term)
        theirs = podman("search", "--tls-verify=false", *rest, term)
        assert _lines(mine.stdout) == _lines(theirs.stdout), args
    out = _lines(p("search", "--tls-verify=false", f"{registry.host}/plat").stdout)
    width = len(f"{registry.host}/plat/amd") + 2
    assert out == ["NAME".ljust(width) + "DESCRIPTION", f"{registry.host}/plat/amd", f"{registry.host}/plat/arm"]
    assert p("search", "--tls-verify=false", f"{registry.host}/nomatch").stdout == ""


def test_search_list_tags_as_podman_does(new_podpy, registry, podman):
    p = new_podpy()
    p("manifest", "create", "tagged")
    for tag in ("1", "2"):
        p("manifest", "push", "--tls-verify=false", "tagged", f"{registry.host}/tags/many:{tag}")
    for rest in ([], ["--format", "json"], ["--limit", "1"]):
        term = f"{registry.host}/tags/many"
        mine = p("image", "search", "--tls-verify=false", "--list-tags", *rest, term)
        assert _lines(mine.stdout) == _lines(podman("search", "--tls-verify=false", "--list-tags", *rest,
                                                    term).stdout), rest
    found = json.loads(p("search", "--tls-verify=false", "--list-tags", "--format", "json",
                         f"{registry.host}/tags/many").stdout)
    assert [(f["Name"], sorted(f["Tags"])) for f in found] == [(f"{registry.host}/tags/many", ["1", "2"])]


def test_search_short_term_asks_the_unqualified_search_registries(new_podpy, registry):
    p = new_podpy()
    conf = p.config_home / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "registries.conf").write_text(f'unqualified-search-registries = ["{registry.host}"]\n'
                                          f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n')
    assert _lines(p("search", "plat/am").stdout)[1:] == [f"{registry.host}/plat/amd"]
    name = f"{registry.host}/plat/arm"
    assert _lines(p("search", "--list-tags", "plat/arm").stdout) == ["NAME".ljust(len(name) + 2) + "TAG",
                                                                     f"{name}  latest"]


def test_search_bad_input(new_podpy, registry):
    p = new_podpy()
    term = f"{registry.host}/plat"
    for args, message in ((["--filter", "bogus=1"], 'Error: invalid filter type "bogus=1"\n'),
                          (["--filter", "stars=x"], None), (["--limit", "-1"], None),
                          (["--list-tags", "--filter", "stars=1"], None)):
        res = p("search", "--tls-verify=false", *args, term, check=False)
        assert res.returncode == 125 and res.stdout == "", args
        assert res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1, args
        if message:
            assert res.stderr == message
    res = p("search", "--tls-verify=false", "--list-tags", f"{registry.host}/nosuch/image", check=False)
    assert res.returncode == 125 and "nosuch/image" in res.stderr


# -- a registry that wants credentials ----------------------------------------------------------

USER, PASSWORD = "tester", "s3cret-Pa55"


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory):
    import warnings

    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.skip("Python's crypt module is not available (needed to write a bcrypt htpasswd)")
    hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("the C library's crypt() cannot make bcrypt hashes")
    work = tmp_path_factory.mktemp("auth-registry")
    (work / "htpasswd").write_text(f"{USER}:{hashed}\n")
    reg = LocalRegistry(work, auth={"htpasswd": {"realm": "podpy-test", "path": str(work / "htpasswd")}})
    try:
        yield reg
    finally:
        reg.stop()


def test_manifest_push_and_search_with_credentials(new_podpy, auth_registry, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    p("manifest", "create", "private", "containers-storage:localhost/busybox")
    dest = f"{auth_registry.host}/team/private:1"
    res = p("manifest", "push", "-q", "--tls-verify=false", "private", dest, check=False)
    assert res.returncode == 125 and "authentication required" in res.stderr and res.stderr.count("\n") == 1
    p("manifest", "push", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}", "private", dest)
    res = p("search", "--tls-verify=false", f"{auth_registry.host}/team", check=False)
    assert res.returncode == 125 and "authentication required" in res.stderr
    found = p("search", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}", "--format", "{{.Name}}",
              f"{auth_registry.host}/team")
    assert found.stdout == f"{auth_registry.host}/team/private\n"
    tags = p("search", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}", "--list-tags", "--format",
             "{{.Tag}}", f"{auth_registry.host}/team/private")
    assert tags.stdout == "1\n"
    # with the credentials in an auth file (as `login` writes it) instead
    p("login", "--tls-verify=false", "--authfile", p.home / "auth.json", "-u", USER, "-p", PASSWORD,
      auth_registry.host)
    found = p("search", "--tls-verify=false", "--authfile", p.home / "auth.json", "--format", "{{.Name}}",
              f"{auth_registry.host}/team")
    assert found.stdout == f"{auth_registry.host}/team/private\n"
    p("manifest", "push", "--tls-verify=false", "--authfile", p.home / "auth.json", "--rm", "private",
      f"{auth_registry.host}/team/private:2")
    assert p("manifest", "exists", "private", check=False).returncode == 1
