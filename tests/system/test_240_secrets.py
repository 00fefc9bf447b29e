"""Secrets: secret create (from a file, stdin or a variable), ls, inspect, rm, and --secret on
run and create (a file in the container with its mode and owner, or a variable), compared with
podman 4.3.1 run as the same user on a private store where podman is installed."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest




@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("rm", "-a", "-f", check=False)
    podpy("secret", "rm", "-a", check=False)


def _run(p, *args):
    return p("run", "--rm", "--network", "none", *args).stdout


def test_create_from_file_stdin_and_variable_ls_and_inspect(p, tmp_path):
    src = tmp_path / "data"
    src.write_text("hunter2")
    sid = p("secret", "create", "-l", "a=b", "tok", src).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{25}", sid)
    sid2 = p("secret", "create", "piped", "-", input="from stdin").stdout.strip()
    sid3 = p("secret", "create", "--env", "fromenv", "MY_SECRET_VAR",
             env={"MY_SECRET_VAR": "from env"}).stdout.strip()
    lines = p("secret", "ls").stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]
    assert sorted(line.split()[:3] for line in lines[1:]) == sorted(
        [[sid, "tok", "file"], [sid2, "piped", "file"], [sid3, "fromenv", "file"]])
    assert sorted(p("secret", "ls", "-q").stdout.split()) == sorted([sid, sid2, sid3])
    assert p("secret", "ls", "--noheading", "--filter", "name=tok").stdout.split()[:3] == [sid, "tok", "file"]
    assert p("secret", "ls", "--format", "{{.Name}}", "--filter", f"id={sid2}").stdout == "piped\n"
    out = p("secret", "inspect", "tok").stdout
    doc = json.loads(out)
    assert [d["ID"] for d in doc] == [sid]
    assert set(doc[0]) == {"ID", "CreatedAt", "UpdatedAt", "Spec"}
    assert doc[0]["Spec"]["Name"] == "tok" and doc[0]["Spec"]["Labels"] == {"a": "b"}
    assert doc[0]["Spec"]["Driver"]["Name"] == "file"
    for name in ("tok", "piped", "fromenv"):
        for args in ([], ["--pretty"]):
            text = p("secret", "inspect", *args, name).stdout
            assert "hunter2" not in text and "from stdin" not in text and "from env" not in text
    pretty = p("secret", "inspect", "--pretty", "tok").stdout
    assert pretty.startswith(f"ID:              {sid}\nName:              tok\nLabels:\n - a=b\nDriver:            file\n")
    assert p("secret", "inspect", "--format", "{{.Spec.Name}} {{.ID}}", sid[:8]).stdout == f"tok {sid}\n"
    # the store: directories 0700, data 0600, owned by the user
    path = doc[0]["Spec"]["Driver"]["Options"]["path"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert sorted(os.listdir(path)) == sorted([sid, sid2, sid3])
    for f in os.listdir(path):
        st = os.stat(os.path.join(path, f))
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    assert (tmp_path / "data").read_text() == "hunter2"
    assert sorted(p("secret", "rm", "tok", "piped").stdout.split()) == sorted([sid, sid2])
    assert os.listdir(path) == [sid3]
    assert p("secret", "rm", "-a").stdout.split() == [sid3]
    assert p("secret", "ls", "-q").stdout == ""


def test_secret_in_the_container_as_a_file_or_a_variable(p, tmp_path):
    (tmp_path / "d").write_text("hunter2")
    p("secret", "create", "tok", tmp_path / "d")
    assert _run(p, "--secret", "tok", "busybox", "sh", "-c",
                "stat -c '%a %u %g' /run/secrets/tok; cat /run/secrets/tok") == "444 0 0\nhunter2"
    assert _run(p, "--secret", "tok,target=/etc/x,uid=5,gid=6,mode=0400", "busybox", "sh", "-c",
                "stat -c '%a %u %g' /etc/x; cat /etc/x") == "400 5 6\nhunter2"
    assert _run(p, "--secret", "tok,target=rel,mode=0755", "busybox", "stat", "-c", "%a", "/run/secrets/rel") \
        == "755\n"
    assert _run(p, "--secret", "tok,type=env", "busybox", "sh", "-c", "echo $tok") == "hunter2\n"
    assert _run(p, "--secret", "tok,type=env,target=MYV", "busybox", "sh", "-c", "echo $MYV") == "hunter2\n"
    # exec sees the variable too, as podman's
    p("run", "-d", "--name", "bg", "--network", "none", "--secret", "tok,type=env", "busybox", "sleep", "100")
    assert p("exec", "bg", "sh", "-c", "echo [$tok]").stdout == "[hunter2]\n"
    p("rm", "-f", "-t", "0", "bg")
    # a container keeps its copy: the secret's removal does not break it (podman's way)
    p("create", "--name", "keeps", "--network", "none", "--secret", "tok,uid=7", "--secret", "tok,type=env,target=V",
      "busybox", "sh", "-c", "cat /run/secrets/tok; echo \" $V\"")
    inspected = p("inspect", "keeps").stdout
    assert "hunter2" not in inspected
    secrets = json.loads(inspected)[0]["Config"]["Secrets"]
    assert [(s["Name"], s["UID"], s["Mode"]) for s in secrets] == [("tok", 7, 0o444), ("tok", 0, 0o444)]
    p("secret", "rm", "tok")
    assert p("start", "-a", "keeps").stdout == "hunter2 hunter2\n"
    p("rm", "keeps")
    assert p("ps", "-aq").stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--secret", "tok,type=env,mode=0400"], "UID, GID, Mode options cannot be set with secret type env"),
    (["--secret", "tok,type=bogus"], "type bogus is invalid"),
    (["--secret", "tok,foo=bar"], "option foo=bar invalid"),
    (["--secret", "nope"], 'no secret with name or id "nope": no such secret'),
    (["--secret", "tok,uid=x"], "UID x invalid"),
    (["--secret", "tok,mode=999"], "mode 999 invalid"),
    (["--secret", "tok,uid"], "option uid must be in form option=value"),
])
def test_bad_secret_options_make_no_container(p, tmp_path, args, message):
    (tmp_path / "d").write_text("x")
    p("secret", "create", "tok", tmp_path / "d")
    for verb in (["run", "--rm"], ["create"]):
        res = p(*verb, "--network", "none", *args, "busybox", "true", check=False)
        assert res.returncode == 125 and message in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
    assert p("ps", "-aq").stdout == ""


def test_bad_secret_commands(p, tmp_path):
    (tmp_path / "d").write_text("x")
    (tmp_path / "empty").write_text("")
    p("secret", "create", "tok", tmp_path / "d")
    cases = [
        (["secret", "create", "tok", tmp_path / "d"], "tok: secret name in use"),
        (["secret", "create", "bad/name", tmp_path / "d"], "invalid secret name"),
        (["secret", "create", "s9", tmp_path / "missing"], "missing"),
        (["secret", "create", "--driver", "pass", "s9", tmp_path / "d"], "driver"),
        (["secret", "create", "--env", "s9", "PODPY_NO_SUCH_VARIABLE"],
         "environment variable PODPY_NO_SUCH_VARIABLE is not set"),
        (["secret", "create", "s9", tmp_path / "empty"], "secret data must be larger than 0"),
        (["secret", "inspect", "nope"], 'no secret with name or id "nope"'),
        (["secret", "rm", "nope"], 'no secret with name or id "nope"'),
        (["secret", "rm"], "requires one argument, or the --all flag"),
        (["secret", "rm", "-a", "tok"], "requires one argument, or the --all flag"),
        (["secret", "ls", "--filter", "bogus=1"], "invalid filter"),
    ]
    for args, message in cases:
        res = p(*args, check=False)
        assert res.returncode == 125 and message in res.stderr, (args, res.stderr)
    assert p("secret", "ls", "--noheading").stdout.split()[1] == "tok"
    assert len(p("secret", "ls", "-q").stdout.split()) == 1


def test_shapes_and_errors_as_podmans(p, podman, tmp_path):
    (tmp_path / "d").write_text("hunter2")
    outs = {}
    for name, tool, image in (("podpy", p, "busybox"), ("podman", podman, "localhost/busybox")):
        sid = tool("secret", "create", "-l", "k=v", "tok", tmp_path / "d").stdout.strip()
        doc = json.loads(tool("secret", "inspect", "tok").stdout)[0]
        outs[name] = {
            "id_shape": bool(re.fullmatch(r"[0-9a-f]{25}", sid)),
            "keys": sorted(doc), "spec_keys": sorted(doc["Spec"]), "driver": doc["Spec"]["Driver"]["Name"],
            "driver_keys": sorted(doc["Spec"]["Driver"]), "labels": doc["Spec"]["Labels"],
            "header": tool("secret", "ls").stdout.splitlines()[0].split(),
            "quiet": tool("secret", "ls", "-q").stdout == sid + "\n",
            "pretty": [line.split(":")[0] for line in tool("secret", "inspect", "--pretty", "tok").stdout.splitlines()],
            "file": tool("run", "--rm", "--network", "none", "--secret", "tok,uid=3,gid=4,mode=0440", image,
                         "sh", "-c", "stat -c '%a %u %g' /run/secrets/tok; cat /run/secrets/tok").stdout,
            "env": tool("run", "--rm", "--network", "none", "--secret", "tok,type=env,target=X", image,
                        "sh", "-c", "echo $X").stdout,
            "errors": [(r.returncode, r.stderr.strip().replace("podman", "TOOL").replace("podpy", "TOOL"))
                       for r in (tool("secret", "rm", "nope", check=False),
                                 tool("secret", "rm", check=False),
                                 tool("secret", "create", "tok", tmp_path / "d", check=False),
                                 tool("run", "--rm", "--secret", "tok,type=env,uid=1", image, "true", check=False),
                                 tool("run", "--rm", "--secret", "tok,mode=abc", image, "true", check=False))],
        }
        tool("secret", "rm", "tok")
    assert outs["podpy"] == outs["podman"]
