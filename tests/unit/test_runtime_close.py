"""Runtime.close(): what a Runtime opened (its database connection) let go, as the API service
does at the end of each request."""

import os


def _db_files(root: str) -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(os.path.join(root, "podpy.db")):
            out.append(target)
    return out


def test_close_closes_the_database_and_a_later_use_opens_it_again(rt):
    rt.state.all()   # the store's and the state's tables: the database opened
    assert _db_files(rt.cfg.root)
    released = []
    rt.store.release_claims = lambda: released.append(True)
    rt.close()
    assert released == [True]   # the claims settled first
    assert _db_files(rt.cfg.root) == []
    rt.close()   # twice: nothing more to do
    assert rt.state.all() == []   # asked again: opened again
    rt.close()
    assert _db_files(rt.cfg.root) == []
