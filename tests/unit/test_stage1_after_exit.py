"""Stage 1's after-exit step (a --rm run's removal of the container's directory): its module
is imported while the init sets the container up, not once the container is over, and the
step still runs after the init's exit has been told to the host side."""

from __future__ import annotations

import sys

from rootless import stage1


class _Chan:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def send(self, kind: str, fds=(), **fields) -> None:
        self.sent.append((kind, dict(fields)))   # the descriptors stay the caller's, as with a real send

    def close(self) -> None:
        pass


class _Sc:
    def unshare(self, flags: int) -> None:
        pass


def _module(tmp_path, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(body)
    sys.path.insert(0, str(tmp_path))


def test_the_after_exit_module_is_imported_before_the_init_is_waited_for(tmp_path, monkeypatch):
    name = "after_exit_probe_early"
    _module(tmp_path, name, "calls = []\ndef step(*args):\n    calls.append(args)\n")
    seen: dict[str, bool] = {}

    def wait(pid: int) -> int:
        seen["imported"] = name in sys.modules
        return 3

    monkeypatch.setattr(stage1, "fork_init", lambda sc, cgroup, flags: (12345, True))
    monkeypatch.setattr(stage1, "_wait", wait)
    try:
        code = stage1.run_stage1({"linux": {"namespaces": []}}, _Chan(), (name, "step", ("a", 1)), False, _Sc(),
                                in_userns=True, rooted=True, prepared=None)
        assert code == 3
        assert seen == {"imported": True}
        assert sys.modules[name].calls == [("a", 1)]
    finally:
        sys.modules.pop(name, None)
        sys.path.remove(str(tmp_path))


def test_an_after_exit_module_that_fails_to_import_does_not_stop_stage1(tmp_path, monkeypatch):
    name = "after_exit_probe_broken"
    _module(tmp_path, name, "raise RuntimeError('broken')\n")
    monkeypatch.setattr(stage1, "fork_init", lambda sc, cgroup, flags: (12345, True))
    monkeypatch.setattr(stage1, "_wait", lambda pid: 0)
    try:
        chan = _Chan()
        assert stage1.run_stage1({"linux": {"namespaces": []}}, chan, (name, "step", ()), False, _Sc(),
                                in_userns=True, rooted=True, prepared=None) == 0
        assert [kind for kind, _ in chan.sent] == ["pid"]
    finally:
        sys.modules.pop(name, None)
        sys.path.remove(str(tmp_path))
