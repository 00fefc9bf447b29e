"""cp's check of a directory replacing a non-directory (and the other way round)."""

import os
import tarfile

import pytest

from podpy.engine.cp import _clash
from podpy.errors import InvalidArgument


def _member(name, is_dir):
    m = tarfile.TarInfo(name)
    m.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    return m


def test_refused_without_overwrite_and_cleared_with_it(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidArgument, match="file exists"):
        _clash([_member("d", False)], str(tmp_path), False)
    with pytest.raises(InvalidArgument, match="file exists"):
        _clash([_member("f", True)], str(tmp_path), False)
    _clash([_member("d", True), _member("f", False)], str(tmp_path), False)   # same kinds: fine
    _clash([_member("d", False), _member("f", True)], str(tmp_path), True)
    assert not os.path.lexists(tmp_path / "d") and not os.path.lexists(tmp_path / "f")


def test_never_clears_through_a_symlink_or_dotdot(tmp_path):
    outside = tmp_path / "outside"
    (outside / "victim").mkdir(parents=True)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "link").symlink_to(outside)
    _clash([_member("link/victim", False), _member("../outside/victim", False)], str(dest), True)
    assert (outside / "victim").is_dir()
