"""The Docker SDK for Python 7.x (the `docker` package, in the tests' own interpreter) against
the API service: containers (run detached, streamed logs, exec_run, wait, remove), images
(pull, build with its streamed log, tag, remove), networks and volumes."""

from __future__ import annotations

import io
import tarfile

import pytest

from helpers import own_store_fixtures

from apiservice import Service
from registry import oci_layout, push, serving

# The SDK's pooled connections are closed by the garbage collector at moments of its own
# choosing, which Python reports as unraisable ResourceWarnings in whichever test runs then:
# the SDK's doing, not the API's, and not an error of the test that happens to be running.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning",
                                        "ignore::ResourceWarning")

docker = pytest.importorskip("docker", reason="the Docker SDK (pip install 'docker>=7') is needed: "
                                              "packaging/setup.sh installs it with the test extras")



# clients that tag, remove and prune images: a store of the module's own
podpy, busybox = own_store_fixtures("docker_sdk")

@pytest.fixture(scope="module")
def service(podpy, busybox):
    svc = Service(podpy)
    yield svc
    assert svc.stop() == 0, svc.log.read_text()


@pytest.fixture(scope="module")
def client(service):
    c = docker.DockerClient(base_url=f"unix://{service.sock}", version="1.41", timeout=120)
    yield c
    for ctr in c.containers.list(all=True):
        ctr.remove(force=True)
    c.close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory, image_tar):
    work = tmp_path_factory.mktemp("sdk-registry")
    with serving(work) as reg:
        oci_layout(work / "busybox", [image_tar.read_bytes()], ["sh"])
        push(work / "busybox", f"{reg.host}/library/busybox:sdk")
        yield reg


def test_version_and_ping(client):
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.41"


def test_containers_run_logs_exec_wait_remove(client):
    ctr = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.2; done; "
                                             "sleep 30"], detach=True, name="sdk-run")
    try:
        assert ctr.status in ("created", "running")
        stream = ctr.logs(stream=True, follow=True)
        seen = b""
        for chunk in stream:
            seen += chunk
            if b"line 3" in seen:
                break
        stream.close()
        assert seen.splitlines()[:3] == [b"line 1", b"line 2", b"line 3"]
        # (the output comes a moment after the start: docker-py reads the upgraded connection's
        # socket under http.client's buffer, so bytes that arrive with the response's headers
        # are not seen by it; Docker's slower exec start hides that, podpy's fast one does not)
        code, out = ctr.exec_run(["sh", "-c", "sleep 0.3; echo from exec; exit 4"])
        assert (code, out) == (4, b"from exec\n")
        ctr.reload()
        assert ctr.status == "running"
        ctr.kill()
        assert ctr.wait(timeout=30)["StatusCode"] == 137
    finally:
        ctr.remove(force=True)
    assert "sdk-run" not in [c.name for c in client.containers.list(all=True)]
    out = client.containers.run("busybox", ["echo", "one shot"], remove=True)
    assert out == b"one shot\n"


def test_images_pull_build_tag_remove(client, registry):
    # a registry on 127.0.0.1 is spoken to over plain HTTP, as Docker's daemon does
    name = f"{registry.host}/library/busybox"
    pulled = client.images.pull(name, tag="sdk")
    assert f"{name}:sdk" in pulled.tags
    # a build context as the SDK sends it: a tar of the directory
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        text = b"FROM busybox\nARG WORD=none\nRUN echo \"word is $WORD\" && echo $WORD > /word\nCMD [\"cat\", \"/word\"]\n"
        info = tarfile.TarInfo("Containerfile")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    context.seek(0)
    image, logs = client.images.build(fileobj=context, custom_context=True, dockerfile="Containerfile",
                                      tag="sdk-built:1", buildargs={"WORD": "bird"}, rm=True)
    lines = "".join(entry.get("stream", "") for entry in logs)
    assert "Step 1/" in lines and "word is bird" in lines and "Successfully built" in lines
    assert image.attrs["Config"]["Cmd"] == ["cat", "/word"]
    ctr = client.containers.run(image.id, ["sleep", "30"], detach=True)
    try:
        assert ctr.exec_run(["sh", "-c", "sleep 0.3; cat /word"]) == (0, b"bird\n")
    finally:
        ctr.remove(force=True)
    assert image.tag("sdk-built", "2") is True
    image.reload()
    assert sorted(t.rsplit("/", 1)[-1] for t in image.tags) == ["sdk-built:1", "sdk-built:2"]
    client.images.remove("sdk-built:2")
    client.images.remove("sdk-built:1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("sdk-built:1")
    with pytest.raises(docker.errors.NotFound):
        client.images.pull(f"{registry.host}/library/nope", tag="1")
    client.images.remove(f"{name}:sdk")
    found = client.images.search(f"{registry.host}/busybox")
    assert f"{registry.host}/library/busybox" in [r["name"] for r in found]


def test_networks_and_volumes(client):
    net = client.networks.create("sdk-net", driver="bridge", labels={"made": "sdk"})
    vol = client.volumes.create("sdk-vol", labels={"made": "sdk"})
    try:
        assert client.networks.get("sdk-net").attrs["Labels"] == {"made": "sdk"}
        assert [n.name for n in client.networks.list(filters={"label": "made=sdk"})] == ["sdk-net"]
        assert [v.name for v in client.volumes.list(filters={"label": "made=sdk"})] == ["sdk-vol"]
        ctr = client.containers.create("busybox", ["sh", "-c", "echo kept > /v/f; sleep 30"], network="sdk-net",
                                       volumes={"sdk-vol": {"bind": "/v", "mode": "rw"}}, name="sdk-net-user")
        net.reload()
        ctr.start()
        for _ in range(200):   # its shell has written the file before the container goes
            if ctr.exec_run(["cat", "/v/f"]).output == b"kept\n":
                break
        else:
            raise AssertionError("the container never wrote /v/f")
        net.reload()
        assert [c.name for c in net.containers] == ["sdk-net-user"]
        with pytest.raises(docker.errors.APIError) as busy:
            net.remove()
        assert busy.value.status_code == 409
        ctr.remove(force=True)
        out = client.containers.run("busybox", ["cat", "/v/f"], volumes={"sdk-vol": {"bind": "/v"}},
                                    name="sdk-reader")
        reader = client.containers.get("sdk-reader")
        # what the run gave (the SDK follows the log from the start), and how the container ended
        assert out == b"kept\n", (out, reader.logs(), reader.attrs["State"])
        reader.remove()
    finally:
        for c in client.containers.list(all=True, filters={"name": "sdk-net-user"}):
            c.remove(force=True)
        net.remove()
        vol.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get("sdk-net")
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("sdk-vol")
    pruned = client.volumes.prune()
    assert "VolumesDeleted" in pruned
