"""The tuple records that replace collections.namedtuple: storage.named.NamedTuple and the
few written out in rootless behave as the named tuples they replace."""

import copy
import pickle

import pytest

from rootless.cgroups import CgroupInfo
from rootless.network.slirp import SlirpOptions
from rootless.userns import IdMap, IdMappings
from storage.named import NamedTuple
from storage.reference import Reference, parse
from storage.transports.refs import TransportRef


class Point(NamedTuple):
    x: int
    y: int
    label: str = "origin"

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


def test_fields_positions_defaults_and_keywords():
    p = Point(1, 2)
    assert p == (1, 2, "origin") and isinstance(p, tuple)
    assert (p.x, p.y, p.label) == (1, 2, "origin")
    assert Point(y=5, x=4, label="a") == (4, 5, "a")
    assert Point(1, y=2, label="b").label == "b"
    assert Point._fields == ("x", "y", "label")
    assert Point._field_defaults == {"label": "origin"}
    assert p.norm1() == 3
    x, y, label = p
    assert (x, y, label) == (1, 2, "origin")
    assert hash(p) == hash((1, 2, "origin"))


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(TypeError, match="missing argument 'y'"):
        Point(1)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        Point(1, 2, "a", "b")
    with pytest.raises(TypeError, match="'x' twice"):
        Point(1, 2, x=3)
    with pytest.raises(TypeError, match="unexpected arguments: z"):
        Point(1, 2, z=3)


def test_replace_asdict_repr_pickle_and_copy():
    p = Point(1, 2)
    q = p._replace(y=7)
    assert type(q) is Point and q == (1, 7, "origin") and p == (1, 2, "origin")
    with pytest.raises(ValueError, match="no fields z"):
        p._replace(z=1)
    assert p._asdict() == {"x": 1, "y": 2, "label": "origin"}
    assert repr(p) == "Point(x=1, y=2, label='origin')"
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(p, proto))
        assert type(back) is Point and back == p
    assert type(copy.copy(p)) is Point and copy.deepcopy(p) == p


def test_declaration_mistakes_are_caught():
    with pytest.raises(TypeError, match="follows one with a default"):
        class Bad(NamedTuple):
            a: int = 1
            b: int

    with pytest.raises(TypeError, match="declared once"):
        class More(Point):
            z: int = 0


def test_a_subclass_adding_methods_keeps_the_fields():
    class Named(Point):
        def name(self) -> str:
            return f"{self.label}@{self.x},{self.y}"

    assert Named(1, 2).name() == "origin@1,2" and Named._fields == Point._fields


def test_the_stores_records_keep_their_shape():
    ref = parse("quay.io/a/b:1")
    assert ref == Reference("quay.io", "a/b", "1", None) and ref.tag == "1" and ref.digest is None
    assert Reference("", "x") == ("", "x", None, None)
    tr = TransportRef("oci", "/d", index=3)
    assert (tr.transport, tr.path, tr.name, tr.index, tr.store_spec) == ("oci", "/d", None, 3, None)


def test_rootless_tuples_written_out():
    m = IdMap(0, 1000, 1)
    assert m == (0, 1000, 1) and (m.container_id, m.host_id, m.size) == (0, 1000, 1)
    maps = IdMappings((m,), (m,))
    assert maps.warning == "" and maps.uids == (m,) and maps == ((m,), (m,), "")
    assert IdMappings.from_spec(maps.to_spec()) == maps
    info = CgroupInfo("/sys/fs/cgroup", "/user", True, ("cpu",), "delegated")
    assert info.writable and info.controllers == ("cpu",) and info.reason == "delegated"
    opts = SlirpOptions(extra=("--x",))
    assert opts.mtu == 65520 and opts.cidr is None and opts.extra == ("--x",)
    wider = opts._replace(mtu=1500)
    assert type(wider) is SlirpOptions and wider.mtu == 1500 and wider.extra == ("--x",)
    for value in (m, maps, info, opts):
        back = pickle.loads(pickle.dumps(value))
        assert type(back) is type(value) and back == value
        assert copy.copy(value) == value
    assert repr(m) == "IdMap(container_id=0, host_id=1000, size=1)"
    assert repr(opts).startswith("SlirpOptions(mtu=65520, cidr=None")
