"""Image references with a transport (docker-archive:, oci-archive:, oci:, dir:, containers-storage:,
docker://) for pull, push, run, create, save, load and build's FROM, compared with podman 4.3.1."""

import json
import tarfile

import pytest

from registry import tar_of
from test_090_pull import registry  # noqa: F401 - the local registry fixture

@pytest.fixture
def source(new_podpy, image_tar, tmp_path):
    """A store holding busybox (also named other:1) and tiny (one file, /hello)."""
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    p("tag", "busybox", "other:1")
    (tmp_path / "tiny.tar").write_bytes(tar_of({"hello": b"hi\n"}))
    p("import", tmp_path / "tiny.tar", "tiny")
    return p


def _names(p):
    """Every name in the store, sorted; an unnamed image as <none>."""
    out = []
    for image in json.loads(p("images", "--format", "json").stdout):
        out += image["Names"] or ["<none>"]
    return sorted(out)


def _podman_names(podman):
    out = []
    for line in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        out.append("<none>" if line == "<none>:<none>" else line)
    return sorted(out)


def _podman_reset(podman):
    podman("rm", "-a", "-f", check=False)
    for image_id in set(podman("images", "-q").stdout.split()):
        podman("rmi", "-f", image_id, check=False)


def _podman_busybox(podman, image_tar):
    """podman's store with localhost/busybox (a test before may have emptied it)."""
    if podman("image", "exists", "localhost/busybox", check=False).returncode != 0:
        podman("import", image_tar, "localhost/busybox")


def _manifest(tar_path):
    with tarfile.open(tar_path) as tf:
        return json.load(tf.extractfile("manifest.json"))


def _index(tar_path):
    with tarfile.open(tar_path) as tf:
        return json.load(tf.extractfile("index.json"))


def _one_error(res):
    lines = res.stderr.strip().splitlines()
    return res.returncode == 125 and len(lines) == 1 and lines[0].startswith("Error: ")


# --------------------------------------------------------------------- save --


def test_save_names_after_the_first_are_tags_without_m_as_podman(source, podman, image_tar, tmp_path):
    _podman_busybox(podman, image_tar)
    podman("tag", "localhost/busybox", "other:1")
    ours, theirs = tmp_path / "ours.tar", tmp_path / "theirs.tar"
    source("save", "-q", "-o", ours, "busybox", "other:1", "nosuch:3")
    podman("save", "-q", "-o", theirs, "busybox", "other:1", "nosuch:3")
    assert [e["RepoTags"] for e in _manifest(ours)] == [e["RepoTags"] for e in _manifest(theirs)]
    assert len(_manifest(ours)) == 1


def test_save_m_keeps_every_image_and_name(source, new_podpy, tmp_path):
    out = tmp_path / "m.tar"
    source("save", "-q", "-m", "-o", out, "busybox", "tiny", "other:1")
    tags = sorted(t for e in _manifest(out) for t in e["RepoTags"])
    assert tags == ["localhost/busybox:latest", "localhost/other:1", "localhost/tiny:latest"]
    q = new_podpy()
    q("load", "-q", "-i", out)
    assert _names(q) == tags


@pytest.mark.parametrize("args", [["--format", "oci-archive", "-m"], ["--compress"],
                                  ["--format", "oci-dir", "-m"], ["--format", "oci-archive", "--compress"]])
def test_save_flag_combinations_refused_as_podman(source, podman, image_tar, tmp_path, args):
    out = tmp_path / "x"
    ours = source("save", *args, "-o", out, "busybox", "tiny", check=False)
    assert _one_error(ours), ours.stderr
    assert not out.exists()
    _podman_busybox(podman, image_tar)
    podman("tag", "localhost/busybox", "localhost/tiny")
    theirs = podman("save", *args, "-o", tmp_path / "p", "localhost/busybox", "localhost/tiny", check=False)
    assert theirs.returncode == 125 and not (tmp_path / "p").exists()


def test_save_of_a_directory_format_needs_o(source):
    res = source("save", "--format", "oci-dir", "busybox", check=False)
    assert _one_error(res) and "-o" in res.stderr


@pytest.mark.parametrize("args", [["--format", "oci-dir"], ["--format", "oci-dir", "--uncompressed"],
                                  ["--format", "docker-dir"], ["--format", "docker-dir", "--compress"],
                                  ["--format", "oci-archive"], ["--format", "oci-archive", "--uncompressed"]])
def test_saved_layouts_load_with_podmans_names(source, new_podpy, podman, tmp_path, args):
    out = tmp_path / "saved"
    source("save", "-q", *args, "-o", out, "busybox")
    layers = _layer_media_types(out, args[1])
    compressed = ("--compress" in args) or (args[1].startswith("oci") and "--uncompressed" not in args)
    assert all(t.endswith("gzip") == compressed for t in layers), layers
    q = new_podpy()
    loaded = q("load", "-q", "-i", out).stdout
    assert loaded.startswith("Loaded image: ")
    assert q("run", "--rm", "--network", "none", q("images", "-q").stdout.split()[0], "echo", "ok").stdout == "ok\n"
    _podman_reset(podman)
    podman("load", "-q", "-i", out)
    assert _names(q) == _podman_names(podman)


def _layer_media_types(out, fmt):
    if fmt == "oci-archive":
        with tarfile.open(out) as tf:
            index = json.load(tf.extractfile("index.json"))
            manifest = json.load(tf.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
    elif fmt == "oci-dir":
        index = json.loads((out / "index.json").read_text())
        manifest = json.loads((out / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]).read_text())
    else:
        manifest = json.loads((out / "manifest.json").read_text())
        assert (out / "version").read_text() == "Directory Transport Version: 1.1\n"
    return [layer["mediaType"] for layer in manifest["layers"]]


def test_failed_save_to_a_directory_leaves_nothing(source, tmp_path):
    out = tmp_path / "d"
    res = source("save", "--format", "oci-dir", "-o", out, "nosuchimage", check=False)
    assert _one_error(res) and not out.exists()
    assert list(tmp_path.glob("d.tmp-*")) == []


# --------------------------------------------------------------------- pull --


def test_pull_from_every_file_transport_names_as_podman(source, new_podpy, podman, tmp_path):
    many, one = tmp_path / "many.tar", tmp_path / "one.tar"
    source("save", "-q", "-m", "-o", many, "busybox", "tiny")
    source("save", "-q", "-o", one, "busybox", "other:1")
    source("save", "-q", "--format", "oci-archive", "-o", tmp_path / "oci.tar", "busybox")
    source("save", "-q", "--format", "oci-archive", "-o", tmp_path / "noname.tar",
           source("images", "-q", "busybox").stdout.strip())
    source("save", "-q", "--format", "oci-dir", "-o", tmp_path / "layout", "busybox")
    source("save", "-q", "--format", "docker-dir", "-o", tmp_path / "dirimage", "busybox")
    refs = [f"docker-archive:{one}", f"docker-archive:{many}:localhost/tiny:latest", f"docker-archive:{many}:@1",
            f"oci-archive:{tmp_path / 'oci.tar'}", f"oci-archive:{tmp_path / 'oci.tar'}:localhost/busybox:latest",
            f"oci-archive:{tmp_path / 'noname.tar'}", f"oci:{tmp_path / 'layout'}", f"dir:{tmp_path / 'dirimage'}"]
    for ref in refs:
        q = new_podpy()
        image_id = q("pull", "-q", ref).stdout.strip()
        assert len(image_id) == 64, ref
        _podman_reset(podman)
        assert podman("pull", "-q", ref).stdout.split()[-1] == image_id, ref
        assert _names(q) == _podman_names(podman), ref


@pytest.mark.parametrize("ref", ["docker-archive:{d}/many.tar", "docker-archive:{d}/many.tar:busybox",
                                 "docker-archive:{d}/missing.tar", "oci:{d}/missing", "dir:{d}/missing",
                                 "oci-archive:{d}/many.tar", "docker-archive:{d}/many.tar:@7",
                                 "containers-storage:nosuch"])
def test_pull_bad_transport_refs_keep_nothing(source, new_podpy, podman, tmp_path, ref):
    source("save", "-q", "-m", "-o", tmp_path / "many.tar", "busybox", "tiny")
    ref = ref.format(d=tmp_path)
    q = new_podpy()
    res = q("pull", ref, check=False)
    assert _one_error(res), res.stderr
    assert q("images", "-q").stdout == ""
    _podman_reset(podman)
    assert podman("pull", "-q", ref, check=False).returncode == 125


# ------------------------------------------------------- run, create, build --


def test_run_and_create_from_transports(source, new_podpy, tmp_path):
    source("save", "-q", "-o", tmp_path / "one.tar", "busybox")
    source("save", "-q", "--format", "oci-dir", "-o", tmp_path / "layout", "busybox")
    q = new_podpy()
    assert q("run", "--rm", "--network", "none", f"docker-archive:{tmp_path / 'one.tar'}",
             "echo", "ok").stdout == "ok\n"
    q("create", "--name", "c1", "--network", "none", f"oci:{tmp_path / 'layout'}", "true")
    images = dict(line.split() for line in q("ps", "-a", "--format", "{{.Names}} {{.Image}}").stdout.splitlines())
    assert images == {"c1": f"localhost{tmp_path}/layout:latest"}
    q("start", "-a", "c1")
    assert q("run", "--rm", "--network", "none", "containers-storage:localhost/busybox", "echo", "x").stdout == "x\n"


def test_build_from_transports(source, new_podpy, tmp_path):
    source("save", "-q", "--format", "oci-archive", "-o", tmp_path / "base.tar", "busybox")
    source("save", "-q", "-m", "-o", tmp_path / "many.tar", "busybox", "tiny")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(f"FROM docker-archive:{tmp_path / 'many.tar'}:@1 AS files\n"
                                       f"FROM oci-archive:{tmp_path / 'base.tar'}\n"
                                       "COPY --from=files /hello /hello\nRUN cat /hello > /copied\n")
    q = new_podpy()
    q("build", "-q", "--network", "none", "-t", "built", ctx, timeout=300)
    assert q("run", "--rm", "--network", "none", "built", "cat", "/copied").stdout == "hi\n"


# --------------------------------------------------------------------- push --


def test_push_to_file_transports_pulls_back_as_podman(source, new_podpy, podman, tmp_path):
    dests = [f"docker-archive:{tmp_path / 'p1.tar'}", f"docker-archive:{tmp_path / 'p2.tar'}:foo/bar:2",
             f"oci-archive:{tmp_path / 'p3.tar'}:mytag", f"oci:{tmp_path / 'p5'}", f"oci:{tmp_path / 'p5'}:second",
             f"dir:{tmp_path / 'p6'}"]
    for dest in dests:
        source("push", "-q", "busybox", dest)
    assert _manifest(tmp_path / "p2.tar")[0]["RepoTags"] == ["docker.io/foo/bar:2", "localhost/busybox:latest"]
    assert _index(tmp_path / "p3.tar")["manifests"][0]["annotations"] == {
        "org.opencontainers.image.ref.name": "mytag"}
    assert [m.get("annotations") for m in json.loads((tmp_path / "p5" / "index.json").read_text())["manifests"]] \
        == [{"org.opencontainers.image.ref.name": "second"}]
    source("push", "-q", "--compress", "busybox", f"dir:{tmp_path / 'p7'}")
    assert "gzip" in json.loads((tmp_path / "p7" / "manifest.json").read_text())["layers"][0]["mediaType"]
    for ref in [f"docker-archive:{tmp_path / 'p2.tar'}", f"oci-archive:{tmp_path / 'p3.tar'}:mytag",
                f"oci:{tmp_path / 'p5'}:second", f"dir:{tmp_path / 'p7'}"]:
        q = new_podpy()
        q("pull", "-q", ref)
        _podman_reset(podman)
        podman("pull", "-q", ref)
        assert _names(q) == _podman_names(podman), ref
    source("push", "busybox", "containers-storage:pushed:1")
    assert source("image", "exists", "localhost/pushed:1").returncode == 0


def test_push_v2s2_and_docker_transport_to_a_registry(source, new_podpy, registry, tmp_path):  # noqa: F811
    import urllib.request

    source("push", "-q", "--tls-verify=false", "-f", "v2s2", "busybox", f"docker://{registry.host}/t/v2s2:1")
    req = urllib.request.Request(f"http://{registry.host}/v2/t/v2s2/manifests/1", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        manifest = json.load(resp)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["layers"][0]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    q = new_podpy()
    q("pull", "-q", "--tls-verify=false", f"docker://{registry.host}/t/v2s2:1")
    assert _names(q) == [f"{registry.host}/t/v2s2:1"]
    # run of docker://NAME is run of NAME: here already, so not pulled again (the default policy)
    res = q("run", "--rm", "--network", "none", f"docker://{registry.host}/t/v2s2:1", "echo", "ok")
    assert res.stdout == "ok\n" and "Copying" not in res.stderr
    assert q("ps", "-a", "-q").stdout == ""
    res = source("push", "-f", "v2s1", "busybox", f"dir:{tmp_path / 'x'}", check=False)
    assert _one_error(res) and not (tmp_path / "x").exists()


def test_load_prints_the_names_loaded_as_podman(source, new_podpy, podman, tmp_path):
    source("save", "-q", "-o", tmp_path / "one.tar", "busybox", "other:1")
    source("save", "-q", "--format", "oci-dir", "-o", tmp_path / "layout", "busybox")
    source("save", "-q", "--format", "docker-dir", "-o", tmp_path / "dirimage", "busybox")
    q = new_podpy()
    _podman_reset(podman)
    for path in ("one.tar", "layout", "dirimage", "one.tar"):
        ours = q("load", "-q", "-i", tmp_path / path).stdout
        theirs = podman("load", "-q", "-i", tmp_path / path).stdout
        assert ours == theirs, path
        # an image that has other names already is told by the names loaded only
        q("tag", "busybox", "extra:9")
        podman("tag", "localhost/busybox", "extra:9")


def test_local_lookups_take_containers_storage_and_refuse_other_transports(source, podman, image_tar, tmp_path):
    out = tmp_path / "cs.tar"
    source("save", "-q", "-o", out, "containers-storage:localhost/busybox")
    _podman_busybox(podman, image_tar)
    podman("save", "-q", "-o", tmp_path / "pcs.tar", "containers-storage:localhost/busybox")
    assert _manifest(out)[0]["RepoTags"] == _manifest(tmp_path / "pcs.tar")[0]["RepoTags"] == []
    image_id = source("image", "inspect", "--format", "{{.Id}}", "containers-storage:busybox").stdout.strip()
    assert len(image_id) == 64
    res = source("save", "-o", tmp_path / "no.tar", f"docker-archive:{out}", check=False)
    assert _one_error(res) and not (tmp_path / "no.tar").exists()
    theirs = podman("save", "-o", tmp_path / "p.tar", f"docker-archive:{out}", check=False)
    assert theirs.returncode == 125 and theirs.stderr.strip() == res.stderr.strip()
    other = source("save", "-o", tmp_path / "no.tar", "containers-storage:[overlay@/elsewhere+/run/x]busybox",
                   check=False)
    assert _one_error(other) and "/elsewhere" in other.stderr
    source("tag", "containers-storage:busybox", "gone:1")
    assert source("rmi", "containers-storage:localhost/gone:1").stdout == "Untagged: localhost/gone:1\n"
