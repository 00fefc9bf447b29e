"""storage.fsutil.tree_sizes: disk blocks, or the apparent sizes podman's container sizes count."""

import os

from storage.fsutil import tree_sizes


def test_blocks_and_apparent_sizes(tmp_path):
    top = tmp_path / "t"
    (top / "d").mkdir(parents=True)
    (top / "d" / "f").write_bytes(b"x" * 10)
    os.symlink("f", top / "d" / "l")
    assert tree_sizes([str(top)], apparent=True) == [10 + 1]   # the file and the link's target name
    assert tree_sizes([str(top)])[0] >= 4096                    # a block at least for the file's data
    assert tree_sizes([str(tmp_path / "missing")], apparent=True) == [0]
