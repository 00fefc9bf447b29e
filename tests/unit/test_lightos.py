"""The light `os` of podpy's commands (podpy/lightos.py): the standard module's names and
behaviour for what it holds, the whole standard module once anything else is asked for, and a
run's modules that need no more than it holds."""

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fresh(code: str, env: "dict[str, str] | None" = None) -> str:
    """What code prints in a new interpreter (-S, as the installed command runs) that has
    installed the light os before anything imported the standard one."""
    script = "import sys\nfrom podpy.lightos import install, is_light\nassert install()\nimport os\n" + code
    base = {**os.environ, "PYTHONPATH": f"{ROOT}:{sysconfig.get_paths()['purelib']}", **(env or {})}
    proc = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, env=base,
                          cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


_LISTING = ("print(' '.join(m.__file__ for n, m in sorted(sys.modules.items())\n"
            "               if n.split('.')[0] in ('podpy', 'storage', 'rootless') and getattr(m, '__file__', None)))")


def _names_lacking(files: str) -> set:
    """The attributes of os that these source files (a space-separated list) name and the
    light module does not hold (strings and comments left out)."""
    light = set(_fresh("print(' '.join(os.__dict__))").split())
    lacking = set()
    for path in files.split():
        code = re.sub(r"#.*|\"\"\"[\s\S]*?\"\"\"|\"[^\"\n]*\"|'[^'\n]*'", "", Path(path).read_text())
        lacking |= {name for name in re.findall(r"\bos\.([A-Za-z_]\w*)", code) if name not in light}
    return lacking


def test_the_light_module_is_os_without_collections_abc():
    out = _fresh("import posix, posixpath\n"
                 "print(is_light(os), '_collections_abc' in sys.modules, os.path is posixpath,\n"
                 "      sys.modules['os.path'] is posixpath, sys.modules['os'] is os)\n"
                 "print(all(getattr(os, n) is getattr(posix, n) for n in dir(posix) if not n.startswith('_') and n != 'environ'))\n"
                 "print(os._exit is posix._exit, os.__name__, os.__spec__.name, repr(os.__package__))")
    assert out.split() == ["True", "False", "True", "True", "True", "True", "True", "os", "os", "''"]


def test_its_own_names_have_the_standard_modules_values():
    names = ("name", "linesep", "sep", "altsep", "curdir", "pardir", "extsep", "pathsep", "defpath", "devnull",
             "SEEK_SET", "SEEK_CUR", "SEEK_END", "supports_bytes_environ", "error")
    light = _fresh(f"print(repr([getattr(os, n) for n in {names!r}]))\n"
                   f"print(repr([os.fsencode('a\\udcff'), os.fsdecode(b'a\\xff'), os.getenv('HOME'), "
                   f"os.getenv('NO_SUCH_VARIABLE_HERE', 'd'), os.get_exec_path(), os.get_exec_path({{'PATH': '/x:/y'}}), "
                   f"os.get_exec_path({{}})]))\nprint(is_light(os))")
    real = [repr([getattr(os, n) for n in names]),
            repr([os.fsencode("a\udcff"), os.fsdecode(b"a\xff"), os.getenv("HOME"), os.getenv("NO_SUCH_VARIABLE_HERE", "d"),
                  os.get_exec_path(), os.get_exec_path({"PATH": "/x:/y"}), os.get_exec_path({})]),
            "True"]
    assert light.splitlines() == real


def test_environ_reads_and_writes_as_the_standard_one_does():
    out = _fresh(
        "e = os.environ\n"
        "print(e['LIGHT_A'], e.get('LIGHT_B'), 'LIGHT_A' in e, 'LIGHT_B' in e, len(e) == len(dict(e)))\n"
        "e['LIGHT_B'] = 'two'\ne.setdefault('LIGHT_C', 'three')\ne.setdefault('LIGHT_A', 'no')\n"
        "e.update({'LIGHT_D': 'four'}, LIGHT_E='five')\n"
        "print(e.pop('LIGHT_E'), e.pop('LIGHT_E', 'gone'), sorted(k for k in e if k.startswith('LIGHT_')))\n"
        "del e['LIGHT_D']\n"
        "try:\n    del e['LIGHT_D']\nexcept KeyError as exc:\n    print('KeyError', exc)\n"
        "try:\n    e['LIGHT_F'] = 6\nexcept TypeError:\n    print('TypeError')\n"
        "print((e | {'LIGHT_G': 'g'})['LIGHT_G'], 'LIGHT_G' in e, type(e.copy()).__name__, e == dict(e))\n"
        "sys.stdout.flush()\n"
        "import posix\nposix.system('echo child $LIGHT_A $LIGHT_B $LIGHT_C ${LIGHT_D:-none}')\n"
        "print(is_light(os))",
        env={"LIGHT_A": "one"})
    assert out.splitlines() == [
        "one None True False True",
        "five gone ['LIGHT_A', 'LIGHT_B', 'LIGHT_C', 'LIGHT_D']",
        "KeyError 'LIGHT_D'",
        "TypeError",
        "g False dict True",
        "child one two three none",
        "True",
    ]


def test_any_other_name_completes_it_into_the_standard_module():
    out = _fresh(
        "light_environ = os.environ\nlight_environ['BEFORE'] = 'b'\nmodule = os\n"
        "walk = os.walk\nimport collections.abc\n"
        "print(is_light(os), sys.modules['os'] is module, hasattr(os, 'PathLike'), type(os.environ).__name__)\n"
        "print(os.environ['BEFORE'], isinstance(light_environ, collections.abc.MutableMapping))\n"
        "os.environ['AFTER'] = 'a'\nprint(light_environ['AFTER'], light_environ is not os.environ)\n"
        "print(os.makedirs.__module__, os.path.join('a', 'b'), list(walk('podpy/quadlet'))[0][0])")
    assert out.splitlines() == ["False True True _Environ", "b True", "a True", "os a/b podpy/quadlet"]


def test_star_import_and_import_machinery_see_the_whole_module():
    out = _fresh("print(hasattr(os, '__path__'), is_light(os))\nimport os.path\nfrom os import path, sep\n"
                 "print(is_light(os))\nfrom os import *\nprint(is_light(os), 'walk' in dir(), 'makedirs' in dir())")
    assert out.split() == ["False", "True", "True", "False", "True", "True"]


def test_makedirs_and_fdopen_behave_as_the_standard_ones(tmp_path):
    out = _fresh(
        f"base = {str(tmp_path)!r}\n"
        "os.makedirs(base + '/a/b/c', 0o750)\nprint(oct(os.stat(base + '/a/b/c').st_mode & 0o777))\n"
        "os.makedirs(base + '/a/b/c', exist_ok=True)\n"
        "try:\n    os.makedirs(base + '/a/b/c')\nexcept FileExistsError:\n    print('exists')\n"
        "open(base + '/f', 'w').close()\n"
        "try:\n    os.makedirs(base + '/f/g', exist_ok=True)\nexcept NotADirectoryError:\n    print('not a directory')\n"
        "os.makedirs(base + '/x/./', exist_ok=True)\nprint(os.path.isdir(base + '/x'))\n"
        "fd = os.open(base + '/f', os.O_WRONLY)\nwith os.fdopen(fd, 'w') as f:\n    f.write('text')\n"
        "print(open(base + '/f').read(), is_light(os))")
    assert out.splitlines() == ["0o750", "exists", "not a directory", "True", "text True"]
    assert (tmp_path / "a" / "b").is_dir()


def test_a_runs_modules_keep_the_light_module():
    """The modules a foreground run loads (host side, stage 1, init) import and parse its
    command line without completing os, and name nothing of os it lacks but walk and execvp,
    which a plain run does not call (walk: cgroup and sysctl cases; execvp: a fuse-overlayfs
    root's server, in its child): a call completes the module, slower, not wrong."""
    out = _fresh("from podpy.engine import paths\n"
                 "for m in (*paths.PATHS['run'], *paths.SHARED, *paths.CREATE, *paths.FOREGROUND, 'rootless.stage1',\n"
                 "          'rootless.child', 'rootless.ahead', 'rootless.early'):\n    __import__(m)\n"
                 "from podpy.cli import runargs\nrunargs.parse('run', ['--rm', '--network', 'none', 'img', 'true'])\n"
                 "print(is_light(os), '_collections_abc' in sys.modules)\n" + _LISTING)
    first, files = out.splitlines()
    assert first == "True False"
    lacking = _names_lacking(files)
    assert lacking <= {"walk", "execvp"}, sorted(lacking)


def test_a_command_started_after_os_was_imported_leaves_it_alone():
    out = subprocess.run([sys.executable, "-S", "-c",
                          "import os, sys\nfrom podpy.lightos import install\nprint(install(), type(os.environ).__name__)"],
                         capture_output=True, text=True, check=True, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert out.split() == ["False", "_Environ"]


def test_the_monitor_starts_with_it_and_needs_no_more():
    """The monitor (podpy/monitor/client.spawn's command) installs the light os first; its
    modules name nothing of os the light one lacks."""
    from podpy.monitor import client

    source = Path(client.__file__).read_text()
    assert "from podpy.lightos import install; install()" in source
    out = _fresh("import podpy.monitor.service\nprint(is_light(os), '_collections_abc' in sys.modules)\n" + _LISTING)
    first, files = out.splitlines()
    assert first == "True False"
    lacking = _names_lacking(files)
    assert not lacking, sorted(lacking)


def test_a_name_the_standard_module_lacks_too_is_an_attribute_error():
    """Asked for a name neither module has, the light one completes itself and then raises as
    the standard module would; a special name is refused without completing it."""
    out = _fresh("try:\n    os.__wrapped__\nexcept AttributeError as exc:\n    print(is_light(os), exc)\n"
                 "try:\n    os.no_such_function\nexcept AttributeError as exc:\n    print(is_light(os), exc)\n"
                 "print(hasattr(os, 'no_such_function'), callable(os.walk))")
    assert out.splitlines() == ["True module 'os' has no attribute '__wrapped__'",
                                "False module 'os' has no attribute 'no_such_function'", "False True"]
