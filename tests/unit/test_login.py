"""login/logout against a fake registry: credentials checked first, auth.json written atomically."""

import base64
import json
import os
import stat

import pytest

from podpy.engine import login as lg
from podpy.errors import PodpyError
from test_registry_client import PASSWORD, USER, FakeRegistry


def load(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    (tmp_path / "run").mkdir()
    return tmp_path


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_login_checks_and_stores(env, mode):
    fake = FakeRegistry()
    fake.auth = mode
    try:
        path = lg.login(fake.netloc, USER, PASSWORD, tls_verify=False, cert_dir=None, auth_file=None)
        assert path == str(env / "run" / "containers" / "auth.json")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        entry = load(path)["auths"][fake.netloc]
        assert base64.b64decode(entry["auth"]).decode() == f"{USER}:{PASSWORD}"
        assert lg.stored_user(fake.netloc, None) == USER
        with pytest.raises(PodpyError, match=f'^logging into "{fake.netloc}": invalid username/password$'):
            lg.login(fake.netloc, USER, "wrong", tls_verify=False, cert_dir=None, auth_file=None)
        # The failed login kept the good entry.
        assert fake.netloc in load(path)["auths"]
    finally:
        fake.close()


def test_logout(env):
    path = env / "auth.json"
    path.write_text(json.dumps({"auths": {"a.example": {"auth": "eDp5"}, "b.example": {"auth": "eDp5"}}}))
    assert lg.logout("https://A.example/", False, str(path)) == ["a.example"]
    assert list(load(path)["auths"]) == ["b.example"]
    with pytest.raises(PodpyError, match="not logged into a.example"):
        lg.logout("a.example", False, str(path))
    assert lg.logout(None, True, str(path)) == ["b.example"]
    assert load(path)["auths"] == {}
