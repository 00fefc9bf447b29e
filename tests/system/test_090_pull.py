"""pull and run's automatic pull, from a real registry on 127.0.0.1 (plain HTTP)."""

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry import oci_layout, push, serving, tar_of


@pytest.fixture(scope="module")
def registry(tmp_path_factory, image_tar):
    work = tmp_path_factory.mktemp("registry")
    with serving(work) as reg:
        base = image_tar.read_bytes()
        oci_layout(work / "busybox", [base], ["sh"])
        push(work / "busybox", f"{reg.host}/library/busybox:latest")
        push(work / "busybox", f"{reg.host}/podpytest/tiny:latest")
        # Two layers: the second deletes /etc/motd-gone (a whiteout) and adds /added.
        first = tar_of({"etc/motd-gone": b"old\n", "kept": b"kept\n"})
        second = tar_of({"added": b"new\n"}, whiteouts=("etc/.wh.motd-gone",))
        oci_layout(work / "multi", [base, first, second], ["cat", "/added"])
        push(work / "multi", f"{reg.host}/tests/multi:latest")
        yield reg


def test_pull_and_run(new_podpy, registry):
    p = new_podpy()
    res = p("pull", "--tls-verify=false", f"{registry.host}/library/busybox:latest")
    image_id = res.stdout.strip()
    assert len(image_id) == 64
    assert "Trying to pull" in res.stderr and "Writing manifest" in res.stderr
    names = json.loads(p("images", "--format", "json").stdout)[0]["Names"]
    assert names == [f"{registry.host}/library/busybox:latest"]
    assert p("run", "--rm", "--network", "none", f"{registry.host}/library/busybox", "echo", "ok").stdout == "ok\n"
    # Pulling again fetches nothing new and gives the same id.
    again = p("pull", "--tls-verify=false", f"{registry.host}/library/busybox:latest")
    assert again.stdout.strip() == image_id and "skipped: already exists" in again.stderr


def _insecure_conf(p, host, search=False):
    conf = p.home / "config" / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    text = f'[[registry]]\nlocation = "{host}"\ninsecure = true\n'
    if search:
        text = f'unqualified-search-registries = ["{host}"]\n' + text
    (conf / "registries.conf").write_text(text)


def test_run_pulls_a_missing_multilayer_image(new_podpy, registry):
    p = new_podpy()
    _insecure_conf(p, registry.host)
    out = p("run", "--rm", "--network", "none", f"{registry.host}/tests/multi", "sh", "-c",
            "cat /added /kept; ls /etc/motd-gone 2>&1; true")
    assert out.stdout.startswith("new\nkept\n") and "No such file" in out.stdout
    assert len(json.loads(p("image", "inspect", f"{registry.host}/tests/multi").stdout)[0]["RootFS"]["Layers"]) == 3


def test_short_name_through_search_registries(new_podpy, registry):
    p = new_podpy()
    _insecure_conf(p, registry.host, search=True)
    # (not "busybox": Debian's shortnames.conf aliases that to docker.io, as podman would use)
    assert len(p("pull", "-q", "podpytest/tiny").stdout.strip()) == 64
    assert p("image", "exists", f"{registry.host}/podpytest/tiny:latest").returncode == 0


def test_pull_unknown_image_keeps_nothing(new_podpy, registry):
    p = new_podpy()
    res = p("pull", "--tls-verify=false", f"{registry.host}/library/nope:latest", check=False)
    assert res.returncode == 125
    assert len(res.stderr.strip().splitlines()[-1:]) == 1 and res.stderr.strip().splitlines()[-1].startswith("Error:")
    assert p("images", "-q").stdout == ""
    res = p("run", "--pull=never", "--rm", f"{registry.host}/library/busybox", "true", check=False)
    assert res.returncode == 125 and "image not known" in res.stderr


def test_unreachable_registry_is_one_line(new_podpy):
    p = new_podpy()
    res = p("pull", "--tls-verify=false", "127.0.0.1:1/nothing/here:latest", check=False, timeout=120)
    assert res.returncode == 125
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("Error:") and "127.0.0.1:1" in last


def test_two_pulls_at_once_share_the_blobs(new_podpy, registry):
    p = new_podpy()
    name = f"{registry.host}/tests/multi:latest"
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: p("pull", "--tls-verify=false", "-q", name, check=False), range(2)))
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert results[0].stdout == results[1].stdout
    store = p.data_home / "podpy"
    assert len([d for d in (store / "layers").iterdir() if d.is_dir()]) == 3   # (each beside its record)


def test_broken_mirror_falls_back_to_the_next(new_podpy, registry):
    # Names under localhost:5999 (where nothing listens) are served by mirrors:
    # the first is refused, the second is the local registry.
    p = new_podpy()
    conf = p.home / "config" / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "registries.conf").write_text(
        '[[registry]]\nprefix = "localhost:5999"\nlocation = "localhost:5999"\n'
        '[[registry.mirror]]\nlocation = "127.0.0.1:1"\ninsecure = true\n'
        f'[[registry.mirror]]\nlocation = "{registry.host}"\ninsecure = true\n')
    res = p("pull", "localhost:5999/library/busybox:latest", timeout=120)
    assert "Error pulling from mirror 127.0.0.1:1" in res.stderr
    assert p("image", "exists", "localhost:5999/library/busybox:latest").returncode == 0


def test_sigkilled_pull_is_cleaned_and_the_next_pull_works(new_podpy, registry):
    import os
    import signal
    import time

    p = new_podpy()
    name = f"{registry.host}/tests/multi:latest"
    for delay in (0.05, 0.15, 0.3):
        proc = subprocess.Popen(p.command("pull", "--tls-verify=false", name), env=p.environ(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.2)
    assert len(p("pull", "-q", "--tls-verify=false", name).stdout.strip()) == 64
    store = p.data_home / "podpy"
    assert [n for n in os.listdir(store / "tmp") if not n.startswith("probe")] == []
    assert len([d for d in (store / "layers").iterdir() if d.is_dir()]) == 3
    assert p("run", "--rm", "--network", "none", name, "cat", "/added").stdout == "new\n"


def test_progress_bars_on_a_terminal(new_podpy, registry):
    import pexpect

    p = new_podpy()
    cmd = p.command("pull", "--tls-verify=false", f"{registry.host}/tests/multi:latest")
    child = pexpect.spawn(cmd[0], cmd[1:], env=p.environ(), encoding="utf-8", timeout=60, dimensions=(40, 160))
    child.expect(pexpect.EOF)
    child.close()
    out = child.before
    assert child.exitstatus == 0, out
    assert "Copying blob" in out and "MB" in out and "Writing manifest" in out
    last = out.strip().splitlines()[-1].strip()
    assert len(last) >= 64 and all(c in "0123456789abcdef" for c in last[-64:])  # the id, last


def test_push_progress_bars_on_a_terminal(new_podpy, registry, image_tar):
    import pexpect

    p = new_podpy()
    p("import", image_tar, "busybox")
    dest = f"{registry.host}/pushed/bars:v1"
    cmd = p.command("push", "--tls-verify=false", "busybox", dest)
    child = pexpect.spawn(cmd[0], cmd[1:], env=p.environ(), encoding="utf-8", timeout=60, dimensions=(40, 160))
    child.expect(pexpect.EOF)
    child.close()
    out = child.before
    assert child.exitstatus == 0, out
    # a bar with the bytes sent for the layer, then the config and the manifest
    assert "Copying blob" in out and "MB" in out and "Writing manifest" in out
    # a second push sends nothing: the layer is skipped, with no bar
    child = pexpect.spawn(cmd[0], cmd[1:], env=p.environ(), encoding="utf-8", timeout=60, dimensions=(40, 160))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "skipped: already exists" in child.before and "MB" not in child.before


def test_push_then_pull_back(new_podpy, registry, image_tar):
    a = new_podpy()
    a("import", image_tar, "busybox")
    dest = f"{registry.host}/pushed/busybox:v1"
    res = a("push", "--tls-verify=false", "busybox", dest)
    assert "Writing manifest" in res.stderr
    again = a("push", "--tls-verify=false", "--digestfile", str(a.home / "digest"), "busybox", dest)
    assert "skipped: already exists" in again.stderr
    digest = (a.home / "digest").read_text()
    assert digest.startswith("sha256:")
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"],
                                    check=True, capture_output=True, text=True).stdout)
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert [layer["mediaType"] for layer in raw["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"]
    b = new_podpy()
    b("pull", "--tls-verify=false", dest)
    assert b("run", "--rm", "--network", "none", dest, "echo", "round-trip").stdout == "round-trip\n"


def test_push_zstd_and_bad_destinations(new_podpy, registry, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    dest = f"{registry.host}/pushed/zstd:latest"
    p("push", "--tls-verify=false", "--compression-format", "zstd", "busybox", dest)
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"],
                                    check=True, capture_output=True, text=True).stdout)
    assert raw["layers"][0]["mediaType"].endswith("tar+zstd")
    fresh = new_podpy()
    fresh("pull", "--tls-verify=false", dest)
    assert fresh("run", "--rm", "--network", "none", dest, "true").returncode == 0
    res = p("push", "busybox", check=False)
    assert res.returncode == 125 and "names no registry" in res.stderr
    res = p("push", "--compression-format", "xz", "busybox", dest, check=False)
    assert res.returncode == 125 and "compression" in res.stderr


@pytest.mark.parametrize("driver", ["overlay", "fuse-overlayfs", "vfs"])
def test_push_from_each_driver_keeps_layers_and_deletions(new_podpy, registry, driver, harness_tmp):
    """A layer pushed from a store is that layer's change, whiteouts included, whatever the
    driver keeps on disk (vfs keeps whole trees: its layers are diffed against their parents)."""
    from helpers import driver_skip_reason

    reason = driver_skip_reason(driver, harness_tmp)
    if reason:
        pytest.skip(f"storage driver {driver} unavailable: {reason}")
    src = new_podpy(driver=driver)
    src("pull", "--tls-verify=false", f"{registry.host}/tests/multi:latest")
    dest = f"{registry.host}/pushed/multi-{driver}:latest"
    src("push", "--tls-verify=false", f"{registry.host}/tests/multi:latest", dest)
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dest}"],
                                    check=True, capture_output=True, text=True).stdout)
    sizes = [layer["size"] for layer in raw["layers"]]
    assert len(sizes) == 3 and sizes[1] < 4096 and sizes[2] < 4096  # diffs, not whole trees
    back = new_podpy()
    _insecure_conf(back, registry.host)
    out = back("run", "--rm", "--network", "none", dest, "sh", "-c",
               "cat /added /kept; ls /etc/motd-gone 2>&1; true").stdout
    assert out.startswith("new\nkept\n") and "No such file" in out


def _multi_arch_layout(work, base, arches):
    """An OCI layout whose tag `latest` is an image index of one image per architecture."""
    import hashlib

    for arch in arches:
        oci_layout(work / arch, [base, tar_of({"arch": f"{arch}\n".encode()})], ["cat", "/arch"], arch=arch)
    top = work / "index"
    (top / "blobs" / "sha256").mkdir(parents=True)
    (top / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entries = []
    for arch in arches:
        for blob in (work / arch / "blobs" / "sha256").iterdir():
            shutil.copyfile(blob, top / "blobs" / "sha256" / blob.name)
        desc = json.loads((work / arch / "index.json").read_text())["manifests"][0]
        desc.pop("annotations", None)
        desc["platform"] = {"architecture": arch, "os": "linux"}
        entries.append(desc)
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}).encode()
    digest = hashlib.sha256(index).hexdigest()
    (top / "blobs" / "sha256" / digest).write_bytes(index)
    (top / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": f"sha256:{digest}",
         "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    return top


def test_multi_arch_index_picks_the_platform(new_podpy, registry, image_tar, tmp_path):
    import platform

    host = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine())
    if host is None:
        pytest.skip(f"no test image for this host's architecture ({platform.machine()})")
    foreign = "arm64" if host == "amd64" else "amd64"
    layout = _multi_arch_layout(tmp_path, image_tar.read_bytes(), (foreign, host))
    name = f"{registry.host}/tests/multiarch:latest"
    subprocess.run(["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", f"oci:{layout}:latest",
                    f"docker://{name}"], check=True, capture_output=True, timeout=120)
    p = new_podpy()
    p("pull", "-q", "--tls-verify=false", name)
    assert p("run", "--rm", "--network", "none", name).stdout == f"{host}\n"  # the host's, though listed last
    arm = new_podpy()
    arm("pull", "-q", "--tls-verify=false", "--arch", foreign, name)
    info = json.loads(arm("image", "inspect", name).stdout)[0]
    assert info["Architecture"] == foreign and info["Os"] == "linux"
    other = new_podpy()
    other("pull", "-q", "--tls-verify=false", "--platform", f"linux/{foreign}", name)
    assert json.loads(other("image", "inspect", name).stdout)[0]["Id"] == info["Id"]
    res = new_podpy()("pull", "--tls-verify=false", "--arch", "s390x", name, check=False)
    assert res.returncode == 125 and "s390x" in res.stderr and res.stderr.count("Error:") == 1


def test_a_pulled_image_pushed_again_keeps_its_id(new_podpy, registry):
    """Its layers go out as the very tars they came as (their tar-split records), so the pushed
    config is the same and so is the image id that a fresh store pulls back."""
    p = new_podpy()
    name = f"{registry.host}/tests/multi:latest"
    iid = p("pull", "-q", "--tls-verify=false", name).stdout.strip()
    assert len(os.listdir(p.data_home / "podpy" / "tar-split")) == 3
    p("push", "--tls-verify=false", name, f"{registry.host}/tests/multi-again:latest")
    q = new_podpy()
    again = q("pull", "-q", "--tls-verify=false", f"{registry.host}/tests/multi-again:latest").stdout.strip()
    assert again == iid
    # and `save` writes the same layers (podman's diff ids)
    out = p.home / "saved.tar"
    p("save", "-o", str(out), name)
    r = new_podpy()
    r("load", "-i", str(out))
    assert iid in r("images", "-q", "--no-trunc").stdout
