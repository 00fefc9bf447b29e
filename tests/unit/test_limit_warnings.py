"""limit_warnings: what a container's start will say about limits this host cannot apply,
known at its create (the API's create gives them as Docker's Warnings)."""

from types import SimpleNamespace

from podpy.engine import start
from rootless import cgroups


def _rec(limits, **more):
    cfg = dict(limits=limits, pod="", cgroup_parent="", cgroups_mode="enabled")
    cfg.update(more)
    return SimpleNamespace(config=SimpleNamespace(**cfg))


def test_undelegated_controllers_and_no_cgroup_are_told(monkeypatch):
    info = cgroups.CgroupInfo("/sys/fs/cgroup", "/sys/fs/cgroup/user.slice", True, ("cpu", "pids"), "")
    monkeypatch.setattr(cgroups, "detect", lambda: info)
    rec = _rec({"memory": "67108864", "memory_swap": "max", "pids_limit": "50"})
    assert start.limit_warnings(rec) == [
        "--memory, --memory-swap ignored: the memory controller is not delegated to /sys/fs/cgroup/user.slice"]
    assert start.limit_warnings(_rec({"pids_limit": "50"})) == []
    assert start.limit_warnings(_rec({})) == []
    assert start.limit_warnings(_rec({"memory": "1"}, pod="p")) == []   # told at its start
    info = cgroups.CgroupInfo(None, None, False, (), "no cgroup2")
    monkeypatch.setattr(cgroups, "detect", lambda: info)
    assert start.limit_warnings(rec) == [
        "--memory, --memory-swap, --pids-limit ignored: containers get no cgroup here (no cgroup2)"]
