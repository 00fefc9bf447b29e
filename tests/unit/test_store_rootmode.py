"""A layer's root mode as containers/storage gives it, and moving a root that is not writable."""

import os

from storage.drivers.base import LAYER_ROOT_MODE, root_mode
from storage.drivers.overlay import OverlayDriver
from storage.store import rename_dir


def test_container_root_mode_is_the_top_layers_else_0555(tmp_path):
    assert root_mode(None) == LAYER_ROOT_MODE == 0o555
    top = tmp_path / "top"
    top.mkdir()
    os.chmod(top, 0o711)
    assert root_mode(str(top)) == 0o711


def test_overlay_upper_takes_the_top_layers_mode(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    os.chmod(top, 0o555)
    cdir = tmp_path / "c"
    OverlayDriver(rootless=True).prepare_container(str(cdir), [str(top)])
    assert os.stat(cdir / "diff").st_mode & 0o7777 == 0o555
    OverlayDriver(rootless=True).prepare_container(str(tmp_path / "scratch"), [])
    assert os.stat(tmp_path / "scratch" / "diff").st_mode & 0o7777 == 0o555


def test_rename_dir_moves_a_read_only_root_and_keeps_its_mode(tmp_path):
    src = tmp_path / "a" / "layer"
    src.mkdir(parents=True)
    (src / "f").write_text("x")
    os.chmod(src, 0o555)
    (tmp_path / "b").mkdir()
    dst = tmp_path / "b" / "layer"
    rename_dir(str(src), str(dst))
    assert not src.exists() and (dst / "f").read_text() == "x"
    assert os.stat(dst).st_mode & 0o7777 == 0o555
    os.chmod(dst, 0o755)
