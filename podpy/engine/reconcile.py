"""Finishing what killed commands left behind, at the start of the commands that read state.

Three kinds of leftovers: mounts whose serving process is gone (mounts.reap), and a detached container whose exit the monitor wrote to its exit
file but whose clean-up command never recorded it, and rows whose owner died (a killed
`create`, `run`, `rm`, or a monitor killed with its containers). Each row is adopted under
the write lock before anything is decided about it (State.adopt), then finished by the
container's own transitions (Container.recover).

And once, on the first command of a newer podpy over an older store: the files that describe
its volumes, networks and secrets (records.py), written with its containers' (Runtime.state).
"""

from __future__ import annotations

import os

from .container import EXIT_FILE, Container
from .context import Runtime
from .mounttable import any_mount


def _disk_full(exc: BaseException) -> bool:
    import sqlite3

    from storage.errors import no_space

    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == 13   # SQLITE_FULL
    return no_space(exc, "") is not None


def reconcile(rt: Runtime) -> None:
    try:
        _finish(rt)
    except Exception as exc:  # noqa: BLE001
        # On a full disk what is left stays for a later command: this one (`ps`, `logs`, a
        # removal that frees space) must not fail for want of room to record someone else's end.
        if not _disk_full(exc):
            raise


def _finish(rt: Runtime) -> None:
    for cid in rt.state.running_detached_ids():
        if os.path.exists(os.path.join(rt.container_run_dir(cid), EXIT_FILE)):
            rec = rt.state.get(cid)
            if rec is None:
                continue   # removed meanwhile by another command
            Container(rt, rec).exited(from_file=True)
    for rec in rt.state.orphans():
        Container(rt, rec).recover()
    if any_mount(rt):
        from .mounts import reap

        reap(rt)
    rt.store.collect_garbage()
    if rt.records_upgraded:
        # The first command of a newer podpy over an older store: every kind of object gets its
        # files now, not when a command of its kind first comes (each table does it on opening).
        from ..network.table import all_networks
        from .secrets import SecretEngine
        from .volumestore import all_volumes

        all_volumes(rt)
        all_networks(rt)
        SecretEngine(rt).ls([])
        rt.records_upgraded = False
