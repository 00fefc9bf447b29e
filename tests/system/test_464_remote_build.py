"""Remote build, cp, prunes and manifest lists: `podpy --remote` against podpy's service and
against podman 4.3.1's, and podman 4.3.1's own remote client against podpy's service."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

import remotes
from apiservice import Service
from helpers import run_command
from remotes import PODMAN, busybox_registry
from remotes import service, podman_service  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def registry(tmp_path_factory, podpy, busybox):
    """A plain-HTTP registry on 127.0.0.1 holding busybox as rb/busybox:1."""
    yield from busybox_registry(tmp_path_factory, podpy, "rb/busybox")


def podman_client(sock, env):
    return remotes.podman_client(sock, env, timeout=180)


def context(tmp_path: Path) -> Path:
    """A build context whose .containerignore leaves out skip/ and *.txt (but not keep.txt)."""
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "skip").mkdir()
    (ctx / "sub" / "kept").write_text("kept\n")
    (ctx / "skip" / "gone").write_text("gone\n")
    (ctx / "notes.txt").write_text("secret\n")
    (ctx / "keep.txt").write_text("keep\n")
    (ctx / ".containerignore").write_text("skip\n*.txt\n!keep.txt\n")
    (ctx / "Containerfile").write_text("FROM localhost/busybox\nARG A=unset\nCOPY . /ctx\n"
                                       "RUN echo \"arg=$A\"; cd /ctx && find . | sort | tr '\\n' ' '; echo\n"
                                       "LABEL built=remote\n")
    return ctx


def _binary(podpy, *args, stdin: bytes | None = None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(podpy.command(*args), env=podpy.environ(), input=stdin, capture_output=True,
                          timeout=timeout)


def _tar(**files: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# -- build -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("side", ["podpy", "podman"])
def test_remote_build_sends_the_context_and_prints_the_build(side, service, podman_service, podpy, tmp_path):
    sock = service.sock if side == "podpy" else podman_service[0]
    ctx = context(tmp_path)
    other = tmp_path / "Other.cf"
    other.write_text("FROM localhost/busybox\nRUN echo from-outside\n")

    def remote(*args, check=True, input=None):
        return podpy("--url", f"unix://{sock}", *args, check=check, timeout=300, input=input)

    res = remote("build", "-t", f"rb-{side}:1", "--build-arg", "A=given", "--iidfile", tmp_path / "iid", ctx)
    lines = res.stdout.splitlines()
    assert lines[0] == "STEP 1/5: FROM localhost/busybox"
    assert "arg=given" in lines
    assert ". ./.containerignore ./Containerfile ./keep.txt ./sub ./sub/kept " in lines   # skip/, notes.txt left out
    assert "Successfully tagged localhost/rb-" + side + ":1" in lines
    image_id = lines[-1]
    assert len(image_id) == 64 and (tmp_path / "iid").read_text() == f"sha256:{image_id}"
    labels = remote("image", "inspect", "--format", "{{index .Config.Labels \"built\"}}", f"rb-{side}:1").stdout
    assert labels.strip() == "remote"
    assert remote("build", "-q", "-f", other, ctx).stdout.strip() in remote("images", "-q", "--no-trunc").stdout
    piped = remote("build", "-f", "-", ctx, input="FROM localhost/busybox\nRUN exit 3\n", check=False)
    assert piped.returncode == 3 and piped.stderr.strip().splitlines()[-1] == \
        'Error: building at STEP "RUN exit 3": while running runtime: exit status 3'
    refused = remote("build", "-v", "/tmp:/x", ctx, check=False)
    assert refused.returncode == 125 and refused.stderr.strip().splitlines() == \
        ["Error: podpy build --volume: not available with --remote"]
    remote("rmi", f"rb-{side}:1")


def test_podmans_client_builds_with_podpys_service(service, podpy, tmp_path):
    pm = podman_client(service.sock, podpy.environ())
    ctx = context(tmp_path)
    res = pm("build", "-t", "rb-pm-client:1", "--build-arg", "A=pm", ctx)
    lines = res.stdout.splitlines()
    assert "arg=pm" in lines and ". ./.containerignore ./Containerfile ./keep.txt ./sub ./sub/kept " in lines
    assert f"sha256:{lines[-1]}" in podpy("images", "-q", "--no-trunc").stdout.split()
    assert "localhost/rb-pm-client:1" in podpy("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    podpy("rmi", "rb-pm-client:1")


# -- cp --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("side", ["podpy", "podman"])
def test_remote_cp_both_ways(side, service, podman_service, podpy, tmp_path):
    sock = service.sock if side == "podpy" else podman_service[0]
    url = f"unix://{sock}"

    def remote(*args, check=True):
        return podpy("--url", url, *args, check=check, timeout=120)

    name = f"cp-{side}"
    remote("run", "-d", "--name", name, "localhost/busybox", "sleep", "300")
    try:
        src = tmp_path / "src"
        (src / "d").mkdir(parents=True)
        (src / "f").write_text("file\n")
        (src / "d" / "g").write_text("in dir\n")
        remote("cp", src / "f", f"{name}:/tmp/f")                 # into a directory: its own name
        remote("cp", src / "f", f"{name}:/tmp/renamed")           # a new name
        remote("cp", src, f"{name}:/tmp/tree")                    # a directory under a new name
        remote("cp", f"{src}/.", f"{name}:/tmp/content")          # a directory's content
        sent = _binary(podpy, "--url", url, "cp", "-", f"{name}:/tmp", stdin=_tar(fromtar="tar\n"))
        assert sent.returncode == 0, sent.stderr
        seen = remote("exec", name, "sh", "-c", "cd /tmp && find . | sort | tr '\\n' ' '; cat renamed fromtar; "
                                                "stat -c %u tree/d/g").stdout
        assert seen == (". ./content ./content/d ./content/d/g ./content/f ./f ./fromtar ./renamed ./tree ./tree/d "
                        "./tree/d/g ./tree/f file\ntar\n0\n")
        out = tmp_path / "out"
        out.mkdir()
        remote("cp", f"{name}:/tmp/tree", out / "back")
        remote("cp", f"{name}:/etc/hostname", out)
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == \
            ["back", "back/d", "back/d/g", "back/f", "hostname"]
        assert (out / "back" / "d" / "g").read_text() == "in dir\n"
        got = _binary(podpy, "--url", url, "cp", f"{name}:/tmp/tree", "-")
        assert got.returncode == 0, got.stderr
        names = tarfile.open(fileobj=io.BytesIO(got.stdout)).getnames()
        assert {n.rstrip("/") for n in names} == {"tree", "tree/d", "tree/d/g", "tree/f"}
        missing = remote("cp", f"{name}:/nowhere", out, check=False)
        assert missing.returncode == 125 and missing.stderr.strip() == \
            f'Error: "/nowhere" could not be found on container {name}: no such file or directory'
        onto_file = remote("cp", src, f"{name}:/tmp/f", check=False)
        assert onto_file.returncode == 125 and "destination must be a directory" in onto_file.stderr
    finally:
        remote("rm", "-f", "-t", "0", name)


def test_podmans_client_copies_with_podpys_service(service, podpy, tmp_path):
    pm = podman_client(service.sock, podpy.environ())
    podpy("run", "-d", "--name", "cp-pm-client", "busybox", "sleep", "300")
    try:
        (tmp_path / "f").write_text("from podman\n")
        pm("cp", tmp_path / "f", "cp-pm-client:/tmp/pm")
        assert podpy("exec", "cp-pm-client", "cat", "/tmp/pm").stdout == "from podman\n"
        pm("cp", tmp_path, "cp-pm-client:/tmp/dir")
        assert podpy("exec", "cp-pm-client", "cat", "/tmp/dir/f").stdout == "from podman\n"
        pm("cp", "cp-pm-client:/tmp/dir", tmp_path / "back")
        assert (tmp_path / "back" / "f").read_text() == "from podman\n"
    finally:
        podpy("rm", "-f", "-t", "0", "cp-pm-client")


# -- prunes ----------------------------------------------------------------------------------------

def sections(out: str) -> dict[str, list[str]]:
    """`system prune`'s output: {heading: names}, in order, and "Total" the last line's size."""
    found: dict[str, list[str]] = {}
    heading = ""
    for line in out.splitlines():
        if line.startswith("Deleted "):
            heading = line
            found[heading] = []
        elif line.startswith("Total reclaimed space: "):
            found["Total"] = [line[len("Total reclaimed space: "):]]
        else:
            found[heading].append(line)
    return found


def _prunes(remote, local, podpys):
    """Each prune of `remote` against a store `local` lists (podpys: podpy's service): what
    goes, and podman's words."""
    try:
        _prune_each(remote, local, podpys)
    finally:
        remote("rm", "-f", "-t", "0", "pr-c", "pr-c2", "pr-running", check=False)
        remote("network", "rm", "pr-n1", "pr-n2", check=False)
        remote("volume", "rm", "pr-v1", "pr-v2", check=False)


def _prune_each(remote, local, podpys):
    remote("create", "--name", "pr-c", "localhost/busybox", "true")
    cid = local("inspect", "--format", "{{.Id}}", "pr-c").strip()
    remote("run", "-d", "--name", "pr-running", "localhost/busybox", "sleep", "300")
    assert remote("container", "prune", "-f").stdout.split() == [cid]
    remote("volume", "create", "pr-v1")
    assert remote("volume", "prune", "-f").stdout.split() == ["pr-v1"]
    remote("volume", "create", "pr-v2")
    asked = remote("volume", "prune", input="n\n")
    assert "The following volumes will be removed:\npr-v2\n" in asked.stdout
    assert "pr-v2" in local("volume", "ls", "--format", "{{.Name}}").split()
    remote("network", "create", "--label", "drop=1", "pr-n1")
    remote("network", "create", "pr-n2")
    assert remote("network", "prune", "-f", "--filter", "label=drop=1").stdout.split() == ["pr-n1"]
    remote("create", "--name", "pr-c2", "localhost/busybox", "true")
    cid2 = local("inspect", "--format", "{{.Id}}", "pr-c2").strip()
    found = sections(remote("system", "prune", "-f", "--volumes").stdout)
    # podman's order; the images a build of this module left dangling on the service may go too
    assert list(found)[:3] == ["Deleted Containers", "Deleted Volumes", "Deleted Networks"] and "Total" in found
    assert (found["Deleted Containers"], found["Deleted Volumes"], found["Deleted Networks"]) == (
        [cid2], ["pr-v2"], ["pr-n2"])
    remote("tag", "localhost/busybox", "localhost/pr-unused:1")
    remote("image", "prune", "-f")                               # only what is dangling goes
    assert local("images", "-q", "--filter", "dangling=true") == ""
    assert "localhost/pr-unused" in local("images", "--format", "{{.Repository}}").split()
    remote("rm", "-f", "-t", "0", "pr-running")
    found = sections(remote("system", "prune", "-af").stdout)
    if podpys:   # every image goes (podman 4.3.1's own service keeps an image with several names)
        assert list(found) == ["Deleted Images", "Total"] and found["Total"] != ["0B"]
        assert local("images", "-q") == ""
    assert all(len(i) == 64 for i in found.get("Deleted Images", []))


def test_remote_prunes_on_podpys_service(new_podpy, image_tar):
    store = new_podpy()
    store("import", image_tar, "localhost/busybox", timeout=300)
    svc = Service(store)
    try:
        _prunes(lambda *a, **kw: store("--url", f"unix://{svc.sock}", *a, timeout=120, **kw),
                lambda *a: store(*a).stdout, True)
    finally:
        assert svc.stop() == 0, svc.log.read_text()


def test_remote_prunes_on_podmans_service(podpy, podman_service, image_tar):
    sock, env = podman_service
    try:
        _prunes(lambda *a, **kw: podpy("--url", f"unix://{sock}", *a, timeout=120, **kw),
                lambda *a: run_command([PODMAN, *a], env=env, timeout=120).stdout, False)
    finally:
        run_command([PODMAN, "import", image_tar, "localhost/busybox"], env=env, timeout=120)


def test_podmans_client_prunes_on_podpys_service(new_podpy, image_tar):
    store = new_podpy()
    store("import", image_tar, "localhost/busybox", timeout=300)
    svc = Service(store)
    try:
        pm = podman_client(svc.sock, store.environ())
        store("create", "--name", "pm-pr", "busybox", "true")
        cid = store("inspect", "--format", "{{.Id}}", "pm-pr").stdout.strip()
        store("volume", "create", "pm-pr-v")
        store("network", "create", "pm-pr-n")
        out = pm("system", "prune", "-f", "--volumes").stdout
        assert out == f"Deleted Containers\n{cid}\nDeleted Volumes\npm-pr-v\nDeleted Networks\npm-pr-n\n" \
                      "Total reclaimed space: 0B\n"
        assert store("system", "prune", "-f").stdout == "Total reclaimed space: 0B\n"   # the same words here
        store("volume", "create", "pm-pr-v2")
        assert pm("volume", "prune", "-f").stdout.split() == ["pm-pr-v2"]
        image_id = store("images", "-q", "--no-trunc").stdout.strip().removeprefix("sha256:")
        assert pm("image", "prune", "-af").stdout.split() == [image_id]
        assert store("images", "-q").stdout == ""
    finally:
        assert svc.stop() == 0, svc.log.read_text()


# -- manifest lists -------------------------------------------------------------------------------

@pytest.mark.parametrize("side", ["podpy", "podman"])
def test_remote_manifest_lists(side, service, podman_service, podpy, registry, tmp_path):
    sock = service.sock if side == "podpy" else podman_service[0]

    def remote(*args, check=True):
        return podpy("--url", f"unix://{sock}", *args, check=check, timeout=180)

    source = f"{registry.host}/rb/busybox:1"
    name = f"localhost/ml-{side}"
    list_id = remote("manifest", "create", "--tls-verify=false", name, source).stdout.strip()
    assert len(list_id) == 64
    assert remote("manifest", "exists", name, check=False).returncode == 0
    doc = json.loads(remote("manifest", "inspect", name).stdout)
    digest = doc["manifests"][0]["digest"]
    assert doc["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert remote("manifest", "remove", name, digest).stdout.strip() == list_id
    assert json.loads(remote("manifest", "inspect", name).stdout)["manifests"] in (None, [])
    assert remote("manifest", "add", "--tls-verify=false", name, source).stdout.strip() == list_id
    remote("manifest", "push", "--tls-verify=false", "--digestfile", tmp_path / "digest", name,
           f"{registry.host}/rb/list-{side}:1")
    assert (tmp_path / "digest").read_text().startswith("sha256:")
    tags = json.loads(run_command(["curl", "-s", f"http://{registry.host}/v2/rb/list-{side}/tags/list"],
                                  env={"PATH": "/usr/bin:/bin"}).stdout)
    assert tags["tags"] == ["1"]
    removed = remote("manifest", "rm", name).stdout
    assert removed == f"Untagged: {name}:latest\nDeleted: {list_id}\n"
    assert remote("manifest", "exists", name, check=False).returncode == 1
    gone = remote("manifest", "rm", name, check=False)
    assert gone.returncode == 1 and "image not known" in gone.stderr
    refused = remote("manifest", "push", "--authfile", tmp_path / "auth.json", name, check=False)
    assert refused.returncode == 125 and refused.stderr.strip() == \
        "Error: podpy manifest push --authfile: not available with --remote"


def test_podmans_client_manifests_on_podpys_service(service, podpy):
    pm = podman_client(service.sock, podpy.environ())
    list_id = pm("manifest", "create", "localhost/ml-pm-client").stdout.strip()
    assert pm("manifest", "add", "localhost/ml-pm-client", "localhost/busybox").stdout.strip() == list_id
    doc = json.loads(pm("manifest", "inspect", "localhost/ml-pm-client").stdout)
    assert [m["platform"]["os"] for m in doc["manifests"]] == ["linux"]
    assert json.loads(podpy("manifest", "inspect", "localhost/ml-pm-client").stdout) == doc
    assert pm("manifest", "exists", "localhost/ml-pm-client", check=False).returncode == 0
    assert f"Deleted: {list_id}" in pm("manifest", "rm", "localhost/ml-pm-client").stdout
    assert podpy("manifest", "exists", "localhost/ml-pm-client", check=False).returncode == 1
