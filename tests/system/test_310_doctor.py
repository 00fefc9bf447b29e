"""system doctor on the test user's healthy set-up: every check ok, or a warning that says what
it costs and how to fix it; the same checks in info and as JSON or a template."""

import json
import re

# what must be ok wherever the system tests can run at all (they need all of it)
MUST_BE_OK = ("subuid", "subgid", "newuidmap", "newgidmap", "userns", "idmap", "tun", "network")
ORDER = ["subuid", "subgid", "newuidmap", "newgidmap", "userns", "idmap", "storage", "runtime-dir", "cgroups",
         "cgroup-fork", "fuse", "tun", "network", "linger", "limits", "disk", "security"]
LINE = re.compile(r"(ok  |warn|fail)  (\S+) {2,}(\S.*)")


def test_doctor_on_a_healthy_set_up(podpy, busybox):
    res = podpy("system", "doctor")
    assert res.returncode == 0 and res.stderr == ""
    found = {}
    for line in res.stdout.splitlines():
        m = LINE.fullmatch(line)
        assert m, f"not a doctor line: {line!r}"
        found[m.group(2)] = (m.group(1).strip(), m.group(3))
    assert list(found) == ORDER
    for check in MUST_BE_OK:
        assert found[check][0] == "ok", (check, found[check])
    assert found["idmap"][1] == "newuidmap and newgidmap map 65537 ids into a user namespace"
    for check, (status, text) in found.items():
        assert status != "fail", (check, text)
        if status == "warn" and not text.startswith("this kernel does not clone into a cgroup"):
            # an explained warning: what it costs, and the command that fixes it (none for a
            # kernel older than clone3 into a cgroup)
            assert re.search(r": .+; fix( \(administrator\))?: \S", text), (check, text)
    assert found["storage"][1].startswith(("overlay for ", "fuse-overlayfs for ", "vfs for "))


def test_doctor_as_json_and_template(podpy, busybox):
    data = json.loads(podpy("system", "doctor", "--format", "json").stdout)
    assert [d["Check"] for d in data] == ORDER
    assert set(data[0]) == {"Check", "Status", "Message", "Fix", "Admin"}
    assert all(d["Status"] in ("ok", "warn") for d in data)
    assert all(d["Fix"] == "" for d in data if d["Check"] in MUST_BE_OK)
    out = podpy("system", "doctor", "--format", "{{.Check}}={{.Status}}").stdout.splitlines()
    assert out[:2] == ["subuid=ok", "subgid=ok"] and len(out) == len(ORDER)


def test_info_shows_the_cheap_checks(podpy, busybox):
    info = json.loads(podpy("info", "--format", "json").stdout)
    section = info["doctor"]
    assert [f["check"] for f in section] == [c for c in ORDER if c not in ("idmap", "cgroup-fork")]   # the probes
    by = {f["check"]: f for f in section}
    assert by["userns"]["status"] == "ok"
    assert by["storage"]["message"].startswith(info["store"]["graphDriverName"] + " for ")


def test_doctor_refuses_an_unknown_flag(podpy):
    res = podpy("system", "doctor", "--bogus", check=False)
    assert res.returncode == 125   # podman's words, and its hint
    assert res.stderr == "Error: unknown flag: --bogus\nSee 'podpy system doctor --help'\n"
