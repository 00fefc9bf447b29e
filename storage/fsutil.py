"""File-system helpers shared by the store and the drivers."""

from __future__ import annotations

import os
import shutil
import stat


def remove_tree(path: str) -> None:
    """rm -rf that also empties directories whose mode forbids it (overlay's work/work is 000)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return

    def retry(func: object, p: str, _exc: object) -> None:
        parent = os.path.dirname(p)
        try:
            os.chmod(parent, 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
                shutil.rmtree(p)
            else:
                os.unlink(p)
        except FileNotFoundError:
            pass

    shutil.rmtree(path, onerror=retry)
