# Builds podpy's single-file executable (a shiv zipapp) as described by zipapp.spec.
"""Build the podpy zipapp.

Usage: python packaging/build_zipapp.py [--spec zipapp.spec] [--out DIR] [SRC_DIR]

SRC_DIR defaults to the source tree this script lives in, --spec to
SRC_DIR/zipapp.spec and --out to SRC_DIR/dist.  Run it with the interpreter
the archive is meant for (the distribution's python3, or a virtual
environment made from it): compiled dependencies such as zstandard are
installed for that interpreter.  shiv must be importable by it.

The source tree is copied to a scratch directory first, so the build never
leaves build/ or *.egg-info behind and never picks up stale files from them.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE.parent

# Left out when the source tree is copied for the build: these names anywhere, and the
# build output directories at the top only.
_IGNORED_ANYWHERE = shutil.ignore_patterns(
    ".git", ".ci", "*.egg-info", "__pycache__", "*.pyc",
    ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "*.pyz",
)
_TOP_ONLY = {"build", "dist"}


def ignored_for(src: Path):  # type: ignore[no-untyped-def]
    """The copytree ignore function for a source tree rooted at src."""
    top = os.path.realpath(src)

    def ignore(directory: str, names: list[str]) -> set[str]:
        out = set(_IGNORED_ANYWHERE(directory, names))
        if os.path.realpath(directory) == top:
            out |= _TOP_ONLY & set(names)
        return out

    return ignore


class SpecError(Exception):
    pass


def load_spec(path: Path) -> dict:
    """Read the spec and fill in defaults; raise SpecError on bad content."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: {exc}") from None

    app = raw.get("zipapp", {})
    contents = raw.get("contents", {})
    check = raw.get("check", {})
    spec = {
        "output": app.get("output", "podpy.pyz"),
        "entry_point": app.get("entry_point"),
        "interpreter": app.get("interpreter", "/usr/bin/env python3"),
        "compressed": app.get("compressed", True),
        "reproducible": app.get("reproducible", True),
        "extend_pythonpath": app.get("extend_pythonpath", False),
        "compile_pyc": app.get("compile_pyc", True),
        "root": app.get("root", ""),
        "extras": contents.get("extras", []),
        "requirements": contents.get("requirements", []),
        "packages": contents.get("packages", []),
        "native": contents.get("native", []),
        "check_python": check.get("python", ""),
    }

    if not isinstance(spec["entry_point"], str) or ":" not in spec["entry_point"]:
        raise SpecError(f"{path}: [zipapp] entry_point must look like 'module:function'")
    if not isinstance(spec["output"], str) or "/" in spec["output"] or not spec["output"]:
        raise SpecError(f"{path}: [zipapp] output must be a plain file name")
    for key in ("compressed", "reproducible", "extend_pythonpath", "compile_pyc"):
        if not isinstance(spec[key], bool):
            raise SpecError(f"{path}: [zipapp] {key} must be true or false")
    for key in ("extras", "requirements", "packages", "native"):
        value = spec[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SpecError(f"{path}: [contents] {key} must be a list of strings")
    for key in ("interpreter", "root", "check_python"):
        if not isinstance(spec[key], str):
            raise SpecError(f"{path}: {key} must be a string")
    return spec


def pip_command(spec: dict, project_dir: Path, target: Path) -> list[str]:
    """pip install of the project (with its extras) and extra requirements into target."""
    project = str(project_dir)
    if spec["extras"]:
        project += "[" + ",".join(spec["extras"]) + "]"
    return [
        sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input",
        "install", "--quiet", "--progress-bar", "off", "--no-compile",
        "--target", str(target), project, *spec["requirements"],
    ]


def scrub_site_packages(site: Path) -> None:
    """Drop what would tie the archive to this build's scratch paths.

    direct_url.json records the scratch directory the project was installed
    from, and bin/ holds console scripts whose shebang names the build
    interpreter; neither is used at run time.
    """
    for direct_url in site.glob("*.dist-info/direct_url.json"):
        direct_url.unlink()
        record = direct_url.parent / "RECORD"
        if record.is_file():
            lines = record.read_text().splitlines(keepends=True)
            prefix = f"{direct_url.parent.name}/direct_url.json,"
            record.write_text("".join(line for line in lines if not line.startswith(prefix)))
    shutil.rmtree(site / "bin", ignore_errors=True)


def shiv_command(spec: dict, site: Path, output: Path) -> list[str]:
    cmd = [
        sys.executable, "-m", "shiv",
        "--output-file", str(output),
        "--entry-point", spec["entry_point"],
        "--python", spec["interpreter"],
        "--compressed" if spec["compressed"] else "--uncompressed",
        "--site-packages", str(site),
    ]
    if spec["reproducible"]:
        cmd.append("--reproducible")
    if spec["extend_pythonpath"]:
        cmd.append("--extend-pythonpath")
    if spec["compile_pyc"]:
        cmd.append("--compile-pyc")
    if spec["root"]:
        cmd += ["--root", spec["root"]]
    return cmd


def run_logged(cmd: list[str], env: dict[str, str]) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, env=env)


LAUNCHER = '''\
# The archive's entry: when its site-packages is unpacked already (every run but the first),
# put it on sys.path and call the entry point, importing nothing more than os and sys (shiv's
# bootstrap imports compileall, zipfile, hashlib, subprocess... and reads the archive: tens of
# milliseconds on every command). Otherwise, or when a SHIV_ variable asks for shiv's own
# behaviour, shiv's bootstrap does its work (unpacking, interpreter mode).
import os
import sys

BUILD_ID = {build_id!r}
ROOT = {root!r}
EXTEND_PYTHONPATH = {extend!r}


def _site_packages():
    if any(k.startswith("SHIV_") and k != "SHIV_ROOT" for k in os.environ):
        return None
    root = os.environ.get("SHIV_ROOT") or ROOT
    if root.startswith("$"):
        root = os.environ.get(root[1:], root[1:])
    root = os.path.expanduser(root or "~/.shiv")
    name = os.path.basename(os.path.realpath(sys.argv[0]))
    path = os.path.join(root, name + "_" + BUILD_ID, "site-packages")
    return path if os.path.isdir(path) else None


def _enter(site_packages):
    """What shiv's bootstrap does with an unpacked archive: its site-packages before any other
    (.pth files handled), and on PYTHONPATH for child processes."""
    import site

    length = len(sys.path)
    index = next((i for i, part in enumerate(sys.path)
                  if os.path.basename(part) in ("site-packages", "dist-packages")), length)
    before = list(sys.path)
    site.addsitedir(site_packages)
    sys.path[:] = sys.path[:index] + sys.path[length:] + sys.path[index:length]
    if EXTEND_PYTHONPATH:
        paths = os.environ["PYTHONPATH"].split(os.pathsep) if "PYTHONPATH" in os.environ else []
        paths += [p for p in sys.path if p not in before]
        os.environ["PYTHONPATH"] = os.pathsep.join(sorted(set(paths), key=paths.index))


_where = _site_packages()
if _where is not None:
    _enter(_where)
    from {module} import {function} as _main

    sys.exit(_main())
else:
    import _bootstrap

    _bootstrap.bootstrap()
'''


# The archive's first bytes, before the zip (which python reads from its end): a shell script
# run when the archive is executed. Once the archive has unpacked itself, it starts the entry
# point on the unpacked site-packages with python -S at once: python running the archive
# imports runpy (with importlib.util, contextlib and collections) and site, and reads the
# zip's index, some 10 ms of every command before LAUNCHER's fast way begins. Otherwise (not
# unpacked, unpacked under another name, a SHIV_ variable set) python runs the archive.
SHELL_PREFIX = """#!/bin/sh
# A shell script before a zip archive: see packaging/build_zipapp.py (SHELL_PREFIX).
if [ -z "${{SHIV_INTERPRETER+x}}${{SHIV_ENTRY_POINT+x}}${{SHIV_CONSOLE_SCRIPT+x}}${{SHIV_MODULE+x}}\
${{SHIV_FORCE_EXTRACT+x}}${{SHIV_COMPILE_PYC+x}}${{SHIV_COMPILE_WORKERS+x}}${{SHIV_EXTEND_PYTHONPATH+x}}\
${{SHIV_PREPEND_PYTHONPATH+x}}" ]; then
    s=${{SHIV_ROOT:-{root}}}/${{0##*/}}_{build_id}/site-packages
    if [ -d "$s" ]; then
{extend}        exec {python} -S -c 'import sys
s = sys.argv[1]
sys.argv[:3] = sys.argv[2:3]
sys.path[:] = [p for p in sys.path if p not in (s, "")] + [s]
from {module} import {function} as main
sys.exit(main())' "$s" "$0" "$@"
    fi
fi
exec {python} "$0" "$@"
"""


def shell_prefix(shebang: bytes, build_id: str, root: str, extend: bool, module: str, function: str) -> bytes:
    """SHELL_PREFIX for an archive whose interpreter line is shebang (its python: the program
    after /usr/bin/env, as the shell looks it up on PATH, or the path itself), unpacked under
    root (shiv's; "" for ~/.shiv). b"" when the fast way cannot be written for them (a root
    with a variable or ~ other than shiv's default, an interpreter line with arguments):
    the shebang then stays."""
    import shlex

    words = shebang[2:].decode().split()
    if words[:1] == ["/usr/bin/env"]:
        words = words[1:]
    if len(words) != 1 or not build_id.isalnum():
        return b""
    if not root:
        root_word = "$HOME/.shiv"
    elif root.startswith("/") and "$" not in root:
        root_word = shlex.quote(root)
    else:
        return b""
    export = '        PYTHONPATH="$s${PYTHONPATH:+:$PYTHONPATH}"; export PYTHONPATH\n' if extend else ""
    text = SHELL_PREFIX.format(root=root_word, build_id=build_id, extend=export, python=shlex.quote(words[0]),
                               module=module, function=function)
    return text.encode()


def install_launcher(archive: Path, spec: dict) -> None:
    """Replace shiv's __main__.py in archive by LAUNCHER and its shebang by SHELL_PREFIX (the
    same members and timestamps otherwise)."""
    import json

    module, _, function = spec["entry_point"].partition(":")
    with open(archive, "rb") as f:
        head = f.read(2)
        shebang = (b"#!" + f.readline()) if head == b"#!" else b""
    with zipfile.ZipFile(archive) as zf:
        env = json.loads(zf.read("environment.json"))
        text = LAUNCHER.format(build_id=str(env["build_id"]), root=str(env.get("root") or ""),
                               extend=bool(env.get("extend_pythonpath")), module=module,
                               function=function or "main")
        compile(text, "__main__.py", "exec")
        prefix = shell_prefix(shebang, str(env["build_id"]), str(env.get("root") or ""),
                              bool(env.get("extend_pythonpath")), module, function or "main") if shebang else b""
        rewritten = archive.with_name(archive.name + ".launcher")
        with open(rewritten, "wb") as out:
            out.write(prefix or shebang)
            with zipfile.ZipFile(out, "w") as new:
                for info in zf.infolist():
                    data = text.encode() if info.filename == "__main__.py" else zf.read(info)
                    new.writestr(info, data, compress_type=info.compress_type)
    os.chmod(rewritten, os.stat(archive).st_mode & 0o7777)   # shiv's archive is executable: so is this
    os.replace(rewritten, archive)


def launcher_check(archive: Path, python: str) -> None:
    """The archive run twice as a user runs it: the first run unpacks it (shiv's bootstrap), the
    second takes the launcher's fast way; both must print the same `version`."""
    outs = []
    with tempfile.TemporaryDirectory(prefix="podpy-zipapp-check.") as tmp:
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8", "SHIV_ROOT": tmp}
        runs = [[python, str(archive), "version"]] * 2
        if archive.read_bytes()[:9] == b"#!/bin/sh" and os.path.dirname(python) in ("/usr/bin", "/bin"):
            # executed: its shell prefix's way, with the python3 that PATH (/usr/bin:/bin) gives,
            # which is the checking python's only when that lives there
            runs.append([str(archive), "version"])
        for argv in runs:
            proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"{archive.name} version failed (exit {proc.returncode}):\n"
                                   f"{proc.stdout}{proc.stderr}")
            outs.append(proc.stdout)
    if any(out != outs[0] for out in outs):
        raise RuntimeError(f"{archive.name}: the unpacked runs printed something else:\n" + "\n".join(outs))
    print(f"launcher check with {python}: {len(outs)} runs print the same version")


def check_members(archive: Path, spec: dict) -> list[str]:
    """Return problems found in the archive's member list (empty when fine)."""
    problems = []
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    site = "site-packages/"
    for pkg in spec["packages"]:
        if f"{site}{pkg}/__init__.py" not in names and f"{site}{pkg}.py" not in names:
            problems.append(f"package {pkg!r} is missing")
    for mod in spec["native"]:
        prefix = f"{site}{mod}/"
        if not any(n.startswith(prefix) and n.endswith(".so") for n in names):
            problems.append(f"no compiled extension found for {mod!r}")
    return problems


def smoke_test(archive: Path, spec: dict, python: str) -> None:
    """Run the archive with shiv's interpreter mode and import what it must hold."""
    modules = list(spec["packages"]) + list(spec["native"])
    code = "\n".join([
        "import importlib, os, sys",
        f"mods = {modules!r}",
        "root = os.environ['SHIV_ROOT']",
        "for name in mods:",
        "    mod = importlib.import_module(name)",
        "    where = os.path.realpath(getattr(mod, '__file__', '') or '')",
        "    if not where.startswith(os.path.realpath(root)):",
        "        sys.exit(f'{name} was imported from {where}, not from the archive')",
        "if 'zstandard' in mods:",
        "    import zstandard",
        "    blob = zstandard.ZstdCompressor().compress(b'podpy' * 100)",
        "    assert zstandard.ZstdDecompressor().decompress(blob) == b'podpy' * 100",
        "print('imported ' + ', '.join(mods))",
    ])
    with tempfile.TemporaryDirectory(prefix="podpy-zipapp-check.") as tmp:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": tmp,
            "LANG": "C.UTF-8",
            "SHIV_ROOT": tmp,
            "SHIV_INTERPRETER": "1",
        }
        proc = subprocess.run(
            [python, "-E", "-s", str(archive), "-c", code],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
        )
    if proc.returncode != 0:
        raise RuntimeError(
            f"smoke test with {python} failed (exit {proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}"
        )
    print(f"smoke test with {python}: {proc.stdout.strip()}")


def build(src: Path, spec_path: Path, out_dir: Path, check: bool = True) -> Path:
    spec = load_spec(spec_path)
    if not (src / "pyproject.toml").is_file():
        raise SpecError(f"{src}: not a source tree (no pyproject.toml)")
    if importlib.util.find_spec("shiv") is None:
        raise SpecError(f"shiv is not installed for {sys.executable} (pip install shiv)")

    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / spec["output"]
    with tempfile.TemporaryDirectory(prefix="podpy-zipapp.") as tmp:
        project = Path(tmp) / "src"
        shutil.copytree(src, project, ignore=ignored_for(src), symlinks=True)
        site = Path(tmp) / "site-packages"
        partial = Path(tmp) / spec["output"]
        env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
        run_logged(pip_command(spec, project, site), env)
        scrub_site_packages(site)
        run_logged(shiv_command(spec, site, partial), env)

        install_launcher(partial, spec)
        problems = check_members(partial, spec)
        if problems:
            raise RuntimeError(f"{partial.name}: " + "; ".join(problems))
        entry_module = spec["entry_point"].split(":", 1)[0]
        entry_file = "site-packages/" + entry_module.replace(".", "/") + ".py"
        with zipfile.ZipFile(partial) as zf:
            if entry_file not in zf.namelist():
                print(f"warning: {entry_file} is not in the archive; "
                      "the entry point will fail until it exists", file=sys.stderr)

        if check:
            python = spec["check_python"]
            if python and not os.access(python, os.X_OK):
                print(f"note: {python} not found; smoke test uses {sys.executable}")
                python = ""
            smoke_test(partial, spec, python or sys.executable)
            launcher_check(partial, python or sys.executable)

        # Replace the old archive in one step: a running copy keeps its inode.
        staged = out_dir / f".{spec['output']}.new"
        shutil.copyfile(partial, staged)
        mode = stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
        os.chmod(staged, mode)
        os.replace(staged, final)
    print(f"built {final} ({final.stat().st_size} bytes)")
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build podpy's single-file executable with shiv.")
    parser.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC,
                        metavar="SRC_DIR", help="source tree (default: %(default)s)")
    parser.add_argument("--spec", type=Path, default=None,
                        help="zipapp spec (default: SRC_DIR/zipapp.spec)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: SRC_DIR/dist)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip running the built archive")
    args = parser.parse_args(argv)

    src = args.src.resolve()
    spec_path = (args.spec or src / "zipapp.spec").resolve()
    out_dir = (args.out or src / "dist").resolve()
    try:
        build(src, spec_path, out_dir, check=not args.no_check)
    except SpecError as exc:
        print(f"build_zipapp: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"build_zipapp: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
