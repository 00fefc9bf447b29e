"""diff and commit: a container's changes listed, and made into an image that runs, has the
container's configuration, and can be pushed to a registry and pulled back."""

import json
import shutil

import pytest

from registry import LocalRegistry


@pytest.fixture
def p(new_podpy, image_tar):
    q = new_podpy()
    q("import", image_tar, "busybox")
    return q


def _make_changes(p, name="cm", driver_store=None):
    (driver_store or p)("run", "--name", name, "-e", "FOO=bar", "-w", "/tmp", "--network", "none", "busybox",
                        "sh", "-c", "echo new > /added; chown 1000 /added; rm /bin/vi; mkdir -p /etc/d; "
                        "echo x > /etc/d/f")


def test_diff_lists_what_changed(p):
    _make_changes(p)
    lines = p("diff", "cm").stdout.splitlines()
    assert {"A /added", "C /bin", "D /bin/vi", "C /etc", "A /etc/d", "A /etc/d/f"} <= set(lines)
    assert not [x for x in lines if x.endswith(("/etc/hostname", "/etc/hosts", "/etc/resolv.conf"))]
    assert not [x for x in lines if x.split()[1] in ("/run", "/run/.containerenv")]   # podman's init paths
    data = json.loads(p("diff", "--format", "json", "cm").stdout)
    assert "/bin/vi" in data["deleted"] and "/added" in data["added"] and "/bin" in data["changed"]
    res = p("diff", "nosuch", check=False)
    assert res.returncode == 125


@pytest.mark.parametrize("driver", ["overlay", "vfs"])
def test_commit_makes_an_image_with_the_changes_and_the_config(new_podpy, image_tar, driver):
    q = new_podpy(driver=driver)
    q("import", image_tar, "busybox")
    _make_changes(q, driver_store=q)
    image_id = q("commit", "-c", 'CMD ["cat", "/added"]', "-m", "my change", "-a", "me", "cm", "mine:1").stdout.strip()
    assert len(image_id) == 64
    assert q("run", "--rm", "--network", "none", "mine:1").stdout == "new\n"
    out = q("run", "--rm", "--network", "none", "mine:1", "sh", "-c",
            "ls /bin/vi 2>&1; echo $FOO; pwd; stat -c %u /added").stdout.splitlines()
    assert "No such file" in out[0] and out[1:] == ["bar", "/tmp", "1000"]
    info = json.loads(q("image", "inspect", "mine:1").stdout)[0]
    assert info["Author"] == "me" and len(info["RootFS"]["Layers"]) == 2
    assert q("history", "--format", "{{.Comment}}", "mine:1").stdout.splitlines()[0] == "my change"


def test_committed_image_is_pushed_and_pulled_back(p, tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    (tmp_path / "reg").mkdir()
    reg = LocalRegistry(tmp_path / "reg")
    try:
        _make_changes(p)
        p("commit", "cm", "mine:1")
        dest = f"{reg.host}/committed/mine:1"
        p("push", "--tls-verify=false", "mine:1", dest)
        fresh = p.__class__(variant=p.variant, argv=p.argv, home=tmp_path / "fresh", base_env=p.base_env)
        fresh("pull", "--tls-verify=false", dest)
        out = fresh("run", "--rm", "--network", "none", dest, "sh", "-c", "cat /added; ls /bin/vi 2>&1; true").stdout
        assert out.startswith("new\n") and "No such file" in out
    finally:
        reg.stop()
