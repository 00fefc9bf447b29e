"""A full disk named in one line: what was being written, then "no space left on device"."""

import errno
import sqlite3

from podpy.errors import translate
from rootless.errors import SyscallError
from storage.errors import NoSpaceError, no_space


def test_enospc_and_edquot_name_what_was_written() -> None:
    for err in (errno.ENOSPC, errno.EDQUOT):
        got = no_space(OSError(err, "No space left on device"), "writing layer 0123 into /s")
        assert isinstance(got, NoSpaceError)
        assert str(got) == "writing layer 0123 into /s: no space left on device"
    assert no_space(OSError(errno.EIO, "I/O error"), "writing") is None
    assert no_space(ValueError("no"), "writing") is None


def test_unshare_out_of_namespaces_is_not_a_full_disk() -> None:
    # unshare(2) says ENOSPC when user.max_user_namespaces is reached
    assert no_space(SyscallError("unshare", "", errno.ENOSPC), "writing") is None


def test_translate_says_which_file_or_the_database() -> None:
    err = OSError(errno.ENOSPC, "No space left on device", "/s/tmp/x")
    assert str(translate(err)) == "writing /s/tmp/x: no space left on device"
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    assert str(translate(full)).endswith(": no space left on device")
    assert str(translate(full)).startswith("writing the database ")
