"""A stand-in for `systemctl [--user] start|stop|restart UNIT` on a host without systemd as a manager.

The auto-update test puts a `systemctl` on PATH that runs this file. It keeps what systemd
keeps between calls in the directory $STANDIN_DIR: the unit files (units/NAME) and each
started unit's main pid (state/NAME.json). A start runs the unit's commands as systemd would
(units.py's UnitRunner: specifiers, Environment=, READY=1 on a notify socket, MAINPID) and
exits non-zero when the unit did not start, after running ExecStopPost as systemd does; a
stop runs ExecStop, kills what the unit left (KillMode) and runs ExecStopPost; restart is
stop then start. The unit's processes outlive this process: with `podpy run -d
--sdnotify=conmon` the main process is podpy's monitor, which is not our child.
Every call is logged to calls.log, one line each ("restart NAME 0").
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path


def _units_module():
    spec = importlib.util.spec_from_file_location("units", Path(__file__).with_name("units.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["units"] = module   # its dataclasses look their module up there
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _runner(units, base: Path, name: str):
    path = base / "units" / name
    if not path.exists():
        print(f"Failed to restart {name}: Unit {name} not found.", file=sys.stderr)
        sys.exit(5)
    workdir = base / "work"
    workdir.mkdir(exist_ok=True)
    cgroup = units.delegated_cgroup() if os.environ.get("STANDIN_CGROUP") else None
    return units.UnitRunner(units.load(path, name), dict(os.environ), workdir, cgroup_parent=cgroup)


def stop(units, base: Path, name: str) -> None:
    state = base / "state" / f"{name}.json"
    if not state.exists():
        return
    runner = _runner(units, base, name)
    runner.main_pid = json.loads(state.read_text()).get("main_pid")
    try:
        runner.stop()
    finally:
        state.unlink()


def start(units, base: Path, name: str) -> int:
    runner = _runner(units, base, name)
    try:
        runner.start()
    except units.UnitFailed as exc:
        # systemd would point to the journal; the unit's output is shown here instead
        print(f"Job for {name} failed because the control process exited with error code.", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        try:
            runner._run("ExecStopPost", 90, {"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited",
                                             "EXIT_STATUS": "1", "MAINPID": ""})
        except units.UnitFailed:
            pass
        return 1
    finally:
        if runner.notify is not None:
            runner.notify.close()
    state = base / "state"
    state.mkdir(exist_ok=True)
    (state / f"{name}.json").write_text(json.dumps({"main_pid": runner.main_pid}))
    return 0


def main(argv: list[str]) -> int:
    base = Path(os.environ["STANDIN_DIR"])
    args = [a for a in argv if a not in ("--user", "--no-block", "-q", "--quiet")]
    if len(args) != 2 or args[0] not in ("start", "stop", "restart"):
        print(f"systemctl stand-in: unsupported command line {argv}", file=sys.stderr)
        return 2
    verb, name = args
    units = _units_module()
    code = 0
    if verb in ("stop", "restart"):
        stop(units, base, name)
    if verb in ("start", "restart"):
        code = start(units, base, name)
    with open(base / "calls.log", "a") as log:
        log.write(f"{verb} {name} {code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
