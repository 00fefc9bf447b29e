"""What the CLI prints, in podman's forms (podpy/cli/render.py)."""

from __future__ import annotations

import pytest

from podpy.cli import render
from podpy.engine.entities import Report
from podpy.errors import NoSuchContainer, NoSuchImage, NoSuchNetwork, NoSuchVolume


@pytest.mark.parametrize(("fmt", "want"), [
    ("json", True), (" json ", True), ("{{json .}}", True), ("{{ json . }}", True), ("{{json}}", True),
    ("{{json .Names}}", False), ("table {{json .}}", False), ("{{.ID}}", False), ("jsonx", False),
])
def test_json_is_asked_for_as_podman_takes_it(fmt: str, want: bool) -> None:
    assert render.is_json(fmt) is want


def test_inspect_errors_are_worded_as_podmans() -> None:
    def first(err: Exception, name: str = "x") -> str:
        worded = render.inspect_error([Report("ok", {}), Report(name, error=err)])
        assert type(worded) is type(err)
        return str(worded)

    assert first(NoSuchContainer('no container with name or ID "x" found')) == \
        "inspecting object: no such container x"
    assert first(NoSuchVolume("no volume with name \"x\" found: no such volume")) == \
        "inspecting object: no such volume x"
    assert first(NoSuchImage("x: image not known")) == "inspecting object: x: image not known"
    assert first(NoSuchNetwork("unable to find network with name or ID x: network not found")) == \
        "inspecting object: network x: unable to find network with name or ID x: network not found"
    assert render.inspect_error([Report("ok", {})]) is None


def test_diff_takes_json_only_as_its_format() -> None:
    """`diff --format` other than json is podman's one-line error."""
    from podpy.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="^only supported value for '--format' is 'json'$"):
        render.changes([("A", "/x")], "{{.Path}}")


def test_templates_see_a_containers_health_also_as_healthcheck(capsys) -> None:
    """podman's templates keep the older `.State.Healthcheck` for `.State.Health`; the JSON is
    unchanged."""
    doc = {"Id": "c1", "State": {"Status": "running", "Health": {"Status": "healthy", "FailingStreak": 0}}}
    render.inspect([doc], "{{.State.Healthcheck.Status}} {{.State.Health.FailingStreak}} {{json .State.Healthcheck}}")
    assert capsys.readouterr().out == 'healthy 0 {"Status":"healthy","FailingStreak":0}\n'
    render.inspect([doc], "json")
    assert '"Healthcheck"' not in capsys.readouterr().out
