"""The pure parts of podman 5's flags that Quadlet's units use: the pull's retries, startup
healthchecks and health logs, containers.conf modules, the kube service's exit code."""

from __future__ import annotations

import pytest

from podpy import config
from podpy.cli import runargs
from podpy.engine.pull import retry_plan, unreachable, with_retries
from podpy.errors import InvalidArgument, PodpyError
from podpy.kube.service import propagated
from podpy.engine.healthopts import health_extras
from podpy.options import healthcheck


def test_retry_values_are_checked():
    assert retry_plan(None, None) == (0, None)
    assert retry_plan("3", "1500ms") == (3, 1.5)
    assert retry_plan("0", "2") == (0, 2.0)
    for bad in ("-1", "x", "1.5"):
        with pytest.raises(InvalidArgument, match="invalid --retry"):
            retry_plan(bad, None)
    with pytest.raises(InvalidArgument, match="invalid --retry-delay"):
        retry_plan("1", "soon")


def _unreachable_error() -> PodpyError:
    try:
        raise ConnectionRefusedError(111, "refused")
    except ConnectionRefusedError as exc:
        try:
            raise PodpyError("cannot pull") from exc
        except PodpyError as err:
            return err


def test_retries_only_follow_failed_connections():
    tries, warnings = [], []

    def attempt():
        tries.append(1)
        raise _unreachable_error()

    with pytest.raises(PodpyError):
        with_retries(attempt, "2", "0s", warnings.append)
    assert len(tries) == 3 and len(warnings) == 2
    assert warnings[0].startswith("Failed, retrying in 0s ... (1/2). Error: cannot pull")
    tries.clear()

    def refused():   # an answer (no such image) is not tried again
        tries.append(1)
        raise PodpyError("manifest unknown")

    with pytest.raises(PodpyError):
        with_retries(refused, "5", "0s", warnings.append)
    assert len(tries) == 1
    assert unreachable(_unreachable_error()) and not unreachable(PodpyError("manifest unknown"))


def test_retries_stop_at_a_success():
    results = iter([_unreachable_error(), "image"])

    def attempt():
        value = next(results)
        if isinstance(value, Exception):
            raise value
        return value

    assert with_retries(attempt, "3", "0", lambda _line: None) == "image"


def _check(**flags):
    base = healthcheck(None, "true", None, None, None, None, None, False)
    names = ("startup_cmd", "startup_interval", "startup_retries", "startup_success", "startup_timeout",
             "log_destination", "max_log_count", "max_log_size")
    return health_extras(base, *(flags.get(n) for n in names))


def test_startup_healthcheck_defaults_and_values(tmp_path):
    check = _check(startup_cmd="test -e /ready")
    assert check["startup"] == {"test": ["CMD-SHELL", "test -e /ready"], "interval": 30.0, "timeout": 30.0,
                                "retries": 0, "success": 0}
    check = _check(startup_cmd='["cat", "/ready"]', startup_interval="2s", startup_retries="3",
                   startup_success="2", startup_timeout="1m")
    assert check["startup"] == {"test": ["CMD", "cat", "/ready"], "interval": 2.0, "timeout": 60.0,
                                "retries": 3, "success": 2}
    check = _check(log_destination=str(tmp_path), max_log_count="0", max_log_size="100")
    assert (check["log_destination"], check["max_log_count"], check["max_log_size"]) == (str(tmp_path), 0, 100)
    assert _check(log_destination="events_logger")["log_destination"] == "events_logger"


@pytest.mark.parametrize("flags,message", [
    ({"startup_interval": "1s"}, "need a --health-startup-cmd"),
    ({"startup_cmd": "true", "startup_retries": "-1"}, "invalid --health-startup-retries"),
    ({"startup_cmd": "true", "startup_interval": "0s"}, "must be more than 0"),
    ({"startup_cmd": ""}, "an empty command"),
    ({"log_destination": "relative/dir"}, "invalid --health-log-destination"),
    ({"log_destination": "/no/such/dir"}, "invalid --health-log-destination"),
    ({"max_log_count": "many"}, "invalid --health-max-log-count"),
    ({"max_log_size": "1k"}, "invalid --health-max-log-size"),
])
def test_bad_startup_and_log_values_are_refused(flags, message):
    with pytest.raises(InvalidArgument, match=message):
        _check(**flags)


def test_startup_flags_need_a_healthcheck():
    with pytest.raises(InvalidArgument, match="need a healthcheck"):
        health_extras({}, "true", None, None, None, None, None, None, None)
    assert health_extras({}, *([None] * 8)) == {}


def test_run_parses_the_quadlet_flags():
    fields = runargs.parse("run", ["--retry", "2", "--retry-delay=1s", "--health-cmd", "true",
                                   "--health-startup-cmd", "true", "--health-startup-success=2",
                                   "--health-log-destination", "local", "--health-max-log-count", "3", "img"])
    assert (fields["retry"], fields["retry_delay"], fields["health_startup_success"]) == ("2", "1s", "2")
    assert (fields["health_log_destination"], fields["health_max_log_count"]) == ("local", "3")


@pytest.mark.parametrize("codes,policy,code", [
    ([0, 7], "any", 7), ([3, 0], "any", 3), ([0, 0], "any", 0), ([2, 5], "any", 5),
    ([0, 7], "all", 0), ([2, 5], "all", 5), ([], "all", 0),
    ([1, 2], "none", 0),
])
def test_exit_code_propagation(codes, policy, code):
    assert propagated(codes, policy) == code


@pytest.fixture
def modules():
    yield
    config.use_modules([])


def test_modules_override_containers_conf_in_order(tmp_path, monkeypatch, modules):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "containers.conf").write_text('[network]\ndefault_rootless_network_cmd = "slirp4netns"\n'
                                              '[engine]\nvolume_path = "/v"\n')
    first = tmp_path / "first.conf"
    first.write_text('[network]\ndefault_rootless_network_cmd = "pasta"\n')
    assert config.containers_conf_value(str(conf_dir), "network", "default_rootless_network_cmd")[0] == "slirp4netns"
    config.use_modules([str(first)])
    assert config.containers_conf_value(str(conf_dir), "network", "default_rootless_network_cmd") == \
        ("pasta", str(first))
    assert config.containers_conf_value(str(conf_dir), "engine", "volume_path")[0] == "/v"
    from podpy.network.options import default_rootless_cmd

    assert default_rootless_cmd(str(conf_dir)) == ("pasta", str(first))


def test_a_relative_module_is_found_in_the_modules_directories(tmp_path, monkeypatch, modules):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(config.os, "geteuid", lambda: 1000)   # a user's directories (these tests may run as root)
    home = tmp_path / "podpy" / "containers.conf.modules"
    home.mkdir(parents=True)
    (home / "m.conf").write_text("[engine]\n")
    assert config.resolve_module("m.conf") == str(home / "m.conf")
    monkeypatch.setattr(config.os, "geteuid", lambda: 0)
    assert str(tmp_path) not in " ".join(config.module_dirs())   # root: the system's only


def test_missing_or_broken_modules_are_refused(tmp_path, modules):
    with pytest.raises(InvalidArgument, match="could not resolve module"):
        config.use_modules([str(tmp_path / "none.conf")])
    broken = tmp_path / "broken.conf"
    broken.write_text("not [toml")
    with pytest.raises(InvalidArgument, match="broken.conf"):
        config.use_modules([str(broken)])
