"""The id arithmetic behind --userns=keep-id and --uidmap/--gidmap (podman's intermediate ids)."""

import pytest

from rootless import userns as un
from rootless.errors import IdMapError


def test_keep_id_puts_the_user_at_its_own_id():
    # podman's map for uid 1001 with 65536 subordinate ids
    assert un.keep_id(1001, 1001, 65537) == [(0, 1, 1001), (1001, 0, 1), (1002, 1002, 64535)]


def test_keep_id_at_another_id_and_at_zero():
    assert un.keep_id(1001, 200, 65537) == [(0, 1, 200), (200, 0, 1), (201, 201, 65336)]
    assert un.keep_id(1001, 0, 65537) == [(0, 0, 1), (1, 1, 65536)]


def test_keep_id_beyond_the_subordinate_ids():
    # more container ids below the user than subordinate ids: all of them below
    assert un.keep_id(5000, 5000, 101) == [(0, 1, 100), (5000, 0, 1)]


def test_parse_idmap():
    assert un.parse_idmap("0:1:100", "--uidmap") == (0, 1, 100)
    for bad in ("0:1", "a:1:2", "0:1:0", "-1:0:5", "0:1:2:3"):
        with pytest.raises(IdMapError, match="invalid --uidmap"):
            un.parse_idmap(bad, "--uidmap")


def test_check_ranges():
    un.check_ranges([(0, 1, 10), (10, 20, 5)], 100, "--uidmap")
    with pytest.raises(IdMapError, match="container ranges overlap"):
        un.check_ranges([(0, 1, 10), (5, 50, 10)], 100, "--uidmap")
    with pytest.raises(IdMapError, match="host ranges overlap"):
        un.check_ranges([(0, 1, 10), (50, 5, 10)], 100, "--uidmap")
    with pytest.raises(IdMapError, match="not available"):
        un.check_ranges([(0, 95, 10)], 100, "--uidmap")


def test_fuse_idmapping_and_identity():
    assert un.fuse_idmapping([(0, 1, 1001), (1001, 0, 1)]) == "0:1:1001:1001:0:1"
    assert un.is_identity([(0, 0, 65537)], 65537)
    assert not un.is_identity([(0, 1, 65536)], 65537)
