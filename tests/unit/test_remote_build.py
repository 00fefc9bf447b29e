"""Remote build, cp, prunes and manifests, the parts that need no service: the libpod build
route reading the query podman 4.3.1's client sends, podpy's client writing that query and
the context's tar, the libpod archive stat, the manifest routes' reading of podman's
ManifestModifyOptions, the routes' matching, and the prune reports podman's service answers
made into the local engines' reports."""

import base64
import io
import json
import tarfile

import pytest

from podpy.api import AREAS
from podpy.api.errors import BadParameter
from podpy.api.http import Request
from podpy.api.libpod_archive import podman_stat
from podpy.api.libpod_build import options as libpod_options
from podpy.api.routes import Router
from podpy.errors import InvalidArgument
from podpy.imagebuild.options import BuildOptions
from podpy.remote import build as remote_build
from podpy.remote import prune as remote_prune

# the query podman 4.3.1's client sent for `podman --remote build -t rbt1 DIR` (captured)
PODMAN_QUERY = ("dockerfile=%5B%22Containerfile%22%5D&forcerm=1&identitylabel=1&isolation=3&jobs=1&layers=1"
                "&networkmode=0&nsoptions=%5B%7B%22Name%22%3A%22user%22%2C%22Host%22%3Atrue%2C%22Path%22%3A%22%22%7D%5D"
                "&omithistory=0&output=rbt1&outputformat=application%2Fvnd.oci.image.manifest.v1%2Bjson&platform=%2F"
                "&pullpolicy=missing&rm=1&seccomp=%2Fusr%2Fshare%2Fcontainers%2Fseccomp.json&shmsize=67108864&t=rbt1")


def request(method, target, headers=()):
    return Request(None, method, target, list(headers))


@pytest.fixture
def ctx(tmp_path):
    root = tmp_path / "ctx"
    (root / "sub").mkdir(parents=True)
    (root / "skip").mkdir()
    (root / "Containerfile").write_text("FROM busybox\n")
    (root / "sub" / "Dev.cf").write_text("FROM busybox\n")
    (root / "sub" / "a").write_text("a")
    (root / "skip" / "b").write_text("b")
    (root / "x.txt").write_text("x")
    (root / "keep.txt").write_text("k")
    (root / ".containerignore").write_text("skip\n*.txt\n!keep.txt\nContainerfile\n")
    return root


# -- the service's side --------------------------------------------------------------------------

def test_podmans_build_query_becomes_build_options(ctx):
    o = libpod_options(request("POST", "/v4.3.1/libpod/build?" + PODMAN_QUERY), str(ctx))
    assert (o.tags, o.files, o.pull, o.layers, o.format) == (["rbt1"], [str(ctx / "Containerfile")], "missing",
                                                             True, "oci")
    assert o.platforms == [] and o.shm_size == "67108864" and o.force_rm and o.rm and o.jobs == 1
    o = libpod_options(request("POST", "/libpod/build?output=only&dockerfile=sub%2FDev.cf&nocache=1&q=1"
                                       "&labels=%5B%22a%3Db%22%5D&buildargs=%7B%22X%22%3A%221%22%7D&pullpolicy=always"
                                       "&platform=linux%2Famd64&envs=%5B%22E%3D1%22%5D&memory=1048576&timestamp=5"),
                       str(ctx))
    assert (o.tags, o.files, o.no_cache, o.quiet, o.labels, o.build_args) == (
        ["only"], [str(ctx / "sub" / "Dev.cf")], True, True, ["a=b"], ["X=1"])
    assert (o.pull, o.platforms, o.env, o.memory, o.timestamp, o.layers) == ("always", ["linux/amd64"], ["E=1"],
                                                                            "1048576", 5, False)


def test_libpod_build_refuses_bad_queries(ctx):
    for query, words in (("pullpolicy=sometimes", "invalid pullpolicy"), ("dockerfile=%5B%22..%2F..%2Fetc%2Fpasswd%22%5D",
                                                                         "Cannot locate specified Dockerfile"),
                         ("labels=3", "expected a JSON object or list"), ("outputformat=tar", "invalid outputformat")):
        with pytest.raises(BadParameter, match=words):
            libpod_options(request("POST", "/libpod/build?" + query), str(ctx))
    # a Containerfile podman's client put in the tar under its own name, from an absolute path
    (ctx / "Outside.cf").write_text("FROM busybox\n")
    o = libpod_options(request("POST", "/libpod/build?dockerfile=%5B%22%2Fhome%2Fme%2FOutside.cf%22%5D"), str(ctx))
    assert o.files == [str(ctx / "Outside.cf")]


def test_the_archive_stat_in_podmans_words():
    raw = {"name": "f", "size": 3, "mode": 0o644, "mtime": "2026-01-01T00:00:00Z", "linkTarget": ""}
    header = ("X-Docker-Container-Path-Stat", base64.b64encode(json.dumps(raw).encode()).decode())
    doc = json.loads(base64.b64decode(podman_stat(header, "/tmp/./f")[1]))
    assert (doc["isDir"], doc["linkTarget"]) == (False, "/tmp/f")
    raw.update(mode=(1 << 31) | 0o755, name="d")
    doc = json.loads(base64.b64decode(podman_stat((header[0], base64.b64encode(json.dumps(raw).encode()).decode()),
                                                  "/tmp/d/")[1]))
    assert (doc["isDir"], doc["linkTarget"]) == (True, "/tmp/d")
    raw.update(mode=(1 << 27) | 0o777, linkTarget="../etc/x")
    doc = json.loads(base64.b64decode(podman_stat((header[0], base64.b64encode(json.dumps(raw).encode()).decode()),
                                                  "/tmp/link")[1]))
    assert (doc["isDir"], doc["linkTarget"]) == (False, "/etc/x")


@pytest.mark.parametrize("method, path, handler, params", [
    ("POST", "/libpod/build", "libpod_build.build", {}),
    ("HEAD", "/libpod/containers/c1/archive", "libpod_archive.stat", {"id": "c1"}),
    ("PUT", "/libpod/containers/c1/archive", "libpod_archive.put", {"id": "c1"}),
    ("POST", "/libpod/containers/prune", "libpod_prune.containers", {}),
    ("POST", "/libpod/images/prune", "libpod_prune.images", {}),
    ("POST", "/libpod/system/prune", "libpod_prune.system", {}),
    ("POST", "/libpod/manifests/localhost/ml", "libpod_manifests.create", {"name": "localhost/ml"}),
    ("PUT", "/libpod/manifests/localhost/ml", "libpod_manifests.modify", {"name": "localhost/ml"}),
    ("POST", "/libpod/manifests/localhost/ml/add", "libpod_manifests.add", {"name": "localhost/ml"}),
    ("GET", "/libpod/manifests/localhost/ml/json", "libpod_manifests.inspect", {"name": "localhost/ml"}),
    ("POST", "/libpod/manifests/ml/registry/127.0.0.1:5000%2Fa%2Fb:1", "libpod_manifests.push",
     {"name": "ml", "destination": "127.0.0.1:5000/a/b:1"}),
    ("DELETE", "/libpod/manifests/localhost/ml", "libpod_manifests.delete", {"name": "localhost/ml"}),
])
def test_the_new_libpod_routes_match(method, path, handler, params):
    route, got = Router.build(AREAS).match(method, path)
    module, _, name = handler.partition(".")
    assert (route.handler.__module__, route.handler.__name__) == (f"podpy.api.{module}", name)
    assert got == params


def test_podmans_modify_body_becomes_add_options():
    from podpy.api.libpod_manifests import _add_options

    # what podman 4.3.1's client sent for `manifest add --tls-verify=false LIST IMAGE` (captured)
    body = {"Operation": "update", "All": False, "Annotations": None, "Arch": "", "Features": None,
            "Images": ["127.0.0.1:5917/rb/busybox:1"], "OS": "", "os_features": None, "os_version": "",
            "Variant": "", "Authfile": "", "Password": "", "Username": "", "SkipTLSVerify": True}
    o = _add_options(body, request("PUT", "/libpod/manifests/ml?tlsVerify=false"))
    assert (o.all, o.arch, o.os, o.tls_verify, o.annotations, o.features) == (False, None, None, False, {}, ())
    o = _add_options({"Arch": "arm64", "Variant": "v8", "Annotations": {"a": "b"}, "Features": ["f"]},
                     request("PUT", "/libpod/manifests/ml"))
    assert (o.arch, o.variant, o.annotations, o.features, o.tls_verify) == ("arm64", "v8", {"a": "b"}, ("f",), None)
    with pytest.raises(BadParameter, match="no value given for annotation"):
        _add_options({"Annotation": ["novalue"]}, request("PUT", "/libpod/manifests/ml"))


# -- podpy's client ------------------------------------------------------------------------------

def test_the_build_query_is_podmans(tmp_path, monkeypatch):
    args = tmp_path / "args"
    args.write_text("# a comment\nFROMFILE=1\n\nB=file\n")
    monkeypatch.setenv("FROMENV", "env")
    o = BuildOptions(context=".", tags=["a:1", "b:2"], build_args=["B=flag", "FROMENV", "UNSET_ANYWHERE_XYZ"],
                     build_arg_files=[str(args)], labels=["l=1"], pull="always", layers=False, format="docker",
                     memory="1m", shm_size="64m", cpu_shares="512", platforms=["linux/arm64/v8"], quiet=True)
    q = remote_build.query(o, ["Containerfile"])
    assert (q["t"], q["output"], q["dockerfile"], q["pullpolicy"], q["layers"], q["q"]) == (
        ["a:1", "b:2"], "a:1", '["Containerfile"]', "always", False, True)
    assert json.loads(q["buildargs"]) == {"FROMFILE": "1", "B": "flag", "FROMENV": "env"}
    assert (q["labels"], q["memory"], q["shmsize"], q["cpushares"], q["platform"]) == (
        '["l=1"]', 1 << 20, 64 << 20, 512, "linux/arm64/v8")
    assert q["outputformat"] == "application/vnd.docker.distribution.manifest.v2+json"
    with pytest.raises(InvalidArgument, match="invalid --cpu-quota"):
        remote_build.query(BuildOptions(cpu_quota="lots"), [])
    assert remote_build.query(BuildOptions(pull="true"), [])["pullpolicy"] == "always"
    with pytest.raises(InvalidArgument, match="invalid --pull 'sometimes'"):
        remote_build.query(BuildOptions(pull="sometimes"), [])


@pytest.mark.parametrize("field, value, flag", [
    ("secrets", ["id=a,src=b"], "--secret"), ("volumes", ["/a:/b"], "--volume"), ("outputs", ["type=tar,dest=x"],
                                                                                     "--output"),
    ("build_contexts", ["a=b"], "--build-context"), ("auth_file", "a.json", "--authfile"), ("ssh", ["default"], "--ssh"),
    ("userns", "host", "--userns"), ("devices", ["/dev/null"], "--device")])
def test_what_cannot_cross_is_refused_in_one_line(field, value, flag):
    with pytest.raises(InvalidArgument) as err:
        remote_build.refuse(BuildOptions(**{field: value}), "build")
    assert str(err.value) == f"podpy build {flag}: not available with --remote"


def test_the_refusals_of_the_rest():
    for o, words in ((BuildOptions(network="host"), "--network host"), (BuildOptions(isolation="chroot"), "--isolation"),
                     (BuildOptions(platforms=["linux/amd64", "linux/arm64"]), "several --platform"),
                     (BuildOptions(context="https://example.com/x.git"), "git or URL context"),
                     (BuildOptions(skip_unused_stages=False), "--skip-unused-stages=false")):
        with pytest.raises(InvalidArgument, match=words):
            remote_build.refuse(o, "build")


def test_the_context_tar_honours_the_ignore_file(ctx, tmp_path):
    outside = tmp_path / "Outside.cf"
    outside.write_text("FROM scratch\n")
    buf = io.BytesIO()
    names = remote_build.context_tar(BuildOptions(context=str(ctx), files=[str(outside), str(ctx / "sub" / "Dev.cf")]),
                                     buf)
    assert names == [".podpy-containerfile-0-Outside.cf", "sub/Dev.cf"]
    buf.seek(0)
    members = {m.name: m for m in tarfile.open(fileobj=buf, mode="r:gz").getmembers()}
    # excluded: skip/ and x.txt; Containerfile too (the ignore file says so: it is no build's file here)
    assert sorted(members) == [".containerignore", ".podpy-containerfile-0-Outside.cf", "keep.txt", "sub", "sub/Dev.cf",
                               "sub/a"]
    assert members["sub"].isdir() and members["keep.txt"].uname == ""


def test_the_containerfile_is_sent_even_when_ignored(ctx, monkeypatch):
    buf = io.BytesIO()
    monkeypatch.chdir(ctx)
    assert remote_build.context_tar(BuildOptions(context=".", files=["Containerfile"]), buf) == ["Containerfile"]
    buf.seek(0)
    assert "Containerfile" in tarfile.open(fileobj=buf, mode="r:gz").getnames()
    with pytest.raises(InvalidArgument, match="the Containerfile nope does not exist"):
        remote_build.context_tar(BuildOptions(context=".", files=["nope"]), io.BytesIO())
    with pytest.raises(InvalidArgument, match="ignore file"):
        remote_build.context_tar(BuildOptions(context=".", ignorefile="/nonexistent/ignore"), io.BytesIO())


def test_a_failed_run_keeps_its_status():
    from podpy.imagebuild.step import StepFailed

    err = remote_build._failed('building at STEP "RUN exit 3": while running runtime: exit status 3')
    assert isinstance(err, StepFailed) and err.exit_code == 3
    assert type(remote_build._failed("no such image")).__name__ == "PodpyError"


class Answers:
    """A service's answers to the prunes, as podman 4.3.1's service gave them (captured): the
    client's calls are recorded."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def call(self, method, path, query=None, body=None, headers=None, timeout=30):
        self.calls.append((method, path, query))
        return self.answers[path]


def test_podmans_prune_reports_become_the_local_ones():
    from podpy.engine.entities import ContainerPruneOptions

    svc = Answers({
        "/containers/prune": [{"Id": "c" * 64, "Size": 0}, {"Id": "d" * 64, "Size": 0, "Err": "in use"}],
        "/images/prune": [{"Id": "i" * 64, "Size": 10}],
        "/networks/prune": [{"Name": "n1", "Error": None}],
        "/system/prune": {"PodPruneReport": None, "ContainerPruneReports": [{"Id": "c" * 64, "Size": 0}],
                          "ImagePruneReports": None, "NetworkPruneReports": [{"Name": "n1", "Error": None}],
                          "VolumePruneReports": [{"Id": "v1", "Size": 4}], "ReclaimedSpace": 2000}})
    reps = remote_prune.containers(svc, ContainerPruneOptions.from_filters(["label=a=b", "label=k"]))
    assert [(r.id, str(r.error) if r.error else None) for r in reps] == [("c" * 64, None), ("d" * 64, "in use")]
    assert json.loads(svc.calls[0][2]["filters"]) == {"label": ["a=b", "k"]}
    assert remote_prune.images(svc, True, ["label!=x"]) == ["i" * 64]
    assert svc.calls[1][2]["all"] is True and json.loads(svc.calls[1][2]["filters"]) == {"label!": ["x"]}
    assert remote_prune.networks(svc, []) == ["n1"]
    report = remote_prune.system(svc, False, True, [])
    assert (report.containers, report.images, report.networks, report.volumes, report.reclaimed) == (
        ["c" * 64], [], ["n1"], ["v1"], 2000)
    assert remote_prune.system(svc, False, False, []).volumes is None


def test_the_reclaimed_space_in_dockers_units():
    from podpy.formats import human_size

    assert [human_size(n, "", 4) for n in (0, 999, 1982000, 2_500_000_000)] == ["0B", "999B", "1.982MB", "2.5GB"]
