"""auto-update's decisions (which containers, what each step's outcome makes of the report) and
its output (podman's table, JSON and templates); the steps that touch the registry and systemd
are given as plain functions that record what was asked of them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

with warnings.catch_warnings():   # typer 0.19 imports a name click 8.5 deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    from podpy.cli import autoupdate as cli
from podpy.engine import autoupdate as au
from podpy.errors import InvalidArgument, PodpyError

REF = "registry.example:5000/app/web:latest"


def rec(cid: str, name: str, labels: dict[str, str], state: str = "running", image_id: str = "img1",
        image_name: str = REF) -> SimpleNamespace:
    return SimpleNamespace(id=cid * 64 if len(cid) == 1 else cid, name=name, state=state, image_id=image_id,
                           image_name=image_name, config=SimpleNamespace(labels=labels))


def labelled(policy: str, unit: str = "web.service", **more: str) -> dict[str, str]:
    return {au.LABEL: policy, au.UNIT_LABEL: unit, **more}


class Recorder:
    """Steps that answer as told and remember the calls, in order."""

    def __init__(self, newer: bool = True, restarts: tuple[bool, ...] = (True,), pull_error: str = "",
                 check_error: str = ""):
        self.calls: list[tuple[str, str]] = []
        self._newer, self._restarts, self._pull_error, self._check_error = newer, list(restarts), pull_error, check_error

    def steps(self) -> au.Steps:
        return au.Steps(newer=self.newer, pull=self.pull, restart=self.restart, retag=self.retag)

    def newer(self, t: au.Task) -> bool:
        self.calls.append(("newer", t.container_name))
        if self._check_error:
            raise PodpyError(self._check_error)
        return self._newer

    def pull(self, t: au.Task) -> None:
        self.calls.append(("pull", t.image_name))
        if self._pull_error:
            raise PodpyError(self._pull_error)

    def restart(self, unit: str) -> None:
        self.calls.append(("restart", unit))
        if not (self._restarts.pop(0) if self._restarts else True):
            raise au.RestartFailed(f'restarting systemd unit "{unit}" failed: systemctl exited 1')

    def retag(self, t: au.Task) -> None:
        self.calls.append(("retag", t.image_id))


# -- which containers ------------------------------------------------------------------------------

def test_policies_and_their_error():
    assert [au.lookup_policy(v) for v in ("", "disabled", "image", "registry", "local")] == \
        ["disabled", "disabled", "registry", "registry", "local"]
    with pytest.raises(InvalidArgument) as info:
        au.lookup_policy("bogus")
    assert str(info.value) == ('invalid auto-update policy "bogus": valid policies are '
                               '["disabled" "image" "local" "registry"]')


@pytest.mark.parametrize("name, error", [
    (REF, None),
    ("localhost/app", None),                       # a domain; the tag defaults to latest
    ("docker://quay.io/x/y:1", None),              # docker:// is the registry transport itself
    ("app", 'short name: auto updates require fully-qualified image reference: "app"'),
    ("library/app:1", 'short name: auto updates require fully-qualified image reference: "library/app:1"'),
    ("quay.io/x@sha256:" + "a" * 64, "auto updates require fully-qualified image references without digest"),
])
def test_create_checks_the_registry_policy_name(name, error):
    if error is None:
        au.check_create({au.LABEL: "registry"}, name)
    else:
        with pytest.raises(InvalidArgument, match=error.replace("(", r"\(")):
            au.check_create({au.LABEL: "image"}, name)
    # other policies (even unknown ones, as podman) take any name at create
    au.check_create({au.LABEL: "local"}, "app")
    au.check_create({au.LABEL: "bogus"}, "app")


def test_tasks_take_running_labelled_containers_only():
    found, errors = au.tasks([
        rec("a", "web", labelled("registry", authfile_x="y")),
        rec("b", "plain", {}),
        rec("c", "off", labelled("disabled")),
        rec("d", "stopped", labelled("registry"), state="exited"),
        rec("e", "loc", {**labelled("local", "loc.service"), au.AUTHFILE_LABEL: "/auth.json"}),
    ])
    assert errors == []
    assert [(t.container_name, t.policy, t.unit, t.authfile) for t in found] == \
        [("web", "registry", "web.service", None), ("loc", "local", "loc.service", "/auth.json")]


def test_tasks_report_wrong_labels():
    _found, errors = au.tasks([rec("a", "bogus", labelled("weekly")), rec("b", "nounit", {au.LABEL: "local"}),
                               rec("c", "noimage", labelled("local"), image_name="")])
    assert errors == [
        'invalid auto-update policy "weekly": valid policies are ["disabled" "image" "local" "registry"]',
        f'auto-updating container "{"b" * 64}": no PODMAN_SYSTEMD_UNIT label found',
        f'auto-updating container "{"c" * 64}": raw-image name is empty',
    ]


def test_wrong_labels_stop_the_run_before_any_update():
    r = Recorder()
    outcome = au.run([rec("a", "web", labelled("registry")), rec("b", "bad", labelled("nope"))],
                     au.AutoUpdateOptions(), r.steps())
    assert outcome.reports == [] and len(outcome.errors) == 1 and r.calls == []


# -- one container ------------------------------------------------------------------------------------

def _one(policy: str, r: Recorder, **opts: bool) -> tuple[au.AutoUpdateReport, str | None]:
    task = au.tasks([rec("a", "web", labelled(policy))])[0][0]
    return au.update(task, au.AutoUpdateOptions(**opts), r.steps(), set())


def test_no_newer_image_is_false_and_touches_nothing():
    r = Recorder(newer=False)
    report, error = _one("registry", r)
    assert (report.updated, error, r.calls) == ("false", None, [("newer", "web")])


def test_dry_run_is_pending_and_touches_nothing():
    r = Recorder()
    report, error = _one("registry", r, dry_run=True)
    assert (report.updated, error, r.calls) == ("pending", None, [("newer", "web")])


def test_registry_update_pulls_then_restarts():
    r = Recorder()
    report, error = _one("registry", r)
    assert (report.updated, error) == ("true", None)
    assert r.calls == [("newer", "web"), ("pull", REF), ("restart", "web.service")]


def test_local_update_restarts_without_pulling():
    r = Recorder()
    report, error = _one("local", r)
    assert (report.updated, error, r.calls) == ("true", None, [("newer", "web"), ("restart", "web.service")])


def test_failed_restart_rolls_back():
    r = Recorder(restarts=(False, True))
    report, error = _one("registry", r)
    assert (report.updated, error) == ("rolled back", None)
    assert r.calls == [("newer", "web"), ("pull", REF), ("restart", "web.service"), ("retag", "img1"),
                       ("restart", "web.service")]


def test_failed_restart_without_rollback_is_failed():
    r = Recorder(restarts=(False,))
    report, error = _one("local", r, rollback=False)
    assert report.updated == "failed"
    assert error == f'auto-updating container "{"a" * 64}": restarting systemd unit "web.service" failed: ' \
                    "systemctl exited 1"
    assert ("retag", "img1") not in r.calls


def test_rollback_that_does_not_start_either_is_failed_with_both_reasons():
    r = Recorder(restarts=(False, False))
    report, error = _one("registry", r)
    assert report.updated == "failed"
    assert error is not None and error.count("systemctl exited 1") == 2
    assert "restarting unit with old image during fallback" in error


def test_failed_check_and_failed_pull_are_failed():
    report, error = _one("registry", Recorder(check_error="registry down"))
    assert report.updated == "failed"
    assert error == f'registry auto-updating container "{"a" * 64}": image check for "{REF}" failed: registry down'
    r = Recorder(pull_error="no space")
    report, error = _one("registry", r)
    assert report.updated == "failed" and error is not None and "image update for" in error
    assert ("restart", "web.service") not in r.calls


def test_a_name_is_pulled_once_and_registry_goes_before_local():
    r = Recorder()
    outcome = au.run([rec("a", "loc", labelled("local", "loc.service")),
                      rec("b", "one", labelled("registry", "one.service")),
                      rec("c", "two", labelled("registry", "two.service"))],
                     au.AutoUpdateOptions(), r.steps())
    assert [(x.container_name, x.updated) for x in outcome.reports] == \
        [("one", "true"), ("two", "true"), ("loc", "true")]
    assert [c for c in r.calls if c[0] == "pull"] == [("pull", REF)]
    assert r.calls[:4] == [("newer", "one"), ("pull", REF), ("restart", "one.service"), ("restart", "two.service")]


# -- output -------------------------------------------------------------------------------------------

def test_report_rows_have_podmans_fields():
    report = au.AutoUpdateReport("f" * 64, "web", REF, "registry", "web.service", "rolled back")
    assert report.row() == {"Unit": "web.service", "Container": "ffffffffffff (web)", "ContainerName": "web",
                            "ContainerID": "f" * 64, "Image": REF, "Policy": "registry",
                            "Updated": "rolled back"}
    assert tuple(report.row()) == au.FIELDS


def _rows() -> list[dict[str, str]]:
    return [au.AutoUpdateReport("a" * 64, "web", REF, "registry", "web.service", "true").row(),
            au.AutoUpdateReport("b" * 64, "db", "localhost/db:latest", "local", "db.service", "false").row()]


def test_table(capsys):
    cli.show(_rows(), None)
    assert capsys.readouterr().out.splitlines() == [
        "UNIT         CONTAINER           IMAGE                                 POLICY      UPDATED",
        f"web.service  aaaaaaaaaaaa (web)  {REF}  registry    true",
        "db.service   bbbbbbbbbbbb (db)   localhost/db:latest                   local       false",
    ]


def test_json_template_and_nothing_without_reports(capsys):
    cli.show(_rows(), "json")
    assert [r["Updated"] for r in json.loads(capsys.readouterr().out)] == ["true", "false"]
    cli.show(_rows(), "{{.Unit}} {{.ContainerID}} {{.Updated}}")
    assert capsys.readouterr().out == f"web.service {'a' * 64} true\ndb.service {'b' * 64} false\n"
    cli.show([], None)
    cli.show([], "json")
    assert capsys.readouterr().out == ""


def test_format_is_checked_before_anything_runs():
    cli.check_format(None)
    cli.check_format("json")
    cli.check_format("table {{.Unit}}\t{{.Updated}}")
    for bad in ("{{.Nope}}", "{{.Unit", "{{range .}}{{end"):
        with pytest.raises(InvalidArgument, match="^invalid --format"):
            cli.check_format(bad)


# -- the packaged service and timer --------------------------------------------------------------------

PACKAGING = Path(__file__).resolve().parents[2] / "packaging" / "systemd"


@pytest.mark.parametrize("user", [True, False], ids=["user", "system"])
def test_packaged_units_are_ones_systemd_accepts(tmp_path, user):
    if shutil.which("systemd-analyze") is None:
        print("skipping: systemd-analyze is not installed (Debian package systemd)")
        pytest.skip("systemd-analyze is not installed")
    podpy = sys.executable   # any executable stands for podpy's path, which setup.sh puts in
    service = tmp_path / "podpy-auto-update.service"
    service.write_text((PACKAGING / "podpy-auto-update.service.in").read_text().replace("@PODPY@", podpy))
    shutil.copy(PACKAGING / "podpy-auto-update.timer", tmp_path)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    res = subprocess.run(["systemd-analyze", "verify", *(["--user"] if user else []), str(service),
                          str(tmp_path / "podpy-auto-update.timer")], capture_output=True, text=True,
                         env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, timeout=60)
    assert (res.returncode, res.stdout + res.stderr) == (0, "")
    text = service.read_text()
    assert f"ExecStart={podpy} auto-update\n" in text and f"ExecStartPost={podpy} image prune -f\n" in text
    timer = (tmp_path / "podpy-auto-update.timer").read_text()
    assert "OnCalendar=daily\n" in timer and "RandomizedDelaySec=900\n" in timer and "Persistent=true\n" in timer
