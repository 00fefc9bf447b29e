"""A staging directory's lock is its command's alone: a helper the command forked does not
keep it held once the command is killed, so the next command finds the directory
abandoned and removes it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from storage.staging import abandoned

ROOT = Path(__file__).resolve().parents[2]

COMMAND = """
import os, sys, time
sys.path.insert(0, {root!r})
from storage.staging import Staging
stage = Staging({store!r}, "cp")
helper = os.fork()
if helper == 0:       # a helper still at work after its command is gone
    open({ready!r}, "w").close()   # past the fork's hooks: its copy of the lock is gone
    time.sleep(30)
    os._exit(0)
print(helper, flush=True)
time.sleep(30)
"""


def test_a_killed_commands_staging_is_abandoned_while_its_helper_lives(tmp_path):
    store = tmp_path / "store"
    ready = tmp_path / "helper-at-work"
    proc = subprocess.Popen([sys.executable, "-c", COMMAND.format(root=str(ROOT), store=str(store),
                                                                   ready=str(ready))],
                            stdout=subprocess.PIPE, text=True)
    helper = int(proc.stdout.readline())
    # The command is killed while its helper works (not in the instant between the fork and the
    # helper's first step, where the helper has yet to drop its copy of the lock).
    deadline = time.monotonic() + 10
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert abandoned(str(store / "tmp")) == []   # its command works: held
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        os.kill(helper, 0)   # the helper lives on
        found = abandoned(str(store / "tmp"))
        assert [os.path.basename(a.path)[:3] for a in found] == ["cp-"]
        for a in found:
            a.keep()
    finally:
        try:
            os.kill(helper, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.kill()
        proc.stdout.close()
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{helper}") and time.monotonic() < deadline:
        time.sleep(0.05)
