"""rootless.userns.write_maps runs newuidmap and newgidmap at once, or one after the other for
a stage 1 started ahead (its helpers beside the host side's work): stand-in helpers log when
they start and end."""

import os

import pytest

from rootless import userns
from rootless.errors import IdMapError
from rootless.userns import IdMap, IdMappings

SUB = IdMappings((IdMap(0, 1000, 1), IdMap(1, 100000, 65536)), (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))


@pytest.fixture
def helpers(tmp_path, monkeypatch):
    log = tmp_path / "log"
    for name in ("newuidmap", "newgidmap"):
        script = tmp_path / name
        script.write_text(f"#!/bin/sh\necho start {name} $* >> {log}\nsleep 0.2\necho end {name} >> {log}\n"
                          f"[ -e {tmp_path}/fail-{name} ] && {{ echo '{name}: refused' >&2; exit 1; }}\nexit 0\n")
        script.chmod(0o755)
    monkeypatch.setattr(userns, "_which", lambda name: str(tmp_path / name))
    return tmp_path, log


def _events(log):
    return [line.split()[:2] for line in log.read_text().splitlines()]


def test_together_the_two_run_at_once(helpers):
    _, log = helpers
    userns.write_maps(4242, SUB)
    events = _events(log)
    assert [e[0] for e in events[:2]] == ["start", "start"]
    assert "start newuidmap 4242 0 1000 1 1 100000 65536" in log.read_text()


def test_one_after_the_other_for_a_stage1_ahead(helpers):
    _, log = helpers
    userns.write_maps(4242, SUB, together=False)
    assert _events(log) == [["start", "newuidmap"], ["end", "newuidmap"], ["start", "newgidmap"], ["end", "newgidmap"]]


@pytest.mark.parametrize("together", [True, False])
def test_a_helper_that_fails_is_named(helpers, together):
    tmp, _ = helpers
    (tmp / "fail-newgidmap").write_text("")
    with pytest.raises(IdMapError, match=r"newgidmap: refused \(check /etc/subuid and /etc/subgid\)"):
        userns.write_maps(os.getpid(), SUB, together=together)
