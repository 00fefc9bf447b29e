"""podman's global flags: parsed before the command on both entry paths, checked in one line,
applied to the process (log level, syslog, --noout) and recorded by the engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from podpy.cli import globalflags, render
from podpy.cli.globalflags import Globals, parse
from podpy.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[2]


def _exactly(text: str) -> str:
    return "^" + re.escape(text) + "$"


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    render.set_level("warn")
    render.set_syslog(None)


def _podpy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "podpy", *args], capture_output=True, text=True, cwd=str(ROOT),
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=60)


def test_value_flags_in_pflag_forms_stop_at_the_command():
    g, rest = parse(["--root", "/r", "--runroot=/rr", "--storage-opt", "a=1", "--storage-opt=b=2",
                     "--runtime-flag", "debug", "--log-level", "debug", "ps", "--root", "x"])
    assert (g.root, g.runroot, g.storage_opts, g.runtime_flags, g.log_level) == (
        "/r", "/rr", ["a=1", "b=2"], ["debug"], "debug")
    assert rest == ["ps", "--root", "x"]   # after the command, the words are the command's


def test_boolean_flags_take_true_or_false():
    assert parse(["--noout", "--syslog=false", "images"])[0].noout is True
    assert parse(["--noout=false", "images"])[0].noout is False
    assert parse(["--syslog=true", "images"])[0].syslog is True
    with pytest.raises(InvalidArgument, match=_exactly("invalid argument 'maybe' for --noout: expected true or false")):
        parse(["--noout=maybe", "images"])


def test_help_and_version_end_the_flags():
    g, rest = parse(["--root", "/r", "-v"])
    assert g.version and rest == []
    g, rest = parse(["--help", "ps"])
    assert g.help and rest == ["ps"]
    assert parse(["-h"])[0].help


def test_unknown_and_incomplete_flags_are_errors():
    with pytest.raises(InvalidArgument, match=_exactly("unknown flag: --foo")):
        parse(["--foo", "ps"])
    with pytest.raises(InvalidArgument, match=_exactly("unknown shorthand flag: 'Z' in -Z")):
        parse(["-Z", "ps"])
    with pytest.raises(InvalidArgument, match=_exactly("flag needs an argument: --runroot")):
        parse(["--runroot"])


@pytest.mark.parametrize("args,attr,value", [
    (["--url", "unix:///x.sock"], "url", "unix:///x.sock"), (["--url=tcp://h:1"], "url", "tcp://h:1"),
    (["-c", "prod"], "connection", "prod"), (["--connection=prod"], "connection", "prod"),
    (["-cprod"], "connection", "prod"), (["-r"], "remote", True), (["--remote"], "remote", True),
    (["--identity", "/k"], "identity", "/k"), (["--ssh", "native"], "ssh", "native"),
])
def test_remote_connection_flags_are_podmans(args, attr, value, monkeypatch):
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    monkeypatch.delenv("CONTAINER_CONNECTION", raising=False)
    g, rest = parse([*args, "ps"])
    assert rest == ["ps"] and getattr(g, attr) == value
    assert g.is_remote() == (attr != "identity" and attr != "ssh")   # --identity and --ssh alone are not remote


def test_podmans_variables_make_a_command_remote(monkeypatch):
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    monkeypatch.delenv("CONTAINER_CONNECTION", raising=False)
    assert not parse(["ps"])[0].is_remote()
    monkeypatch.setenv("CONTAINER_HOST", "unix:///x.sock")
    assert parse(["ps"])[0].is_remote()
    monkeypatch.delenv("CONTAINER_HOST")
    monkeypatch.setenv("CONTAINER_CONNECTION", "prod")
    assert parse(["ps"])[0].is_remote()


def test_remote_flags_are_not_taken_after_the_command():
    assert parse(["ps", "--url", "unix:///x"])[1] == ["ps", "--url", "unix:///x"]   # ps's own parser refuses it


def test_a_bad_ssh_mode_is_refused():
    g, _ = parse(["--ssh", "telnet", "ps"])
    with pytest.raises(InvalidArgument, match="choose golang or native"):
        g.check()


def test_hooks_dir_is_repeatable_and_reaches_the_engine_settings():
    g, rest = parse(["--hooks-dir", "/x", "--hooks-dir=/y", "ps", "--hooks-dir", "/z"])
    assert rest == ["ps", "--hooks-dir", "/z"]
    assert g.engine_settings()["hooks_dirs"] == ["/x", "/y"]
    assert parse(["ps"])[0].engine_settings()["hooks_dirs"] is None    # the default directories


def test_namespace_and_volume_path_reach_the_engine_settings():
    g, rest = parse(["--namespace", "t1", "--volumepath=/v", "ps"])
    assert rest == ["ps"]
    assert (g.engine_settings()["namespace"], g.engine_settings()["volume_path"]) == ("t1", "/v")


def test_log_level_is_one_of_podmans_with_podmans_message():
    for level in ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic", "DEBUG"):
        g = parse(["--log-level", level, "ps"])[0]
        g.check()
        assert g.log_level == level.lower()
    g = parse(["--log-level=bogus", "ps"])[0]
    with pytest.raises(InvalidArgument, match=_exactly(
            'Log Level "bogus" is not supported, choose from: trace, debug, info, warn, warning, error, fatal, panic')):
        g.check()


def test_events_backend_and_cgroup_manager_values_are_checked():
    g = parse(["--events-backend", "syslog", "ps"])[0]
    with pytest.raises(InvalidArgument, match=_exactly(
            '"syslog" is not a valid events backend: choose from file, journald, none')):
        g.check()
    g = parse(["--cgroup-manager", "bogus", "ps"])[0]
    with pytest.raises(InvalidArgument, match=_exactly("cgroup manager must be one of cgroupfs and systemd")):
        g.check()
    g = parse(["--events-backend", "none", "--cgroup-manager", "cgroupfs", "ps"])[0]
    g.check()
    assert (g.events_backend, g.cgroup_manager, g.warnings) == ("none", "cgroupfs", [])


def test_journald_without_a_journal_falls_back_to_file_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setattr(globalflags, "JOURNAL_SOCKET", str(tmp_path / "no-journal"))
    g = parse(["--events-backend=journald", "ps"])[0]
    g.check()
    assert g.events_backend == "file"
    assert g.warnings[-1] == "Falling back to --events-backend=file"


def test_systemd_cgroup_manager_falls_back_to_cgroupfs_with_podmans_warnings(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))   # no systemd/private socket there
    g = parse(["--cgroup-manager", "systemd", "ps"])[0]
    g.check()
    assert g.cgroup_manager == "cgroupfs"
    assert g.warnings[0] == "The cgroupv2 manager is set to systemd but there is no systemd user session available"
    assert g.warnings[-1] == "Falling back to --cgroup-manager=cgroupfs"


def test_syslog_needs_a_syslog_socket(monkeypatch, tmp_path):
    monkeypatch.setattr(globalflags, "SYSLOG_SOCKETS", (str(tmp_path / "log"),))
    g = parse(["--syslog", "ps"])[0]
    with pytest.raises(InvalidArgument, match=_exactly("Failed to initialize syslog hook: Unix syslog delivery error")):
        g.check()


def test_log_level_error_drops_warnings_and_debug_prints_what_podpy_uses(capsys):
    g = parse(["--log-level=error", "ps"])[0]
    g.check()
    g.apply(["--log-level=error", "ps"])
    render.warn("dropped")
    render.error("kept")
    assert capsys.readouterr().err == "Error: kept\n"
    g = parse(["--log-level=debug", "ps"])[0]
    g.check()
    g.apply(["--log-level=debug", "ps"])
    render.warn("shown")
    err = [line.split(" ", 1)[1] for line in capsys.readouterr().err.splitlines()]   # after time="..."
    assert err == ['level=info msg="podpy filtering at log level debug"',
                   'level=debug msg="Called podpy (podpy --log-level=debug ps)"', "level=warning msg=shown"]


def test_warnings_are_written_as_podmans_logger_writes_them(capsys, monkeypatch):
    import re

    monkeypatch.setattr(render, "_stderr_tty", True)
    render.warn('a "quoted" word')
    assert capsys.readouterr().err == 'WARN[0000] a "quoted" word\n'
    monkeypatch.setattr(render, "_stderr_tty", False)
    render.warn('a "quoted" word\tand a tab')
    render.warn("plain-1.2/x@y")
    lines = capsys.readouterr().err.splitlines()
    stamp = r'time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)" '
    assert re.fullmatch(stamp + r'level=warning msg="a \\"quoted\\" word\\tand a tab"', lines[0]), lines[0]
    assert re.fullmatch(stamp + "level=warning msg=plain-1.2/x@y", lines[1]), lines[1]


def test_syslog_gets_what_stderr_gets(capsys):
    sent = []
    render.set_syslog(lambda priority, message: sent.append((priority, message)))
    render.warn("careful")
    render.error("broken")
    render.debug("not at warn")
    assert sent == [(4, "careful"), (3, "broken")]


def test_noout_discards_what_podpy_prints():
    plain = _podpy("version", "--format", "{{.Client.Version}}")
    assert plain.returncode == 0 and plain.stdout.strip()
    quiet = _podpy("--noout", "version", "--format", "{{.Client.Version}}")
    assert (quiet.returncode, quiet.stdout) == (0, "")
    bad = _podpy("--noout", "--log-level=loud", "version")
    assert bad.returncode == 1 and bad.stderr.startswith('Log Level "loud" is not supported')   # podman's: no "Error: "


def test_global_flags_keep_run_off_typer():
    script = ("import sys, io, contextlib\nfrom podpy.cli.main import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    code = main(['--log-level=debug', '--events-backend=none', '--storage-opt=ignore_chown_errors=true',"
              " '--runtime', 'crun', '--cgroup-manager=cgroupfs', '--tmpdir=/tmp/x', 'run', '--help'])\n"
              "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'typer', 'rich')))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.strip() == "0 []"


def test_global_flags_reach_typer_commands(tmp_path, capsys):
    from podpy.cli.main import main

    with warnings.catch_warnings():   # typer 0.19 imports a name click 8.5 deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        import podpy.cli.app  # noqa: F401

    code = main(["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), "--storage-driver", "vfs",
                 "--runtime", "crun", "--runtime-flag", "debug", "--events-backend", "none", "--conmon", "/c",
                 "--storage-opt", "vfs.ignore_chown_errors=true", "info", "--format",
                 "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Flags}} {{.Host.EventLogger}} {{.Host.Conmon.Path}} "
                 "{{.Store.GraphRoot}} {{.Store.GraphOptions}}"])
    assert code == 0
    assert capsys.readouterr().out == (f"crun [debug] none /c {tmp_path / 'root'} "
                                       "map[vfs.ignore_chown_errors:true]\n")


# -- what the engine makes of them --------------------------------------------------------

@pytest.fixture
def rootless_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    conf_dir = tmp_path / "xdg" / "podpy"
    conf_dir.mkdir(parents=True)
    return conf_dir


def _load(tmp_path, opts, driver=None):
    from podpy import config

    return config.load(runroot=str(tmp_path / "run"), storage_driver=driver, storage_opts=opts)


def test_storage_opts_apply_what_the_drivers_support(rootless_config, tmp_path):
    cfg = _load(tmp_path, ["overlay.mount_program=/bin/true", ".ignore_chown_errors=TRUE",
                           "override_kernel_check=1"])
    assert (cfg.driver, cfg.mount_program, cfg.ignore_chown_errors) == ("fuse-overlayfs", "/bin/true", True)
    assert cfg.storage_opts == ["overlay.mount_program=/bin/true", ".ignore_chown_errors=TRUE",
                                "override_kernel_check=1"]
    cfg = _load(tmp_path, ["vfs.ignore_chown_errors=true"], driver="vfs")
    assert (cfg.driver, cfg.ignore_chown_errors) == ("vfs", True)


def test_storage_opts_replace_storage_conf_options(rootless_config, tmp_path):
    (rootless_config / "storage.conf").write_text('[storage.options.overlay]\nmount_program = "/bin/true"\n')
    assert _load(tmp_path, None).mount_program == "/bin/true"
    cfg = _load(tmp_path, [""])   # --storage-opt "": no options at all
    assert (cfg.mount_program, cfg.driver, cfg.storage_opts) == (None, None, [])


@pytest.mark.parametrize("opt,driver,message", [
    ("overlay.foo=1", None, "overlay: Unknown option overlay.foo"),
    ("foo.bar=1", None, "overlay: Unknown option foo.bar"),
    ("bogus", None, "unable to parse key/value option: bogus"),
    ("vfs.ignore_chown_errors=true", "overlay", "overlay: Unknown option vfs.ignore_chown_errors"),
    ("overlay.mount_program=/bin/true", "vfs", "vfs driver does not support overlay.mount_program options"),
    ("vfs.mountopt=x", "vfs", "vfs driver does not support mount options"),
    ("vfs.bogus=x", "vfs", "vfs driver does not support vfs.bogus options"),
    ("overlay.mountopt=nodev", None, "--storage-opt overlay.mountopt: podpy's storage drivers do not support "
                                     "mountopt yet"),
    ("overlay.mount_program=/no/such/program", None,
     "overlay: can't stat program \"/no/such/program\": No such file or directory"),
    ("ignore_chown_errors=maybe", None, "--storage-opt ignore_chown_errors: invalid boolean 'maybe'"),
])
def test_bad_storage_opts_are_refused_in_one_line(rootless_config, tmp_path, opt, driver, message):
    with pytest.raises(InvalidArgument, match=_exactly(message)):
        _load(tmp_path, [opt], driver)


def test_events_none_writes_nothing_and_cannot_be_read(tmp_path):
    from podpy import events
    from podpy.engine.entities import EventsOptions
    from podpy.engine.system import SystemEngine

    try:
        events.configure("none")
        events.emit(str(tmp_path), "image", "pull", "x")
        assert not os.path.exists(events.path(str(tmp_path)))
        engine = SystemEngine(SimpleNamespace(cfg=SimpleNamespace(runroot=str(tmp_path))), lambda m: None)
        with pytest.raises(InvalidArgument, match=_exactly('cannot read events with the "none" backend')):
            engine.events(EventsOptions())
        events.configure("file", str(tmp_path / "tmp"))
        events.emit(str(tmp_path / "run"), "image", "pull", "x")
        assert events.path(str(tmp_path / "run")) == str(tmp_path / "tmp" / "events" / "events.log")
        assert '"Status":"pull"' in (tmp_path / "tmp" / "events" / "events.log").read_text()
    finally:
        events.configure("file")


def test_the_monitors_commands_keep_the_store_and_events_flags():
    from podpy.engine.start import _podpy_command

    cfg = SimpleNamespace(root="/r", runroot="/rr", storage_opts=["overlay.mount_program=/f"], events_backend="none",
                          tmpdir="/t")
    rt = SimpleNamespace(cfg=cfg, store=SimpleNamespace(driver=SimpleNamespace(name="fuse-overlayfs")))
    argv = _podpy_command(rt, "container", "cleanup", "abc")["argv"]
    assert argv[4:] == ["--root", "/r", "--runroot", "/rr", "--storage-driver", "fuse-overlayfs",
                        "--events-backend=none", "--storage-opt=overlay.mount_program=/f", "--tmpdir=/t",
                        "container", "cleanup", "abc"]
    cfg.storage_opts, cfg.tmpdir, cfg.events_backend = [], None, "file"
    assert _podpy_command(rt, "x")["argv"][10:] == ["--events-backend=file", "--storage-opt=", "x"]


def test_persistent_flags_after_the_command_are_lifted_as_podmans_are():
    g = Globals()
    rest = globalflags.lift(g, ["images", "--root", "/r", "-a", "--runroot=/rr", "--log-level", "debug",
                                "--format", "{{.ID}}", "--", "--root", "x"])
    assert (g.root, g.runroot, g.log_level) == ("/r", "/rr", "debug")
    assert rest == ["images", "-a", "--format", "{{.ID}}", "--", "--root", "x"]
    # the root command's own flags are not persistent: podman refuses them after a command too
    assert globalflags.lift(g, ["images", "--noout", "--url=x"]) == ["images", "--noout", "--url=x"]
    # build's own --runtime-flag and --hooks-dir stay build's
    assert globalflags.lift(g, ["build", "--runtime-flag", "x", "."]) == ["build", "--runtime-flag", "x", "."]
    # unshare's command line is the command's own after its first word
    g = Globals()
    assert globalflags.lift(g, ["unshare", "--root", "/r", "env", "--root", "y"]) == ["unshare", "env", "--root", "y"]
    assert g.root == "/r"


def test_persistent_flags_among_run_options_go_to_the_globals_and_stop_at_the_image():
    from podpy.cli import runargs

    g = Globals()
    fields = runargs.parse("run", ["--rm", "--root", "/r", "--storage-driver=vfs", "busybox", "echo", "--root"], g)
    assert (g.root, g.storage_driver) == ("/r", "vfs")
    assert fields["image"] == "busybox" and fields["command"] == ["echo", "--root"] and fields["remove"] is True
    with pytest.raises(InvalidArgument, match=_exactly("unknown flag: --noout")):
        runargs.parse("run", ["--noout", "busybox"], Globals())


def test_a_persistent_flag_after_the_command_reaches_the_engine(tmp_path):
    res = _podpy("images", "--root", str(tmp_path / "store"), "--runroot", str(tmp_path / "run"), "--log-level=debug",
                 "-q")
    assert res.returncode == 0, res.stderr
    assert f"Using graph root {tmp_path / 'store'}" in res.stderr and res.stdout == ""


def test_the_first_event_makes_its_directory_and_later_ones_append(tmp_path, monkeypatch):
    import json

    from podpy import events

    monkeypatch.setattr(events, "_backend", "file")
    monkeypatch.setattr(events, "_tmpdir", None)
    runroot = tmp_path / "run" / "podpy"
    events.emit(str(runroot), "container", "start", "c0ffee", "web")
    events.emit(str(runroot), "container", "died", "c0ffee", "web")
    lines = [json.loads(line) for line in (runroot / events.FILE).read_text().splitlines()]
    assert [e["Status"] for e in lines] == ["start", "died"]
    assert oct((runroot / events.FILE).stat().st_mode & 0o777) == "0o600"
