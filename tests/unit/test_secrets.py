"""Secrets: the engine over a real store in a temporary directory, and --secret's option rules
(podman 4.3.1's error lines)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from podpy.cli.runargs import parse
from podpy.engine import secrets as sec
from podpy.errors import InvalidArgument, NameInUse, NoSuchSecret


def test_create_keeps_the_data_private_and_inspect_never_shows_it(rt):
    eng = sec.SecretEngine(rt)
    sid = eng.create("tok", b"hunter2", labels={"a": "b"})
    assert len(sid) == 25 and all(c in "0123456789abcdef" for c in sid)
    d = sec.data_dir(rt)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(d)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(d, sid)).st_mode) == 0o600
    assert os.listdir(d) == [sid]   # no temporary file left
    [rep] = eng.inspect(["tok"])
    doc = rep.value
    assert doc["ID"] == sid and doc["Spec"]["Name"] == "tok" and doc["Spec"]["Labels"] == {"a": "b"}
    assert doc["Spec"]["Driver"]["Name"] == "file" and set(doc) == {"ID", "CreatedAt", "UpdatedAt", "Spec"}
    assert "hunter2" not in json.dumps(doc)
    assert eng.inspect([sid[:6]])[0].value["ID"] == sid   # an id prefix finds it
    assert sec.read_data(rt, "tok") == (sid, "tok", b"hunter2")


@pytest.mark.parametrize("name, data, driver, why", [
    ("bad/name", b"x", "file", "invalid secret name"),
    ("-dash", b"x", "file", "invalid secret name"),
    ("a" * 65, b"x", "file", "invalid secret name"),
    ("ok", b"", "file", "larger than 0"),
    ("ok", b"x" * 512000, "file", "less than 512000"),
    ("ok", b"x", "pass", "driver"),
])
def test_bad_creates_leave_nothing(rt, name, data, driver, why):
    eng = sec.SecretEngine(rt)
    with pytest.raises(InvalidArgument, match=why):
        eng.create(name, data, driver=driver)
    assert eng.ls([]) == []
    assert not os.path.isdir(sec.data_dir(rt)) or os.listdir(sec.data_dir(rt)) == []


def test_name_in_use_ls_filters_and_rm(rt):
    eng = sec.SecretEngine(rt)
    a = eng.create("one", b"1")
    b = eng.create("two", b"2")
    with pytest.raises(NameInUse, match="one: secret name in use"):
        eng.create("one", b"3")
    assert sorted(d["Spec"]["Name"] for d in eng.ls([])) == ["one", "two"]
    assert [d["ID"] for d in eng.ls(["name=two"])] == [b]
    assert [d["ID"] for d in eng.ls([f"id={a[:5]}"])] == [a]
    with pytest.raises(InvalidArgument, match="invalid filter"):
        eng.ls(["driver=file"])
    reps = eng.rm(["one", "nope"])
    assert reps[0].value == a and reps[0].error is None
    assert isinstance(reps[1].error, NoSuchSecret) and 'no secret with name or id "nope"' in str(reps[1].error)
    assert os.listdir(sec.data_dir(rt)) == [b]
    with pytest.raises(InvalidArgument, match="requires one argument, or the --all flag"):
        eng.rm([])
    with pytest.raises(InvalidArgument, match="requires one argument, or the --all flag"):
        eng.rm(["two"], all_=True)
    assert [r.value for r in eng.rm([], all_=True)] == [b]
    assert eng.ls([]) == [] and os.listdir(sec.data_dir(rt)) == []


def test_secret_option_defaults_and_targets():
    assert sec.parse_secret("tok") == {"name": "tok", "type": "mount", "target": "/run/secrets/tok",
                                       "uid": 0, "gid": 0, "mode": 0o444}
    assert sec.parse_secret("tok,target=rel,mode=0755")["target"] == "/run/secrets/rel"
    s = sec.parse_secret("tok,target=/etc/x,uid=5,gid=6,mode=0400")
    assert (s["target"], s["uid"], s["gid"], s["mode"]) == ("/etc/x", 5, 6, 0o400)
    assert sec.parse_secret("tok,type=env") == {"name": "tok", "type": "env", "target": "tok",
                                                     "uid": 0, "gid": 0, "mode": 0o444}
    assert sec.parse_secret("tok,type=env,target=MYV")["target"] == "MYV"
    assert sec.parse_secret("x,source=tok")["name"] == "tok"


@pytest.mark.parametrize("value, message", [
    ("tok,type=env,mode=0400", "UID, GID, Mode options cannot be set with secret type env: parsing secret"),
    ("tok,type=env,uid=1", "UID, GID, Mode options cannot be set with secret type env: parsing secret"),
    ("tok,type=bogus", "type bogus is invalid: parsing secret"),
    ("tok,foo=bar", "option foo=bar invalid: parsing secret"),
    ("tok,uid=x", "UID x invalid: parsing secret"),
    ("tok,gid=-1", "GID -1 invalid: parsing secret"),
    ("tok,mode=999", "mode 999 invalid: parsing secret"),
    ("tok,uid", "option uid must be in form option=value: parsing secret"),
    (",type=env", "needs a name"),
])
def test_bad_secret_options(value, message):
    with pytest.raises(InvalidArgument) as err:
        sec.parse_secret(value)
    assert message in str(err.value)


def test_run_parses_repeated_secrets():
    fields = parse("run", ["--secret", "a", "--secret=b,type=env", "busybox", "true"])
    assert fields["secrets"] == ["a", "b,type=env"]


def test_resolve_needs_existing_secrets_and_skips_empty_ones(rt):
    sec.SecretEngine(rt).create("tok", b"v")
    [(spec, data)] = sec.resolve(rt, ["", "tok,type=env"])
    assert spec["type"] == "env" and data == b"v" and len(spec["id"]) == 25
    with pytest.raises(NoSuchSecret, match='no secret with name or id "nope"'):
        sec.resolve(rt, ["nope"])


def test_install_and_spec_parts(tmp_path):
    cdir = str(tmp_path)
    specs = [({"name": "m", "type": "mount", "target": "/run/secrets/m", "uid": 0, "gid": 0, "mode": 0o440}, b"mm"),
             ({"name": "e", "type": "env", "target": "E", "uid": 0, "gid": 0, "mode": 0o444}, b"ee")]
    sec.install(cdir, specs, lambda *a: pytest.fail("no chown for uid 0"))
    assert stat.S_IMODE(os.stat(tmp_path / "secrets").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "secrets" / "m").st_mode) == 0o440
    env, mounts = sec.spec_parts(cdir, [s for s, _ in specs])
    assert env == ["E=ee"]
    assert mounts == [{"destination": "/run/secrets/m", "type": "bind", "source": str(tmp_path / "secrets" / "m"),
                       "options": ["bind", "ro", "nosuid", "nodev", "noexec", "rprivate"]}]
