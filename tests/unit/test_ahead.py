"""A stage 1 started ahead of its spec (rootless/ahead.py): which specs it can run, and that
one let go exits and is reaped."""

import os

import pytest

from rootless.ahead import Ahead
from rootless.userns import IdMap, IdMappings

DEFAULT = IdMappings((IdMap(0, 1000, 1), IdMap(1, 100000, 65536)), (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))


def _unforked(mappings):
    ahead = object.__new__(Ahead)
    ahead.mappings = mappings
    return ahead


def _spec(namespaces, mappings=DEFAULT):
    return {"linux": {"namespaces": namespaces, **mappings.to_spec()}}


def test_fits_a_new_user_namespace_with_the_same_maps():
    assert _unforked(DEFAULT).fits(_spec([{"type": "user"}, {"type": "mount"}]))


def test_does_not_fit_other_maps_a_joined_namespace_or_none():
    other = IdMappings((IdMap(0, 1000, 1),), (IdMap(0, 1000, 1),))
    ahead = _unforked(DEFAULT)
    assert not ahead.fits(_spec([{"type": "user"}], other))
    assert not ahead.fits(_spec([{"type": "user", "path": "/proc/1/ns/user"}]))
    assert not ahead.fits(_spec([{"type": "mount"}]))


def test_a_discarded_stage1_exits_and_is_reaped():
    own = IdMappings((IdMap(0, os.getuid(), 1),), (IdMap(0, os.getgid(), 1),))
    ahead = Ahead(own)
    pid = ahead.pid
    ahead.discard()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    ahead.discard()  # a second time changes nothing
