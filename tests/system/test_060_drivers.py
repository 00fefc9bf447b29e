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
