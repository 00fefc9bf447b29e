"""The generator's command line as podman's generator has it: Go's flag forms, the output
directory (systemd passes three), -dryrun's output and exit status, user or system mode by
flag or program name, and the podpy the units run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from podpy.quadlet.generator import UsageError, main, parse_flags, podpy_command

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args, flags, rest", [
    (["-dryrun"], {"dryrun"}, []),
    (["--dryrun", "-user", "--no-kmsg-log", "-v"], {"dryrun", "user", "no-kmsg-log", "v"}, []),
    (["-user=true", "-v=false", "/out", "/early", "/late"], {"user"}, ["/out", "/early", "/late"]),
    (["-user=1", "--", "-v"], {"user"}, ["-v"]),
    (["/out", "-dryrun"], set(), ["/out", "-dryrun"]),       # flags stop at the first argument, as Go's do
    (["--version"], {"version"}, []),
])
def test_go_flag_forms(args, flags, rest):
    parsed, positional = parse_flags(args)
    assert {k for k, v in parsed.items() if v} == flags and positional == rest


@pytest.mark.parametrize("args, message", [(["-nope"], "flag provided but not defined: -nope"),
                                           (["---dryrun"], "flag provided but not defined: ---dryrun"),
                                           (["-dryrun=maybe"], 'invalid boolean value "maybe" for -dryrun')])
def test_bad_flags(args, message):
    with pytest.raises(UsageError, match=message):
        parse_flags(args)
    err = io.StringIO()
    assert main(args, stderr=err) == 2 and message in err.getvalue() and "Usage:" in err.getvalue()


@pytest.mark.parametrize("flag", ["-h", "--help", "-help"])
def test_help_flags_print_the_usage(flag):
    err = io.StringIO()
    assert main([flag], prog="podpy-user-generator", stderr=err) == 0
    assert err.getvalue().startswith("Usage: podpy-user-generator [-dryrun]")


def _files(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "web.container").write_text("[Container]\nImage=x/y\n[Install]\nWantedBy=default.target\n")
    (src / "bad.container").write_text("[Container]\nImage=x/y\nMemroy=1g\n")
    return src


def test_writes_to_the_first_of_three_directories(tmp_path, monkeypatch):
    monkeypatch.setenv("QUADLET_UNIT_DIRS", str(_files(tmp_path)))
    out, early, late = (tmp_path / d for d in ("normal", "early", "late"))
    err = io.StringIO()
    assert main(["-no-kmsg-log", str(out), str(early), str(late)], stderr=err) == 1   # bad.container
    assert sorted(os.listdir(out)) == ["bad.service", "default.target.wants", "web.service"]
    assert os.readlink(out / "default.target.wants" / "web.service") == "../web.service"
    assert not early.exists() and not late.exists()
    assert "unknown key Memroy= in [Container] of bad.container, line 3" in err.getvalue()
    assert "network-online.target" in (out / "web.service").read_text()     # system mode by default


def test_dryrun_prints_units_and_problems_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("QUADLET_UNIT_DIRS", str(_files(tmp_path)))
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["-dryrun", "-user"], stdout=out, stderr=err) == 1
    text = out.getvalue()
    assert text.index("---bad.service---\n") < text.index("---web.service---\n")
    assert "podpy-user-wait-network-online.service" in text
    assert "unknown key Memroy=" in err.getvalue()
    assert sorted(os.listdir(tmp_path)) == ["src"]
    (tmp_path / "src" / "bad.container").unlink()
    assert main(["-dryrun", "-user"], stdout=io.StringIO(), stderr=io.StringIO()) == 0


def test_missing_output_directory_and_bad_unit_dirs(monkeypatch, tmp_path):
    err = io.StringIO()
    assert main(["-no-kmsg-log"], stderr=err) == 1 and "missing output directory argument" in err.getvalue()
    monkeypatch.setenv("QUADLET_UNIT_DIRS", "relative")
    err = io.StringIO()
    assert main(["-dryrun"], stderr=err) == 1 and "not an absolute path" in err.getvalue()


def test_user_mode_by_program_name(tmp_path, monkeypatch):
    monkeypatch.setenv("QUADLET_UNIT_DIRS", str(_files(tmp_path)))
    out = io.StringIO()
    main(["-dryrun"], prog="/usr/lib/systemd/user-generators/podpy-user-generator", stdout=out,
         stderr=io.StringIO())
    assert "podpy-user-wait-network-online.service" in out.getvalue()


def test_podpy_the_units_run(tmp_path):
    assert podpy_command("/opt/x/bin/podpy", {}) == ["/opt/x/bin/podpy"]
    link = tmp_path / "podpy-user-generator"
    link.symlink_to("/opt/podpy/podpy.pyz")
    assert podpy_command(str(link), {}) == ["/opt/podpy/podpy.pyz"]
    assert podpy_command("/x/podpy/__main__.py", {}) == [sys.executable, "-m", "podpy"]
    assert podpy_command("/whatever", {"PODPY_BINARY": "/usr/local/bin/podpy"}) == ["/usr/local/bin/podpy"]


def test_a_link_named_like_a_generator_runs_the_generator_without_the_cli(tmp_path):
    """What systemd runs: podpy under the generator's name (the CLI and typer stay unimported)."""
    src = _files(tmp_path)
    (src / "bad.container").unlink()
    launcher = tmp_path / "podpy"
    launcher.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
                        "from podpy.__main__ import main\nmain()\n")
    launcher.chmod(0o755)
    gen = tmp_path / "podpy-user-generator"
    gen.symlink_to(launcher)
    probe = ("import sys, runpy; sys.argv = [%r, '-dryrun']; import podpy.__main__ as m\n"
             "try:\n    m.os._exit = lambda c: (print('typer' in sys.modules, file=sys.stderr), sys.exit(c))\n"
             "    m.main()\nfinally:\n    pass\n") % str(gen)
    env = {**os.environ, "QUADLET_UNIT_DIRS": str(src), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "---web.service---" in done.stdout and f"ExecStart={launcher} run" in done.stdout
    assert "podpy-user-wait-network-online.service" in done.stdout
    assert done.stderr.strip().endswith("False"), done.stderr      # typer was not imported
    real = subprocess.run([str(gen), "-dryrun"], env=env, capture_output=True, text=True, timeout=60)
    assert real.returncode == 0 and real.stdout == done.stdout


def test_podpy_quadlet_command(tmp_path):
    env = {**os.environ, "QUADLET_UNIT_DIRS": str(_files(tmp_path)), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "podpy", "quadlet", "-v", "-dryrun", "-user"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "---web.service---" in done.stdout
    assert "unknown key Memroy=" in done.stderr and "searching" in done.stderr
    assert f"ExecStart={sys.executable} -m podpy run" in done.stdout
    helped = subprocess.run([sys.executable, "-m", "podpy", "quadlet", "--help"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0 and "-dryrun" in helped.stdout and "(podpy only" in helped.stdout
