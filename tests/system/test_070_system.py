"""info (driver and why), version, unshare, the runtime-directory fallback."""

import json
import os
import stat


def test_info_says_which_driver_and_why(podpy, busybox):
    info = json.loads(podpy("info", "--format", "json").stdout)
    store = info["store"]
    assert store["graphDriverName"] in ("overlay", "fuse-overlayfs", "vfs")
    assert store["graphDriverReason"]
    assert info["host"]["security"]["rootless"] is True
    assert info["host"]["idMappings"]["uidmap"][0]["host_id"] == os.getuid()
    assert podpy("info", "--format", "{{.Store.GraphDriverName}}").stdout.strip() == store["graphDriverName"]
    text = podpy("info").stdout
    assert "graphDriverName:" in text and "cgroupVersion:" in text
    # podman's fields for its builder and its conmon: podpy's own
    assert podpy("info", "--format", "{{.Host.BuildahVersion}}").stdout == "0.1.0\n"
    conmon = info["host"]["conmon"]
    assert os.path.isabs(conmon["path"]) and conmon["package"].startswith("podpy ")


def test_version_formats(podpy):
    assert "Version:" in podpy("version").stdout
    assert podpy("version", "--format", "{{.Client.Version}}").stdout.strip() == "0.1.0"
    # the API level is the libpod API's that podpy speaks, as podman 4.3.1's client shows its own
    assert podpy("version", "--format", "{{.Client.APIVersion}}").stdout.strip() == "4.3.1"
    assert json.loads(podpy("version", "--format", "json").stdout)["Client"]["Version"] == "0.1.0"


def test_unshare_sees_container_owned_files(podpy, busybox):
    assert podpy("unshare", "id", "-u").stdout == "0\n"
    assert podpy("unshare", "cat", "/proc/self/uid_map").stdout.split()[:3] == ["0", str(os.getuid()), "1"]
    # A file written by uid 1000 in a container is owned by a subordinate id on the host...
    podpy("run", "--network", "none", "--name", "owner", "-u", "1000", busybox, "sh", "-c",
          "echo x > /tmp/mine")
    upper = podpy.data_home / "podpy" / "containers"
    cid = json.loads(podpy("inspect", "owner").stdout)[0]["Id"]
    path = upper / cid / "diff" / "tmp" / "mine"
    if path.exists():  # overlay drivers keep the upper layer there
        assert os.stat(path).st_uid != os.getuid()
        # ...and podpy unshare can reach and remove it.
        assert podpy("unshare", "stat", "-c", "%u", str(path)).stdout.strip() == "1000"
        podpy("unshare", "rm", str(path))
        assert not path.exists()
    assert podpy("unshare", "sh", "-c", "exit 9", check=False).returncode == 9
    assert podpy("unshare", "no-such-cmd", check=False).returncode == 127
    podpy("rm", "owner")


def test_a_runtime_dir_others_may_pass_through_is_used(new_podpy, image_tar, tmp_path):
    """XDG_RUNTIME_DIR at 0711, as podman leaves /run/user/UID: still podpy's (its own directory
    in it is made private); one that others may write to is not."""
    p = new_podpy()
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o711)
    run.chmod(0o711)
    p.base_env = {**p.base_env, "XDG_RUNTIME_DIR": str(run)}
    p("import", image_tar, "busybox")
    p("run", "-d", "--name", "passthrough", "--network", "none", "busybox", "sleep", "30")
    try:
        assert (run / "podpy" / "monitor.sock").exists()
        assert stat.S_IMODE(os.lstat(run / "podpy").st_mode) == 0o700
        assert p("ps", "--format", "{{.Names}}").stdout == "passthrough\n"
    finally:
        p("rm", "-f", "-t", "0", "passthrough")
    run.chmod(0o733)
    doctor = json.loads(p("system", "doctor", "--format", "json").stdout)
    found = next(f for f in doctor if f["Check"] == "runtime-dir")
    assert found["Status"] == "warn" and "others may write to it" in found["Message"]


def test_runtime_dir_fallback_when_xdg_runtime_dir_is_not_ours(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    env = {"XDG_RUNTIME_DIR": "/tmp"}  # exists, but shared: must not be used
    assert p("run", "--rm", "--network", "none", "busybox", "true", env=env).returncode == 0
    fallback = f"/tmp/podpy-run-{os.getuid()}"
    st = os.lstat(fallback)
    assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700
    assert not os.path.exists("/tmp/podpy")
