"""The zipapp's launcher: an archive unpacked already runs its entry point with nothing but os
and sys imported; one not unpacked yet, or asked for shiv's own behaviour, goes to shiv's
bootstrap. Checked on a small archive of shiv's layout (a stand-in _bootstrap that says so)."""

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_zipapp", HERE / "packaging" / "build_zipapp.py")
build_zipapp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_zipapp)

ENTRY = "import os, sys\ndef main():\n    print('entry', os.environ.get('PYTHONPATH', ''), sorted(m for m in sys.modules if m in ('zipfile', 'compileall', 'hashlib', 'subprocess')))\n    return 3\n"


def _archive(tmp_path: Path) -> Path:
    path = tmp_path / "tool.pyz"
    with open(path, "wb") as f:
        f.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(f, "w") as zf:
            zf.writestr("environment.json", json.dumps({"build_id": "abc123", "root": None,
                                                        "extend_pythonpath": True}))
            zf.writestr("__main__.py", "import _bootstrap\n_bootstrap.bootstrap()\n")
            zf.writestr("_bootstrap/__init__.py", "def bootstrap():\n    print('bootstrap')\n")
            zf.writestr("site-packages/tool/__init__.py", "")
            zf.writestr("site-packages/tool/__main__.py", ENTRY)
    build_zipapp.install_launcher(path, {"entry_point": "tool.__main__:main"})
    return path


def _run(archive: Path, root: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "SHIV_ROOT": str(root), **extra}
    return subprocess.run([sys.executable, "-s", str(archive)], env=env, capture_output=True, text=True,
                          timeout=60)


def test_an_unpacked_archive_runs_its_entry_point_directly(tmp_path):
    archive = _archive(tmp_path)
    site = tmp_path / "root" / "tool.pyz_abc123" / "site-packages"
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            if name.startswith("site-packages/"):
                zf.extract(name, site.parent)
    done = _run(archive, tmp_path / "root")
    assert done.returncode == 3, done.stderr
    assert done.stdout == f"entry {site} []\n"   # on PYTHONPATH for children; shiv's modules unloaded


def test_otherwise_shivs_bootstrap_runs(tmp_path):
    archive = _archive(tmp_path)
    (tmp_path / "root").mkdir()
    assert _run(archive, tmp_path / "root").stdout == "bootstrap\n"     # not unpacked yet
    site = tmp_path / "root" / "tool.pyz_abc123" / "site-packages"
    site.mkdir(parents=True)
    assert _run(archive, tmp_path / "root", SHIV_INTERPRETER="1").stdout == "bootstrap\n"


def test_the_archive_keeps_its_members_behind_a_shell_prefix(tmp_path):
    archive = _archive(tmp_path)
    assert archive.read_bytes().startswith(b"#!/bin/sh\n")
    assert b"exec python3 \"$0\" \"$@\"\n" in archive.read_bytes()[:2000]
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["__main__.py", "_bootstrap/__init__.py", "environment.json",
                                         "site-packages/tool/__init__.py", "site-packages/tool/__main__.py"]
        assert b"BUILD_ID = 'abc123'" in zf.read("__main__.py")
    assert os.access(archive, os.R_OK)


def _execute(archive: Path, root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """The archive executed as a program (its shell prefix), python3 found on PATH."""
    archive.chmod(0o755)
    bindir = root.parent / "bin"
    bindir.mkdir(exist_ok=True)
    python = bindir / "python3"
    if not python.exists():
        python.symlink_to(sys.executable)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(root), **extra}
    return subprocess.run([str(archive), *args], env=env, capture_output=True, text=True, timeout=60)


FAST_ENTRY = ("import os, sys\ndef main():\n    print('fast', sys.argv, os.environ.get('PYTHONPATH', ''), '' in sys.path,"
              " sorted(m for m in sys.modules if m in ('runpy', 'site', 'zipfile')),"
              " sys.path[-1], sys.flags.no_site)\n    return 4\n")


def test_executed_when_unpacked_it_starts_the_entry_point_without_running_the_archive(tmp_path):
    archive = _archive(tmp_path)
    site = tmp_path / "root" / ".shiv" / "tool.pyz_abc123" / "site-packages"
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            if name.startswith("site-packages/"):
                zf.extract(name, site.parent)
    (site / "tool" / "__main__.py").write_text(FAST_ENTRY)
    done = _execute(archive, tmp_path / "root", "run", "a b")
    assert done.returncode == 4, done.stderr
    # argv as python would give it for the archive, the site-packages last on the path and on
    # PYTHONPATH for children, not the current directory, no runpy, site or zipfile, python
    # started with -S
    assert done.stdout == f"fast [{str(archive)!r}, 'run', 'a b'] {site} False [] {site} 1\n"
    # SHIV_ROOT names another root: that one's, else the archive runs
    other = tmp_path / "other"
    assert _execute(archive, tmp_path / "root", SHIV_ROOT=str(other)).stdout == "bootstrap\n"
    assert _execute(archive, tmp_path / "root", SHIV_ROOT=str(site.parent.parent)).stdout.startswith("fast")


def test_executed_otherwise_python_runs_the_archive(tmp_path):
    archive = _archive(tmp_path)
    (tmp_path / "root").mkdir()
    assert _execute(archive, tmp_path / "root").stdout == "bootstrap\n"     # not unpacked yet
    site = tmp_path / "root" / ".shiv" / "tool.pyz_abc123" / "site-packages"
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            if name.startswith("site-packages/"):
                zf.extract(name, site.parent)
    for variable in ("SHIV_INTERPRETER", "SHIV_FORCE_EXTRACT", "SHIV_ENTRY_POINT"):
        assert _execute(archive, tmp_path / "root", **{variable: "1"}).stdout == "bootstrap\n", variable
    link = tmp_path / "other-name"
    link.symlink_to(archive)
    done = subprocess.run([str(link)], env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "root")},
                          capture_output=True, text=True, timeout=60)
    # under another name: python runs the archive, whose launcher finds it by its real name
    assert done.returncode == 3 and done.stdout.startswith("entry "), done.stderr


def test_no_shell_prefix_where_it_could_not_find_the_unpacked_archive():
    build = build_zipapp.shell_prefix
    assert build(b"#!/usr/bin/env python3\n", "abc", "$SCRATCH/shiv", True, "m", "f") == b""
    assert build(b"#!/usr/bin/env python3 -E\n", "abc", "", True, "m", "f") == b""
    assert b"exec /usr/bin/python3 " in build(b"#!/usr/bin/python3\n", "abc", "/opt/x y", False, "m", "f")
    assert b"'/opt/x y'" in build(b"#!/usr/bin/python3\n", "abc", "/opt/x y", False, "m", "f")
