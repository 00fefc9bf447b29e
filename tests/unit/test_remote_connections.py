"""`system connection`'s store: podman 4.3.1's tables in podpy's containers.conf, the rest of
the file kept, written atomically."""

import os
import tomllib
from pathlib import Path

import pytest

from podpy.errors import InvalidArgument
from podpy.remote import connections


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "containers.conf")


def read(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def names(path):
    active, dests = connections.load(path)
    return active, [(d.name, d.uri, d.identity, d.default) for d in dests]


def test_the_first_connection_becomes_the_default(path):
    connections.add("a", "unix:///a.sock", path=path)
    connections.add("b", "tcp://h:1", path=path)
    assert names(path) == ("a", [("a", "unix:///a.sock", "", True), ("b", "tcp://h:1", "", False)])
    engine = read(path)["engine"]
    assert engine["active_service"] == "a"
    assert engine["service_destinations"]["b"] == {"uri": "tcp://h:1"}


def test_default_moves_and_identity_is_kept(path):
    connections.add("a", "unix:///a.sock", path=path)
    connections.add("k", "ssh://me@h:22/s.sock", "/keys/id", default=True, path=path)
    assert names(path)[0] == "k"
    assert read(path)["engine"]["service_destinations"]["k"] == {"uri": "ssh://me@h:22/s.sock",
                                                                 "identity": "/keys/id"}
    connections.set_default("a", path)
    assert names(path)[0] == "a"
    with pytest.raises(InvalidArgument, match='"x" destination is not defined'):
        connections.set_default("x", path)


def test_rename_follows_the_default(path):
    connections.add("a", "unix:///a.sock", path=path)
    connections.rename("a", "b", path)
    assert names(path) == ("b", [("b", "unix:///a.sock", "", True)])
    with pytest.raises(InvalidArgument):
        connections.rename("nope", "c", path)


def test_remove_and_remove_all(path):
    connections.add("a", "unix:///a.sock", path=path)
    connections.add("b", "unix:///b.sock", path=path)
    connections.remove("a", path)   # the default: then there is none
    assert names(path) == ("", [("b", "unix:///b.sock", "", False)])
    connections.remove("nope", path)   # no error, as podman's
    connections.remove_all(path)
    assert names(path) == ("", [])


def test_the_rest_of_the_file_is_kept(path):
    with open(path, "w") as f:
        f.write('# my settings\n[containers]\nlog_size_max = 10\n\n[engine]\nevents_logger = "file"\n'
                'active_service = "old"\n[engine.service_destinations.old]\nuri = "unix:///old.sock"\n\n'
                '[network]\ndefault_subnet = "10.89.0.0/16"\n')
    os.chmod(path, 0o640)
    connections.add("new", "tcp://h:2", default=True, path=path)
    text = Path(path).read_text()
    assert "# my settings" in text
    data = tomllib.loads(text)
    assert data["containers"] == {"log_size_max": 10}
    assert data["network"] == {"default_subnet": "10.89.0.0/16"}
    assert data["engine"]["events_logger"] == "file"
    assert data["engine"]["active_service"] == "new"
    assert sorted(data["engine"]["service_destinations"]) == ["new", "old"]
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert not [n for n in os.listdir(os.path.dirname(path)) if ".tmp-" in n]


def test_names_that_need_quotes_are_quoted(path):
    connections.add("my host.1", "unix:///a.sock", path=path)
    assert "my host.1" in read(path)["engine"]["service_destinations"]


def test_a_broken_file_is_refused_and_left_alone(path):
    with open(path, "w") as f:
        f.write("[engine\n")
    with pytest.raises(InvalidArgument):
        connections.add("a", "unix:///a.sock", path=path)
    assert Path(path).read_text() == "[engine\n"


def test_an_engine_table_podpy_cannot_edit_is_refused(path):
    with open(path, "w") as f:
        f.write('engine = { active_service = "x" }\n')
    with pytest.raises(InvalidArgument):
        connections.add("a", "unix:///a.sock", path=path)


def test_the_json_shape_is_podmans(path):
    connections.add("a", "unix:///a.sock", path=path)
    doc = connections.load(path)[1][0].document()
    assert doc == {"Name": "a", "URI": "unix:///a.sock", "Identity": "", "IsMachine": False, "Default": True}
