"""The one TOML reader of configuration files, and the three files read through it."""

import os
import re

import pytest

from podpy import tomlfile
from podpy.errors import InvalidArgument


def _exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_a_good_file(tmp_path):
    path = tmp_path / "storage.conf"
    path.write_text('[storage]\ndriver = "vfs"\n[storage.options.overlay]\nmount_program = "/x"\n')
    data = tomlfile.read(str(path))
    assert data == {"storage": {"driver": "vfs", "options": {"overlay": {"mount_program": "/x"}}}}
    storage = tomlfile.table(data, "storage", str(path))
    assert tomlfile.string(storage, "driver", str(path), "storage") == "vfs"
    assert tomlfile.string(storage, "graphroot", str(path), "storage") is None
    assert tomlfile.table(storage, "nothing", str(path)) == {}
    assert tomlfile.tables(data, "registry", str(path)) == []
    assert tomlfile.strings(data, "unqualified-search-registries", str(path)) is None


def test_a_missing_file_reads_as_none(tmp_path):
    assert tomlfile.read(str(tmp_path / "absent.conf")) is None
    (tmp_path / "file").write_text("")
    assert tomlfile.read(str(tmp_path / "file" / "below.conf")) is None   # a file where a directory was expected


def test_a_broken_file_is_named_with_the_toml_error(tmp_path):
    path = tmp_path / "containers.conf"
    path.write_text("[network]\ndefault_rootless_network_cmd = \n")
    with pytest.raises(InvalidArgument) as info:
        tomlfile.read(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "line 2" in message and "\n" not in message


def test_a_file_that_is_not_utf8_or_not_readable(tmp_path):
    path = tmp_path / "registries.conf"
    path.write_bytes(b'unqualified-search-registries = ["\xff"]\n')
    with pytest.raises(InvalidArgument, match="^" + re.escape(f"{path}: not UTF-8 text")):
        tomlfile.read(str(path))
    with pytest.raises(InvalidArgument, match=_exactly(f"{tmp_path}: Is a directory")):
        tomlfile.read(str(tmp_path))


@pytest.mark.parametrize("text,call,message", [
    ("storage = 3", lambda d, p: tomlfile.table(d, "storage", p), "storage must be a table, not an integer"),
    ('[storage]\ndriver = ["vfs"]', lambda d, p: tomlfile.string(d["storage"], "driver", p, "storage"),
     "storage.driver must be a string, not an array"),
    ("[registry]\nlocation = 'x'", lambda d, p: tomlfile.tables(d, "registry", p),
     "registry must be an array of tables, not a table"),
    ("registry = ['x']", lambda d, p: tomlfile.tables(d, "registry", p),
     "registry must be an array of tables, not an array of other values"),
    ("unqualified-search-registries = 'docker.io'",
     lambda d, p: tomlfile.strings(d, "unqualified-search-registries", p),
     "unqualified-search-registries must be an array of strings, not a string"),
    ("[a]\nb = [1]", lambda d, p: tomlfile.strings(d["a"], "b", p, "a"),
     "a.b must be an array of strings, not an array of other values"),
])
def test_a_key_of_another_type_is_named(tmp_path, text, call, message):
    path = tmp_path / "some.conf"
    path.write_text(text + "\n")
    with pytest.raises(InvalidArgument, match=_exactly(f"{path}: {message}")):
        call(tomlfile.read(str(path)), str(path))


@pytest.fixture
def rootless_config(tmp_path, monkeypatch):
    """config.load() as a rootless user whose configuration directory is tmp_path/xdg/podpy."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    conf_dir = tmp_path / "xdg" / "podpy"
    conf_dir.mkdir(parents=True)
    return conf_dir


def test_storage_conf(rootless_config, tmp_path):
    from podpy import config

    assert config.load(runroot=str(tmp_path / "run")).driver is None   # no file: the defaults
    conf = rootless_config / "storage.conf"
    conf.write_text('[storage]\ngraphroot = "/g"\n[storage.options.overlay]\nmount_program = "/bin/true"\n')
    cfg = config.load(runroot=str(tmp_path / "run"))
    assert (cfg.root, cfg.driver, cfg.mount_program) == ("/g", "fuse-overlayfs", "/bin/true")
    conf.write_text("[storage\n")
    with pytest.raises(InvalidArgument, match="^" + re.escape(f"{conf}: ")):
        config.load(runroot=str(tmp_path / "run"))
    conf.write_text('[storage]\noptions = "x"\n')
    with pytest.raises(InvalidArgument, match=_exactly(f"{conf}: storage.options must be a table, not a string")):
        config.load(runroot=str(tmp_path / "run"))


def test_containers_conf(rootless_config):
    from podpy.network.options import default_rootless_cmd

    assert default_rootless_cmd(str(rootless_config)) == ("slirp4netns", "default")
    conf = rootless_config / "containers.conf"
    conf.write_text('[network]\ndefault_rootless_network_cmd = "pasta"\n')
    assert default_rootless_cmd(str(rootless_config)) == ("pasta", str(conf))
    conf.write_text('[network]\ndefault_rootless_network_cmd = "pasta\n')
    with pytest.raises(InvalidArgument, match="^" + re.escape(f"{conf}: ")):
        default_rootless_cmd(str(rootless_config))
    conf.write_text('network = "pasta"\n')
    with pytest.raises(InvalidArgument, match=_exactly(f"{conf}: network must be a table, not a string")):
        default_rootless_cmd(str(rootless_config))


def test_registries_conf_and_its_cache(rootless_config, tmp_path, monkeypatch):
    from podpy.registry.conf import load, short_names

    monkeypatch.setattr(os, "getuid", lambda: 1000)
    conf = rootless_config / "registries.conf"
    conf.write_text('unqualified-search-registries = ["r.example"]\n'
                    '[[registry]]\nlocation = "r.example"\n[[registry.mirror]]\nlocation = "m.example"\n')
    loaded = load(str(rootless_config))
    assert loaded.search == ["r.example"] and str(conf) in loaded.files
    assert loaded.find("r.example/x").mirrors[0].location == "m.example"
    cache = tmp_path / "cache"
    cache.mkdir()
    assert short_names(str(rootless_config), str(cache)).search == ("r.example",)
    assert (cache / "registries.cache").is_file()
    conf.write_text('unqualified-search-registries = ["r.example"\n')
    with pytest.raises(InvalidArgument, match="^" + re.escape(f"{conf}: ")):
        short_names(str(rootless_config), str(cache))   # a changed file is read again, and refused
    conf.write_text('[[registry]]\nlocation = "r.example"\nmirror = "m.example"\n')
    with pytest.raises(InvalidArgument, match="^" + re.escape(f"{conf}: registry.mirror must be an array of tables")):
        load(str(rootless_config))
