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


def test_the_archive_keeps_its_shebang_and_members(tmp_path):
    archive = _archive(tmp_path)
    assert archive.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["__main__.py", "_bootstrap/__init__.py", "environment.json",
                                         "site-packages/tool/__init__.py", "site-packages/tool/__main__.py"]
        assert b"BUILD_ID = 'abc123'" in zf.read("__main__.py")
    assert os.access(archive, os.R_OK)
