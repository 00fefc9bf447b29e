"""The bytecode pack (packaging/build_pack.py, served by podpy/__init__.py): modules come from
it only while their sources are the ones compiled, and only where the ordinary import would
have found them; a damaged pack or one of another Python is ignored. Each case runs a fresh
interpreter over a copy of the packages in a temporary site directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import build_pack  # noqa: E402

PROBE = """
import sys
sys.path[:] = [p for p in {path!r}] + sys.path
import podpy, storage.reference, rootless.userns, podpy.engine.entities
for name in ("storage.reference", "rootless.userns", "podpy.engine.entities", "storage"):
    m = sys.modules[name]
    print(name, getattr(m.__loader__, "__name__", type(m.__loader__).__name__), m.__file__)
print("path", podpy.engine.__path__[0])
"""


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    for top in build_pack.PACKAGES:
        shutil.copytree(ROOT / top, site / top, ignore=shutil.ignore_patterns("__pycache__", "*.pack"))
    build_pack.build(str(site))
    return site


def probe(site: Path, *before: Path) -> dict[str, tuple[str, str]]:
    out = subprocess.run([sys.executable, "-S", "-c", PROBE.format(path=[*map(str, before), str(site)])],
                         capture_output=True, text=True, check=True, cwd="/").stdout
    rows = [line.split() for line in out.splitlines()]
    return {r[0]: tuple(r[1:]) for r in rows}   # type: ignore[misc]


def test_modules_come_from_the_pack_with_their_own_file_names(site):
    got = probe(site)
    assert got["storage.reference"] == ("Pack", str(site / "storage" / "reference.py"))
    assert got["rootless.userns"] == ("Pack", str(site / "rootless" / "userns.py"))
    assert got["podpy.engine.entities"] == ("Pack", str(site / "podpy" / "engine" / "entities.py"))
    assert got["storage"] == ("Pack", str(site / "storage" / "__init__.py"))
    assert got["path"] == (str(site / "podpy" / "engine"),)


def test_a_changed_source_is_imported_as_usual(site):
    path = site / "storage" / "reference.py"
    path.write_text(path.read_text() + "\nCHANGED = True\n")
    got = probe(site)
    assert got["storage.reference"] == ("SourceFileLoader", str(path))
    assert got["rootless.userns"][0] == "Pack"
    st = (site / "rootless" / "userns.py").stat()
    os.utime(site / "rootless" / "userns.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    assert probe(site)["rootless.userns"][0] == "SourceFileLoader"


def test_a_package_earlier_on_the_path_wins(site, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(site / "storage", other / "storage")
    got = probe(site, other)
    assert got["storage.reference"] == ("SourceFileLoader", str(other / "storage" / "reference.py"))
    assert got["rootless.userns"][0] == "Pack"


@pytest.mark.parametrize("damage", ["magic", "truncated", "garbage"])
def test_a_damaged_or_foreign_pack_is_ignored(site, damage):
    pack = site / "podpy" / build_pack.PACK
    data = pack.read_bytes()
    if damage == "magic":
        data = data[:8] + b"\0\0\r\n" + data[12:]
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = build_pack.MAGIC + data[8:24] + os.urandom(64)
    pack.write_bytes(data)
    got = probe(site)
    assert got["storage.reference"] == ("SourceFileLoader", str(site / "storage" / "reference.py"))


def test_no_descriptor_stays_open_and_a_rebuilt_pack_is_not_read_with_the_old_index(site):
    code = f"""
import os, sys
sys.path[:] = [{str(site)!r}] + sys.path
before = sorted(os.listdir("/proc/self/fd"))
import podpy
assert sorted(os.listdir("/proc/self/fd")) == before, "a descriptor left open"
pack = os.path.join({str(site)!r}, "podpy", "{build_pack.PACK}")
data = open(pack, "rb").read()
os.unlink(pack)
with open(pack, "wb") as f:   # the same bytes, another file: as a reinstall writes it
    f.write(data)
import storage.reference
m = sys.modules["storage.reference"]
print(type(m.__loader__).__name__, m.__file__)
"""
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.split() == ["SourceFileLoader", str(site / "storage" / "reference.py")]


def test_python_dash_m_runs_a_module_from_the_pack(site):
    """The monitor starts clean-up commands as `python -m podpy ...`: runpy asks the loader for
    the code object."""
    main = site / "podpy" / "__main__.py"
    import sysconfig

    env = {"PYTHONPATH": f"{site}:{sysconfig.get_path('purelib')}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-S", "-P", "-m", "podpy", "version", "--format", "{{.Client.Version}}"],
                         capture_output=True, text=True, env=env, cwd="/")
    assert (out.returncode, out.stdout.strip()) == (0, "0.1.0"), out.stderr
    probe_main = f"""
import sys
sys.path[:] = [{str(site)!r}] + sys.path
import podpy, runpy
spec = __import__("importlib.util").util.find_spec("podpy.__main__")
print(getattr(spec.loader, "__name__", ""), spec.origin)
"""
    got = subprocess.run([sys.executable, "-S", "-c", probe_main], capture_output=True, text=True, check=True,
                         cwd="/").stdout.split()
    assert got == ["Pack", str(main)]


PRELOAD = """
import sys
sys.path[:] = [{site!r}] + sys.path
import podpy
Pack = sys.meta_path[0]
through_importlib = []
exec_module = Pack.exec_module
Pack.exec_module = staticmethod(lambda m: (through_importlib.append(m.__name__), exec_module(m))[1])
{before}
podpy.preload({names!r})
import storage.db, podpy.state
m = sys.modules["storage.db"]
s = m.__spec__
print("attrs", m.__name__, m.__package__, m.__file__, m.__cached__, type(m.__loader__).__name__,
      s.name, s.origin, s.cached, s.parent, s.has_location, getattr(s, "_initializing", False),
      sys.modules["storage"].db is m)
print("pkg", sys.modules["storage"].__path__[0], sys.modules["storage"].__package__)
print("importlib", " ".join(through_importlib) or "-")
"""


def preloaded(site: Path, names: tuple[str, ...], before: str = "") -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-S", "-c", PRELOAD.format(site=str(site), names=names, before=before)],
                         capture_output=True, text=True, check=True, cwd="/").stdout
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()}


def test_preload_imports_a_module_after_what_it_imports_with_importlibs_attributes(site):
    got = preloaded(site, ("podpy.state",))
    # nothing went through importlib: the state and everything its top level imports was preloaded
    assert got["importlib"] == ["-"]
    src = site / "storage" / "db.py"
    cached = site / "storage" / "__pycache__" / f"db.{sys.implementation.cache_tag}.pyc"
    assert got["attrs"] == ["storage.db", "storage", str(src), str(cached), "type",
                            "storage.db", str(src), str(cached), "storage", "True", "False", "True"]
    assert got["pkg"] == [str(site / "storage"), "storage"]


def test_preload_stops_at_a_module_it_does_not_serve_and_importlib_does_the_rest(site):
    path = site / "storage" / "db.py"
    path.write_text(path.read_text() + "\nCHANGED = True\n")
    got = preloaded(site, ("podpy.state",))
    assert "storage.db" not in got["importlib"]   # a changed source: not the pack's (SourceFileLoader)
    assert "podpy.state" in got["importlib"]   # imported after it, as usual
    assert got["attrs"][0] == "storage.db"


def test_preload_leaves_a_process_with_threads_to_importlib(site):
    before = "import threading, time\nt = threading.Thread(target=time.sleep, args=(2,), daemon=True)\nt.start()"
    got = preloaded(site, ("podpy.state",), before)
    assert "podpy.state" in got["importlib"] and "storage.db" in got["importlib"]


def test_preload_of_a_name_the_pack_does_not_have_does_nothing(site):
    got = preloaded(site, ("podpy.no_such_module", "podpy.state"))
    assert "podpy.state" in got["importlib"]


def test_the_pack_lists_each_modules_top_level_imports(site):
    index = build_pack.read_index((site / "podpy" / build_pack.PACK).read_bytes())
    imports = index["podpy.engine.context"][6]
    assert "podpy.config" in imports and "podpy.events" in imports and "podpy.errors" in imports
    # only under TYPE_CHECKING there, and in functions
    assert "storage.store" not in imports and "rootless.userns" not in imports
    assert "podpy.engine.context" not in imports
    assert {"storage.db", "storage.fastjson", "podpy.record"} <= set(index["podpy.state"][6])


def test_the_preload_lists_name_modules_that_exist():
    from podpy.engine import paths

    from podpy import __main__ as entry

    for name in (*paths.ENGINE, *paths.CREATE, *paths.FOREGROUND, *paths.EXEC, *paths.SHARED, *paths.PATHS["run"],
                 *entry.COMMAND_LINE):
        assert (ROOT / (name.replace(".", "/") + ".py")).exists() or (ROOT / name.replace(".", "/")).is_dir(), name


def test_a_run_preloads_the_modules_its_command_line_and_engine_import_on_the_way(site):
    """What every command line imports first (podpy/__main__.py's COMMAND_LINE) and the modules a
    `run` imports before the engine's own preload (paths.PATHS["run"]) come from the preloads,
    with what they import at their top, not one by one through importlib."""
    from podpy import __main__ as entry
    from podpy.engine import paths

    index = build_pack.read_index((site / "podpy" / build_pack.PACK).read_bytes())
    seen: set[str] = set()

    def closure(name: str) -> None:
        if name in seen or name not in index:
            return
        seen.add(name)
        if "." in name:
            closure(name.rpartition(".")[0])
        for imported in index[name][6]:
            closure(imported)

    for name in (*entry.COMMAND_LINE, *paths.PATHS["run"]):
        closure(name)
    wanted = {"podpy.cli.main", "podpy.cli.common", "podpy.cli.globalflags", "podpy.cli.render", "podpy.errors",
              "storage.fastjson", "podpy.engine.paths", "podpy.cli.runargs", "podpy.engine.runverbs",
              "podpy.engine.context", "podpy.config", "podpy.events", "podpy.engine.kernelopts"}
    assert wanted <= seen, sorted(wanted - seen)


def test_preload_stops_at_a_module_whose_source_is_gone(site):
    (site / "storage" / "db.py").unlink()
    out = subprocess.run([sys.executable, "-S", "-c", f"""
import sys
sys.path[:] = [{str(site)!r}] + sys.path
import podpy
podpy.preload(("podpy.state",))
print("storage.db" in sys.modules, "podpy.state" in sys.modules)
"""], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_preload_reads_the_pack_once_and_closes_it(site):
    out = subprocess.run([sys.executable, "-S", "-c", f"""
import os, sys
sys.path[:] = [{str(site)!r}] + sys.path
import podpy
before = sorted(os.listdir("/proc/self/fd"))
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
podpy.preload(("podpy.state",))
print(sum(1 for p in opened if p.endswith("{build_pack.PACK}")), "storage.db" in sys.modules,
      sorted(os.listdir("/proc/self/fd")) == before)
"""], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True", "True"]


def test_preload_of_a_pack_rebuilt_since_its_index_was_read_leaves_it_to_importlib(site):
    pack = site / "podpy" / build_pack.PACK
    out = subprocess.run([sys.executable, "-S", "-c", f"""
import os, sys
sys.path[:] = [{str(site)!r}] + sys.path
import podpy
data = open({str(pack)!r}, "rb").read()
os.unlink({str(pack)!r})
with open({str(pack)!r}, "wb") as f:
    f.write(data)
podpy.preload(("podpy.state",))
print("storage.db" in sys.modules)
import storage.db
print(type(storage.db.__loader__).__name__)
"""], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "SourceFileLoader"]


def test_the_pack_is_lean_outside_the_cli_and_the_api(site):
    """Functions and classes come without docstrings and functions without annotations, except
    in the CLI (typer reads both) and the API; module docstrings, class-level annotations (the
    option classes' fields) and line numbers stay."""
    script = """
import sys, traceback
sys.path[:] = [{site!r}] + sys.path
import podpy, storage.fsutil, podpy.engine.runoptions, podpy.cli.common, podpy.errors
from storage.fsutil import remove_tree
from podpy.engine.runoptions import CreateOptions
assert storage.fsutil.__loader__.__name__ == "Pack"
assert storage.fsutil.__doc__
assert remove_tree.__doc__ is None and remove_tree.__annotations__ == {{}}
assert CreateOptions.__annotations__, "class-level annotations kept"
cli_funcs = [f for f in vars(podpy.cli.common).values()
             if callable(f) and getattr(f, "__module__", "") == "podpy.cli.common" and f.__doc__]
assert cli_funcs, "the CLI keeps its docstrings"
try:
    remove_tree(0)
except TypeError:
    tb = traceback.extract_tb(sys.exc_info()[2])[-1]
    src = open(storage.fsutil.__file__).read().splitlines()
    assert src[tb.lineno - 1].strip() == tb.line.strip(), (tb.lineno, tb.line)
print("ok")
"""
    out = subprocess.run([sys.executable, "-S", "-c", script.format(site=str(site))],
                         capture_output=True, text=True, cwd="/")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_packed_modules_keep_their_future_features_without_importing_the_future_module(site):
    """`from __future__ import annotations` is the compiler's flag in the pack's code: the
    annotations the CLI keeps are still strings, and no module of the pack imports __future__."""
    script = """
import sys
sys.path[:] = [{site!r}] + sys.path
import podpy, podpy.cli.common, podpy.engine.runoptions
assert podpy.cli.common.__loader__.__name__ == "Pack"
assert "__future__" not in sys.modules, "imported"
assert not hasattr(podpy.cli.common, "annotations")
hints = [a for f in vars(podpy.cli.common).values() if getattr(f, "__module__", "") == "podpy.cli.common"
         for a in getattr(f, "__annotations__", {{}}).values()]
assert hints and all(isinstance(a, str) for a in hints), hints
assert all(isinstance(a, str) for a in podpy.engine.runoptions.CreateOptions.__annotations__.values())
print("ok")
"""
    out = subprocess.run([sys.executable, "-S", "-c", script.format(site=str(site))],
                         capture_output=True, text=True, cwd="/")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_the_index_records_each_modules_file_and_where_its_code_is(site):
    import marshal

    data = (site / "podpy" / build_pack.PACK).read_bytes()
    index = build_pack.read_index(data)
    start = 24 + int.from_bytes(data[12:16], "little")
    assert len(index) == len(list(build_pack.modules(str(site)))) > 100
    for name, (is_pkg, rel, mtime, size, offset, length, _imports) in index.items():
        st = (site / rel).stat()
        assert (st.st_mtime_ns, st.st_size) == (mtime, size), name
        assert is_pkg == rel.endswith("/__init__.py")
        code = marshal.loads(data[start + offset:start + offset + length])
        assert code.co_filename == str(site / rel), name
    ends = sorted((e[4], e[4] + e[5]) for e in index.values())
    assert all(a[1] == b[0] for a, b in zip(ends, ends[1:])) and start + ends[-1][1] == len(data)


def test_the_loader_and_the_writer_agree_on_the_record_size():
    import podpy

    assert podpy.PACK_RECORD == build_pack.RECORD


def test_a_module_whose_file_its_name_does_not_find_stops_the_build(tmp_path):
    """The index keeps no paths: a file under a dotted directory would be looked for elsewhere."""
    for top in build_pack.PACKAGES:
        (tmp_path / top).mkdir()
        (tmp_path / top / "__init__.py").write_text("")
    (tmp_path / "podpy" / "a.b").mkdir()
    (tmp_path / "podpy" / "a.b" / "c.py").write_text("")
    with pytest.raises(SystemExit, match="a.b/c.py"):
        build_pack.build(str(tmp_path))
    assert not (tmp_path / "podpy" / build_pack.PACK).exists()
