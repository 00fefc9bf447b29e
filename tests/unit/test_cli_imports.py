"""What the hot paths import: `run` parses without click/typer; help never loads rich."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    # -S, as the installed command runs: site's own imports are not podpy's
    out = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": f"{ROOT}:{sysconfig.get_paths()['purelib']}"},
                         cwd=str(ROOT)).stdout
    return set(out.split()[-1000:]) if out else set()


def test_run_arguments_parse_without_click_or_typer():
    mods = _modules_after("from podpy.cli import runargs\nrunargs.parse('run', ['--rm', 'img', 'true'])\n"
                          "import podpy.engine.containers, podpy.engine.create")
    assert "podpy.engine.containers" in mods
    assert not {"click", "typer", "rich"} & mods


def test_run_path_keeps_slow_standard_modules_out():
    """Each of these costs 1-10 ms at every `podpy run` (dataclasses pulls in inspect, ast, dis;
    json pulls in re and enum, sqlite3 datetime, signal enum; re and enum 2.5 ms together;
    functools and collections some 3 ms, with operator, reprlib, keyword and itertools)."""
    mods = _modules_after("from podpy.cli import runargs\nrunargs.parse('run', ['--rm', 'img', 'true'])\n"
                          "import podpy.engine.containers, podpy.engine.create, podpy.engine.context\n"
                          "import rootless.parent, rootless.child, rootless.network.slirp, storage.store\n"
                          "import storage.drivers.overlay, storage.drivers.vfs, podpy.__main__\n"
                          "import podpy.engine.start, podpy.engine.lifecycle, podpy.engine.execute, rootless.execute, podpy.monitor.service\n"
                          "import podpy.network.start, podpy.network.config, podpy.network.options, podpy.network.files\n"
                          "import rootless.network.portfwd, rootless.network.nsock, rootless.network.setup")
    slow = {"typing", "dataclasses", "inspect", "argparse", "shutil", "random", "socket", "tempfile",
            "subprocess", "threading", "logging", "json", "sqlite3", "signal", "datetime", "re", "enum", "contextlib",
            "functools", "collections", "operator", "reprlib", "types"}
    assert not slow & mods, sorted(slow & mods)
    assert not {m for m in mods if m.startswith("podpy.imagebuild")}, "the run path imports the build package"


def test_a_foreground_run_without_network_loads_no_module_it_does_not_use():
    """struct.py (the C half does), the output formats (for listings) and the records beside the
    store's data (written by other commands) are one more file each to find and load."""
    mods = _modules_after("from podpy.cli import runargs\nrunargs.parse('run', ['--rm', 'img', 'true'])\n"
                          "import podpy.engine.runverbs, podpy.engine.foreground, podpy.engine.create\n"
                          "import podpy.network.start, podpy.network.options, podpy.network.files, storage.store\n"
                          "import rootless.ahead, rootless.parent, rootless.sync, rootless._ffi.ioctl, podpy.__main__")
    assert "storage.store" in mods and "rootless.sync" in mods
    assert not {"struct", "podpy.formats", "storage.sidecar"} & mods, sorted({"struct", "podpy.formats", "storage.sidecar"} & mods)


def test_run_path_leaves_user_network_code_alone():
    """pyroute2 (~120 ms) and ipaddress are for user networks only: the default network, none,
    host and published ports do without them."""
    mods = _modules_after("import podpy.network.start, podpy.network.config, podpy.network.options, podpy.network.files\n"
                          "import rootless.network.portfwd, rootless.network.nsock, rootless.network.setup\n"
                          "import podpy.engine.containers, podpy.engine.start, podpy.monitor.service")
    assert not {"pyroute2", "ipaddress", "asyncio", "podpy.engine.networks"} & mods


def test_help_does_not_import_rich():
    mods = _modules_after("from podpy.cli.main import main\n"
                          "import contextlib, io\n"
                          "with contextlib.redirect_stdout(io.StringIO()):\n"
                          "    main(['pull', '--help'])")
    assert "typer" in mods and "rich" not in mods


def test_detached_start_helpers_stay_light():
    """What every `run -d` of a local image reads: --retry's check (not pull.py, ~10 ms with its
    thread pool) and the hooks' state key (not subprocess)."""
    mods = _modules_after("import podpy.engine.retries, rootless.hooks, podpy.monitor.client")
    assert not {"podpy.engine.pull", "concurrent.futures", "subprocess"} & mods, \
        sorted({"podpy.engine.pull", "concurrent.futures", "subprocess"} & mods)


def test_reference_and_option_parsing_leave_re_out():
    """Image references, names, -e and the cgroup and duration helpers are checked without `re`
    (with the `enum` it pulls in, ~3 ms a command)."""
    mods = _modules_after("import storage.reference, podpy.options, podpy.formats, podpy.engine.cgroupopts\n"
                          "from podpy.cli import runargs\n"
                          "runargs.parse('run', ['--rm', '--name', 'x', '-e', 'A=1', 'img', 'true'])\n"
                          "storage.reference.parse('localhost:5000/a/b:1.0')\n"
                          "podpy.options.check_name('x'); podpy.options.parse_env(['A=1'])")
    assert "storage.reference" in mods and "podpy.cli.runargs" in mods
    assert "re" not in mods and "enum" not in mods


def test_the_database_driver_loads_without_functools():
    """_sqlite3 takes functools.lru_cache when loaded; storage.db gives it a stand-in for that
    moment: the connections' statement caches work, and functools, imported later, is the
    real one."""
    mods = _modules_after("from storage import db\n"
                          "c = db.sqlite3.connect(':memory:')\n"
                          "assert [c.execute('SELECT ?', (i % 300,)).fetchone()[0] for i in range(1000)][-1] == 999 % 300\n"
                          "assert 'functools' not in sys.modules and 'collections' not in sys.modules\n"
                          "import functools\n"
                          "assert functools.lru_cache.__module__ == 'functools' and hasattr(functools, 'partial')")
    assert "_sqlite3" in mods


def test_a_driver_that_wants_more_of_functools_gets_the_real_one():
    """Should a later driver take more than lru_cache from functools, the stand-in gives way:
    the import is made again with the real module."""
    mods = _modules_after("import builtins\n"
                          "real_import = builtins.__import__\n"
                          "tries = []\n"
                          "def fussy(name, *args, **kwargs):\n"
                          "    if name == '_sqlite3' and '_sqlite3' not in sys.modules:\n"
                          "        tries.append(1)\n"
                          "        real_import('functools').partial   # what the stand-in lacks\n"
                          "    return real_import(name, *args, **kwargs)\n"
                          "builtins.__import__ = fussy\n"
                          "from storage import db\n"
                          "builtins.__import__ = real_import\n"
                          "assert len(tries) == 2 and db.sqlite3.connect(':memory:').execute('SELECT 1').fetchone() == (1,)\n"
                          "assert hasattr(sys.modules['functools'], 'partial')")
    assert "_sqlite3" in mods and "functools" in mods


def test_run_host_side_leaves_the_containers_own_code_out():
    """The host side of a `run` builds the spec and waits: the mount, seccomp and terminal code
    (and termios, a shared library) are the container's stage 1's and init's to import, the
    vfs driver is for stores that use it, and the OCI hooks' runner for containers with hooks."""
    mods = _modules_after("import podpy.engine.runverbs, podpy.engine.foreground, podpy.engine.spec\n"
                          "import podpy.engine.start, podpy.engine.create, podpy.engine.hooks, podpy.engine.context\n"
                          "import rootless.ahead, rootless.parent, rootless.userns, rootless.sync, rootless.cgroups\n"
                          "import rootless.rootfs, rootless.capabilities\n"
                          "podpy.engine.context.make_driver('overlay', True, None)\n"
                          "podpy.engine.hooks.attach({}, [], 'c', '/b', False)\n"
                          "rootless.rootfs.default_mounts(True, True)\n"
                          "rootless.capabilities.resolve(rootless.capabilities.DEFAULT, [], [], False)")
    assert "rootless.rootfs" in mods and "podpy.engine.foreground" in mods
    heavy = {"rootless.mounts", "rootless.syscalls", "rootless.seccomp", "rootless.tty", "rootless.child", "rootless.stage1",
             "rootless.hooks", "termios", "ctypes", "storage.drivers.vfs"}
    assert not heavy & mods, sorted(heavy & mods)


def test_terminal_numbers_come_from_termios_when_asked_for():
    from rootless._ffi import numbers
    import termios

    assert (numbers.TIOCSCTTY, numbers.TIOCGWINSZ, numbers.TIOCSWINSZ) == (
        termios.TIOCSCTTY, termios.TIOCGWINSZ, termios.TIOCSWINSZ)
    mods = _modules_after("from rootless._ffi import numbers\nnumbers.MS_BIND")
    assert "rootless._ffi.numbers" in mods and "termios" not in mods
    # the container's side takes them when imported: an init sets its terminal after
    # pivot_root, where termios could not be loaded any more (and `exec` after entering the
    # container's mount namespace); a stage 1 imports stage1.py, and child.py with it, after its unshare
    assert "termios" not in _modules_after("import rootless.syscalls")
    assert "termios" in _modules_after("import rootless.child")
    assert "termios" in _modules_after("import rootless.stage1")
    assert "termios" in _modules_after("import rootless.execute")


def test_a_command_collects_its_young_objects_only_after_its_start_up():
    """The young generation's threshold is raised for the whole command (its start-up's objects
    all live on); the older generations keep theirs."""
    import gc

    code = ("import gc, os, sys\nsys.argv = ['podpy', 'run', '--help']\nreal_exit = os._exit\n"
            "def leave(code):\n    print(gc.get_threshold(), gc.get_count()[0] > 700, flush=True)\n    real_exit(code)\n"
            "os._exit = leave\nfrom podpy.__main__ import main, YOUNG_THRESHOLD\nmain()")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": f"{ROOT}:{sysconfig.get_paths()['purelib']}"},
                         cwd=str(ROOT)).stdout
    assert out.splitlines()[-1] == f"(100000, {gc.get_threshold()[1]}, {gc.get_threshold()[2]}) True"


def test_modules_both_sides_of_a_run_need_come_before_stage_1s_fork():
    """What the host side imports after forking a foreground run's stage 1 and stage 1 imports
    too (its set-up, the removal of a --rm container's directory) is imported before the fork,
    once for both: stage 1 importing its own copy beside the host's work slows both."""
    def ours(code: str) -> set[str]:
        return {m for m in _modules_after(code) if m.split(".")[0] in ("podpy", "storage", "rootless")}

    before_fork = ours("from podpy.engine import paths\nfor m in (*paths.PATHS['run'], *paths.SHARED): __import__(m)")
    host = ours("from podpy.engine import paths\n"
                "for m in (*paths.PATHS['run'], *paths.SHARED, *paths.CREATE, *paths.FOREGROUND): __import__(m)")
    stage1 = ours("import rootless.stage1, storage.staging")
    assert "storage.staging" in before_fork and "rootless.rootfs" in before_fork
    assert not (host & stage1) - before_fork, sorted((host & stage1) - before_fork)


def test_exec_and_run_paths_take_signals_from_the_c_module():
    """signal.py's enums import enum, functools and collections (some 3 ms): the modules of
    `exec`'s and `run`'s paths take the numbers and handlers from `_signal`, also inside their
    functions, where the imports above do not look."""
    import re

    from podpy.engine import paths

    names = {*paths.EXEC, *paths.PATHS["run"], *paths.CREATE, *paths.FOREGROUND, *paths.SHARED}
    found = []
    for name in sorted(names):
        path = ROOT / (name.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / name.replace(".", "/") / "__init__.py"
        if re.search(r"^\s*(import signal\b|from signal import)", path.read_text(), re.M):
            found.append(name)
    assert not found, found
