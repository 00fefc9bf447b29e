"""50 concurrent runs, and a podpy killed with SIGKILL cleaned up by the next command."""

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor


def test_fifty_parallel_runs(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")

    def one(i):
        return p("run", "--rm", "--network", "none", "busybox", "sh", "-c", f"echo {i}", check=False, timeout=300)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    failures = [(r.returncode, r.stderr) for r in results if r.returncode != 0]
    assert not failures, failures[:3]
    assert sorted(int(r.stdout) for r in results) == list(range(50))
    assert not any("locked" in r.stderr for r in results)
    assert p("ps", "-a", "-q").stdout == ""
    assert os.listdir(p.data_home / "podpy" / "containers") == []


def _wait_running(p, name):
    for _ in range(300):
        if p("ps", "--format", "{{.Names}}", "--filter", f"name={name}").stdout.strip() == name:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never ran")


def test_sigkilled_run_is_reported_by_the_next_command(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    proc = subprocess.Popen(p.command("run", "--network", "none", "--name", "victim", "busybox", "sleep", "60"),
                            env=p.environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_running(p, "victim")
    pid = json.loads(p("inspect", "victim").stdout)[0]["State"]["Pid"]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(100):  # the container dies with its podpy (PDEATHSIG)
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")
    state = json.loads(p("inspect", "victim").stdout)[0]["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == -1
    p("rm", "victim")
    assert os.listdir(p.data_home / "podpy" / "containers") == []


def test_sigkilled_run_rm_is_removed_by_the_next_command(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    proc = subprocess.Popen(p.command("run", "--rm", "--network", "none", "--name", "victim2", "busybox",
                                      "sleep", "60"), env=p.environ(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait_running(p, "victim2")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)
    assert p("ps", "-a", "-q").stdout == ""
    assert os.listdir(p.data_home / "podpy" / "containers") == []


def test_sigkill_at_every_moment_leaves_a_consistent_store(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    for delay in (0.0, 0.03, 0.06, 0.09, 0.12, 0.15, 0.2, 0.3):
        proc = subprocess.Popen(p.command("run", "--rm", "--network", "none", "busybox", "sh", "-c", "sleep 5"),
                                env=p.environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(0.3)
    assert p("ps", "-a", "-q").stdout == ""
    store = p.data_home / "podpy"
    # (no containers/ at all when every run was killed before making its container)
    assert not (store / "containers").exists() or os.listdir(store / "containers") == []
    assert [n for n in os.listdir(store / "tmp") if not n.startswith("probe")] == [] if (store / "tmp").exists() else True
    assert p("run", "--rm", "--network", "none", "busybox", "true").returncode == 0


def test_sigkilled_rm_is_finished_by_the_next_command(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    store = p.data_home / "podpy"

    def many():
        # a writable layer of 10,000 files takes a while to remove
        p("run", "--name", "many", "--network", "none", "busybox", "sh", "-c",
          "mkdir /m && cd /m && seq 1 10000 | xargs touch", timeout=120)

    many()
    start = time.monotonic()
    p("rm", "many")
    whole = time.monotonic() - start
    for fraction in (0.3, 0.7):
        many()
        proc = subprocess.Popen(p.command("rm", "many"), env=p.environ(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(whole * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The next command finishes a removal that had begun; one that had not is still whole.
        left = p("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.split("\n")[:-1]
        if left:
            assert len(left) == 1 and left[0].startswith("many Exited (0)"), left
            p("rm", "many")
        assert p("ps", "-a", "-q").stdout == ""
        assert os.listdir(store / "containers") == []
