"""containers.conf: $CONTAINERS_CONF in place of the configuration directory's file, and the
container settings read from it."""

from __future__ import annotations

import pytest

from podpy import config
from podpy.engine.procopts import conf_env
from podpy.errors import InvalidArgument
from podpy.registry import conf as regconf


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_containers_conf_env_replaces_the_users_file(tmp_path, monkeypatch):
    _write(tmp_path / "containers.conf", '[containers]\nenv = ["FROMUSER=1"]\n')
    other = _write(tmp_path / "other.conf", '[containers]\nenv = ["FROMCC=2"]\nuserns = "auto"\n'
                   'dns_servers = ["1.1.1.1"]\nbase_hosts_file = "/x"\n[engine]\ninfra_image = "img"\n')
    monkeypatch.delenv("CONTAINERS_CONF", raising=False)
    assert config.container_defaults(str(tmp_path)).env == ["FROMUSER=1"]
    monkeypatch.setenv("CONTAINERS_CONF", other)
    got = config.container_defaults(str(tmp_path))
    assert (got.env, got.userns, got.dns_servers, got.base_hosts_file, got.infra_image) == \
        (["FROMCC=2"], "auto", ["1.1.1.1"], "/x", "img")
    assert config.check_containers_conf_override() is None


def test_missing_containers_conf_file_is_podmans_error(monkeypatch):
    monkeypatch.setenv("CONTAINERS_CONF", "/nonexist")
    assert config.check_containers_conf_override() == \
        "finding config on system: CONTAINERS_CONF file: stat /nonexist: no such file or directory"


def test_containers_conf_values_of_another_type_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTAINERS_CONF", _write(tmp_path / "c.conf", '[containers]\ndns_servers = "1.1.1.1"\n'))
    with pytest.raises(InvalidArgument, match="dns_servers must be an array of strings"):
        config.container_defaults(str(tmp_path))


def test_conf_env_takes_bare_names_from_the_caller(monkeypatch):
    monkeypatch.setenv("FROMHOST", "h")
    monkeypatch.delenv("UNSET_HERE", raising=False)
    assert conf_env(["A=1", "FROMHOST", "UNSET_HERE"]) == ["A=1", "FROMHOST=h"]


def test_registries_conf_env_names_the_main_file(tmp_path, monkeypatch):
    given = _write(tmp_path / "reg.conf", 'unqualified-search-registries = ["reg.example.org"]\n')
    _write(tmp_path / "registries.conf", 'unqualified-search-registries = ["podpy.example"]\n')
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", given)
    files = regconf.conf_files(str(tmp_path))
    assert given in files and str(tmp_path / "registries.conf") not in files
    assert regconf.load(str(tmp_path)).search == ["reg.example.org"]
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", "/nonexist")
    with pytest.raises(InvalidArgument, match='loading registries configuration "/nonexist": open /nonexist: '
                                              "no such file or directory"):
        regconf.conf_files(str(tmp_path))
