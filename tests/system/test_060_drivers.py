"""The same run behaviour on each storage driver, forced through storage.conf."""

import json


def test_run_on_driver(podpy_driver, tmp_path):
    p = podpy_driver
    info = json.loads(p("info", "--format", "json").stdout)
    assert info["store"]["graphDriverName"] == p.driver
    out = p("run", "--rm", "--network", "none", "busybox", "sh", "-c",
            "id -u; echo $$; cat /proc/self/uid_map | head -1; ls -ln /bin/busybox").stdout.splitlines()
    assert out[0] == "0" and out[1] == "1"
    assert out[3].split()[2:4] == ["0", "0"]  # layer files owned by the container's root


def test_writes_stay_in_the_container(podpy_driver):
    p = podpy_driver
    p("run", "--network", "none", "--name", "w1", "busybox", "sh", "-c",
      "echo one > /etc/added; rm /bin/vi; mkdir -p /var/x && chown 1000:1000 /var/x")
    p("start", "-a", "w1")
    out = p("run", "--rm", "--network", "none", "busybox", "sh", "-c",
            "ls /etc/added 2>&1; ls /bin/vi").stdout
    assert "No such file" in out and "/bin/vi" in out
    p("rm", "w1")
    assert list((p.data_home / "podpy" / "containers").iterdir()) == []


def test_user_and_volume_on_driver(podpy_driver, tmp_path):
    p = podpy_driver
    (tmp_path / "f").write_text("v")
    tmp_path.chmod(0o755)  # uid 1000 in the container is a subordinate id: "others" on the host
    out = p("run", "--rm", "--network", "none", "-u", "tester", "-v", f"{tmp_path}:/v:ro", "-w", "/v",
            "busybox", "sh", "-c", "id -u; cat f").stdout
    assert out == "1000\nv"


def _members(p, name):
    import io
    import subprocess
    import tarfile

    out = subprocess.run(p.command("export", name), capture_output=True, env=p.environ(), timeout=120)
    assert out.returncode == 0, out.stderr
    with tarfile.open(fileobj=io.BytesIO(out.stdout), mode="r:") as tf:
        return {m.name: (m, tf.extractfile(m).read() if m.isfile() else None) for m in tf.getmembers()}


def test_export_is_the_containers_view(podpy_driver, tmp_path):
    p = podpy_driver
    p("run", "--network", "none", "--name", "ex", "busybox", "sh", "-c",
      "echo hello > /etc/added; rm /bin/vi; mkdir -p /var/x && chown 1000:1000 /var/x; "
      "rm -r /home/tester; mkdir /home/tester; touch /home/tester/only")
    members = _members(p, "ex")
    assert members["etc/added"][1] == b"hello\n"
    assert "bin/vi" not in members and "bin/busybox" in members
    assert (members["var/x"][0].uid, members["var/x"][0].gid) == (1000, 1000)
    assert members["bin/busybox"][0].uid == 0 and members["bin/busybox"][0].mode & 0o111
    # a directory removed and made again holds only its new content (no whiteouts leak out)
    assert [n for n in members if n.startswith("home/tester/")] == ["home/tester/only"]
    assert not [n for n in members if ".wh." in n]
    # -o writes the same tar atomically
    out = tmp_path / "ex.tar"
    p("export", "-o", out, "ex")
    assert out.stat().st_size > 1_000_000 and not list(tmp_path.glob("ex.tar.tmp-*"))
    p("rm", "ex")
