"""A detached run's exit file belongs to that run: the monitor writes it when the container
exits, and whoever records the exit reads it. A start's claim removes the last run's file in
the claim's own transaction, and an exit is recorded from the file only in a transaction that
still sees it, so a late clean-up of the last run (the monitor's `container cleanup`, a
`wait`, any command's reconcile) never ends the run that a restart has just begun."""

from __future__ import annotations

import json
import os
import time

from podpy.engine.cleanup import cleanup
from podpy.engine.container import EXIT_FILE, Container
from podpy.engine.context import Runtime
from podpy.engine.reconcile import reconcile
from podpy.state import CONFIGURED, EXITED, RUNNING, ContainerConfig, ContainerRecord


def _container(rt: Runtime, remove: bool = False) -> Container:
    config = {"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    image = rt.store.create_image(config, [], ["localhost/a:latest"])
    settings = ContainerConfig(command=["sh"], entrypoint=[], env=[], labels={}, remove=remove)
    rec = ContainerRecord(id=os.urandom(32).hex(), name="restarted", image_id=image.id, image_name=image.names[0],
                          created=time.time(), state=CONFIGURED, config=settings)
    ctr = Container.insert(rt, rec)
    rt.store.create_container(rec.id, image)
    ctr.created(keep=False)
    return ctr


def _started(rt: Runtime, ctr: Container, pid: int) -> None:
    """What a detached start leaves: the row running, the monitor's pid as its owner."""
    ctr.claim_start(detached=True)
    rt.state.update(ctr.rec.id, pid=pid, owner_pid=os.getpid())
    os.makedirs(ctr.run_dir(), exist_ok=True)


def _monitor_exit(ctr: Container, code: int) -> None:
    with open(os.path.join(ctr.run_dir(), EXIT_FILE), "w") as f:
        json.dump({"code": code, "finished": time.time()}, f)


def test_a_late_cleanup_of_the_last_run_leaves_a_restarted_container_running(rt):
    ctr = _container(rt)
    _started(rt, ctr, 4242)
    _monitor_exit(ctr, 143)                     # stopped: the monitor wrote the exit file
    assert Container(rt, rt.state.get(ctr.rec.id)).exited(from_file=True)   # `stop` recorded it
    assert rt.state.get(ctr.rec.id).state == EXITED
    restart = Container(rt, rt.state.get(ctr.rec.id))
    restart.claim_start(detached=True)          # a healthcheck's restart claims it ...
    assert not os.path.exists(os.path.join(ctr.run_dir(), EXIT_FILE))
    cleanup(rt, ctr.rec.id, print)              # ... before the stopped run's clean-up comes
    reconcile(rt)
    assert not Container(rt, rt.state.get(ctr.rec.id)).exited(from_file=True)
    now = rt.state.get(ctr.rec.id)
    assert now.state == RUNNING and now.exit_code is None


def test_a_file_written_after_the_claim_is_the_new_runs_exit(rt):
    ctr = _container(rt)
    _started(rt, ctr, 4242)
    _monitor_exit(ctr, 0)
    cleanup(rt, ctr.rec.id, print)
    assert rt.state.get(ctr.rec.id).state == EXITED
    _started(rt, Container(rt, rt.state.get(ctr.rec.id)), 4343)
    _monitor_exit(ctr, 7)
    cleanup(rt, ctr.rec.id, print)
    now = rt.state.get(ctr.rec.id)
    assert (now.state, now.exit_code) == (EXITED, 7)


def test_the_file_is_read_in_the_recording_transaction(rt):
    """A command that saw the file before a start's claim, and records after it, finds it gone
    (the claim and the reading are serialised by the database's write lock)."""
    ctr = _container(rt)
    _started(rt, ctr, 4242)
    _monitor_exit(ctr, 143)
    late = Container(rt, rt.state.get(ctr.rec.id))
    assert late.read_exit() is not None          # the late command saw the last run's file
    assert Container(rt, rt.state.get(ctr.rec.id)).exited(from_file=True)
    Container(rt, rt.state.get(ctr.rec.id)).claim_start(detached=True)
    assert not late.exited(from_file=True)       # and records nothing once the claim is in
    assert rt.state.get(ctr.rec.id).state == RUNNING


def test_a_container_whose_monitor_died_without_a_file_is_over_with_an_unknown_code(rt):
    ctr = _container(rt)
    _started(rt, ctr, 4242)
    assert Container(rt, rt.state.get(ctr.rec.id)).exited(from_file=True, unknown=True)
    assert rt.state.get(ctr.rec.id).exit_code == -1


def test_a_poll_without_a_file_takes_no_write_lock(rt):
    """`stop` and `wait` poll for the exit: while there is no file they must not queue for the
    database's write lock, which 100 concurrent commands share."""
    import sqlite3

    ctr = _container(rt)
    _started(rt, ctr, 4242)
    other = sqlite3.connect(rt.db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")        # another command writes
    try:
        rt.db.conn.execute("PRAGMA busy_timeout=0")   # a lock asked for now would fail at once
        assert not Container(rt, rt.state.get(ctr.rec.id)).exited(from_file=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert rt.state.get(ctr.rec.id).state == RUNNING


def test_stop_returns_once_the_recorder_of_the_exit_has_released_the_run(rt):
    """A clean-up that recorded the exit removes the runtime directory just after its commit:
    `stop` returns only once that is done, so a restart does not write where it removes."""
    import shutil
    import threading

    from podpy.engine.lifecycle import _wait_over

    ctr = _container(rt)
    _started(rt, ctr, 4242)
    with open(os.path.join(ctr.run_dir(), "spec"), "w") as f:
        f.write("{}")
    rt.state.update(ctr.rec.id, state=EXITED)          # the clean-up's commit ...
    seen = []

    def release() -> None:
        seen.append(True)
        shutil.rmtree(ctr.run_dir())

    late = threading.Timer(0.3, release)
    late.start()                                       # ... and its release, a moment later
    try:
        assert _wait_over(rt, rt.state.get(ctr.rec.id), 10)
        assert seen and not os.path.exists(ctr.run_dir())
    finally:
        late.cancel()


def test_a_foreground_rm_container_killed_between_its_exit_and_its_removal_is_removed_next(rt):
    """A `run --rm` records the exit, then removes the container (stage 1 has taken its
    directory away by then). Killed in between, it leaves the row owned by itself, dead: the
    next command's recovery removes it, rather than an exited row that nobody owns."""
    ctr = _container(rt, remove=True)
    pid = os.fork()
    if pid == 0:   # the foreground run, with its own connection, killed before the removal
        code = 1
        try:
            mine = Runtime(rt.cfg)
            running = Container(mine, mine.state.get(ctr.rec.id))
            running.claim_start(detached=False)
            Container.destroy = lambda self, *a, **k: None   # type: ignore[method-assign]
            code = 0 if running.exited(0) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert rt.state.get(ctr.rec.id).state == EXITED
    reconcile(rt)
    assert rt.state.get(ctr.rec.id) is None
