"""No container lost under load: 100 detached containers removed, then 100 started at once.

Every `run -d` that printed an id must leave a running container behind, however many
other commands (the new runs, the clean-up commands of the removed containers) reconcile
the store at the same time. The runs are made as a login shell without XDG_RUNTIME_DIR
would make them (`su - user`): the runtime directory is podpy's fallback.
"""

import os
import time

import pytest
from helpers import run_command

COUNT = 100


@pytest.mark.parametrize("network,rounds", [("none", 3), ("slirp4netns", 2)])
def test_every_started_container_keeps_running(new_podpy, image_tar, tmp_path, network, rounds):
    p = new_podpy()
    p("import", image_tar, "busybox")
    runroot = tmp_path / "run"   # where podpy's fallback would put it, private to this test
    runroot.mkdir(mode=0o700)
    env = {k: v for k, v in p.environ().items() if k != "XDG_RUNTIME_DIR"}

    def podpy(*args, timeout=600, check=True):
        return run_command(p.command("--runroot", runroot, *args), env=env, timeout=timeout, check=check)

    try:
        for r in range(rounds):
            names = [f"c{r}-{i}" for i in range(COUNT)]
            old = podpy("ps", "-aq").stdout.split()
            if old:
                podpy("rm", "-f", "-t", "0", *old)
            # all at once, as a user's shell starts them
            script = ('for n in "$@"; do $PODPY --runroot "$RUNROOT" run -d --network "$NET" --name "$n" '
                      'busybox sleep 300 >"$OUT/$n" 2>&1 || echo "$n $?" >>"$OUT/failed" & done; wait')
            out = tmp_path / f"out{r}"
            out.mkdir()
            run_command(["bash", "-c", script, "bash", *names], timeout=600,
                        env={**env, "PODPY": " ".join(p.command()), "RUNROOT": str(runroot), "NET": network,
                             "OUT": str(out)})
            failed = (out / "failed").read_text() if (out / "failed").exists() else ""
            assert not failed, [failed, *((out / n.split()[0]).read_text() for n in failed.splitlines()[:2])]
            assert all(len((out / n).read_text().strip()) == 64 for n in names)
            time.sleep(1.5)   # lost containers used to be marked exited within a second of starting
            rows = dict(line.split(" ", 1) for line in
                        podpy("inspect", "--format", "{{.Name}} {{.State.Status}}", *names).stdout.splitlines())
            assert set(rows) == set(names)
            lost = sorted(n for n, state in rows.items() if state != "running")
            assert not lost, f"round {r}: {len(lost)} of {COUNT} not running: {lost[:5]}"
            pids = podpy("inspect", "--format", "{{.State.Pid}}", *names).stdout.split()
            assert len(pids) == COUNT and all(os.path.exists(f"/proc/{pid}") for pid in pids)
    finally:
        ids = podpy("ps", "-aq", check=False).stdout.split()
        if ids:
            podpy("rm", "-f", "-t", "0", *ids, check=False)
